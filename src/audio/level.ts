/** Signal levels of 16-bit PCM, relative to full scale (32768 = 0 dBFS, so a full-scale sine is about -3 dBFS). */

const FULL_SCALE = 32768;

/** Peak of a 0 dBm0 sine: A-law's full scale is +3.14 dBm0, the reference every dBm0 figure here uses. */
export const ZERO_DBM0_PEAK = 32767 * 10 ** (-3.14 / 20);

/** Which samples to measure: one channel of interleaved audio, or every sample when `channels` is 1. */
export interface LevelOpts { channels?: number; channel?: number }

function stride(pcm: Int16Array, opts: LevelOpts): { step: number; first: number } {
  const step = opts.channels ?? 1;
  const first = opts.channel ?? 0;
  if (!Number.isInteger(step) || step < 1 || !Number.isInteger(first) || first < 0 || first >= step) {
    throw new RangeError(`channel ${first} of ${step} is not a channel of this audio`);
  }
  return { step, first };
}

/** Largest absolute sample value (0…32768). */
export function peak(pcm: Int16Array, opts: LevelOpts = {}): number {
  const { step, first } = stride(pcm, opts);
  let max = 0;
  for (let i = first; i < pcm.length; i += step) max = Math.max(max, Math.abs(pcm[i]));
  return max;
}

/** Peak in dBFS; -Infinity for digital silence or no samples. */
export const peakDbfs = (pcm: Int16Array, opts: LevelOpts = {}): number => 20 * Math.log10(peak(pcm, opts) / FULL_SCALE);

/** RMS level in dBFS; -Infinity for digital silence or no samples. */
export function rmsDbfs(pcm: Int16Array, opts: LevelOpts = {}): number {
  const { step, first } = stride(pcm, opts);
  let sum = 0;
  let n = 0;
  for (let i = first; i < pcm.length; i += step, n++) sum += pcm[i] * pcm[i];
  return n === 0 ? -Infinity : 10 * Math.log10(sum / n / (FULL_SCALE * FULL_SCALE));
}
