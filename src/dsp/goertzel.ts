/** Goertzel filter: the DFT at one frequency over a block, far cheaper than an FFT when only a few bins matter. */
export class Goertzel {
  /** 2·cos(ω), the only multiply in the recursion */
  readonly coeff: number;
  private readonly cosW: number;
  private readonly sinW: number;
  /** e^(−iω(len−1)) for the usual block length, so dft() needs no trigonometry per call */
  private readonly rot: [number, number];

  constructor(
    readonly freq: number,
    readonly sampleRate: number,
    readonly blockLen = 0,
  ) {
    const w = (2 * Math.PI * freq) / sampleRate;
    this.cosW = Math.cos(w);
    this.sinW = Math.sin(w);
    this.coeff = 2 * this.cosW;
    this.rot = this.rotation(blockLen);
  }

  private rotation(len: number): [number, number] {
    const w = (2 * Math.PI * this.freq * (len - 1)) / this.sampleRate;
    return [Math.cos(w), -Math.sin(w)];
  }

  /** Runs the recursion over pcm[start, start+len) and returns its last two states. */
  private run(pcm: ArrayLike<number>, start: number, len: number): [number, number] {
    let s1 = 0;
    let s2 = 0;
    const c = this.coeff;
    for (let i = start; i < start + len; i++) {
      const s0 = pcm[i] + c * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    return [s1, s2];
  }

  /** |X(f)|² over pcm[start, start+len): (A·len/2)² for a sine of amplitude A exactly at `freq`. */
  power(pcm: ArrayLike<number>, start = 0, len = this.blockLen || pcm.length - start): number {
    const [s1, s2] = this.run(pcm, start, len);
    return s1 * s1 + s2 * s2 - this.coeff * s1 * s2;
  }

  /** Complex X(f) = Σ x[n]·e^(−iωn), n counted from `start`, as [re, im] (the phase is needed to measure frequency). */
  dft(pcm: ArrayLike<number>, start = 0, len = this.blockLen || pcm.length - start): [number, number] {
    const [s1, s2] = this.run(pcm, start, len);
    // y = s1 − e^(−iω)·s2 equals e^(iω(len−1))·X, so rotate back by ω(len−1)
    const yr = s1 - this.cosW * s2;
    const yi = this.sinW * s2;
    const [c, s] = len === this.blockLen ? this.rot : this.rotation(len);
    return [yr * c - yi * s, yi * c + yr * s];
  }
}
