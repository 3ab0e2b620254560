/**
 * 1200-baud FSK receiver for caller ID: a complex-baseband phase discriminator gives a soft
 * decision per sample; a UART finds start bits and samples mid-bit.
 */

import { lowPass } from './fir.ts';
import { ZERO_DBM0_PEAK } from '../audio/level.ts';

export type FskStandard = 'v23' | 'bell202';

export const FSK_TONES: Record<FskStandard, { mark: number; space: number }> = {
  v23: { mark: 1300, space: 2100 },
  bell202: { mark: 1200, space: 2200 },
};

export interface FskOptions {
  standard?: FskStandard;
  sampleRate?: number;
  baud?: number;
  /** weakest tone level still treated as carrier, dBm0 */
  minLevelDbm0?: number;
}

/** One received 8N1 character; `at`/`end` are sample indices of its start bit and stop-bit end. */
export interface FskChar {
  byte: number;
  at: number;
  end: number;
}

/** Per-sample soft decisions: `soft` > 0 means mark; `carrier` is true where in-band energy is present. */
export interface FskSoft {
  soft: Float32Array;
  carrier: Uint8Array;
  samplesPerBit: number;
  /** soft[n] describes the signal at sample n − delay (filter group delay) */
  delay: number;
}



/**
 * Demodulates to soft bit decisions: mix to the centre frequency, low-pass, take the phase step per
 * sample (instantaneous frequency), then average over ¾ bit (cutoff and length tuned at 6–8 dB SNR).
 */
export function fskSoft(pcm: Int16Array, opts: FskOptions = {}): FskSoft {
  const sr = opts.sampleRate ?? 8000;
  const baud = opts.baud ?? 1200;
  const spb = sr / baud;
  const { mark, space } = FSK_TONES[opts.standard ?? 'v23'];
  const wc = (Math.PI * (mark + space)) / sr;
  const dev = Math.abs(space - mark) / 2;
  const taps = 2 * Math.round(spb) + 3;
  const h = lowPass(taps, dev + baud / 4, sr);
  const len = pcm.length;
  const mr = new Float64Array(len);
  const mi = new Float64Array(len);
  for (let n = 0; n < len; n++) {
    mr[n] = pcm[n] * Math.cos(wc * n);
    mi[n] = -pcm[n] * Math.sin(wc * n);
  }
  const br = new Float64Array(len);
  const bi = new Float64Array(len);
  for (let n = 0; n < len; n++) {
    let r = 0;
    let i = 0;
    for (let k = 0; k < taps && k <= n; k++) {
      r += mr[n - k] * h[k];
      i += mi[n - k] * h[k];
    }
    br[n] = r;
    bi[n] = i;
  }
  const avg = Math.max(1, Math.round(spb * 0.75));
  const a = ZERO_DBM0_PEAK * 10 ** ((opts.minLevelDbm0 ?? -48) / 20);
  // mixing halves the amplitude, so a tone of peak A gives |b|² = A²/4
  const floor = (a * a) / 4;
  const inst = new Float64Array(len);
  const pow = new Float64Array(len);
  for (let n = 1; n < len; n++) {
    // phase step of b[n]·conj(b[n−1]); mark sits below the centre (for both standards) so it is negative
    inst[n] = Math.atan2(bi[n] * br[n - 1] - br[n] * bi[n - 1], br[n] * br[n - 1] + bi[n] * bi[n - 1]);
    pow[n] = br[n] * br[n] + bi[n] * bi[n];
  }
  const soft = new Float32Array(len);
  const carrier = new Uint8Array(len);
  let si = 0;
  let sp = 0;
  for (let n = 0; n < len; n++) {
    si += inst[n] - (n >= avg ? inst[n - avg] : 0);
    sp += pow[n] - (n >= avg ? pow[n - avg] : 0);
    soft[n] = -si / avg;
    carrier[n] = sp / avg >= floor ? 1 : 0;
  }
  const sign = mark < space ? 1 : -1;
  if (sign < 0) for (let n = 0; n < len; n++) soft[n] = -soft[n];
  return { soft, carrier, samplesPerBit: spb, delay: (taps - 1) / 2 + avg / 2 };
}

/** UART over the soft decisions: start bit on a mark→space edge, bits read at their centres, stop bit must be mark. */
export function fskChars(s: FskSoft): FskChar[] {
  const { soft, carrier, samplesPerBit: spb, delay } = s;
  const out: FskChar[] = [];
  // decision at the centre of the bit that starts at sample t
  const bitAt = (t: number): number => soft[Math.min(soft.length - 1, Math.round(t + spb / 2 + delay))];
  let k = 1;
  while (k < soft.length) {
    if (!(carrier[k] && soft[k] < 0 && soft[k - 1] >= 0)) { k++; continue; }
    // the edge in soft lags the line by the filter delay
    const start = k - delay;
    const end = start + 10 * spb;
    if (end + delay >= soft.length || bitAt(start) >= 0) { k++; continue; }
    let byte = 0;
    for (let b = 0; b < 8; b++) if (bitAt(start + (b + 1) * spb) > 0) byte |= 1 << b;
    if (bitAt(start + 9 * spb) <= 0) { k++; continue; }
    out.push({ byte, at: Math.round(start), end: Math.round(end) });
    // resume searching half-way through the stop bit
    k = Math.round(start + 9.5 * spb + delay);
  }
  return out;
}

/** Convenience: PCM → received characters. */
export const demodulateFsk = (pcm: Int16Array, opts: FskOptions = {}): FskChar[] => fskChars(fskSoft(pcm, opts));
