import { RvError } from '../errors.ts';
import { fskSoft, fskChars, type FskChar, type FskStandard } from './fsk.ts';

/** Caller ID (ETSI EN 300 659-1 / Bellcore): message parsing and burst decoding. */

export type AbsentReason = 'withheld' | 'unavailable';

export interface CallerId {
  format: 'MDMF' | 'SDMF';
  checksumOk: boolean;
  number?: string;
  name?: string;
  /** "MMDDHHMM" as sent */
  dateTime?: string;
  numberAbsent?: AbsentReason;
  nameAbsent?: AbsentReason;
}

export interface DecodedCallerId extends CallerId {
  startMs: number;
}

const MDMF = 0x80;
const SDMF = 0x04;

const text = (b: Uint8Array): string => String.fromCharCode(...b);
const absent = (s: string): AbsentReason | undefined => (s === 'P' ? 'withheld' : s === 'O' ? 'unavailable' : undefined);

/** True when all bytes sum to 0 mod 256 (the last byte being the two's-complement checksum). */
export const checksumOk = (msg: Uint8Array): boolean => msg.reduce((a, b) => (a + b) & 0xff, 0) === 0;

/** Parses type, length, body, checksum; a short message parses as far as it goes with checksumOk false. */
export function parseCallerId(bytes: Uint8Array): CallerId {
  const type = bytes[0];
  if (type !== MDMF && type !== SDMF) {
    throw new RvError('RV_ERR_CALLERID_TYPE', `Not a caller-ID message (type byte ${type ?? 'missing'}); expected 0x80 or 0x04.`);
  }
  const len = bytes[1] ?? 0;
  const complete = bytes.length >= len + 3;
  const body = bytes.subarray(2, Math.min(bytes.length, 2 + len));
  const out: CallerId = { format: type === MDMF ? 'MDMF' : 'SDMF', checksumOk: complete && checksumOk(bytes.subarray(0, len + 3)) };
  if (type === SDMF) {
    if (body.length >= 8) out.dateTime = text(body.subarray(0, 8));
    const num = text(body.subarray(8));
    const why = absent(num);
    if (why) out.numberAbsent = why;
    else if (num) out.number = num;
    return out;
  }
  for (let i = 0; i + 1 < body.length; ) {
    const id = body[i];
    const v = body.subarray(i + 2, Math.min(body.length, i + 2 + body[i + 1]));
    i += 2 + body[i + 1];
    const s = text(v);
    if (id === 0x01) out.dateTime = s;
    else if (id === 0x02) out.number = s;
    else if (id === 0x04) out.numberAbsent = absent(s) ?? 'unavailable';
    else if (id === 0x07) out.name = s;
    else if (id === 0x08) out.nameAbsent = absent(s) ?? 'unavailable';
  }
  return out;
}

export interface CallerIdDecodeOptions {
  standard?: FskStandard;
  sampleRate?: number;
  minLevelDbm0?: number;
}

/** Mark idle (bits) required before a message-type character, so seizure/noise garbage is not taken for one. */
const MIN_IDLE_BITS = 8;
/** Largest gap (bits) allowed between characters of one message. */
const MAX_GAP_BITS = 20;

/** Finds caller-ID messages in PCM; never throws on malformed signals (they give checksumOk false or nothing). */
export function decodeFskCallerId(pcm: Int16Array, opts: CallerIdDecodeOptions = {}): DecodedCallerId[] {
  const sr = opts.sampleRate ?? 8000;
  const soft = fskSoft(pcm, { standard: opts.standard, sampleRate: sr, minLevelDbm0: opts.minLevelDbm0 });
  const chars = fskChars(soft);
  const spb = soft.samplesPerBit;
  const out: DecodedCallerId[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c.byte !== MDMF && c.byte !== SDMF) continue;
    if (!markIdleBefore(soft.soft, soft.carrier, c.at, i > 0 ? chars[i - 1].end : -Infinity, spb)) continue;
    const msg = collect(chars, i, spb);
    if (!msg) continue;
    out.push({ ...parseCallerId(msg.bytes), startMs: (c.at * 1000) / sr });
    i = msg.last;
  }
  return out;
}

/** Carrier with mark for MIN_IDLE_BITS before `at`, and no character in that stretch. */
function markIdleBefore(soft: Float32Array, carrier: Uint8Array, at: number, prevEnd: number, spb: number): boolean {
  const from = Math.round(at - MIN_IDLE_BITS * spb);
  if (from < 0 || prevEnd > from) return false;
  let mark = 0;
  for (let k = from; k < at; k++) if (carrier[k] && soft[k] > 0) mark++;
  return mark >= 0.8 * (at - from);
}

/** Type, length, body and checksum characters, each within MAX_GAP_BITS of the previous. */
function collect(chars: FskChar[], i: number, spb: number): { bytes: Uint8Array; last: number } | undefined {
  if (i + 1 >= chars.length) return undefined;
  const need = chars[i + 1].byte + 3;
  const bytes: number[] = [];
  let j = i;
  for (; j < chars.length && bytes.length < need; j++) {
    if (j > i && chars[j].at - chars[j - 1].end > MAX_GAP_BITS * spb) break;
    bytes.push(chars[j].byte);
  }
  return { bytes: Uint8Array.from(bytes), last: j - 1 };
}
