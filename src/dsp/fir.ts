/** Hamming-windowed sinc low-pass taps, normalised to unity DC gain; shared by the FSK demodulator and capture resampling. */
export function lowPass(taps: number, cutoffHz: number, rate: number): Float64Array {
  const h = new Float64Array(taps);
  const fc = cutoffHz / rate;
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    h[i] = sinc * (0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (taps - 1)));
    sum += h[i];
  }
  for (let i = 0; i < taps; i++) h[i] /= sum;
  return h;
}
