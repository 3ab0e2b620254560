import { Goertzel } from './goertzel.ts';
import { SAMPLE_RATE } from '../audio/frame.ts';
import { ZERO_DBM0_PEAK } from '../audio/level.ts';

/** 425 Hz call-progress tone detection per 20 ms block (ETSI TR 101 041, the tone used across the Netherlands/Europe). */

export const TONE_HZ = 425;
/** 20 ms at 8 kHz: the block every call-progress decision is made on */
export const TONE_BLOCK = 160;
/** mean square of a 0 dBm0 sine */
const ZERO_DBM0_POWER = ZERO_DBM0_PEAK ** 2 / 2;
/** "about −40 dBm0": 2 dB of slack so a −40 dBm0 tone passes after line loss and rounding */
export const TONE_MIN_DBM0 = -42;
/** share of the block energy the 425 Hz bin must hold: a ±2 % tone keeps ≥ 0.9, speech stayed ≤ 0.64 on the clips */
export const TONE_MIN_SHARE = 0.7;

const goertzel = new Goertzel(TONE_HZ, SAMPLE_RATE, TONE_BLOCK);

/** Mean-removed mean-square power of a block in dBm0; −Infinity for silence. */
export function blockDbm0(block: Int16Array): number {
  if (block.length === 0) return -Infinity;
  let sum = 0;
  let sq = 0;
  for (const v of block) { sum += v; sq += v * v; }
  // remove DC so a line offset does not count as signal
  const power = (sq - (sum * sum) / block.length) / block.length;
  return power > 0 ? 10 * Math.log10(power / ZERO_DBM0_POWER) : -Infinity;
}

/** Share (0…1) of the block's AC energy found in the 425 Hz bin; 1 for a pure tone exactly at 425 Hz. */
export function toneShare425(block: Int16Array): number {
  const n = block.length;
  if (n === 0) return 0;
  let sum = 0;
  let sq = 0;
  for (const v of block) { sum += v; sq += v * v; }
  const energy = sq - (sum * sum) / n;
  if (energy <= 0) return 0;
  // a sine of amplitude A gives |X|² = (A·n/2)² and energy n·A²/2, hence the n/2 scale
  return goertzel.power(block, 0, n) / (energy * (n / 2));
}

/** True when a 425 Hz tone (±2 %) at ≥ about −40 dBm0 dominates this block (speech and other tones do not). */
export const tone425 = (block: Int16Array): boolean =>
  blockDbm0(block) >= TONE_MIN_DBM0 && toneShare425(block) >= TONE_MIN_SHARE;
