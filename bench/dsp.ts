import { mkdtemp, rm, writeFile, readdir, readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DtmfDetector } from '../src/dsp/dtmf.ts';
import { encodeWav, readWav } from '../src/audio/wav.ts';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const SECONDS = 600;

/** 10 minutes of speech clips with a DTMF digit every few seconds: a realistic outgoing-call load. */
async function workload(): Promise<Int16Array> {
  const dir = join(ROOT, 'assets', 'speech');
  const clips = (await Promise.all((await readdir(dir)).filter((f) => f.endsWith('.wav')).sort().map(async (f) => readWav(await readFile(join(dir, f))).pcm)));
  const out = new Int16Array(SECONDS * 8000);
  let pos = 0;
  let k = 0;
  while (pos < out.length) {
    const clip = clips[k++ % clips.length]!;
    out.set(clip.subarray(0, Math.min(clip.length, out.length - pos)), pos);
    pos += clip.length;
    // One 80 ms digit after each clip, at about −10 dBm0 per tone.
    const rows = [697, 770, 852, 941];
    const cols = [1209, 1336, 1477];
    const [fr, fc] = [rows[k % 4]!, cols[k % 3]!];
    for (let i = 0; i < 640 && pos < out.length; i++, pos++) out[pos] = Math.round(7000 * (Math.sin((2 * Math.PI * fr * i) / 8000) + Math.sin((2 * Math.PI * fc * i) / 8000)));
    pos = Math.min(out.length, pos + 800);
  }
  return out;
}

export async function benchDsp(): Promise<void> {
  const pcm = await workload();
  let digits = 0;
  const run = () => {
    const det = new DtmfDetector({ onDigit: () => { digits++; } });
    for (let i = 0; i < pcm.length; i += 160) det.push(pcm.subarray(i, i + 160));
    det.flush();
  };
  run(); // warm-up
  digits = 0;
  const t0 = performance.now();
  run();
  const oursMs = performance.now() - t0;

  const dir = await mkdtemp(join(tmpdir(), 'rv-bench-dsp-'));
  try {
    const wav = join(dir, 'load.wav');
    await writeFile(wav, encodeWav(pcm, 1, 8000));
    let multimonMs = NaN;
    let multimonDigits = NaN;
    try {
      const t1 = performance.now();
      const out = execFileSync('multimon-ng', ['-q', '-a', 'DTMF', '-t', 'wav', wav], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      multimonMs = performance.now() - t1;
      multimonDigits = out.split('\n').filter((l) => l.startsWith('DTMF:')).length;
    } catch {
      console.log('  (multimon-ng not installed: run .ci/run to install it)');
    }
    const rate = (ms: number) => SECONDS / (ms / 1000);
    console.log(`\nDTMF detection over ${SECONDS} s of speech with digits (one core)`);
    console.log(`  ${'decoder'.padEnd(28)} ${'wall ms'.padStart(8)} ${'channel-s per s'.padStart(16)} ${'digits'.padStart(7)}`);
    console.log(`  ${'ringvault DtmfDetector'.padEnd(28)} ${oursMs.toFixed(0).padStart(8)} ${rate(oursMs).toFixed(0).padStart(16)} ${String(digits).padStart(7)}`);
    console.log(`  ${'multimon-ng -a DTMF (process)'.padEnd(28)} ${multimonMs.toFixed(0).padStart(8)} ${rate(multimonMs).toFixed(0).padStart(16)} ${String(multimonDigits).padStart(7)}`);
    console.log(`  ratio ours / multimon-ng throughput: ${(multimonMs / oursMs).toFixed(2)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
