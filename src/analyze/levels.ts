import { TONE_BLOCK, blockDbm0 } from '../dsp/tones.ts';
import { RingDetector } from '../dsp/ring.ts';
import { ZERO_DBM0_PEAK } from '../audio/level.ts';
import { channelOf } from './analyze.ts';

/** Input levels of a tap, per channel, and what the installer should do about them. */

export type LevelVerdict = 'ok' | 'too-quiet' | 'too-loud' | 'noisy' | 'idle' | 'no-signal';

export interface ChannelLevels {
  channel: number;
  peakDbm0: number;
  rmsDbm0: number;
  /** samples at the converter's limits, outside ring bursts (a ring clipping is normal) */
  clipped: number;
  /** the quietest tenth of 20 ms blocks: line noise and hum */
  noiseFloorDbm0: number;
  /** the loudest twentieth of blocks outside rings: speech and tones */
  activeDbm0: number;
  verdict: LevelVerdict;
  advice: string;
}

/** Speech and tones this loud or louder leave the detectors margin; quieter and DTMF/FSK start to fail. */
export const QUIET_DBM0 = -35;
/** Louder than this and speech peaks clip. */
export const LOUD_DBM0 = -3;
/** A floor above this is hum or a bad earth. */
export const NOISY_DBM0 = -45;
/** Clipped samples (outside rings) above this share mean the input gain is too high. */
const CLIP_SHARE = 1e-4;

const db = (ratio: number): number => (ratio > 0 ? 20 * Math.log10(ratio) : -Infinity);
const round1 = (v: number): number => (Number.isFinite(v) ? Math.round(v * 10) / 10 : v);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return -Infinity;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(p * sorted.length)))];
}

const ADVICE: Record<LevelVerdict, string> = {
  ok: 'Levels are fine.',
  'too-quiet': `Speech and tones stay below ${QUIET_DBM0} dBm0: raise the input gain (alsamixer, capture) or check the tap's attenuator.`,
  'too-loud': 'The input clips outside rings: lower the input gain (alsamixer, capture) until speech no longer reaches full scale.',
  noisy: `The noise floor is above ${NOISY_DBM0} dBm0 (hum or a bad earth): check the tap's wiring and earthing, and keep the USB interface away from mains cables.`,
  idle: 'Only line noise was heard: make a test call (ring, talk, hang up) during the check to judge the levels.',
  'no-signal': 'Nothing at all on this input: check that the tap is plugged into this channel and that the capture device is the right one.',
};

export function channelLevels(pcm: Int16Array, channels: number): ChannelLevels[] {
  return Array.from({ length: channels }, (_, ch) => {
    const x = channelOf(pcm, channels, ch);
    let peak = 0;
    let sq = 0;
    for (const v of x) { const a = Math.abs(v); if (a > peak) peak = a; sq += v * v; }
    const ring = new RingDetector();
    const quiet: number[] = [];
    const loud: number[] = [];
    let clipped = 0;
    for (let i = 0; i + TONE_BLOCK <= x.length; i += TONE_BLOCK) {
      const block = x.subarray(i, i + TONE_BLOCK);
      ring.push(block, (i * 1000) / 8000);
      const level = blockDbm0(block);
      quiet.push(level);
      if (ring.ringing) continue;
      loud.push(level);
      for (const v of block) if (v >= 32767 || v <= -32768) clipped++;
    }
    quiet.sort((a, b) => a - b);
    loud.sort((a, b) => a - b);
    const floor = percentile(quiet, 0.1);
    const active = percentile(loud, 0.95);
    const peakDbm0 = db(peak / ZERO_DBM0_PEAK);
    const verdict: LevelVerdict =
      peakDbm0 < -70 ? 'no-signal'
        : clipped > CLIP_SHARE * x.length || active > LOUD_DBM0 ? 'too-loud'
          : floor > NOISY_DBM0 ? 'noisy'
            : active < floor + 10 ? 'idle'
              : active < QUIET_DBM0 ? 'too-quiet'
                : 'ok';
    return {
      channel: ch,
      peakDbm0: round1(peakDbm0),
      rmsDbm0: round1(db(Math.sqrt(sq / Math.max(1, x.length)) / (ZERO_DBM0_PEAK / Math.SQRT2))),
      clipped,
      noiseFloorDbm0: round1(floor),
      activeDbm0: round1(active),
      verdict,
      advice: ADVICE[verdict],
    };
  });
}
