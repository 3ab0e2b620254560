import { SAMPLE_RATE } from '../audio/frame.ts';
import { RvError } from '../errors.ts';
import { lowPass } from '../dsp/fir.ts';

/** taps per decimation step; 16 per factor keeps the 3.4 kHz edge sharp without much CPU */
const TAPS_PER_FACTOR = 16;
/** telephone band edge: everything above must go before dropping to 8 kHz */
const CUTOFF_HZ = 3400;

/**
 * Turns interleaved S16 at `rate` into interleaved S16 at 8 kHz. Keeps per-channel history
 * so that chunk boundaries from the pipe do not click.
 */
export class Decimator {
  readonly factor: number;
  private readonly h: Float64Array;
  /** per channel ring of the last `h.length` input samples */
  private readonly hist: Float64Array[];
  private pos = 0;
  /** input frames seen modulo factor, so output phase survives chunking */
  private phase = 0;

  constructor(rate: number, private readonly channels: number) {
    if (rate % SAMPLE_RATE !== 0 || rate < SAMPLE_RATE) {
      throw new RvError('RV_ERR_ALSA_RATE', `Capture rate ${rate} Hz is not supported: use 8000, 16000 or 48000.`);
    }
    this.factor = rate / SAMPLE_RATE;
    this.h = this.factor === 1 ? new Float64Array([1]) : lowPass(TAPS_PER_FACTOR * this.factor + 1, CUTOFF_HZ, rate);
    this.hist = Array.from({ length: channels }, () => new Float64Array(this.h.length));
  }

  /** `input` holds whole interleaved frames; returns whole interleaved frames at 8 kHz. */
  push(input: Int16Array): Int16Array {
    const ch = this.channels;
    if (this.factor === 1) return input;
    const frames = input.length / ch;
    const out = new Int16Array(Math.ceil((frames + this.phase) / this.factor) * ch);
    const n = this.h.length;
    let o = 0;
    for (let f = 0; f < frames; f++) {
      for (let c = 0; c < ch; c++) this.hist[c][this.pos] = input[f * ch + c];
      this.pos = (this.pos + 1) % n;
      this.phase = (this.phase + 1) % this.factor;
      if (this.phase !== 0) continue;
      for (let c = 0; c < ch; c++) {
        const hc = this.hist[c];
        let acc = 0;
        // pos now points at the oldest sample
        for (let k = 0; k < n; k++) acc += this.h[k] * hc[(this.pos + k) % n];
        const v = Math.round(acc);
        out[o++] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
    }
    return out.subarray(0, o);
  }
}
