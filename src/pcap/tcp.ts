import type { Segment } from './decode.ts';

export interface TcpStats { flows: number; gaps: number; retransmits: number }

interface Flow { next?: number; pending: Array<{ seq: number; data: Buffer }>; pendingBytes: number; last: number }

// Worst case 256 flows × 96 KB held: small enough for a Pi Zero, larger than the biggest SIP message (64 KB).
const MAX_FLOWS = 256;
const MAX_PENDING = 96 * 1024;
const IDLE_MS = 10 * 60_000;

/** seq a is before seq b, modulo 2^32 */
const before = (a: number, b: number): boolean => ((a - b) | 0) < 0;

/**
 * Puts TCP segments of each direction of each connection back in byte order, so SIP over TCP
 * can be framed as the endpoint saw it. Retransmits and overlaps are trimmed; a hole that never
 * fills (a frame the mirror port dropped) is skipped once too much waits behind it, and the
 * consumer is told so it can resynchronise. Bounded in flows and in bytes per flow.
 */
export class TcpReassembler {
  readonly stats: TcpStats = { flows: 0, gaps: 0, retransmits: 0 };
  private readonly flows = new Map<string, Flow>();

  /** Returns the bytes now in order for this segment's direction; bytes were lost before `data[gapAt]`, if set. */
  push(s: Segment): { key: string; data: Buffer[]; gapAt?: number; closed: boolean } {
    const key = `${s.src}|${s.sport}|${s.dst}|${s.dport}`;
    const t = s.tcp!;
    let f = this.flows.get(key);
    if (!f || t.syn) {
      this.expire(s.ts);
      f = { pending: [], pendingBytes: 0, last: s.ts };
      this.flows.set(key, f);
      this.stats.flows = this.flows.size;
    }
    f.last = s.ts;
    // A SYN uses one sequence number; a capture that starts mid-connection starts at the first segment seen.
    let seq = t.syn ? (t.seq + 1) >>> 0 : t.seq;
    f.next ??= seq;
    const out: Buffer[] = [];
    let gapAt: number | undefined;
    let data = s.payload;
    if (data.length > 0) {
      if (before(seq, f.next)) {
        const skip = (f.next - seq) >>> 0;
        if (skip >= data.length) { this.stats.retransmits++; data = Buffer.alloc(0); } else { data = data.subarray(skip); seq = f.next; }
      }
      if (data.length > 0) {
        if (seq === f.next) {
          out.push(data);
          f.next = (f.next + data.length) >>> 0;
        } else {
          f.pending.push({ seq, data: Buffer.from(data) });
          f.pendingBytes += data.length;
        }
      }
      gapAt = this.drainPending(f, out);
    }
    const closed = t.fin || t.rst;
    if (closed && f.pending.length === 0) this.flows.delete(key);
    return { key, data: out, ...(gapAt !== undefined ? { gapAt } : {}), closed };
  }

  private drainPending(f: Flow, out: Buffer[]): number | undefined {
    let gapAt: number | undefined;
    for (;;) {
      f.pending.sort((a, b) => ((a.seq - b.seq) | 0));
      let moved = false;
      while (f.pending.length > 0) {
        const p = f.pending[0]!;
        const end = (p.seq + p.data.length) >>> 0;
        if (!before(f.next!, end) || end === f.next) { f.pending.shift(); f.pendingBytes -= p.data.length; this.stats.retransmits++; continue; }
        if (before(f.next!, p.seq)) break;
        const skip = (f.next! - p.seq) >>> 0;
        out.push(p.data.subarray(skip));
        f.next = end;
        f.pending.shift();
        f.pendingBytes -= p.data.length;
        moved = true;
      }
      if (moved || f.pendingBytes <= MAX_PENDING || f.pending.length === 0) return gapAt;
      // Too much waits behind a hole: give the hole up and go on from the first held segment.
      f.next = f.pending[0]!.seq;
      this.stats.gaps++;
      gapAt = out.length;
    }
  }

  private expire(now: number): void {
    if (this.flows.size < MAX_FLOWS) {
      for (const [k, f] of this.flows) if (now - f.last > IDLE_MS) this.flows.delete(k);
      return;
    }
    let oldest: string | undefined;
    let t = Infinity;
    for (const [k, f] of this.flows) if (f.last < t) { t = f.last; oldest = k; }
    if (oldest) this.flows.delete(oldest);
  }
}
