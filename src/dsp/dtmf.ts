import { SAMPLE_RATE } from '../audio/frame.ts';
import { RvError } from '../errors.ts';
import { Goertzel } from './goertzel.ts';

/** DTMF (Q.23 keypad) detector following ITU-T Q.24 practice; 12.75 ms Goertzel blocks. */

export const DTMF_ROWS = [697, 770, 852, 941] as const;
export const DTMF_COLS = [1209, 1336, 1477, 1633] as const;
const KEYS = ['123A', '456B', '789C', '*0#D'] as const;

export interface DtmfDigit { digit: string; at: number; durationMs: number }

export interface DtmfOptions {
  sampleRate?: number;
  onDigit?: (d: DtmfDigit) => void;
  /** low group louder than high group (the usual result of line loss), dB */
  normalTwistDb?: number;
  /** high group louder than low group, dB */
  reverseTwistDb?: number;
  minDurationMs?: number;
  minPauseMs?: number;
  /** accept offsets up to this fraction of nominal (Q.24: accept ±1.5 %, reject ±3.5 %) */
  freqTolerance?: number;
  /** weakest tone accepted, dB relative to a full-scale sine (−48 ≈ −45 dBm0 for A-law) */
  minToneDbfs?: number;
  /** the two tones' share of the block energy; speech and noise spread theirs */
  minToneFraction?: number;
  /** the strongest tone of a group must beat the group's others by this much */
  groupMarginDb?: number;
  /** a tone's second harmonic must be this far below it (speech is rich in harmonics) */
  harmonicMarginDb?: number;
}

const dbToRatio = (db: number): number => 10 ** (db / 10);

interface Candidate {
  digit: string; row: number; col: number; startMs: number; endMs: number;
  run: number; bestRun: number; gap: number;
  /** summed tone powers: twist is judged on the whole press, as one block's image leakage moves it by ±1 dB */
  rowP: number; colP: number;
  /** Σ of phase-advance vectors per half block, for the row and column tone */
  rowAcc: [number, number]; colAcc: [number, number];
}

/** Per-frequency analysis of one block: the two half-block DFTs and the full-block one. */
interface Bins { h1: [number, number][]; h2: [number, number][]; x: [number, number][]; power: number[] }

const cmul = (a: [number, number], b: [number, number]): [number, number] => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
const conj = (a: [number, number]): [number, number] => [a[0], -a[1]];

export class DtmfDetector {
  readonly sampleRate: number;
  /** samples per analysis block (102 at 8 kHz) */
  readonly blockSize: number;
  readonly blockMs: number;
  private readonly half: number;
  private readonly filters: Goertzel[];
  /** e^(−iω·half) per filter: moves a half-block DFT to the next half's time origin */
  private readonly halfShift: [number, number][];
  private readonly onDigit: (d: DtmfDigit) => void;
  private readonly o: Required<Omit<DtmfOptions, 'sampleRate' | 'onDigit'>>;
  private readonly minBlocks: number;
  private readonly pauseBlocks: number;
  private pending: Int16Array;
  private pendingLen = 0;
  private pendingStartMs = 0;
  private nextMs = 0;
  private prev: { bins: Bins; digit: string | null } | null = null;
  private cand: Candidate | null = null;

  constructor(opts: DtmfOptions = {}) {
    this.sampleRate = opts.sampleRate ?? SAMPLE_RATE;
    if (!Number.isFinite(this.sampleRate) || this.sampleRate < 4000) {
      throw new RvError('RV_ERR_DTMF_RATE', `DTMF needs a sample rate of at least 4000 Hz; got ${this.sampleRate}.`);
    }
    this.o = {
      normalTwistDb: opts.normalTwistDb ?? 8,
      reverseTwistDb: opts.reverseTwistDb ?? 4,
      minDurationMs: opts.minDurationMs ?? 40,
      minPauseMs: opts.minPauseMs ?? 40,
      freqTolerance: opts.freqTolerance ?? 0.025,
      minToneDbfs: opts.minToneDbfs ?? -48,
      minToneFraction: opts.minToneFraction ?? 0.6,
      groupMarginDb: opts.groupMarginDb ?? 6,
      harmonicMarginDb: opts.harmonicMarginDb ?? 12,
    };
    this.onDigit = opts.onDigit ?? (() => {});
    // even, so a block splits into two halves whose phase step resolves ±fs/blockSize (±78 Hz at 8 kHz)
    this.blockSize = 2 * Math.round((this.sampleRate * 0.01275) / 2);
    this.half = this.blockSize / 2;
    this.blockMs = (this.blockSize * 1000) / this.sampleRate;
    // a tone of minDurationMs fills at least this many whole blocks; a shorter one fewer
    this.minBlocks = Math.max(1, Math.floor(this.o.minDurationMs / this.blockMs));
    // blocks under ~60 % tone fail, so a minPauseMs pause shows about this many tone-free blocks
    this.pauseBlocks = Math.max(1, Math.round(this.o.minPauseMs / this.blockMs));
    this.filters = [...DTMF_ROWS, ...DTMF_COLS].map((f) => new Goertzel(f, this.sampleRate));
    this.halfShift = this.filters.map((g) => {
      const w = (2 * Math.PI * g.freq * this.half) / this.sampleRate;
      return [Math.cos(w), -Math.sin(w)];
    });
    this.pending = new Int16Array(this.blockSize);
  }

  /** Feeds samples; `atMs` is the time of pcm[0] (else samples are taken to follow the previous ones). */
  push(pcm: Int16Array, atMs?: number): void {
    if (atMs !== undefined && this.pendingLen === 0) this.nextMs = atMs;
    let i = 0;
    while (i < pcm.length) {
      if (this.pendingLen === 0) this.pendingStartMs = this.nextMs + ((i * 1000) / this.sampleRate);
      const n = Math.min(pcm.length - i, this.blockSize - this.pendingLen);
      this.pending.set(pcm.subarray(i, i + n), this.pendingLen);
      this.pendingLen += n;
      i += n;
      if (this.pendingLen === this.blockSize) {
        this.block(this.pending, this.pendingStartMs);
        this.pendingLen = 0;
      }
    }
    this.nextMs += (pcm.length * 1000) / this.sampleRate;
  }

  /** Ends the stream: a digit still sounding is reported; a partial block is dropped. */
  flush(): void {
    this.finish();
    this.pendingLen = 0;
    this.prev = null;
  }

  private analyse(pcm: Int16Array): Bins {
    const bins: Bins = { h1: [], h2: [], x: [], power: [] };
    this.filters.forEach((g, i) => {
      const h1 = g.dft(pcm, 0, this.half);
      const h2 = g.dft(pcm, this.half, this.half);
      const s = cmul(h2, this.halfShift[i]);
      const x: [number, number] = [h1[0] + s[0], h1[1] + s[1]];
      bins.h1.push(h1);
      bins.h2.push(h2);
      bins.x.push(x);
      bins.power.push(x[0] * x[0] + x[1] * x[1]);
    });
    return bins;
  }

  /** The digit this block carries by every per-block Q.24 check, or null. */
  private classify(pcm: Int16Array, bins: Bins): { digit: string; row: number; col: number } | null {
    const n = this.blockSize;
    let energy = 0;
    for (let i = 0; i < n; i++) energy += pcm[i] * pcm[i];
    if (energy === 0) return null;
    const p = bins.power;
    const best = (from: number): number => [0, 1, 2, 3].reduce((b, k) => (p[from + k] > p[from + b] ? k : b), 0);
    const row = best(0);
    const col = best(4);
    const pr = p[row];
    const pc = p[4 + col];
    // mean square of a sine = 2·|X|²/N²; a full-scale sine has 32767²/2
    const minP = (32767 * 32767 * dbToRatio(this.o.minToneDbfs) * n * n) / 4;
    if (pr < minP || pc < minP) return null;
    const margin = dbToRatio(this.o.groupMarginDb);
    for (let k = 0; k < 4; k++) {
      if (k !== row && p[k] * margin > pr) return null;
      if (k !== col && p[4 + k] * margin > pc) return null;
    }
    if (((pr + pc) * 2) / n < this.o.minToneFraction * energy) return null;
    if (!this.harmonicOk(pcm, DTMF_COLS[col], pc) || !this.harmonicOk(pcm, DTMF_ROWS[row], pr)) return null;
    return { digit: KEYS[row][col], row, col };
  }

  /** Second-harmonic check, skipped where that harmonic falls within two bins of a column tone (it would see the tone). */
  private harmonicOk(pcm: Int16Array, f: number, power: number): boolean {
    const h = 2 * f;
    if (h >= this.sampleRate / 2) return true;
    const bin = this.sampleRate / this.blockSize;
    if (DTMF_COLS.some((c) => Math.abs(c - h) < 2 * bin)) return true;
    return new Goertzel(h, this.sampleRate).power(pcm) * dbToRatio(this.o.harmonicMarginDb) <= power;
  }

  private block(pcm: Int16Array, atMs: number): void {
    const bins = this.analyse(pcm);
    const d = this.classify(pcm, bins);
    const endMs = atMs + this.blockMs;
    const c = this.cand;
    if (d && c && d.digit === c.digit) {
      if (this.prev && this.prev.digit === d.digit) {
        this.link(c.rowAcc, this.prev.bins, bins, d.row);
        this.link(c.colAcc, this.prev.bins, bins, 4 + d.col);
      }
      c.run = c.gap === 0 ? c.run + 1 : 1;
      c.bestRun = Math.max(c.bestRun, c.run);
      c.gap = 0;
      c.endMs = endMs;
      c.rowP += bins.power[d.row];
      c.colP += bins.power[4 + d.col];
    } else if (d) {
      this.finish();
      this.cand = { ...d, startMs: atMs, endMs, run: 1, bestRun: 1, gap: 0, rowAcc: [0, 0], colAcc: [0, 0],
        rowP: bins.power[d.row], colP: bins.power[4 + d.col] };
    } else if (c && ++c.gap >= this.pauseBlocks) {
      this.finish();
    }
    this.prev = { bins, digit: d?.digit ?? null };
  }

  /** Adds the phase steps previous block → straddling block → this block, each one half block long. */
  private link(acc: [number, number], a: Bins, b: Bins, k: number): void {
    const shift = this.halfShift[k];
    const straddle = cmul(b.h1[k], shift);
    const y: [number, number] = [a.h2[k][0] + straddle[0], a.h2[k][1] + straddle[1]];
    for (const [from, to] of [[a.x[k], y], [y, b.x[k]]] as const) {
      const step = cmul(cmul(to, conj(from)), shift);
      acc[0] += step[0];
      acc[1] += step[1];
    }
  }

  /** Measured offset of a tone as a fraction of its nominal frequency. */
  private offset(acc: [number, number], f: number): number {
    const df = (Math.atan2(acc[1], acc[0]) * this.sampleRate) / (2 * Math.PI * this.half);
    return df / f;
  }

  private finish(): void {
    const c = this.cand;
    this.cand = null;
    if (!c || c.bestRun < this.minBlocks) return;
    if (c.rowP > c.colP * dbToRatio(this.o.normalTwistDb) || c.colP > c.rowP * dbToRatio(this.o.reverseTwistDb)) return;
    const tol = this.o.freqTolerance;
    if (Math.abs(this.offset(c.rowAcc, DTMF_ROWS[c.row])) > tol) return;
    if (Math.abs(this.offset(c.colAcc, DTMF_COLS[c.col])) > tol) return;
    this.onDigit({ digit: c.digit, at: c.startMs, durationMs: c.endMs - c.startMs });
  }
}

/** Every digit in a whole recording, in order. */
export function detectDtmf(pcm: Int16Array, sampleRate = SAMPLE_RATE): { digit: string; startMs: number; durationMs: number }[] {
  const out: { digit: string; startMs: number; durationMs: number }[] = [];
  const det = new DtmfDetector({ sampleRate, onDigit: (d) => out.push({ digit: d.digit, startMs: d.at, durationMs: d.durationMs }) });
  det.push(pcm, 0);
  det.flush();
  return out;
}
