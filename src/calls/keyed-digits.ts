/** What a call's sealed metadata says about keyed digits: by default how many and when, never which. */
export interface KeyedMeta {
  /** the digits themselves: only on a line set to keep them (e.g. order entry) */
  digits?: string;
  /** how many digits were keyed and when, in ms from the start of the call */
  keyed?: { count: number; atMs: number[] };
}

/**
 * Follows the digits keyed during one call (DTMF heard on an analog line, RFC 4733 events on a trunk) and when in
 * the call each came, from the call's own audio timeline, so the masked record still shows where to listen.
 */
export class KeyedDigits {
  private readonly atMs: number[] = [];
  private heardAt: number;

  constructor(private readonly startedAt: number) {
    this.heardAt = startedAt;
  }

  /** The time of the latest audio block of the call: a digit reported now was keyed about then. */
  heard(at: number): void {
    if (Number.isFinite(at) && at > this.heardAt) this.heardAt = at;
  }

  /** The call's digit string so far; each new digit gets the current position. */
  update(digits: string | undefined): void {
    const n = digits?.length ?? 0;
    while (this.atMs.length < n) this.atMs.push(Math.max(0, Math.round(this.heardAt - this.startedAt)));
  }

  meta(digits: string | undefined, keep: boolean): KeyedMeta {
    if (!digits) return {};
    this.update(digits);
    return { ...(keep ? { digits } : {}), keyed: { count: digits.length, atMs: this.atMs.slice(0, digits.length) } };
  }
}
