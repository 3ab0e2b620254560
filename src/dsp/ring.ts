import { RvError } from '../errors.ts';
import { SAMPLE_RATE } from '../audio/frame.ts';
import { ZERO_DBM0_PEAK } from '../audio/level.ts';
import { SlidingMin } from './sliding-min.ts';

/**
 * Ring detection on the audio of a line tap. The ring signal (16⅔–50 Hz, tens of volts) reaches a
 * tap's input far louder than any speech, usually clipped; speech, call-progress tones and modem
 * signals carry almost nothing below 70 Hz. So a ring is: most of the energy below 70 Hz, loud,
 * well above the line's own low-frequency floor (mains hum), for at least 200 ms.
 */

export interface RingEvent {
  type: 'ring-start' | 'ring-stop';
  /** ms: start of the burst, or for ring-stop its end */
  at: number;
  /** ring-stop: how long the burst lasted, ms */
  durationMs?: number;
}

export interface RingOptions {
  onEvent?: (e: RingEvent) => void;
  sampleRate?: number;
  /** a burst shorter than this is a click (polarity reversal, hook switch), not a ring; default 200 ms */
  minOnMs?: number;
  /** a gap shorter than this does not end a burst; default 120 ms (the UK double ring pauses 200 ms) */
  minOffMs?: number;
  /** low-band level a ring must reach, dBm0; default −30 */
  minDbm0?: number;
  /** share of the window's energy below the cut-off a ring must hold; default 0.6 */
  minShare?: number;
  /** how far the low band must rise above its floor (hum), dB; default 15 */
  marginDb?: number;
}

/** decisions are made on 20 ms windows whatever the caller's block size (sin² of 25 Hz repeats every 20 ms) */
const WINDOW_MS = 20;
const CUTOFF_HZ = 70;
/** the hum floor is the quietest low-band window of the last 10 s, longer than any ring burst */
const FLOOR_WINDOW_MS = 10_000;
const FLOOR_PARTS = 5;
const ZERO_DBM0_POWER = ZERO_DBM0_PEAK ** 2 / 2;

/** Direct-form II transposed biquad. */
class Biquad {
  private z1 = 0;
  private z2 = 0;
  constructor(private readonly b: [number, number, number], private readonly a: [number, number]) {}
  step(x: number): number {
    const y = this.b[0] * x + this.z1;
    this.z1 = this.b[1] * x - this.a[0] * y + this.z2;
    this.z2 = this.b[2] * x - this.a[1] * y;
    return y;
  }
}

/** RBJ low-pass section; two with Q 0.5412 and 1.3066 make a 4th-order Butterworth. */
function lowPassSection(fc: number, q: number, sr: number): Biquad {
  const w = (2 * Math.PI * fc) / sr;
  const alpha = Math.sin(w) / (2 * q);
  const cos = Math.cos(w);
  const a0 = 1 + alpha;
  const b1 = (1 - cos) / a0;
  return new Biquad([b1 / 2, b1, b1 / 2], [(-2 * cos) / a0, (1 - alpha) / a0]);
}

export class RingDetector {
  private readonly onEvent: (e: RingEvent) => void;
  private readonly sr: number;
  private readonly win: number;
  private readonly minOnMs: number;
  private readonly minOffMs: number;
  private readonly minPower: number;
  private readonly minShare: number;
  private readonly margin: number;
  private readonly lp: Biquad[];
  private readonly floor = new SlidingMin(FLOOR_WINDOW_MS / FLOOR_PARTS, FLOOR_PARTS);
  // DC blocker state: a line's offset is not a ring
  private dcX = 0;
  private dcY = 0;
  private n = 0;
  private lowSum = 0;
  private allSum = 0;
  /** start time of the current window, ms */
  private winAt: number | null = null;
  /** the burst being followed: start, end of its last ring window, and whether it was reported */
  private burst: { start: number; last: number; reported: boolean } | null = null;
  private lastWindowRing = false;
  private started: number[] = [];

  constructor(opts: RingOptions = {}) {
    this.onEvent = opts.onEvent ?? (() => {});
    this.sr = opts.sampleRate ?? SAMPLE_RATE;
    this.win = Math.round((WINDOW_MS * this.sr) / 1000);
    this.minOnMs = opts.minOnMs ?? 200;
    this.minOffMs = opts.minOffMs ?? 120;
    const minDbm0 = opts.minDbm0 ?? -30;
    this.minPower = ZERO_DBM0_POWER * 10 ** (minDbm0 / 10);
    this.minShare = opts.minShare ?? 0.6;
    this.margin = opts.marginDb ?? 15;
    if (!(this.minOnMs >= WINDOW_MS) || !(this.minOffMs >= WINDOW_MS)) {
      throw new RvError('RV_ERR_RING_TIMING', `Ring minimum on and off times must be at least ${WINDOW_MS} ms; got ${this.minOnMs} and ${this.minOffMs}.`);
    }
    if (!(this.minShare > 0 && this.minShare <= 1)) {
      throw new RvError('RV_ERR_RING_SHARE', `Ring low-band share must be above 0 and at most 1; got ${this.minShare}.`);
    }
    this.lp = [lowPassSection(CUTOFF_HZ, 0.5412, this.sr), lowPassSection(CUTOFF_HZ, 1.3066, this.sr)];
  }

  /** True while the signal is ring-like or a burst is open, so callers do not take it for voice. */
  get ringing(): boolean {
    return this.lastWindowRing || (this.burst?.reported ?? false);
  }

  /** One mono block whose first sample was at `at` ms; returns the start times of bursts confirmed in it. */
  push(block: Int16Array, at: number): number[] {
    this.started = [];
    for (let i = 0; i < block.length; i++) {
      if (this.winAt === null) this.winAt = at + (i * 1000) / this.sr;
      const x = block[i];
      const y = x - this.dcX + 0.995 * this.dcY;
      this.dcX = x;
      this.dcY = y;
      const l = this.lp[1].step(this.lp[0].step(y));
      this.lowSum += l * l;
      this.allSum += y * y;
      if (++this.n === this.win) this.window();
    }
    return this.started;
  }

  /** Ends the stream: an open burst is closed at the end of its last ring window. */
  flush(): void {
    if (this.burst) this.close();
  }

  private window(): void {
    const at = this.winAt ?? 0;
    const low = this.lowSum / this.n;
    const all = this.allSum / this.n;
    this.n = 0;
    this.lowSum = 0;
    this.allSum = 0;
    this.winAt = null;
    const db = low > 0 ? 10 * Math.log10(low / ZERO_DBM0_POWER) : -Infinity;
    const ring = low >= this.minPower && low >= this.minShare * all && db >= this.floor.min + this.margin;
    this.floor.add(db, WINDOW_MS);
    this.lastWindowRing = ring;
    const end = at + WINDOW_MS;
    if (ring) {
      if (this.burst && at - this.burst.last < this.minOffMs) this.burst.last = end;
      else {
        if (this.burst) this.close();
        this.burst = { start: at, last: end, reported: false };
      }
      if (!this.burst.reported && end - this.burst.start >= this.minOnMs) {
        this.burst.reported = true;
        this.started.push(this.burst.start);
        this.onEvent({ type: 'ring-start', at: this.burst.start });
      }
    } else if (this.burst && end - this.burst.last >= this.minOffMs) {
      this.close();
    }
  }

  private close(): void {
    const b = this.burst;
    this.burst = null;
    if (b?.reported) this.onEvent({ type: 'ring-stop', at: b.last, durationMs: b.last - b.start });
  }
}

/** Every ring burst in a whole mono recording. */
export function detectRings(pcm: Int16Array, sampleRate = SAMPLE_RATE): { startMs: number; endMs: number }[] {
  const out: { startMs: number; endMs: number }[] = [];
  const det = new RingDetector({
    sampleRate,
    onEvent: (e) => { if (e.type === 'ring-stop') out.push({ startMs: e.at - (e.durationMs ?? 0), endMs: e.at }); },
  });
  det.push(pcm, 0);
  det.flush();
  return out;
}
