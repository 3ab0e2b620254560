import { RvError } from '../errors.ts';
import { msOf } from '../audio/frame.ts';
import { blockDbm0, tone425 } from './tones.ts';
import { SlidingMin } from './sliding-min.ts';

/** Voice activity with hang-over: energy above an adaptive (minimum-tracking) noise floor, 425 Hz tones ignored. */

export interface VadSegment { startMs: number; endMs: number }

export interface VadOptions {
  onSegment: (s: VadSegment) => void;
  /** silence that ends a segment, ms; default 4000, allowed 3000–5000 (the span used to end calls) */
  hangMs?: number;
  /** activity needed to start (and to extend) a segment, ms; default 60 */
  minActiveMs?: number;
  /** how far above the noise floor a block must be to count as voice, dB; default 10 */
  marginDb?: number;
  /** nothing quieter than this is voice, dBm0; default −50 */
  minDbm0?: number;
}

/** the floor is the quietest block of the last 2 s: speech always dips within that, a louder line is learnt within it */
const FLOOR_WINDOW_MS = 2000;
const FLOOR_PARTS = 4;

export class Vad {
  private readonly onSegment: (s: VadSegment) => void;
  private readonly hangMs: number;
  private readonly minActiveMs: number;
  private readonly marginDb: number;
  private readonly minDbm0: number;
  // the current quarter plus the three before it
  private readonly floorTracker = new SlidingMin(FLOOR_WINDOW_MS / FLOOR_PARTS, FLOOR_PARTS - 1);
  /** start (ms) of the current run of active blocks, or null */
  private runStart: number | null = null;
  /** the open segment: its start and the end of its last qualifying activity */
  private open: VadSegment | null = null;

  constructor(opts: VadOptions) {
    this.onSegment = opts.onSegment;
    this.hangMs = opts.hangMs ?? 4000;
    this.minActiveMs = opts.minActiveMs ?? 60;
    this.marginDb = opts.marginDb ?? 10;
    this.minDbm0 = opts.minDbm0 ?? -50;
    if (!(this.hangMs >= 3000 && this.hangMs <= 5000)) {
      throw new RvError('RV_ERR_VAD_HANG', `VAD hang-over must be 3000–5000 ms; got ${this.hangMs}.`);
    }
    if (!(this.minActiveMs > 0)) {
      throw new RvError('RV_ERR_VAD_MIN_ACTIVE', `VAD minimum activity must be above 0 ms; got ${this.minActiveMs}.`);
    }
  }

  /** Current noise floor estimate, dBm0. */
  get floor(): number { return this.floorTracker.min; }

  /** One mono block whose first sample was at `at` (ms). */
  push(block: Int16Array, at: number): void {
    const ms = msOf(block.length);
    const end = at + ms;
    const db = blockDbm0(block);
    // a steady call-progress tone is neither voice nor noise: it must not keep a call alive or lift the floor
    const tone = tone425(block);
    if (!tone) this.floorTracker.add(db, ms);
    const active = !tone && db >= this.minDbm0 && db >= this.floorTracker.min + this.marginDb;
    if (active) {
      this.runStart ??= at;
      // only runs of ≥ minActiveMs count, so clicks and tone edges neither start nor extend a segment
      if (end - this.runStart >= this.minActiveMs) {
        if (this.open) this.open.endMs = end;
        else this.open = { startMs: this.runStart, endMs: end };
      }
    } else {
      this.runStart = null;
    }
    if (this.open && end - this.open.endMs >= this.hangMs) this.close();
  }

  /** Ends the stream: an open segment is reported as it stands. */
  flush(): void {
    if (this.open) this.close();
    this.runStart = null;
  }

  private close(): void {
    const s = this.open;
    this.open = null;
    if (s) this.onSegment(s);
  }
}
