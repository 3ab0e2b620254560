/**
 * Factor-2 rate changers between 8 and 16 kHz for a call whose parts come in at both rates (a codec switch
 * mid-call). Windowed-sinc half-band FIR, stateful across blocks so packet edges leave no clicks; the group
 * delay is HALF taps at the input rate (about 1 ms), the same for every block.
 */
const HALF = 16;

/** Low-pass at a quarter of the higher rate (4 kHz for 8↔16 kHz), Blackman window, unity DC gain. */
function taps(): Float64Array {
  const n = 2 * HALF + 1;
  const h = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const k = i - HALF;
    const sinc = k === 0 ? 0.5 : Math.sin((Math.PI * k) / 2) / (Math.PI * k);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (n - 1));
    h[i] = sinc * w;
    sum += h[i]!;
  }
  for (let i = 0; i < n; i++) h[i]! /= sum;
  return h;
}

const clip = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v));

/** A running FIR over 16 kHz samples. */
class Fir {
  private readonly h = taps();
  private readonly hist = new Float64Array(2 * HALF + 1);
  private at = 0;
  push(x: number): void { this.hist[this.at] = x; this.at = (this.at + 1) % this.hist.length; }
  out(): number {
    let acc = 0;
    const n = this.hist.length;
    for (let i = 0; i < n; i++) acc += this.h[i]! * this.hist[(this.at + i) % n]!;
    return acc;
  }
}

/** 8 kHz → 16 kHz: zero-stuffing then the half-band low-pass (gain 2 to keep the level). */
export class Upsampler2 {
  private readonly fir = new Fir();
  /** output samples process() gives for `n` input samples */
  expected(n: number): number { return 2 * n; }
  process(x: Int16Array): Int16Array {
    const out = new Int16Array(x.length * 2);
    for (let i = 0; i < x.length; i++) {
      this.fir.push(x[i]!);
      out[2 * i] = clip(2 * this.fir.out());
      this.fir.push(0);
      out[2 * i + 1] = clip(2 * this.fir.out());
    }
    return out;
  }
}

/** 16 kHz → 8 kHz: the half-band low-pass then every second sample; an odd sample left over waits for the next block. */
export class Downsampler2 {
  private readonly fir = new Fir();
  private phase = 0;
  expected(n: number): number { return (n + this.phase) >> 1; }
  process(x: Int16Array): Int16Array {
    const out = new Int16Array((x.length + this.phase) >> 1);
    let j = 0;
    for (let i = 0; i < x.length; i++) {
      this.fir.push(x[i]!);
      if (this.phase === 1) out[j++] = clip(this.fir.out());
      this.phase ^= 1;
    }
    return out;
  }
}
