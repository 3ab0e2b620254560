/**
 * Running minimum over a sliding window, kept as the minima of a few sub-windows so memory stays fixed:
 * the current sub-window plus the last `keep` finished ones of `subMs` each. `min` is Infinity before
 * the first value, so nothing counts as above the floor until a line's own level is known.
 */
export class SlidingMin {
  private readonly past: number[] = [];
  private cur = Infinity;
  private curMs = 0;

  constructor(private readonly subMs: number, private readonly keep: number) {}

  /** One value `db` covering `ms` of signal. */
  add(db: number, ms: number): void {
    this.cur = Math.min(this.cur, db);
    this.curMs += ms;
    if (this.curMs < this.subMs) return;
    this.past.push(this.cur);
    if (this.past.length > this.keep) this.past.shift();
    this.cur = Infinity;
    this.curMs = 0;
  }

  get min(): number { return Math.min(this.cur, ...this.past); }
}
