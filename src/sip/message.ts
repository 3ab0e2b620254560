import { RvError } from '../errors.ts';

/** Limits that keep one bad peer from costing the box memory or time. */
export interface SipLimits {
  /** largest whole message (head + body) in bytes */
  maxBytes: number;
  /** most header lines (after unfolding) */
  maxHeaders: number;
}
export const DEFAULT_SIP_LIMITS: SipLimits = { maxBytes: 65_536, maxHeaders: 200 };

export interface SipMessage {
  kind: 'request' | 'response';
  method?: string;
  uri?: string;
  status?: number;
  reason?: string;
  /** in arrival order, names as sent (compact forms expanded) */
  headers: Array<[name: string, value: string]>;
  body: Buffer;
  /** the first value of a header, case-insensitive, compact forms accepted */
  get(name: string): string | undefined;
  /** every value of a header, one per header line */
  getAll(name: string): string[];
}

/** RFC 3261 §7.3.3 compact forms, plus the RFC 3515/4028 ones seen in the field. */
const COMPACT: Record<string, string> = {
  i: 'Call-ID', f: 'From', t: 'To', m: 'Contact', l: 'Content-Length', c: 'Content-Type', v: 'Via', k: 'Supported',
  e: 'Content-Encoding', s: 'Subject', o: 'Event', r: 'Refer-To', b: 'Referred-By', u: 'Allow-Events', x: 'Session-Expires',
};
/** The canonical spelling of a header name: compact forms expanded, lower-cased for lookups. */
export const headerKey = (name: string): string => (COMPACT[name.toLowerCase()] ?? name).toLowerCase();

const malformed = (what: string): RvError =>
  new RvError('RV_ERR_SIP_MALFORMED', `Malformed SIP message: ${what}. Check the SIP peer's configuration or trace the traffic; the message was ignored.`, 400);

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const START_REQ = /^([A-Za-z0-9\-.!%*_+`'~]+) +(\S+) +SIP\/2\.0$/i;
const START_RES = /^SIP\/2\.0 +([1-6][0-9]{2})(?: +(.*))?$/i;

function makeMessage(base: Omit<SipMessage, 'get' | 'getAll'>): SipMessage {
  const msg = base as SipMessage;
  msg.get = (name) => { const k = headerKey(name); return msg.headers.find(([n]) => headerKey(n) === k)?.[1]; };
  msg.getAll = (name) => { const k = headerKey(name); return msg.headers.filter(([n]) => headerKey(n) === k).map(([, v]) => v); };
  return msg;
}

/** Where the head ends: index of the blank line and the length of the separator (CRLF CRLF or LF LF, mixed too). */
export function findHeadEnd(buf: Buffer, from = 0, limit = buf.length): { at: number; sep: number } | undefined {
  for (let i = buf.indexOf(0x0a, from); i >= 0 && i < limit; i = buf.indexOf(0x0a, i + 1)) {
    if (buf[i + 1] === 0x0a) return { at: i + (buf[i - 1] === 0x0d ? -1 : 0), sep: buf[i - 1] === 0x0d ? 3 : 2 };
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return { at: i + (buf[i - 1] === 0x0d ? -1 : 0), sep: buf[i - 1] === 0x0d ? 4 : 3 };
  }
  return undefined;
}

/**
 * Parses one SIP message from a datagram or a framed stream message. Liberal in what it accepts
 * (folded headers, compact names, any case, LF line ends) and strict about size, so garbage costs little.
 */
export function parseSip(buf: Buffer, limits: SipLimits = DEFAULT_SIP_LIMITS): SipMessage {
  if (buf.length > limits.maxBytes) throw malformed(`it is ${buf.length} bytes, more than the ${limits.maxBytes} allowed`);
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++; // RFC 3261 §7.5: leading CRLFs are ignored
  if (start >= buf.length) throw malformed('it is empty');
  const end = findHeadEnd(buf, start);
  const headText = buf.subarray(start, end ? end.at : buf.length).toString('utf8');
  let rest = end ? buf.subarray(end.at + end.sep) : Buffer.alloc(0);
  const lines = headText.split(/\r?\n/);
  const first = lines.shift()!.trim();
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    if (line === '' || line === '\r') continue;
    if (line[0] === ' ' || line[0] === '\t') {
      const last = headers[headers.length - 1];
      if (!last) throw malformed('the first header line is a continuation line');
      last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed(`header line "${line.slice(0, 40)}" has no name and colon`);
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) throw malformed(`header name "${name.slice(0, 40)}" has characters a header name cannot have`);
    headers.push([COMPACT[name.toLowerCase()] ?? name, line.slice(colon + 1).trim()]);
    if (headers.length > limits.maxHeaders) throw malformed(`it has more than ${limits.maxHeaders} headers`);
  }
  const msg: Omit<SipMessage, 'get' | 'getAll'> = { kind: 'request', headers, body: rest };
  const req = START_REQ.exec(first);
  const res = req ? null : START_RES.exec(first);
  if (req) {
    msg.method = req[1]!.toUpperCase();
    msg.uri = req[2]!;
  } else if (res) {
    msg.kind = 'response';
    msg.status = Number(res[1]);
    msg.reason = (res[2] ?? '').trim();
  } else {
    throw malformed(`the first line "${first.slice(0, 60)}" is neither a request line nor a status line`);
  }
  const full = makeMessage(msg);
  const cl = full.get('Content-Length');
  if (cl !== undefined) {
    if (!/^\s*[0-9]{1,9}\s*$/.test(cl)) throw malformed(`Content-Length "${cl.slice(0, 20)}" is not a number`);
    const n = Number(cl);
    if (n > rest.length) throw malformed(`Content-Length says ${n} bytes but only ${rest.length} arrived`);
    rest = rest.subarray(0, n);
    full.body = rest;
  }
  for (const h of ['Call-ID', 'CSeq', 'From', 'To', 'Via']) {
    if (full.get(h) === undefined) throw malformed(`the mandatory ${h} header is missing`);
  }
  const cseq = /^\s*([0-9]{1,10})\s+(\S+)\s*$/.exec(full.get('CSeq')!);
  if (!cseq || Number(cseq[1]) > 0xffffffff) throw malformed(`CSeq "${full.get('CSeq')!.slice(0, 40)}" is not "<number> <method>"`);
  return full;
}

/** The number and method of the CSeq header (parseSip has checked its form). */
export function cseqOf(msg: SipMessage): { seq: number; method: string } {
  const [n, m] = msg.get('CSeq')!.trim().split(/\s+/);
  return { seq: Number(n), method: m!.toUpperCase() };
}

export interface SipOut {
  kind: 'request' | 'response';
  method?: string;
  uri?: string;
  status?: number;
  reason?: string;
  headers: Array<[string, string]>;
  body?: Buffer | string;
}

/** Writes a message with CRLF line ends and a Content-Length that matches the body (any given one is replaced). */
export function serializeSip(m: SipOut): Buffer {
  const body = m.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body, 'utf8');
  const first = m.kind === 'request' ? `${m.method} ${m.uri} SIP/2.0` : `SIP/2.0 ${m.status} ${m.reason ?? ''}`.trimEnd();
  const lines = [first];
  for (const [n, v] of m.headers) if (headerKey(n) !== 'content-length') lines.push(`${n}: ${v.replace(/[\r\n]+/g, ' ')}`);
  lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), body]);
}

/**
 * Splits a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3).
 * Throws RV_ERR_SIP_MALFORMED when the peer breaks the framing; the connection should then be closed.
 */
export class SipStreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly limits: SipLimits = DEFAULT_SIP_LIMITS) {}

  /** Bytes waiting for the rest of a message. */
  get pending(): number { return this.buf.length; }

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      let s = 0;
      while (s < this.buf.length && (this.buf[s] === 0x0d || this.buf[s] === 0x0a)) s++; // keep-alive CRLFs (RFC 5626)
      if (s) this.buf = this.buf.subarray(s);
      if (!this.buf.length) break;
      const end = findHeadEnd(this.buf, 0, this.limits.maxBytes);
      if (!end) {
        if (this.buf.length > this.limits.maxBytes) throw malformed(`its header block is longer than ${this.limits.maxBytes} bytes`);
        break;
      }
      const head = this.buf.subarray(0, end.at).toString('latin1');
      const m = /^(?:content-length|l)[ \t]*:[ \t]*([0-9]+)[ \t]*$/im.exec(head);
      if (!m && /^(?:content-length|l)[ \t]*:/im.test(head)) throw malformed('its Content-Length is not a number');
      const len = m ? Number(m[1]) : 0;
      const total = end.at + end.sep + len;
      if (total > this.limits.maxBytes) throw malformed(`it is ${total} bytes, more than the ${this.limits.maxBytes} allowed`);
      if (this.buf.length < total) break;
      out.push(Buffer.from(this.buf.subarray(0, total)));
      this.buf = this.buf.subarray(total);
    }
    if (this.buf.length && this.buf.byteOffset > 0 && this.buf.buffer.byteLength > this.limits.maxBytes * 2) this.buf = Buffer.from(this.buf);
    return out;
  }
}

export interface NameAddr {
  display?: string;
  uri: string;
  user?: string;
  tag?: string;
  /** header parameters after the address (tag included), names lower-cased */
  params: Record<string, string>;
}

function splitParams(s: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const p of s.split(';')) {
    const t = p.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq < 0) params[t.toLowerCase()] = '';
    else params[t.slice(0, eq).trim().toLowerCase()] = t.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return params;
}

/** Parses a From/To/Contact/P-Asserted-Identity value: `"Name" <uri>;tag=x`, `Name <uri>` or a bare `uri;tag=x`. */
export function parseNameAddr(v: string): NameAddr {
  const s = v.trim();
  const shown = s.slice(0, 60);
  let display: string | undefined;
  let uri: string;
  let rest: string;
  // RFC 3261 §25.1: a quoted display name is read first, so a "<" or ">" inside it is text, not the URI.
  let lt: number;
  if (s.startsWith('"')) {
    const q = readQuoted(s, 0);
    if (!q) throw malformed(`address "${shown}" has a display name without its closing quote`);
    display = q.text || undefined;
    lt = q.end;
    while (s[lt] === ' ' || s[lt] === '\t') lt++;
    if (s[lt] !== '<') throw malformed(`address "${shown}" has a quoted display name but no <URI> after it`);
  } else {
    lt = s.indexOf('<');
    // An addr-spec's header parameters follow a ";" and cannot hold a "<"; a token display name can.
    if (lt >= 0) display = s.slice(0, lt).trim() || undefined;
  }
  if (lt >= 0) {
    const gt = s.indexOf('>', lt);
    if (gt < 0) throw malformed(`address "${shown}" has "<" without ">"`);
    uri = s.slice(lt + 1, gt).trim();
    rest = s.slice(gt + 1);
  } else {
    const semi = s.indexOf(';');
    uri = (semi < 0 ? s : s.slice(0, semi)).trim();
    rest = semi < 0 ? '' : s.slice(semi);
  }
  if (!uri) throw malformed(`address "${shown}" has no URI`);
  const params = splitParams(rest);
  const out: NameAddr = { uri, params };
  if (display) out.display = display;
  const user = userOfUri(uri);
  if (user !== undefined) out.user = user;
  if (params.tag) out.tag = params.tag;
  return out;
}

/** A quoted-string starting at `at` (RFC 3261 §25.1: backslash escapes one character); undefined when it never closes. */
function readQuoted(s: string, at: number): { text: string; end: number } | undefined {
  let text = '';
  for (let i = at + 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      if (i + 1 >= s.length) return undefined;
      text += s[++i];
    } else if (c === '"') return { text, end: i + 1 };
    else text += c;
  }
  return undefined;
}

/** The user part of a sip:/sips: URI or the number of a tel: URI, percent-decoded; undefined when it has none. */
export function userOfUri(uri: string): string | undefined {
  const m = /^\s*(sips?|tel):([^;?>]*)/i.exec(uri);
  if (!m) return undefined;
  let u = m[2]!;
  if (m[1]!.toLowerCase() !== 'tel') {
    const at = u.lastIndexOf('@');
    if (at < 0) return undefined;
    u = u.slice(0, at);
    const colon = u.indexOf(':'); // user:password
    if (colon >= 0) u = u.slice(0, colon);
  }
  try { u = decodeURIComponent(u); } catch { /* a stray % stays as sent */ }
  return u || undefined;
}

/**
 * The phone number in a sip:/sips:/tel: URI: visual separators dropped (RFC 3966), `anonymous`
 * as "withheld"; a non-numeric user part (an extension name) is returned as sent.
 */
export function numberFromUri(uri: string): string | undefined {
  const u = userOfUri(uri);
  if (u === undefined) return undefined;
  if (/^(anonymous|restricted|private|withheld)$/i.test(u)) return 'withheld';
  if (/^(unknown|unavailable)$/i.test(u)) return 'unavailable';
  const stripped = u.replace(/[\s\-.()]/g, '');
  if (/^\+?[0-9*#]+$/.test(stripped)) return stripped;
  return u;
}
