import { randomInt } from 'node:crypto';
import { RvError } from '../errors.ts';
import type { LineConfig, Purpose } from '../config/schema.ts';
import type { CallParties } from '../sources/source.ts';

export type StartDecision =
  | { buffer: false; keep: null; reason: 'never' | 'excluded' }
  | { buffer: true; keep: 'all' | 'sample' | null; reason: string };

/** Numbers compared in one form: Dutch national and 00-prefixed numbers become +CC…. */
export function normalizeNumber(n: string): string {
  const digits = n.replace(/[\s\-().]/g, '');
  if (digits.startsWith('+')) return digits;
  if (digits.startsWith('00')) return '+' + digits.slice(2);
  if (digits.startsWith('0')) return '+31' + digits.slice(1);
  return digits;
}

/** A list of numbers, or a check (the box's hashed exclusion list, issue 10). */
export type Exclusions = readonly string[] | ((number: string) => boolean);

export function isExcluded(parties: Partial<CallParties>, exclusions: Exclusions): boolean {
  let has: (n: string) => boolean;
  if (typeof exclusions === 'function') has = exclusions;
  else {
    if (exclusions.length === 0) return false;
    const set = new Set(exclusions.map(normalizeNumber));
    has = (n) => set.has(normalizeNumber(n));
  }
  return [parties.caller, parties.called].some((n) => n !== undefined && /\d{3}/.test(n) && has(n));
}

/** What happens to a call as it starts; `draw` is injectable so the table tests are deterministic. */
export function decideAtStart(
  line: Pick<LineConfig, 'keep' | 'sampleN'>,
  parties: Partial<CallParties>,
  exclusions: Exclusions,
  draw: (n: number) => number = randomInt,
): StartDecision {
  if (line.keep === 'never') return { buffer: false, keep: null, reason: 'never' };
  if (isExcluded(parties, exclusions)) return { buffer: false, keep: null, reason: 'excluded' };
  if (line.keep === 'all') return { buffer: true, keep: 'all', reason: 'line keeps every call' };
  if (line.keep === 'sample') {
    const hit = draw(line.sampleN) === 0;
    return { buffer: true, keep: hit ? 'sample' : null, reason: hit ? `drawn 1 in ${line.sampleN}` : 'not drawn' };
  }
  return { buffer: true, keep: null, reason: 'kept only on demand' };
}

/** The purposes a kept call gets: those asked for, else the line's default; each must be announced on the line. */
export function resolvePurposes(line: Pick<LineConfig, 'id' | 'announced' | 'keepPurposes'>, asked?: readonly string[]): Purpose[] {
  const chosen = asked && asked.length > 0 ? asked : line.keepPurposes;
  const bad = chosen.filter((p) => !(line.announced as readonly string[]).includes(p));
  if (bad.length > 0) {
    throw new RvError('RV_ERR_PURPOSE_NOT_ANNOUNCED', `Line ${line.id} does not announce ${bad.join(', ')} to callers, so a call on it cannot be kept for that. Announced: ${line.announced.join(', ') || 'none'}.`, 422);
  }
  if (chosen.length === 0) throw new RvError('RV_ERR_NO_PURPOSE', `A kept call needs a purpose; line ${line.id} has no default purpose set. Pick one in the settings.`, 422);
  return [...new Set(chosen)] as Purpose[];
}
