import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DtmfDetector, detectDtmf, type DtmfDigit, type DtmfOptions } from '../src/dsp/dtmf.ts';
import { Goertzel } from '../src/dsp/goertzel.ts';
import { encodeWav, readWav } from '../src/audio/wav.ts';
import { DIGITS, alawRoundTrip, dtmfSignal, peakOfDbm0, randomDigits, rng } from './helpers/tones.ts';

const SPEECH_DIR = path.join(import.meta.dirname, '..', 'assets', 'speech');

const digitsOf = (pcm: Int16Array, opts: DtmfOptions = {}): string => {
  const out: DtmfDigit[] = [];
  const det = new DtmfDetector({ ...opts, onDigit: (d) => out.push(d) });
  det.push(pcm, 0);
  det.flush();
  return out.map((d) => d.digit).join('');
};

/** The same signal with its start moved by 0–12 samples, so block alignment is not luck. */
const aligned = (digits: string, opts: Parameters<typeof dtmfSignal>[1] = {}): Int16Array[] =>
  Array.from({ length: 13 }, (_, i) => dtmfSignal(digits, { ...opts, leadMs: 100 + i / 8 }));

function tmpDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-dtmf-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('Goertzel power is (A·N/2)² on-frequency and small one bin away', () => {
  const n = 96; // whole cycles of 1 kHz, so the negative-frequency image cancels
  const pcm = Int16Array.from({ length: n }, (_, i) => Math.round(10000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)));
  const on = new Goertzel(1000, 8000).power(pcm);
  assert.ok(Math.abs(on / (10000 * n / 2) ** 2 - 1) < 0.01, `on-frequency power ${on}`);
  assert.ok(new Goertzel(1000 + 8000 / n, 8000).power(pcm) < on / 1000);
  const [re, im] = new Goertzel(1000, 8000).dft(pcm);
  assert.ok(Math.abs(Math.hypot(re, im) ** 2 / on - 1) < 1e-9);
  // the rotation precomputed for a fixed block length gives the same phase
  const [re2, im2] = new Goertzel(1000, 8000, n).dft(pcm);
  assert.ok(Math.abs(re2 - re) < 1e-6 * on ** 0.5 && Math.abs(im2 - im) < 1e-6 * on ** 0.5);
});

test('every keypad digit is detected once, with its start and duration', () => {
  const got = detectDtmf(dtmfSignal(DIGITS, { toneMs: 70, pauseMs: 70, leadMs: 100 }));
  assert.equal(got.map((d) => d.digit).join(''), DIGITS);
  got.forEach((d, i) => {
    assert.ok(Math.abs(d.startMs - (100 + i * 140)) <= 13, `${d.digit} starts at ${d.startMs}`);
    assert.ok(d.durationMs >= 50 && d.durationMs <= 80, `${d.digit} lasts ${d.durationMs}`);
  });
});

test('table: duration, pause, twist and frequency limits (Q.24)', () => {
  // twistDb is high group minus low group: + is reverse twist (limit 4 dB), − normal twist (limit 8 dB)
  const table: { name: string; digits: string; opts: Parameters<typeof dtmfSignal>[1]; want: string; det?: DtmfOptions }[] = [
    { name: '20 ms tone rejected', digits: '5', opts: { toneMs: 20 }, want: '' },
    { name: '50 ms tone accepted', digits: '5', opts: { toneMs: 50 }, want: '5' },
    { name: '15 ms pause merges', digits: '55', opts: { pauseMs: 15 }, want: '5' },
    { name: '50 ms pause separates', digits: '55', opts: { pauseMs: 50 }, want: '55' },
    { name: 'reverse twist 3.5 dB accepted', digits: '9', opts: { twistDb: 3.5 }, want: '9' },
    { name: 'reverse twist 5 dB rejected', digits: '9', opts: { twistDb: 5 }, want: '' },
    { name: 'reverse twist 5 dB accepted when allowed', digits: '9', opts: { twistDb: 5 }, want: '9', det: { reverseTwistDb: 6 } },
    { name: 'normal twist 7.5 dB accepted', digits: '9', opts: { twistDb: -7.5 }, want: '9' },
    { name: 'normal twist 9 dB rejected', digits: '9', opts: { twistDb: -9 }, want: '' },
    ...[0.015, -0.015].map((f) => ({ name: `offset ${f * 100} % accepted`, digits: DIGITS, opts: { freqOffset: f }, want: DIGITS })),
    ...[0.035, -0.035, 0.04, -0.04].map((f) => ({ name: `offset ${f * 100} % rejected`, digits: DIGITS, opts: { freqOffset: f }, want: '' })),
  ];
  for (const row of table) {
    for (const pcm of aligned(row.digits, row.opts)) assert.equal(digitsOf(pcm, row.det), row.want, row.name);
  }
});

test('a second harmonic (speech-like) is rejected, a faint one is not', () => {
  const withHarmonic = (db: number): Int16Array => {
    const pcm = dtmfSignal('2', { levelDbm0: -15 });
    const a = peakOfDbm0(-15 + db);
    // 2 × 1336 Hz, the column tone's second harmonic, only while the tone sounds
    return pcm.map((v, i) => (v === 0 ? 0 : v + Math.round(a * Math.sin((2 * Math.PI * 2672 * i) / 8000))));
  };
  assert.equal(digitsOf(withHarmonic(-6)), '');
  assert.equal(digitsOf(withHarmonic(-20)), '2');
});

test('streaming in odd chunks with timestamps reports each press once, at its time', () => {
  const pcm = dtmfSignal('147*', { toneMs: 90, pauseMs: 60 });
  const got: DtmfDigit[] = [];
  const det = new DtmfDetector({ onDigit: (d) => got.push(d) });
  const rand = rng(7);
  for (let i = 0; i < pcm.length; ) {
    const n = 1 + Math.floor(rand() * 300);
    det.push(pcm.subarray(i, i + n), 5000 + (i * 1000) / 8000);
    i += n;
  }
  det.flush();
  assert.deepEqual(got.map((d) => d.digit), ['1', '4', '7', '*']);
  assert.ok(Math.abs(got[0].at - 5100) <= 13, `first digit at ${got[0].at}`);
});

test('no false digit in 2+ minutes of speech', () => {
  const clips = fs.readdirSync(SPEECH_DIR).filter((f) => f.endsWith('.wav')).sort();
  const parts = clips.map((f) => readWav(fs.readFileSync(path.join(SPEECH_DIR, f))).pcm);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const loops = Math.ceil((120 * 8000) / total);
  assert.ok(loops * total >= 120 * 8000);
  // quiet, as recorded, and loud enough to clip; the last loop through A-law
  for (const gain of [0.25, 1, 4]) {
    const got: DtmfDigit[] = [];
    const det = new DtmfDetector({ onDigit: (d) => got.push(d) });
    for (let l = 0; l < loops; l++) {
      for (const p of parts) {
        const scaled = Int16Array.from(p, (v) => Math.max(-32768, Math.min(32767, v * gain)));
        det.push(l === loops - 1 ? alawRoundTrip(scaled) : scaled);
      }
    }
    det.flush();
    assert.deepEqual(got, [], `gain ${gain}`);
  }
});

/** multimon-ng's digits for a WAV (it prints one `DTMF: d` line per digit). */
const multimon = (file: string): string =>
  execFileSync('multimon-ng', ['-q', '-a', 'DTMF', '-t', 'wav', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .split('\n')
    .flatMap((l) => /^DTMF: (\S)/.exec(l)?.[1] ?? [])
    .join('');

/** Digits of `want` found in order in `got` (longest common subsequence), so a miss costs one digit, not the rest. */
function matched(want: string, got: string): number {
  const row = new Array<number>(got.length + 1).fill(0);
  for (const w of want) {
    let diag = 0;
    for (let j = 1; j <= got.length; j++) {
      const up = row[j];
      row[j] = w === got[j - 1] ? diag + 1 : Math.max(row[j], row[j - 1]);
      diag = up;
    }
  }
  return row[got.length];
}

test('oracle: multimon-ng over levels, twist, noise and A-law', (t) => {
  const dir = tmpDir(t);
  const trials = 4;
  // the sweep's +6 dB reverse twist is past our 4 dB Q.24 default, so the comparison allows it
  const wide: DtmfOptions = { reverseTwistDb: 7 };
  const lines: string[] = ['level  SNR   codec | twist −6: ours/mm  | twist 0: ours/mm   | twist +6: ours/mm (default limits)'];
  const failures: string[] = [];
  let seed = 1;
  for (const level of [-5, -15, -25, -35]) {
    for (const snr of [undefined, 25, 15]) {
      for (const alaw of [false, true]) {
        const cells: string[] = [];
        for (const twist of [-6, 0, 6]) {
          let ours = 0;
          let oursDefault = 0;
          let mm = 0;
          for (let k = 0; k < trials; k++) {
            const want = randomDigits(12, rng(seed * 7919));
            const pcm = dtmfSignal(want, { levelDbm0: level, twistDb: twist, snrDb: snr, alaw, seed: seed++ });
            const file = path.join(dir, `s${seed}.wav`);
            fs.writeFileSync(file, encodeWav(pcm, 1, 8000));
            const theirs = multimon(file);
            const mine = digitsOf(pcm, wide);
            if (theirs === want && mine !== theirs) failures.push(`${level} dBm0 twist ${twist} SNR ${snr ?? '∞'} alaw ${alaw}: want ${want} got ${mine}`);
            ours += matched(want, mine);
            oursDefault += matched(want, digitsOf(pcm));
            mm += matched(want, theirs);
          }
          const n = 12 * trials;
          const pct = (v: number): string => `${Math.round((100 * v) / n)}`.padStart(3);
          cells.push(`${pct(ours)}/${pct(mm)}${twist === 6 ? ` (${pct(oursDefault)})` : '      '}`);
          if (ours < mm - 0.05 * n) failures.push(`${level} dBm0 twist ${twist} SNR ${snr ?? '∞'} alaw ${alaw}: ours ${ours}/${n} < multimon ${mm}/${n}`);
          if (twist !== 6 && oursDefault !== ours) failures.push(`${level} dBm0 twist ${twist}: default limits differ`);
        }
        lines.push(`${String(level).padStart(4)}  ${String(snr ?? '∞').padStart(3)}  ${alaw ? 'A-law' : 'lin  '} | ${cells.join('  | ')}`);
      }
    }
  }
  console.log(`DTMF decode rate, % of digits (ours/multimon-ng), ${trials}×12 digits per cell:\n${lines.join('\n')}`);
  assert.deepEqual(failures, []);
});
