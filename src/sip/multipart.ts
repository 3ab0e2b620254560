import { RvError } from '../errors.ts';
import { findHeadEnd } from './message.ts';

export interface BodyPart {
  /** media type, lower-cased, without parameters, e.g. "application/sdp" */
  type: string;
  /** the whole Content-Type value as sent */
  contentType: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** Media type (lower case) and parameters (names lower case, quotes removed) of a Content-Type value. */
export function parseContentType(v: string): { type: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const semi = v.indexOf(';');
  const type = (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase();
  if (semi >= 0) {
    const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
    for (let m = re.exec(v); m; m = re.exec(v)) params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!.trim();
  }
  return { type, params };
}

const MAX_DEPTH = 4;
const MAX_PARTS = 32;

/**
 * Splits a multipart body (RFC 2046) into its leaf parts, nested multiparts flattened.
 * Accepts quoted or bare boundaries, a preamble, CRLF or LF, and a missing closing delimiter.
 */
export function splitMultipart(contentType: string, body: Buffer, depth = 0): BodyPart[] {
  const { type, params } = parseContentType(contentType);
  if (!type.startsWith('multipart/')) return [{ type, contentType, headers: [['Content-Type', contentType]], body }];
  const boundary = params.boundary;
  if (!boundary || boundary.length > 200) {
    throw new RvError('RV_ERR_SIP_MALFORMED', `The ${type} body has ${boundary ? 'an overlong' : 'no'} boundary parameter; the peer must send one (RFC 2046).`, 400);
  }
  if (depth >= MAX_DEPTH) throw new RvError('RV_ERR_SIP_MALFORMED', `The body nests multiparts more than ${MAX_DEPTH} deep; it was not read.`, 400);
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  // Delimiters sit at the start of the body or after a line end.
  const starts: number[] = [];
  for (let i = body.indexOf(delim); i >= 0; i = body.indexOf(delim, i + delim.length)) {
    if (i === 0 || body[i - 1] === 0x0a) starts.push(i);
  }
  const parts: BodyPart[] = [];
  for (let n = 0; n < starts.length; n++) {
    const at = starts[n]!;
    const after = at + delim.length;
    if (body[after] === 0x2d && body[after + 1] === 0x2d) break; // closing delimiter
    // The rest of the delimiter line (transport padding) is skipped.
    const eol = body.indexOf(0x0a, after);
    if (eol < 0) break;
    let endAt = n + 1 < starts.length ? starts[n + 1]! : body.length;
    // The line end before the next delimiter belongs to the delimiter.
    if (n + 1 < starts.length) { if (body[endAt - 1] === 0x0a) endAt--; if (body[endAt - 1] === 0x0d) endAt--; }
    const part = body.subarray(eol + 1, Math.max(eol + 1, endAt));
    const head = findHeadEnd(part);
    // A part that starts with a blank line has no headers (text/plain by RFC 2046 default).
    const blankFirst = part[0] === 0x0a || (part[0] === 0x0d && part[1] === 0x0a);
    const headText = blankFirst ? '' : head ? part.subarray(0, head.at).toString('utf8') : '';
    const content = blankFirst ? part.subarray(part[0] === 0x0a ? 1 : 2) : head ? part.subarray(head.at + head.sep) : part;
    const headers: Array<[string, string]> = [];
    for (const line of headText.split(/\r?\n/)) {
      if (!line) continue;
      if ((line[0] === ' ' || line[0] === '\t') && headers.length) { headers[headers.length - 1]![1] += ` ${line.trim()}`; continue; }
      const c = line.indexOf(':');
      if (c > 0) headers.push([line.slice(0, c).trim(), line.slice(c + 1).trim()]);
    }
    const ct = headers.find(([h]) => /^(content-type|c)$/i.test(h))?.[1] ?? 'text/plain';
    const leafType = parseContentType(ct).type;
    if (leafType.startsWith('multipart/')) parts.push(...splitMultipart(ct, content, depth + 1));
    else parts.push({ type: leafType, contentType: ct, headers, body: content });
    if (parts.length > MAX_PARTS) throw new RvError('RV_ERR_SIP_MALFORMED', `The body has more than ${MAX_PARTS} parts; it was not read.`, 400);
  }
  return parts;
}
