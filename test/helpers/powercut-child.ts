/**
 * Child process for test/powercut.test.ts: opens the archive in `<data>` and keeps calls in a loop
 * until it is killed. Protocol on stdout, one line each, written only once the fact is durable:
 *   READY                 archive opened (recovery done)
 *   ACK <id>              beginCall resolved and the first chunk's append resolved
 *   DONE <id> <chunks>    finish() resolved
 * Every call's meta carries its `seed`, from which the parent regenerates each chunk's PCM.
 */
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Archive } from '../../src/archive/archive.ts';
import { Vault } from '../../src/vault/vault.ts';
import { mulberry32 } from './prng.ts';

export const channelsFor = (seed: number): 1 | 2 => (seed % 2 === 0 ? 1 : 2);
export const chunksFor = (seed: number): number => 1 + (Math.floor(seed / 2) % 6);

/** PCM of chunk `index` of the call with `seed`: 1 to 8000 frames of random samples. */
export function pcmFor(seed: number, index: number): Buffer {
  const next = mulberry32(seed * 31 + index);
  const frames = 1 + (next() % 8000);
  const buf = Buffer.alloc(frames * 2 * channelsFor(seed));
  for (let i = 0; i + 4 <= buf.length; i += 4) buf.writeUInt32LE(next(), i);
  if (buf.length % 4) buf.writeUInt16LE(next() & 0xffff, buf.length - 2);
  return buf;
}

async function main(dataDir: string): Promise<void> {
  const archive = new Archive({
    dir: join(dataDir, 'archive'),
    vault: new Vault(join(dataDir, 'vault')),
    log: (msg, extra) => process.stderr.write(`log: ${msg} ${JSON.stringify(extra ?? {})}\n`),
  });
  await archive.open();
  // Pipe writes are synchronous on Linux, so a line written is a line the parent reads, even after SIGKILL.
  process.stdout.write('READY\n');
  for (;;) {
    const seed = randomInt(1, 2 ** 31);
    const startedAt = Date.now();
    const w = await archive.beginCall({
      line: 'pc', startedAt, channels: channelsFor(seed), meta: { seed, caller: `+3120${seed}` },
      purposes: ['training'], keptBy: 'all', clockSynced: true,
    });
    const n = chunksFor(seed);
    await w.append({ at: startedAt, pcm: pcmFor(seed, 0) });
    process.stdout.write(`ACK ${w.id}\n`);
    const rest: Promise<void>[] = [];
    for (let i = 1; i < n; i++) rest.push(w.append({ at: startedAt + i * 1000, pcm: pcmFor(seed, i) }));
    // Some calls also learn metadata mid-call, which rewrites the open header.
    if (seed % 3 === 0) rest.push(w.setMeta({ seed, caller: `+3120${seed}`, notes: ['mid-call'] }));
    await Promise.all(rest);
    await w.finish();
    process.stdout.write(`DONE ${w.id} ${n}\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: powercut-child.ts <data dir>\n');
    process.exit(2);
  }
  main(dir).catch((e: unknown) => {
    process.stderr.write(`child failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
