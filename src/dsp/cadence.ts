import { RvError } from '../errors.ts';
import { msOf } from '../audio/frame.ts';
import { tone425 } from './tones.ts';

/** Streaming classification of 425 Hz on/off patterns into European call-progress cadences (ETSI TR 101 041, NL practice). */

export type CadenceKind = 'ringback' | 'busy' | 'congestion' | 'dial';
export interface CadenceEvent { kind: CadenceKind; at: number }

/** Nominal on/off times in ms and how many cycles must match before the cadence is reported. */
interface Pattern { kind: Exclude<CadenceKind, 'dial'>; onMs: number; offMs: number; cycles: number }

const PATTERNS: readonly Pattern[] = [
  { kind: 'ringback', onMs: 1000, offMs: 4000, cycles: 1 },
  { kind: 'busy', onMs: 500, offMs: 500, cycles: 2 },
  { kind: 'congestion', onMs: 250, offMs: 250, cycles: 2 },
];

export interface CadenceOptions {
  onEvent: (e: CadenceEvent) => void;
  /** relative timing tolerance; default 0.2 (±20 %) */
  tolerance?: number;
  /** continuous tone this long is dial tone; default 2000 ms (well past the longest ring-back burst) */
  dialMs?: number;
}

export class CadenceClassifier {
  private readonly onEvent: (e: CadenceEvent) => void;
  private readonly tolerance: number;
  private readonly dialMs: number;
  /** state of the current run and when it began (ms); null before the first block */
  private on: boolean | null = null;
  private runStart = 0;
  private lastOnMs = 0;
  /** consecutive matching cycles per pattern, in PATTERNS order */
  private readonly counts = PATTERNS.map(() => 0);
  /** last kind reported, so a steady cadence is reported once */
  private current: CadenceKind | null = null;

  constructor(opts: CadenceOptions) {
    this.onEvent = opts.onEvent;
    this.tolerance = opts.tolerance ?? 0.2;
    this.dialMs = opts.dialMs ?? 2000;
    if (!(this.tolerance >= 0 && this.tolerance < 1)) {
      throw new RvError('RV_ERR_CADENCE_TOLERANCE', `Cadence tolerance must be from 0 up to 1; got ${this.tolerance}.`);
    }
    if (!(this.dialMs > 1200)) {
      throw new RvError('RV_ERR_CADENCE_DIAL', `Dial-tone time must exceed 1200 ms (the longest ring-back burst); got ${this.dialMs}.`);
    }
  }

  /** One mono block whose first sample was at `at` (ms). */
  push(block: Int16Array, at: number): void {
    this.pushState(tone425(block), at, msOf(block.length));
  }

  /** One tone decision covering [at, at + ms), for callers that already ran tone425. */
  pushState(on: boolean, at: number, ms: number): void {
    if (this.on === null) {
      this.on = on;
      this.runStart = at;
    } else if (on !== this.on) {
      this.endRun(at);
      this.on = on;
      this.runStart = at;
    }
    const runMs = at + ms - this.runStart;
    if (on && runMs >= this.dialMs) this.report('dial', at + ms);
    // an off gap beyond every pattern's longest pause means the cadence has ended
    if (!on && runMs > this.maxMs(4000)) this.reset();
  }

  private maxMs(nominal: number): number {
    // one block of slack because the edges are only known to within a block
    return nominal * (1 + this.tolerance) + 20;
  }

  private fits(measured: number, nominal: number): boolean {
    return measured >= nominal * (1 - this.tolerance) - 20 && measured <= this.maxMs(nominal);
  }

  private endRun(at: number): void {
    const runMs = at - this.runStart;
    if (this.on) {
      this.lastOnMs = runMs;
      return;
    }
    if (this.lastOnMs === 0) return;
    // an off run closes one on/off cycle
    let matched = false;
    PATTERNS.forEach((p, i) => {
      if (this.fits(this.lastOnMs, p.onMs) && this.fits(runMs, p.offMs)) {
        matched = true;
        this.counts[i]++;
        if (this.counts[i] >= p.cycles) this.report(p.kind, at);
      } else {
        this.counts[i] = 0;
      }
    });
    if (!matched) this.current = null;
  }

  private reset(): void {
    this.counts.fill(0);
    this.lastOnMs = 0;
    this.current = null;
  }

  private report(kind: CadenceKind, at: number): void {
    if (this.current === kind) return;
    this.current = kind;
    this.onEvent({ kind, at });
  }
}
