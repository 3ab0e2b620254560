import { SAMPLE_RATE, type AudioBlock, type CallRate } from '../audio/frame.ts';
import type { RingChunk } from '../ring/ring.ts';

/** A chunk of 8000 frames is exactly what a ring slot holds: 1 s at 8 kHz, 0.5 s of a 16 kHz call. */
export type Chunk = RingChunk;

/** Gathers a call's 20 ms blocks into chunks of 8000 frames, the unit of the ring and the archive. */
export class Chunker {
  private readonly buf: Int16Array;
  private fill = 0;
  private at = 0;
  private seq = 0;

  constructor(readonly channels: 1 | 2, private readonly emit: (c: Chunk) => void, readonly rate: CallRate = SAMPLE_RATE) {
    this.buf = new Int16Array(SAMPLE_RATE * channels);
  }

  push(block: AudioBlock): void {
    const src = block.pcm;
    let off = 0;
    while (off < src.length) {
      if (this.fill === 0) this.at = block.at + ((off / this.channels) * 1000) / this.rate;
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
    this.emit({ seq: this.seq++, at: Math.round(this.at), channels: this.channels, rate: this.rate, pcm: Buffer.from(pcm) });
    this.fill = 0;
  }
}
