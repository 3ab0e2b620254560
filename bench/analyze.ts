import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../src/analyze/analyze.ts';
import { encodeWav } from '../src/audio/wav.ts';
import { makeLineRecording, type LineRecordingOpts } from '../test/helpers/line-recording.ts';

/** Whole-line analysis (ring, DTMF, CLIP, FSK V.23 + Bell 202, 425 Hz cadences, VAD, call logic) beside multimon-ng on the same file. */

const MINUTES = 10;

function workload(): { pcm: Int16Array; calls: number } {
  const kinds: Array<Omit<LineRecordingOpts, 'seed'>> = [
    { direction: 'in', cid: { format: 'fsk-v23', number: '0612345678', name: 'J JANSEN' }, speechSec: 20, endBy: 'busy', channels: 1 },
    { direction: 'in', cid: { format: 'dtmf-clip-a', number: '0201234567' }, speechSec: 25, endBy: 'silence', channels: 1 },
    { direction: 'out', dialled: '0031612345678', speechSec: 30, endBy: 'busy', channels: 1 },
    { direction: 'in', cid: { format: 'fsk-bell202', absent: 'withheld' }, speechSec: 15, endBy: 'busy', channels: 1 },
  ];
  const parts: Int16Array[] = [];
  let samples = 0;
  let calls = 0;
  for (let i = 0; samples < MINUTES * 60 * 8000; i++) {
    const rec = makeLineRecording({ ...kinds[i % kinds.length], seed: i + 1 });
    parts.push(rec.pcm);
    samples += rec.pcm.length;
    calls++;
  }
  const pcm = new Int16Array(samples);
  let at = 0;
  for (const p of parts) { pcm.set(p, at); at += p.length; }
  return { pcm, calls };
}

export async function benchAnalyze(): Promise<void> {
  const { pcm, calls } = workload();
  const seconds = pcm.length / 8000;
  analyze(pcm.subarray(0, 8000 * 30), 8000, 1); // warm-up
  const t0 = performance.now();
  const tl = analyze(pcm, 8000, 1);
  const oursMs = performance.now() - t0;
  const dir = await mkdtemp(join(tmpdir(), 'rv-bench-analyze-'));
  try {
    const wav = join(dir, 'line.wav');
    await writeFile(wav, encodeWav(pcm, 1, 8000));
    let mmMs = NaN;
    let mmCid = NaN;
    try {
      const t1 = performance.now();
      const out = execFileSync('multimon-ng', ['-q', '-a', 'DTMF', '-a', 'CLIPFSK', '-t', 'wav', wav], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
      mmMs = performance.now() - t1;
      mmCid = out.split('\n').filter((l) => l.startsWith('CLIPFSK')).length;
    } catch {
      console.log('  (multimon-ng not installed: run .ci/run to install it)');
    }
    const rate = (ms: number): string => (seconds / (ms / 1000)).toFixed(0);
    console.log(`\nWhole-line analysis over ${(seconds / 60).toFixed(1)} min of generated calls (${calls} calls, one core)`);
    console.log(`  ${'analyzer'.padEnd(40)} ${'wall ms'.padStart(8)} ${'channel-s per s'.padStart(16)}  found`);
    console.log(`  ${'ringvault analyze (all detectors)'.padEnd(40)} ${oursMs.toFixed(0).padStart(8)} ${rate(oursMs).padStart(16)}  ${tl.calls.length} calls, ${tl.callerId.length} caller IDs`);
    console.log(`  ${'multimon-ng -a DTMF -a CLIPFSK (process)'.padEnd(40)} ${mmMs.toFixed(0).padStart(8)} ${rate(mmMs).padStart(16)}  ${mmCid} FSK caller IDs`);
    console.log(`  ratio ours / multimon-ng throughput: ${(mmMs / oursMs).toFixed(2)} (ours also runs ring, Bell 202, cadence, VAD and call logic)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
