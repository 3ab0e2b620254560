import { SAMPLE_RATE } from '../audio/frame.ts';
import { RvError } from '../errors.ts';
import { type Bins, type Complex, DtmfBlock, dbToRatio } from './dtmf-block.ts';

/** DTMF (Q.23 keypad) detector following ITU-T Q.24 practice, for digits dialled on analog lines. */

export { DTMF_COLS, DTMF_ROWS } from './dtmf-block.ts';

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

/** One press being followed, from its first tone block. */
interface Candidate {
  digit: string; row: number; col: number; startMs: number; endMs: number;
  run: number; bestRun: number; gap: number;
  /** summed phase steps per tone, for the frequency check */
  rowAcc: Complex; colAcc: Complex;
  /** summed tone powers: twist is judged on the whole press, as one block's image leakage moves it by ±1 dB */
  rowP: number; colP: number;
}

export class DtmfDetector {
  readonly sampleRate: number;
  /** samples per analysis block (102 at 8 kHz) */
  readonly blockSize: number;
  readonly blockMs: number;
  private readonly analyser: DtmfBlock;
  private readonly onDigit: (d: DtmfDigit) => void;
  private readonly normalTwist: number;
  private readonly reverseTwist: number;
  private readonly freqTolerance: number;
  private readonly minBlocks: number;
  private readonly pauseBlocks: number;
  private readonly pending: Int16Array;
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
    this.onDigit = opts.onDigit ?? (() => {});
    this.normalTwist = dbToRatio(opts.normalTwistDb ?? 8);
    this.reverseTwist = dbToRatio(opts.reverseTwistDb ?? 4);
    this.freqTolerance = opts.freqTolerance ?? 0.025;
    // even, so a block splits into two halves whose phase step resolves ±fs/blockSize (±78 Hz at 8 kHz)
    this.blockSize = 2 * Math.round((this.sampleRate * 0.01275) / 2);
    this.blockMs = (this.blockSize * 1000) / this.sampleRate;
    // a tone of minDurationMs fills at least this many whole blocks; a shorter one fewer
    this.minBlocks = Math.max(1, Math.floor((opts.minDurationMs ?? 40) / this.blockMs));
    // blocks under ~60 % tone fail, so a minPauseMs pause shows about this many tone-free blocks
    this.pauseBlocks = Math.max(1, Math.round((opts.minPauseMs ?? 40) / this.blockMs));
    this.analyser = new DtmfBlock(this.sampleRate, this.blockSize, {
      minToneDbfs: opts.minToneDbfs ?? -48,
      minToneFraction: opts.minToneFraction ?? 0.6,
      groupMarginDb: opts.groupMarginDb ?? 6,
      harmonicMarginDb: opts.harmonicMarginDb ?? 12,
    });
    this.pending = new Int16Array(this.blockSize);
  }

  /** Feeds samples; `atMs` is the time of pcm[0] (else samples are taken to follow the previous ones). */
  push(pcm: Int16Array, atMs?: number): void {
    if (atMs !== undefined && this.pendingLen === 0) this.nextMs = atMs;
    let i = 0;
    while (i < pcm.length) {
      if (this.pendingLen === 0) this.pendingStartMs = this.nextMs + (i * 1000) / this.sampleRate;
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

  private block(pcm: Int16Array, atMs: number): void {
    const bins = this.analyser.analyse(pcm);
    const d = this.analyser.classify(pcm, bins);
    const endMs = atMs + this.blockMs;
    const c = this.cand;
    if (d && c && d.digit === c.digit) {
      if (this.prev?.digit === d.digit) {
        this.analyser.link(c.rowAcc, this.prev.bins, bins, d.row);
        this.analyser.link(c.colAcc, this.prev.bins, bins, d.col);
      }
      // a gap shorter than a pause bridges (Q.24: short breaks belong to the press) but restarts the run count
      c.run = c.gap === 0 ? c.run + 1 : 1;
      c.bestRun = Math.max(c.bestRun, c.run);
      c.gap = 0;
      c.endMs = endMs;
      c.rowP += bins.power[d.row];
      c.colP += bins.power[d.col];
    } else if (d) {
      this.finish();
      this.cand = {
        ...d, startMs: atMs, endMs, run: 1, bestRun: 1, gap: 0,
        rowAcc: [0, 0], colAcc: [0, 0], rowP: bins.power[d.row], colP: bins.power[d.col],
      };
    } else if (c && ++c.gap >= this.pauseBlocks) {
      this.finish();
    }
    this.prev = { bins, digit: d?.digit ?? null };
  }

  /** Reports the followed press if it lasted, kept its twist and stayed on frequency. */
  private finish(): void {
    const c = this.cand;
    this.cand = null;
    if (!c || c.bestRun < this.minBlocks) return;
    if (c.rowP > c.colP * this.normalTwist || c.colP > c.rowP * this.reverseTwist) return;
    const a = this.analyser;
    if (Math.abs(a.offset(c.rowAcc, c.row)) > this.freqTolerance || Math.abs(a.offset(c.colAcc, c.col)) > this.freqTolerance) return;
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
