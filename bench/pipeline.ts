import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { Ring, slotsForMinutes } from '../src/ring/ring.ts';
import { Archive } from '../src/archive/archive.ts';
import { Vault } from '../src/vault/vault.ts';
import { Recorder } from '../src/calls/recorder.ts';
import { LineSource } from '../src/sources/source.ts';
import { parseConfig } from '../src/config/load.ts';
import { silentLog } from '../src/log.ts';
import type { KEEP_MODES } from '../src/config/schema.ts';
import { secretbox } from '../src/crypto/secretbox.ts';

/** A source that emits 20 ms stereo blocks as fast as the recorder takes them. */
class FloodSource extends LineSource {
  readonly kind = 'bench';
  constructor(readonly lines: string[]) { super(); }
  async start() {}
  async stop() {}
}

const LINES = 8;
const CALL_SEC = 30;

/** Full path: 20 ms blocks → chunker → keep policy → encrypted ring (or archive with fsync) on disk. */
async function pipeline(keep: (typeof KEEP_MODES)[number], seconds: number): Promise<{ lineSecPerSec: number; wallMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-bench-pipe-'));
  try {
    const ids = Array.from({ length: LINES }, (_, i) => `l${i}`);
    const cfg = parseConfig({ dataDir: dir, lines: ids.map((id) => ({ id, name: id, keep, announced: ['complaint'], keepPurposes: ['complaint'] })) }, 'bench');
    const vault = new Vault(join(dir, 'vault'));
    await vault.init('bench', 'bench passphrase');
    const archive = new Archive({ dir: join(dir, 'archive'), vault });
    await archive.open();
    const ring = await Ring.open({ path: join(dir, 'ring.bin'), slots: slotsForMinutes(2, LINES) });
    const rec = new Recorder({ ring, archive, clock: { now: Date.now, synced: () => true }, log: silentLog, lines: () => cfg.lines, graceSeconds: () => 0, exclusions: () => [] });
    const src = new FloodSource(ids);
    rec.attach(src);
    // Speech-like noise: random PCM costs the same to encrypt as speech.
    const block = new Int16Array(randomBytes(160 * 2 * 2).buffer.slice(0));
    const t0 = performance.now();
    let at = Date.now();
    for (let s = 0; s < seconds; s += CALL_SEC) {
      for (const line of ids) src.emit('call-start', { line, ref: `${line}-${s}`, at, channels: 2, parties: { direction: 'in', caller: '+31201234567' } });
      for (let b = 0; b < CALL_SEC * 50; b++) {
        for (const line of ids) src.emit('call-audio', { line, ref: `${line}-${s}`, block: { at: at + b * 20, channels: 2, pcm: block } });
        // Let archive appends (async fsync) make progress like they would in real time.
        if (b % 50 === 49 && keep === 'all') await rec.settle();
      }
      for (const line of ids) src.emit('call-end', { line, ref: `${line}-${s}`, at: at + CALL_SEC * 1000, reason: 'hangup' });
      at += CALL_SEC * 1000;
      await rec.settle();
    }
    await rec.close();
    const wallMs = performance.now() - t0;
    await ring.close();
    return { lineSecPerSec: (seconds * LINES) / (wallMs / 1000), wallMs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function secretboxRate(seal: (m: Uint8Array, n: Uint8Array, k: Uint8Array) => Uint8Array): number {
  const key = randomBytes(32);
  const nonce = randomBytes(24);
  const chunk = randomBytes(32000);
  const end = performance.now() + 1500;
  let n = 0;
  while (performance.now() < end) { seal(chunk, nonce, key); n++; }
  return n / 1.5;
}

export async function benchPipeline(): Promise<void> {
  await pipeline('on-demand', 30); // warm-up
  const buffered = await pipeline('on-demand', 120);
  const kept = await pipeline('all', 60);
  const box = secretboxRate(nacl.secretbox);
  const sodiumBox = secretboxRate(secretbox);
  const row = (name: string, v: number, note: string) => console.log(`  ${name.padEnd(44)} ${v.toFixed(0).padStart(8)}  ${note}`);
  console.log('\nFull pipeline (one core; 8 kHz stereo, 1-s chunks, encryption and disk writes)');
  row('buffered lines sustained in real time', buffered.lineSecPerSec, 'lines (ring only: on-demand, not kept)');
  row('kept lines sustained in real time', kept.lineSecPerSec, 'lines (keep all: archive, fsync per chunk)');
  row('raw tweetnacl secretbox, 32000-byte chunks', box, 'chunks/s (= stereo line-seconds per second)');
  row('raw libsodium secretbox (what the box uses)', sodiumBox, `chunks/s (${(sodiumBox / box).toFixed(1)}× tweetnacl, same bytes)`);
  console.log(`  ratio pipeline (buffered) / raw tweetnacl secretbox: ${(buffered.lineSecPerSec / box).toFixed(2)}; kept / raw: ${(kept.lineSecPerSec / box).toFixed(2)}`);
}
