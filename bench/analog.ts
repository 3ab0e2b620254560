import { AnalogTracker } from '../src/calls/analog-tracker.ts';
import type { LineRecordingOpts } from '../test/helpers/line-recording.ts';
import { lineWorkload, timeMultimon } from './line-workload.ts';

/** The live call tracker of an analog line (every detector, 20 ms blocks) beside multimon-ng on the same file. */

const MINUTES = 10;

const KINDS: Array<Omit<LineRecordingOpts, 'seed'>> = [
  { direction: 'in', cid: { format: 'fsk-v23', number: '0612345678' }, speechSec: 20, endBy: 'busy', channels: 1 },
  { direction: 'in', cid: { format: 'dtmf-clip-a', number: '0201234567' }, speechSec: 25, endBy: 'silence', channels: 1 },
  { direction: 'out', dialled: '0031612345678', speechSec: 30, endBy: 'busy', channels: 1 },
];

function track(pcm: Int16Array): { found: number; numbers: number } {
  const t = new AnalogTracker({ line: 'b', channels: 1, minCallMs: 3000, hangoverMs: 4000, callerId: ['v23-fsk', 'dtmf-clip'], lineSense: false });
  let found = 0;
  const withNumber = new Set<string>();
  const count = (evs: ReturnType<AnalogTracker['push']>) => {
    for (const e of evs) {
      if (e.type === 'call-start') found++;
      // a dialled number may complete after the call is announced
      if ((e.type === 'call-start' || e.type === 'call-info') && (e.parties.caller || e.parties.called)) withNumber.add(e.ref);
    }
  };
  for (let i = 0; i + 160 <= pcm.length; i += 160) count(t.push({ at: i / 8, channels: 1, pcm: pcm.subarray(i, i + 160) }));
  count(t.flush('end'));
  return { found, numbers: withNumber.size };
}

export async function benchAnalog(): Promise<void> {
  const { pcm, calls } = lineWorkload(KINDS, MINUTES, (i) => 100 + i);
  const seconds = pcm.length / 8000;
  track(pcm.subarray(0, 8000 * 60)); // warm-up
  const t0 = performance.now();
  const r = track(pcm);
  const oursMs = performance.now() - t0;
  const { ms: mmMs } = await timeMultimon(pcm);
  const rate = (ms: number): number => seconds / (ms / 1000);
  console.log(`\nAnalog line call tracker, live (20 ms blocks), ${(seconds / 60).toFixed(1)} min of generated calls, one core`);
  console.log(`  ${'tracker'.padEnd(42)} ${'wall ms'.padStart(8)} ${'channel-s per s'.padStart(16)}  found`);
  console.log(`  ${'ringvault AnalogTracker (all detectors)'.padEnd(42)} ${oursMs.toFixed(0).padStart(8)} ${rate(oursMs).toFixed(0).padStart(16)}  ${r.found}/${calls} calls, ${r.numbers} with a number`);
  console.log(`  ${'multimon-ng -a DTMF -a CLIPFSK (process)'.padEnd(42)} ${mmMs.toFixed(0).padStart(8)} ${rate(mmMs).toFixed(0).padStart(16)}`);
  console.log(`  ratio ours / multimon-ng throughput: ${(mmMs / oursMs).toFixed(2)}; analog lines one core keeps up with: ${Math.floor(rate(oursMs))}`);
}
