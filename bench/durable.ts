import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ring } from '../src/ring/ring.ts';
import { Archive } from '../src/archive/archive.ts';
import { Vault } from '../src/vault/vault.ts';
import { Recorder } from '../src/calls/recorder.ts';
import { LineSource } from '../src/sources/source.ts';
import { parseConfig } from '../src/config/load.ts';
import { silentLog } from '../src/log.ts';

/**
 * Save → durable: how long after a save (UI, button) the audio heard up to that moment, the partial
 * second included, is fsync'd in the archive (the save answers only then). Each round starts a call,
 * plays 0.2–3 s of stereo audio into a recorder over a real ring and archive, and times save(); a second
 * save on the same call times the flush alone. Peer: one write + fdatasync of a second of sealed audio.
 */
const ROUNDS = 200;

class BenchSource extends LineSource {
  readonly kind = 'bench';
  readonly lines = ['a'];
  async start() {}
  async stop() {}
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;

export async function benchDurable(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-bench-durable-'));
  try {
    const cfg = parseConfig({ dataDir: dir, lines: [{ id: 'a', name: 'A', keep: 'on-demand' }] }, 'bench');
    const vault = new Vault(join(dir, 'vault'));
    await vault.init('admin', 'bench passphrase, long enough');
    const archive = new Archive({ dir: join(dir, 'archive'), vault });
    await archive.open();
    const ring = await Ring.open({ path: join(dir, 'ring.bin'), slots: 600 });
    let now = 1_800_000_000_000;
    const rec = new Recorder({ ring, archive, clock: { now: () => now, synced: () => true }, log: silentLog, lines: () => cfg.lines, graceSeconds: () => 120, exclusions: () => [] });
    const src = new BenchSource();
    rec.attach(src);
    const first: number[] = [];
    const again: number[] = [];
    const block = new Int16Array(320).map((_, i) => (i * 97) % 20000);
    for (let r = 0; r < ROUNDS; r++) {
      const ref = `b${r}`;
      src.emit('call-start', { line: 'a', ref, at: now, channels: 2, parties: { direction: 'in', caller: '+31201234567' } });
      const blocks = 10 + (r * 7) % 140;
      for (let b = 0; b < blocks; b++) { src.emit('call-audio', { line: 'a', ref, block: { at: now, channels: 2, pcm: block } }); now += 20; }
      let t0 = performance.now();
      await rec.save('a', { keptBy: 'user' });
      first.push(performance.now() - t0);
      for (let b = 0; b < 17; b++) { src.emit('call-audio', { line: 'a', ref, block: { at: now, channels: 2, pcm: block } }); now += 20; }
      t0 = performance.now();
      await rec.save('a', { keptBy: 'user' });
      again.push(performance.now() - t0);
      src.emit('call-end', { line: 'a', ref, at: now, reason: 'hangup' });
      await rec.settle();
    }
    await rec.close();
    await ring.close();
    // Peer: the floor of making a second of audio durable, one positional write and fdatasync.
    const peer: number[] = [];
    const fh = await open(join(dir, 'peer.bin'), 'w');
    const sec = Buffer.alloc(32_052, 7);
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      await fh.write(sec, 0, sec.length, r * sec.length);
      await fh.datasync();
      peer.push(performance.now() - t0);
    }
    await fh.close();
    console.log(`save → audio durable (${ROUNDS} saves, ${tmpdir()}):`);
    console.log(`  first save of a call (start + ring copy + partial second)  p50 ${fmt(pct(first, 50))}  p99 ${fmt(pct(first, 99))}`);
    console.log(`  save of a kept call (partial second flush)                 p50 ${fmt(pct(again, 50))}  p99 ${fmt(pct(again, 99))}`);
    console.log(`  peer: write + fdatasync of 1 s of audio                    p50 ${fmt(pct(peer, 50))}  p99 ${fmt(pct(peer, 99))}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await benchDurable();
