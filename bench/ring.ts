import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import nacl from 'tweetnacl';
import { Ring, MAX_PCM_BYTES } from '../src/ring/ring.ts';

/** Each measurement runs this long, enough to smooth out JIT warm-up and GC pauses. */
const RUN_MS = 2000;
/** 256 slots (~8 MB) cycles the file many times a second without making the bench slow to set up. */
const BENCH_SLOTS = 256;
/** Live lines simulated by the writer, so the index sees calls losing slots as in production. */
const BENCH_LINES = 8;

/** Untimed lead-in per measurement, so JIT tier-up of the nacl core does not land in the first run only. */
const WARMUP_MS = 300;

/** Calls `fn` in batches until RUN_MS has passed; returns operations per second. */
function rate(fn: () => void): number {
  const warm = performance.now() + WARMUP_MS;
  while (performance.now() < warm) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(RUN_MS) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 8; i++) fn();
    n += 8;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

export async function benchRing(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-bench-ring-'));
  try {
    const ring = await Ring.open({ path: path.join(dir, 'ring.bin'), slots: BENCH_SLOTS });
    const pcm = randomBytes(MAX_PCM_BYTES); // 1 s of 8 kHz stereo s16le
    let k = 0;
    const ringRate = rate(() => {
      const line = k % BENCH_LINES;
      ring.write(`line-${line}`, { seq: Math.floor(k / BENCH_LINES), at: k * 125, channels: 2, pcm });
      k++;
    });
    const slotBytes = ring.slotBytes;
    await ring.close();

    const key = new Uint8Array(randomBytes(nacl.secretbox.keyLength));
    const nonce = new Uint8Array(randomBytes(nacl.secretbox.nonceLength));
    let sink = 0;
    const rawRate = rate(() => {
      sink ^= nacl.secretbox(pcm, nonce, key)[0];
    });
    key.fill(0);

    const mb = (perSec: number): string => ((perSec * MAX_PCM_BYTES) / 1e6).toFixed(1);
    const rows: [string, string, string][] = [
      ['measurement', 'chunks/s', 'MB/s PCM'],
      ['ring.write (secretbox + pwrite)', ringRate.toFixed(0), mb(ringRate)],
      ['nacl.secretbox alone, 32000 B', rawRate.toFixed(0), mb(rawRate)],
      ['ring / raw secretbox', `${((ringRate / rawRate) * 100).toFixed(1)} %`, ''],
      ['lines in real time on one core', Math.floor(ringRate).toString(), ''],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    const w2 = Math.max(...rows.map((r) => r[2].length));
    console.log(`ring: 1 s stereo chunks (${MAX_PCM_BYTES} B PCM, ${slotBytes} B per slot), ${BENCH_SLOTS} slots, ${RUN_MS / 1000} s per run, no fsync`);
    for (const [a, b, c] of rows) console.log(`  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c.padStart(w2)}`.trimEnd());
    if (sink === 256) console.log(''); // keeps the raw loop's result alive so it is not optimised away
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await benchRing();
}
