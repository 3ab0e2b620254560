import { Goertzel } from './goertzel.ts';

/** One 12.75 ms block of DTMF analysis: tone powers, the per-block Q.24 checks, and tone phase for frequency measurement. */

export const DTMF_ROWS = [697, 770, 852, 941] as const;
export const DTMF_COLS = [1209, 1336, 1477, 1633] as const;
const KEYS = ['123A', '456B', '789C', '*0#D'] as const;

export type Complex = [number, number];

/** Per filter (rows then columns): the two half-block DFTs, the full-block DFT and its power. */
export interface Bins { h1: Complex[]; h2: Complex[]; x: Complex[]; power: number[] }

export interface BlockChecks {
  minToneDbfs: number;
  minToneFraction: number;
  groupMarginDb: number;
  harmonicMarginDb: number;
}

export const dbToRatio = (db: number): number => 10 ** (db / 10);
const cmul = (a: Complex, b: Complex): Complex => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];

export class DtmfBlock {
  readonly half: number;
  private readonly filters: Goertzel[];
  /** e^(−iω·half) per filter: moves a half-block DFT to the next half's time origin */
  private readonly halfShift: Complex[];
  /** second-harmonic filter per tone; null where the harmonic lies within two bins of a column tone (it would see that tone) */
  private readonly harmonics: (Goertzel | null)[];

  constructor(
    readonly sampleRate: number,
    readonly blockSize: number,
    private readonly checks: BlockChecks,
  ) {
    this.half = blockSize / 2;
    const tones = [...DTMF_ROWS, ...DTMF_COLS];
    this.filters = tones.map((f) => new Goertzel(f, sampleRate, this.half));
    this.halfShift = tones.map((f) => {
      const w = (2 * Math.PI * f * this.half) / sampleRate;
      return [Math.cos(w), -Math.sin(w)];
    });
    const bin = sampleRate / blockSize;
    this.harmonics = tones.map((f) =>
      2 * f >= sampleRate / 2 || DTMF_COLS.some((c) => Math.abs(c - 2 * f) < 2 * bin) ? null : new Goertzel(2 * f, sampleRate, blockSize),
    );
  }

  analyse(pcm: Int16Array): Bins {
    const bins: Bins = { h1: [], h2: [], x: [], power: [] };
    this.filters.forEach((g, i) => {
      const h1 = g.dft(pcm, 0);
      const h2 = g.dft(pcm, this.half);
      const s = cmul(h2, this.halfShift[i]);
      const x: Complex = [h1[0] + s[0], h1[1] + s[1]];
      bins.h1.push(h1);
      bins.h2.push(h2);
      bins.x.push(x);
      bins.power.push(x[0] * x[0] + x[1] * x[1]);
    });
    return bins;
  }

  /** The digit this block carries by every per-block check, or null; `row`/`col` index the filters 0–3 and 4–7. */
  classify(pcm: Int16Array, bins: Bins): { digit: string; row: number; col: number } | null {
    const n = this.blockSize;
    let energy = 0;
    for (let i = 0; i < n; i++) energy += pcm[i] * pcm[i];
    if (energy === 0) return null;
    const p = bins.power;
    const best = (from: number): number => from + [0, 1, 2, 3].reduce((b, k) => (p[from + k] > p[from + b] ? k : b), 0);
    const row = best(0);
    const col = best(4);
    // mean square of a sine = 2·|X|²/N²; a full-scale sine has 32767²/2
    const minP = (32767 * 32767 * dbToRatio(this.checks.minToneDbfs) * n * n) / 4;
    if (p[row] < minP || p[col] < minP) return null;
    const margin = dbToRatio(this.checks.groupMarginDb);
    for (let k = 0; k < 8; k++) {
      if (k !== row && k !== col && p[k] * margin > p[k < 4 ? row : col]) return null;
    }
    if (((p[row] + p[col]) * 2) / n < this.checks.minToneFraction * energy) return null;
    const harmonicMax = (k: number): number => p[k] / dbToRatio(this.checks.harmonicMarginDb);
    for (const k of [row, col]) if ((this.harmonics[k]?.power(pcm) ?? 0) > harmonicMax(k)) return null;
    return { digit: KEYS[row][col - 4], row, col };
  }

  /** Adds to `acc` the phase steps of filter k from block a → the block straddling a and b → block b, half a block each. */
  link(acc: Complex, a: Bins, b: Bins, k: number): void {
    const shift = this.halfShift[k];
    const straddle = cmul(b.h1[k], shift);
    const y: Complex = [a.h2[k][0] + straddle[0], a.h2[k][1] + straddle[1]];
    for (const [from, to] of [[a.x[k], y], [y, b.x[k]]] as const) {
      const step = cmul(cmul(to, [from[0], -from[1]]), shift);
      acc[0] += step[0];
      acc[1] += step[1];
    }
  }

  /** Offset of filter k's tone from nominal, as a fraction, from summed phase steps (unambiguous within ±fs/blockSize). */
  offset(acc: Complex, k: number): number {
    const df = (Math.atan2(acc[1], acc[0]) * this.sampleRate) / (2 * Math.PI * this.half);
    return df / this.filters[k].freq;
  }
}
