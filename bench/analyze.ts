import { analyze } from '../src/analyze/analyze.ts';
import type { LineRecordingOpts } from '../test/helpers/line-recording.ts';
import { lineWorkload, timeMultimon } from './line-workload.ts';

/** Whole-line analysis (ring, DTMF, CLIP, FSK V.23 + Bell 202, 425 Hz cadences, VAD, call logic) beside multimon-ng on the same file. */

const MINUTES = 10;

const KINDS: Array<Omit<LineRecordingOpts, 'seed'>> = [
  { direction: 'in', cid: { format: 'fsk-v23', number: '0612345678', name: 'J JANSEN' }, speechSec: 20, endBy: 'busy', channels: 1 },
  { direction: 'in', cid: { format: 'dtmf-clip-a', number: '0201234567' }, speechSec: 25, endBy: 'silence', channels: 1 },
  { direction: 'out', dialled: '0031612345678', speechSec: 30, endBy: 'busy', channels: 1 },
  { direction: 'in', cid: { format: 'fsk-bell202', absent: 'withheld' }, speechSec: 15, endBy: 'busy', channels: 1 },
];

export async function benchAnalyze(): Promise<void> {
  const { pcm, calls } = lineWorkload(KINDS, MINUTES, (i) => i + 1);
  const seconds = pcm.length / 8000;
  analyze(pcm.subarray(0, 8000 * 30), 8000, 1); // warm-up
  const t0 = performance.now();
  const tl = analyze(pcm, 8000, 1);
  const oursMs = performance.now() - t0;
  const { ms: mmMs, out } = await timeMultimon(pcm);
  const mmCid = Number.isNaN(mmMs) ? NaN : out.split('\n').filter((l) => l.startsWith('CLIPFSK')).length;
  const rate = (ms: number): string => (seconds / (ms / 1000)).toFixed(0);
  console.log(`\nWhole-line analysis over ${(seconds / 60).toFixed(1)} min of generated calls (${calls} calls, one core)`);
  console.log(`  ${'analyzer'.padEnd(40)} ${'wall ms'.padStart(8)} ${'channel-s per s'.padStart(16)}  found`);
  console.log(`  ${'ringvault analyze (all detectors)'.padEnd(40)} ${oursMs.toFixed(0).padStart(8)} ${rate(oursMs).padStart(16)}  ${tl.calls.length} calls, ${tl.callerId.length} caller IDs`);
  console.log(`  ${'multimon-ng -a DTMF -a CLIPFSK (process)'.padEnd(40)} ${mmMs.toFixed(0).padStart(8)} ${rate(mmMs).padStart(16)}  ${mmCid} FSK caller IDs`);
  console.log(`  ratio ours / multimon-ng throughput: ${(mmMs / oursMs).toFixed(2)} (ours also runs ring, Bell 202, cadence, VAD and call logic)`);
}
