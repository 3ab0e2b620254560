import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Vault } from '../src/vault/vault.ts';
import { Archive } from '../src/archive/archive.ts';
import { wavHeader } from '../src/audio/wav.ts';
import { writeBundle } from '../src/export/bundle.ts';

/** 24 calls of 2 minutes, stereo: about 92 MB of WAV, what a busy customer's access request may hold. */
const CALLS = 24;
const SECONDS = 120;
const ROUNDS = 3;

/**
 * Export throughput: MB of WAV per second going into the signed zip (decrypting every chunk, hashing,
 * signing) beside `zip -0` storing the same WAV files already in the clear, measured in the same run.
 */
export async function benchExport(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-bench-export-'));
  try {
    const vault = new Vault(join(dir, 'vault'));
    await vault.init('bench', 'bench passphrase');
    const archive = new Archive({ dir: join(dir, 'archive'), vault });
    await archive.open();
    const ids: string[] = [];
    const wavFiles: string[] = [];
    const second = 8000 * 2 * 2;
    const t0 = Date.UTC(2026, 0, 5, 9);
    for (let i = 0; i < CALLS; i++) {
      const w = await archive.beginCall({ line: 'line1', startedAt: t0 + i * 600_000, channels: 2, meta: { caller: '+31612345678', direction: 'in' }, purposes: ['complaint'], keptBy: 'button', clockSynced: true });
      const pcm = randomBytes(SECONDS * second);
      for (let s = 0; s < SECONDS; s++) await w.append({ at: t0 + i * 600_000 + s * 1000, pcm: pcm.subarray(s * second, (s + 1) * second) });
      await w.finish();
      ids.push(w.id);
      const f = join(dir, `${w.id}.wav`);
      await writeFile(f, Buffer.concat([wavHeader({ sampleRate: 8000, channels: 2, dataBytes: pcm.length }), pcm]));
      wavFiles.push(f);
    }
    const wavBytes = CALLS * (44 + SECONDS * second);
    const ours: number[] = [];
    const peer: number[] = [];
    const decrypt: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // The floor under any export: reading and decrypting the archive's chunks (libsodium secretbox).
      let d = performance.now();
      let n = 0;
      for (const id of ids) for await (const c of archive.readPcm(id)) n += c.pcm.length;
      decrypt.push(n / 1e6 / ((performance.now() - d) / 1000));
      const out = join(dir, `ours-${r}.zip`);
      let t = performance.now();
      await writeBundle(createWriteStream(out), { source: archive, signer: vault, callIds: ids, lang: 'nl', createdAt: Date.now() });
      ours.push(wavBytes / 1e6 / ((performance.now() - t) / 1000));
      await rm(out);
      const peerOut = join(dir, `peer-${r}.zip`);
      t = performance.now();
      execFileSync('zip', ['-0', '-q', '-j', peerOut, ...wavFiles]);
      peer.push(wavBytes / 1e6 / ((performance.now() - t) / 1000));
      if ((await stat(peerOut)).size < wavBytes) throw new Error('zip -0 wrote less than the WAV bytes');
      await rm(peerOut);
    }
    const best = (xs: number[]) => Math.max(...xs);
    console.log(`\nExport bundle (${CALLS} calls × ${SECONDS} s stereo = ${(wavBytes / 1e6).toFixed(0)} MB of WAV; best of ${ROUNDS})`);
    console.log(`  ringvault export (decrypt + WAV + SHA-256 + signed manifest)  ${best(ours).toFixed(0).padStart(6)} MB/s`);
    console.log(`  zip -0 of the same WAV files in the clear                     ${best(peer).toFixed(0).padStart(6)} MB/s`);
    console.log(`  (archive decrypt alone, the ceiling for any export            ${best(decrypt).toFixed(0).padStart(6)} MB/s)`);
    console.log(`  ratio export / zip -0: ${(best(ours) / best(peer)).toFixed(2)}; export / decrypt alone: ${(best(ours) / best(decrypt)).toFixed(2)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchExport();
