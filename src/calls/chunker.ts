import { SAMPLE_RATE, type AudioBlock } from '../audio/frame.ts';
import type { RingChunk } from '../ring/ring.ts';

/** A 1-second chunk is exactly what a ring slot holds. */
export type Chunk = RingChunk;

/** Gathers a line's 20 ms blocks into 1-second chunks, the unit of the ring and the archive. */
export class Chunker {
  private readonly buf: Int16Array;
  private fill = 0;
  private at = 0;
  private seq = 0;

  constructor(readonly channels: 1 | 2, private readonly emit: (c: Chunk) => void) {
    this.buf = new Int16Array(SAMPLE_RATE * channels);
  }

  push(block: AudioBlock): void {
    const src = block.pcm;
    let off = 0;
    while (off < src.length) {
      if (this.fill === 0) this.at = block.at + ((off / this.channels) * 1000) / SAMPLE_RATE;
      const n = Math.min(this.buf.length - this.fill, src.length - off);
      this.buf.set(src.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === this.buf.length) this.flush();
    }
  }

  /** Emits what is gathered so far (the last, short chunk of a call). */
  flush(): void {
    if (this.fill === 0) return;
    const pcm = Buffer.from(this.buf.buffer, 0, this.fill * 2);
    this.emit({ seq: this.seq++, at: Math.round(this.at), channels: this.channels, pcm: Buffer.from(pcm) });
    this.fill = 0;
  }
}
