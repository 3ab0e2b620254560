import type { LedState, LineSenseState } from './board.ts';

/** The control board line protocol (board/PROTOCOL.md): pure parse and format, no I/O. */

export const PROTOCOL_VERSION = 1;
/** Longest board line we accept (PROTOCOL.md: 80 bytes with the terminator). */
export const MAX_BOARD_LINE = 80;
/** Board limits: an ATmega328P has pins for at most 8 buttons and 8 lines. */
export const MAX_BOARD_UNITS = 8;
export const LONG_MS_RANGE = { min: 300, max: 10_000 } as const;

export type BoardMessage =
  | { type: 'hello'; name: string; version: number; buttons: number; lines: number; sense: number; fields: Record<string, string> }
  | { type: 'btn'; n: number; kind: 'short' | 'long' }
  | { type: 'sense'; n: number; state: LineSenseState }
  | { type: 'pong' }
  | { type: 'err'; word: string };

export type BoxMessage =
  | { type: 'hello' }
  | { type: 'ping' }
  | { type: 'led'; n: number; state: LedState }
  | { type: 'longms'; ms: number };

export type Parsed = { ok: true; msg: BoardMessage } | { ok: false; reason: string };

const SENSE: Record<string, LineSenseState> = { OFFHOOK: 'offhook', ONHOOK: 'onhook', RING: 'ring' };
const BTN: Record<string, 'short' | 'long'> = { SHORT: 'short', LONG: 'long' };
const PRINTABLE = /^[\x20-\x7e]*$/;
const NUMBER = /^[1-9][0-9]{0,2}$/;

const unit = (s: string | undefined, what: string): number | string => {
  if (s === undefined || !NUMBER.test(s)) return `${what} must be a number from 1 to ${MAX_BOARD_UNITS}, got ${JSON.stringify(s ?? '')}`;
  const n = Number(s);
  return n <= MAX_BOARD_UNITS ? n : `${what} must be a number from 1 to ${MAX_BOARD_UNITS}, got ${n}`;
};

const bad = (reason: string): Parsed => ({ ok: false, reason });

/** Parses one line from the board (without its `\n`; a trailing `\r` is allowed). */
export function parseBoardLine(raw: string): Parsed {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.length + 1 > MAX_BOARD_LINE) return bad(`line longer than ${MAX_BOARD_LINE} bytes`);
  if (!PRINTABLE.test(line)) return bad('line holds bytes that are not printable ASCII');
  const f = line.split(' ');
  switch (f[0]) {
    case 'PONG':
      return f.length === 1 ? { ok: true, msg: { type: 'pong' } } : bad('PONG takes no fields');
    case 'BTN': {
      if (f.length !== 3) return bad('BTN needs a button number and SHORT or LONG');
      const n = unit(f[1], 'button');
      if (typeof n === 'string') return bad(n);
      const kind = BTN[f[2]!];
      return kind ? { ok: true, msg: { type: 'btn', n, kind } } : bad(`BTN kind must be SHORT or LONG, got ${JSON.stringify(f[2])}`);
    }
    case 'SENSE': {
      if (f.length !== 3) return bad('SENSE needs a line number and OFFHOOK, ONHOOK or RING');
      const n = unit(f[1], 'line');
      if (typeof n === 'string') return bad(n);
      const state = SENSE[f[2]!];
      return state ? { ok: true, msg: { type: 'sense', n, state } } : bad(`SENSE state must be OFFHOOK, ONHOOK or RING, got ${JSON.stringify(f[2])}`);
    }
    case 'ERR':
      return f.length === 2 && /^[A-Z]{1,16}$/.test(f[1]!) ? { ok: true, msg: { type: 'err', word: f[1]! } } : bad('ERR needs one upper-case word');
    case 'HELLO':
      return parseHello(f);
    default:
      return bad(`unknown message ${JSON.stringify(f[0]!.slice(0, 16))}`);
  }
}

function parseHello(f: string[]): Parsed {
  const [, name, version, ...rest] = f;
  if (!name || !/^[a-z][a-z0-9-]{0,31}$/.test(name)) return bad('HELLO needs a board name such as ringvault-board');
  if (!version || !/^[0-9]{1,3}$/.test(version)) return bad('HELLO needs a protocol version number');
  const fields: Record<string, string> = {};
  for (const kv of rest) {
    const m = /^([a-z]{1,16})=([A-Za-z0-9._-]{1,24})$/.exec(kv);
    if (!m) return bad(`HELLO field ${JSON.stringify(kv.slice(0, 24))} is not key=value`);
    fields[m[1]!] = m[2]!;
  }
  const buttons = unit(fields.buttons, 'buttons=');
  if (typeof buttons === 'string') return bad(`HELLO ${buttons}`);
  const lines = unit(fields.lines, 'lines=');
  if (typeof lines === 'string') return bad(`HELLO ${lines}`);
  let sense = lines;
  if (fields.sense !== undefined) {
    if (!/^[0-9]$/.test(fields.sense) || Number(fields.sense) > lines) return bad(`HELLO sense= must be 0 to lines= (${lines}), got ${JSON.stringify(fields.sense)}`);
    sense = Number(fields.sense);
  }
  return { ok: true, msg: { type: 'hello', name, version: Number(version), buttons, lines, sense, fields } };
}

/** Formats one box → board message, with its `\n`. */
export function formatBoxMessage(m: BoxMessage): string {
  switch (m.type) {
    case 'hello': return `HELLO ringvault-box ${PROTOCOL_VERSION}\n`;
    case 'ping': return 'PING\n';
    case 'led': return `LED ${m.n} ${m.state.toUpperCase()}\n`;
    case 'longms': return `LONGMS ${Math.round(Math.min(LONG_MS_RANGE.max, Math.max(LONG_MS_RANGE.min, m.ms)))}\n`;
  }
}

/** Makes a received line safe and short for the log (it may hold any bytes). */
export const forLog = (raw: string): string => JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw);

/**
 * Splits a byte stream into lines of at most `max` bytes (latin1, so every byte stays one char and
 * non-ASCII is seen by the parser); an over-long line is dropped up to its `\n` and reported once.
 */
export class LineSplitter {
  private buf = '';
  private dropping = false;
  constructor(private readonly onLine: (line: string) => void, private readonly onOverlong: () => void, private readonly max = 256) {}

  push(chunk: Buffer): void {
    let s = chunk.toString('latin1');
    for (;;) {
      const i = s.indexOf('\n');
      if (i < 0) break;
      const line = this.buf + s.slice(0, i);
      s = s.slice(i + 1);
      this.buf = '';
      if (this.dropping) { this.dropping = false; continue; }
      if (line.length > this.max) { this.onOverlong(); continue; }
      this.onLine(line);
    }
    if (this.dropping) return;
    this.buf += s;
    if (this.buf.length > this.max) { this.buf = ''; this.dropping = true; this.onOverlong(); }
  }
}
