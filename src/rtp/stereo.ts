import { SAMPLE_RATE } from '../audio/frame.ts';

/** A mono run of samples placed on a call's timeline: sample `index` is index/rate s after the call's origin. */
export interface Placed { index: number; pcm: Int16Array }

/**
 * Joins the two directions of a call into interleaved stereo (channel 0 = caller, 1 = callee).
 * Waits for the slower side up to `maxLagMs`, then treats it as silent, so one dead direction
 * never holds the other's audio back for long or grows memory without bound.
 */
export class StereoJoiner {
  private readonly queues: [Placed[], Placed[]] = [[], []];
  private readonly ends = [0, 0];
  private out = 0;
  private readonly maxLag: number;

  private readonly rate: number;

  constructor(private readonly emit: (index: number, pcm: Int16Array) => void, opts: { maxLagMs?: number; rate?: number } = {}) {
    this.rate = opts.rate ?? SAMPLE_RATE;
    this.maxLag = Math.round(((opts.maxLagMs ?? 2000) * this.rate) / 1000);
  }

  /** Frames already put out. */
  get frames(): number { return this.out; }

  push(channel: 0 | 1, b: Placed): void {
    if (b.pcm.length === 0) return;
    this.queues[channel].push(b);
    this.ends[channel] = Math.max(this.ends[channel]!, b.index + b.pcm.length);
    const ready = Math.max(Math.min(this.ends[0]!, this.ends[1]!), Math.max(this.ends[0]!, this.ends[1]!) - this.maxLag);
    this.emitTo(ready);
  }

  /** Puts out everything, the shorter side padded with silence (at the end of the call). */
  flush(toIndex?: number): void {
    this.emitTo(Math.max(this.ends[0]!, this.ends[1]!, toIndex ?? 0));
  }

  private emitTo(end: number): void {
    while (this.out < end) {
      const n = Math.min(end - this.out, this.rate);
      const pcm = new Int16Array(n * 2);
      for (const ch of [0, 1] as const) this.fill(ch, pcm, this.out, n);
      this.emit(this.out, pcm);
      this.out += n;
    }
  }

  /** Copies channel `ch`'s samples for frames [from, from+n) into the interleaved block; drops what is used up. */
  private fill(ch: 0 | 1, pcm: Int16Array, from: number, n: number): void {
    const q = this.queues[ch];
    const to = from + n;
    while (q.length > 0) {
      const b = q[0]!;
      const bEnd = b.index + b.pcm.length;
      if (bEnd <= from) { q.shift(); continue; }
      if (b.index >= to) break;
      const s = Math.max(from, b.index);
      const e = Math.min(to, bEnd);
      for (let i = s; i < e; i++) pcm[(i - from) * 2 + ch] = b.pcm[i - b.index]!;
      if (bEnd <= to) q.shift(); else break;
    }
  }
}
