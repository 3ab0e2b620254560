/**
 * Anyone on the LAN can make the box write an audit entry (a failed login, a refused setup). Those
 * entries are marked as a stranger's and limited per address and in total, so a flood neither fills
 * the disk nor buries what staff did; what was dropped is counted in the next entry let through.
 */
export interface StrangerLimitOptions { perAddress: number; total: number; windowMs: number; now: () => number }

export const STRANGER_LIMITS = { perAddress: 10, total: 100, windowMs: 3600_000 } as const;

export class StrangerLimit {
  private windowStart = 0;
  private total = 0;
  private readonly counts = new Map<string, number>();
  private dropped = 0;

  constructor(private readonly o: StrangerLimitOptions) {}

  /** undefined: drop this entry; otherwise let it through, carrying how many were dropped before it. */
  admit(address: string): { droppedBefore: number } | undefined {
    const now = this.o.now();
    if (now - this.windowStart >= this.o.windowMs) {
      this.windowStart = now;
      this.total = 0;
      this.counts.clear();
    }
    const n = this.counts.get(address) ?? 0;
    if (n >= this.o.perAddress || this.total >= this.o.total) {
      this.dropped++;
      return undefined;
    }
    this.counts.set(address, n + 1);
    this.total++;
    const droppedBefore = this.dropped;
    this.dropped = 0;
    return { droppedBefore };
  }
}
