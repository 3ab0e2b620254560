import { RvError } from '../errors.ts';

/** One byte range of an HTTP Range header (RFC 9110); multi-range requests are answered whole. */
export function parseRange(header: string | undefined, total: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, total - Number(m[2]));
    end = total - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? total - 1 : Math.min(Number(m[2]), total - 1);
  }
  if (start > end || start >= total) throw new RvError('RV_ERR_RANGE', `The requested byte range ${header} lies outside the ${total}-byte recording.`, 416);
  return { start, end };
}
