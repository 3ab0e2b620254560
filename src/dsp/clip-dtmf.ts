import { RvError } from '../errors.ts';
import type { AbsentReason } from './callerid.ts';

/**
 * DTMF caller ID (CLIP) as exchanges send it before (or between) rings: a fast, evenly spaced burst
 * of digits framed one of two ways.
 *
 * - `dtmf-clip-a` (ETSI EN 300 659-1 family, ends with C): `A<number>C`; `D<number>C` (some
 *   exchanges start with D); information codes `B00C` = number unavailable, `B10C` = withheld.
 * - `dtmf-clip-hash` (Danish/Dutch family, ends with #): `<number>#` or `A<number>#`;
 *   codes `D1#` = withheld (caller's restriction), `D2#` = unavailable (international call),
 *   `D3#` = unavailable (technical reasons).
 *
 * Asterisk's callerid_get_dtmf() reads the same codes. A `D` followed by one digit is a code in
 * either framing (no real number is one digit long).
 */

export type ClipFormat = 'dtmf-clip-a' | 'dtmf-clip-hash';

export interface ClipDigit { digit: string; at: number; durationMs: number }

export interface ClipResult {
  format: ClipFormat;
  number?: string;
  absent?: AbsentReason;
  /** the information code as sent (B00, D1, …), when the number is absent */
  code?: string;
  /** every digit of the burst as received */
  raw: string;
  startMs: number;
  endMs: number;
}

export interface ClipOptions {
  onClip?: (c: ClipResult) => void;
  /** a longer silence between digits ends the burst, ms; default 300 (exchanges send 50–100 ms pauses, hands are slower) */
  maxPauseMs?: number;
}

const CODES: Record<string, AbsentReason> = {
  B00: 'unavailable',
  B10: 'withheld',
  D1: 'withheld',
  D2: 'unavailable',
  D3: 'unavailable',
};

/** Reads one burst's digits; null when they are not a caller-ID field. */
export function parseClipString(raw: string): Omit<ClipResult, 'startMs' | 'endMs'> | null {
  const m = /^(?:([AD]?)(\d+)|(B\d\d))([C#])$/.exec(raw);
  if (!m) return null;
  const format: ClipFormat = m[4] === 'C' ? 'dtmf-clip-a' : 'dtmf-clip-hash';
  if (m[3]) return { format, absent: CODES[m[3]] ?? 'unavailable', code: m[3], raw };
  const [, start, digits] = m;
  if (start === 'D' && digits.length === 1) return { format, absent: CODES[`D${digits}`] ?? 'unavailable', code: `D${digits}`, raw };
  // the C framing always has a start code; a bare number needs the # end
  if (!start && format === 'dtmf-clip-a') return null;
  // a lone '#' or a one-digit "number" is a key press, not a caller ID
  if (digits.length < 2) return null;
  return { format, number: digits, raw };
}

/** Groups digits into bursts and reports the bursts that are caller-ID fields. */
export class ClipDtmfParser {
  private readonly onClip: (c: ClipResult) => void;
  private readonly maxPauseMs: number;
  private burst: ClipDigit[] = [];

  constructor(opts: ClipOptions = {}) {
    this.onClip = opts.onClip ?? (() => {});
    this.maxPauseMs = opts.maxPauseMs ?? 300;
    if (!(this.maxPauseMs > 0 && this.maxPauseMs <= 2000)) {
      throw new RvError('RV_ERR_CLIP_PAUSE', `DTMF caller-ID pause limit must be above 0 and at most 2000 ms; got ${this.maxPauseMs}.`);
    }
  }

  /** One detected digit; returns the caller ID it completed, if any. */
  push(d: ClipDigit): ClipResult | null {
    const last = this.burst[this.burst.length - 1];
    let done: ClipResult | null = null;
    if (last && d.at - (last.at + last.durationMs) > this.maxPauseMs) done = this.close();
    this.burst.push(d);
    // an end code closes the burst at once, so the caller ID is known before the ring that follows
    if (d.digit === 'C' || d.digit === '#') done = this.close() ?? done;
    return done;
  }

  /** Time has moved on to `nowMs` with no digit: a burst whose pause has run out is closed. */
  tick(nowMs: number): ClipResult | null {
    const last = this.burst[this.burst.length - 1];
    if (last && nowMs - (last.at + last.durationMs) > this.maxPauseMs) return this.close();
    return null;
  }

  /** Ends the stream. */
  flush(): ClipResult | null {
    return this.burst.length ? this.close() : null;
  }

  private close(): ClipResult | null {
    const b = this.burst;
    this.burst = [];
    if (b.length === 0) return null;
    const parsed = parseClipString(b.map((d) => d.digit).join(''));
    if (!parsed) return null;
    const last = b[b.length - 1];
    const out: ClipResult = { ...parsed, startMs: b[0].at, endMs: last.at + last.durationMs };
    this.onClip(out);
    return out;
  }
}

/** Every caller-ID field among a recording's digits, in order. */
export function parseClip(digits: readonly ClipDigit[], opts: Omit<ClipOptions, 'onClip'> = {}): ClipResult[] {
  const out: ClipResult[] = [];
  const p = new ClipDtmfParser({ ...opts, onClip: (c) => out.push(c) });
  for (const d of digits) p.push(d);
  p.flush();
  return out;
}
