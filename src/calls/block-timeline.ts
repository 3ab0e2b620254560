import { msOf, SAMPLE_RATE, type AudioBlock } from '../audio/frame.ts';

/** Recent audio blocks of one line, cut by time to the sample: the pre-roll a call is taken from. */
export class BlockTimeline {
  private blocks: AudioBlock[] = [];

  push(b: AudioBlock): void { this.blocks.push(b); }

  /** Forgets blocks that end at or before `t` (ms). */
  trim(t: number): void {
    let i = 0;
    while (i < this.blocks.length && end(this.blocks[i]) <= t) i++;
    if (i) this.blocks = this.blocks.slice(i);
  }

  /** The audio in [from, to), each block cut at the sample nearest the bounds. */
  slice(from: number, to: number): AudioBlock[] {
    const out: AudioBlock[] = [];
    for (const b of this.blocks) {
      if (end(b) <= from || b.at >= to) continue;
      const frames = b.pcm.length / b.channels;
      const s = Math.max(0, Math.min(frames, Math.round(((from - b.at) * SAMPLE_RATE) / 1000)));
      const e = Math.max(0, Math.min(frames, Math.round(((to - b.at) * SAMPLE_RATE) / 1000)));
      if (e <= s) continue;
      if (s === 0 && e === frames) { out.push(b); continue; }
      out.push({ at: b.at + msOf(s), channels: b.channels, pcm: b.pcm.slice(s * b.channels, e * b.channels) });
    }
    return out;
  }
}

const end = (b: AudioBlock): number => b.at + msOf(b.pcm.length / b.channels);
