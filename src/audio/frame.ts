/** Every line is handled at telephone rate, 16-bit signed PCM. */
export const SAMPLE_RATE = 8000;
export const BYTES_PER_SAMPLE = 2;

/**
 * A block of audio from one line. `pcm` is interleaved when `channels` is 2
 * (channel 0 = the caller side / line mix, channel 1 = the called side).
 */
export interface AudioBlock {
  /** ms since the epoch of the first sample */
  at: number;
  channels: 1 | 2;
  pcm: Int16Array;
}

/** Duration in ms of `samples` frames (per channel) at the line rate. */
export const msOf = (framesPerChannel: number): number => (framesPerChannel * 1000) / SAMPLE_RATE;
