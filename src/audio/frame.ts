/** The telephone rate: analog lines and narrowband calls, and every call kept before calls had a rate of their own. */
export const SAMPLE_RATE = 8000;
/** The rates a call's audio is kept at: 8 kHz narrowband, 16 kHz wideband (G.722, Opus); fixed at the call's start. */
export type CallRate = 8000 | 16000;
export const CALL_RATES: readonly CallRate[] = [8000, 16000];
export const isCallRate = (r: unknown): r is CallRate => r === 8000 || r === 16000;
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
export const msOf = (framesPerChannel: number, rate: number = SAMPLE_RATE): number => (framesPerChannel * 1000) / rate;
