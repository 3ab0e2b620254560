import { mulberry32 } from './prng.ts';
import { ZERO_DBM0_PEAK } from '../../src/audio/level.ts';
import { alawDecode, alawEncode } from '../../src/audio/g711.ts';

/**
 * DTMF test signals. Level mapping: 0 dBm0 is a sine 3.14 dB below a full-scale sine
 * (A-law's maximum is +3.14 dBm0), i.e. peak 32767·10^(−3.14/20) ≈ 22 827; levels are per tone.
 */

export const ROWS = [697, 770, 852, 941] as const;
export const COLS = [1209, 1336, 1477, 1633] as const;
export const KEYS = ['123A', '456B', '789C', '*0#D'] as const;
export const DIGITS = '0123456789*#ABCD';

export const peakOfDbm0 = (dbm0: number): number => ZERO_DBM0_PEAK * 10 ** (dbm0 / 20);

export interface ToneOpts {
  sampleRate?: number;
  /** per-tone level of the louder-or-equal pair centre, dBm0 */
  levelDbm0?: number;
  /** high-group level minus low-group level, dB, split evenly around `levelDbm0` */
  twistDb?: number;
  /** relative frequency offset applied to both tones (0.015 = +1.5 %) */
  freqOffset?: number;
  toneMs?: number;
  pauseMs?: number;
  /** silence before the first and after the last digit */
  leadMs?: number;
}

/** Row and column frequency of a keypad digit. */
export function freqsOf(digit: string): [number, number] {
  for (let r = 0; r < 4; r++) {
    const c = KEYS[r].indexOf(digit);
    if (c >= 0) return [ROWS[r], COLS[c]];
  }
  throw new Error(`not a DTMF digit: ${digit}`);
}

/** A digit sequence as float samples (so noise can be added before rounding). */
export function dtmfFloat(digits: string, opts: ToneOpts = {}): Float64Array {
  const sr = opts.sampleRate ?? 8000;
  const level = opts.levelDbm0 ?? -10;
  const twist = opts.twistDb ?? 0;
  const off = 1 + (opts.freqOffset ?? 0);
  const ms = (v: number): number => Math.round((v * sr) / 1000);
  const tone = ms(opts.toneMs ?? 70);
  const pause = ms(opts.pauseMs ?? 70);
  const lead = ms(opts.leadMs ?? 100);
  const out = new Float64Array(2 * lead + digits.length * tone + Math.max(0, digits.length - 1) * pause);
  const aLow = peakOfDbm0(level - twist / 2);
  const aHigh = peakOfDbm0(level + twist / 2);
  let at = lead;
  for (const d of digits) {
    const [fr, fc] = freqsOf(d);
    const wr = (2 * Math.PI * fr * off) / sr;
    const wc = (2 * Math.PI * fc * off) / sr;
    for (let i = 0; i < tone; i++) out[at + i] = aLow * Math.sin(wr * i) + aHigh * Math.sin(wc * i + 1);
    at += tone + pause;
  }
  return out;
}

/** Seeded PRNG in [0, 1) so every run tests the same signals. */
export function rng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

/** White Gaussian noise at `snrDb` below the mean power of the tones (measured over the tone samples only). */
export function addNoise(x: Float64Array, snrDb: number, rand: () => number): Float64Array {
  let p = 0;
  let n = 0;
  for (const v of x) if (v !== 0) { p += v * v; n++; }
  const sigma = Math.sqrt(p / Math.max(1, n) / 10 ** (snrDb / 10));
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    // Box–Muller
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    out[i] = x[i] + sigma * g;
  }
  return out;
}

export function toInt16(x: Float64Array): Int16Array {
  return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v))));
}

/** Through an A-law codec and back, as a digital trunk would. */
export const alawRoundTrip = (pcm: Int16Array): Int16Array => alawDecode(alawEncode(pcm));

export interface SignalOpts extends ToneOpts { snrDb?: number; alaw?: boolean; seed?: number }

/** Digits → line samples with optional noise and A-law round trip. */
export function dtmfSignal(digits: string, opts: SignalOpts = {}): Int16Array {
  let x = dtmfFloat(digits, opts);
  if (opts.snrDb !== undefined) x = addNoise(x, opts.snrDb, rng(opts.seed ?? 1));
  const pcm = toInt16(x);
  return opts.alaw ? alawRoundTrip(pcm) : pcm;
}

export function randomDigits(n: number, rand: () => number): string {
  return Array.from({ length: n }, () => DIGITS[Math.floor(rand() * DIGITS.length)]).join('');
}
