import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeWav } from '../src/audio/wav.ts';
import { makeLineRecording, type LineRecordingOpts } from '../test/helpers/line-recording.ts';

/** Generated analog line calls of the given kinds, in turn, back to back until `minutes` of mono 8 kHz audio. */
export function lineWorkload(kinds: Array<Omit<LineRecordingOpts, 'seed'>>, minutes: number, seedOf: (i: number) => number): { pcm: Int16Array; calls: number } {
  const parts: Int16Array[] = [];
  let samples = 0;
  let calls = 0;
  for (let i = 0; samples < minutes * 60 * 8000; i++) {
    const rec = makeLineRecording({ ...kinds[i % kinds.length], seed: seedOf(i) });
    parts.push(rec.pcm);
    samples += rec.pcm.length;
    calls++;
  }
  const pcm = new Int16Array(samples);
  let at = 0;
  for (const p of parts) { pcm.set(p, at); at += p.length; }
  return { pcm, calls };
}

/**
 * The peer figure: `multimon-ng -a DTMF -a CLIPFSK` timed as a process on the same audio written as a WAV.
 * ms is NaN (and a hint printed) when multimon-ng is not installed.
 */
export async function timeMultimon(pcm: Int16Array): Promise<{ ms: number; out: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-bench-line-'));
  try {
    const wav = join(dir, 'line.wav');
    await writeFile(wav, encodeWav(pcm, 1, 8000));
    try {
      const t1 = performance.now();
      const out = execFileSync('multimon-ng', ['-q', '-a', 'DTMF', '-a', 'CLIPFSK', '-t', 'wav', wav], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
      return { ms: performance.now() - t1, out };
    } catch {
      console.log('  (multimon-ng not installed: run .ci/run to install it)');
      return { ms: NaN, out: '' };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
