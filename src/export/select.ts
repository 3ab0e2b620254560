import type { CallMeta } from '../archive/format.ts';
import { normalizeNumber } from '../policy/keep.ts';

/** Whose data a request or an export is about: a customer's phone number(s), or a staff member's extension. */
export interface Subject { numbers?: string[]; extension?: string }

/**
 * Exact matching on the normalised number (unlike the catalog search, no partial digits): an export or an
 * erasure for one person must never pull in a call of someone whose number merely contains theirs.
 */
export function matchesSubject(meta: CallMeta, s: Subject): boolean {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  if (s.extension !== undefined && str(meta.extension) === s.extension) return true;
  const parties = [str(meta.caller), str(meta.called)].filter((n): n is string => n !== undefined);
  for (const want of s.numbers ?? []) {
    const num = normalizeNumber(want);
    if (parties.some((n) => normalizeNumber(n) === num)) return true;
  }
  return false;
}

/** The ids of the calls in `headers` whose sealed metadata matches; `meta` needs the vault unlocked. */
export async function selectCalls(
  headers: readonly { id: string; startedAt: number }[],
  meta: (id: string) => Promise<CallMeta>,
  s: Subject,
  range: { from?: number; to?: number } = {},
): Promise<string[]> {
  const out: string[] = [];
  for (const h of headers) {
    if (range.from !== undefined && h.startedAt < range.from) continue;
    if (range.to !== undefined && h.startedAt > range.to) continue;
    if (matchesSubject(await meta(h.id), s)) out.push(h.id);
  }
  return out;
}
