import { RvError } from '../errors.ts';
import { PURPOSES, type Purpose } from '../config/schema.ts';
import { isTime } from '../archive/format.ts';

export const DAY_MS = 86_400_000;
/** Legal obligation default: 5 years (5 × 365 + 1 leap day). */
export const LEGAL_OBLIGATION_DAYS = 1826;
/** Documented ceiling for extending a legal obligation, and for any day count: 7 years (7 × 365 + 2 leap days). */
export const MAX_RETENTION_DAYS = 2557;
/** An until-date purpose with no date known falls back to a quarter. */
export const UNTIL_DATE_FALLBACK_DAYS = 92;

/** How long one purpose keeps a recording; all day counts start at the call's keptAt. */
export type RetentionPolicy =
  | { kind: 'days'; days: number }
  | { kind: 'until-date'; date?: number /* e.g. next evaluation date or contract end; absent → UNTIL_DATE_FALLBACK_DAYS */ }
  | { kind: 'until-released'; reviewEvery?: number /* days between reminders to review the keep */ };

export type RetentionPolicies = Record<Purpose, RetentionPolicy>;

/** Practice defaults; a fresh object each call so no caller can change another's defaults. */
export function defaultRetention(): RetentionPolicies {
  return {
    training: { kind: 'days', days: 90 },
    complaint: { kind: 'days', days: 90 },
    evaluation: { kind: 'until-date' },
    evidence: { kind: 'until-released', reviewEvery: UNTIL_DATE_FALLBACK_DAYS },
    'legal-obligation': { kind: 'days', days: LEGAL_OBLIGATION_DAYS },
  };
}

const fail = (purpose: string, expected: string): never => {
  throw new RvError('RV_ERR_RETENTION', `Retention for "${purpose}": ${expected}.`);
};

const isDays = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= MAX_RETENTION_DAYS;

/** Checks one purpose's policy (it may come from a settings file, hence unknown) and returns a clean copy. */
export function checkRetention(purpose: string, p: unknown): RetentionPolicy {
  if (!(PURPOSES as readonly string[]).includes(purpose)) fail(purpose, `unknown purpose, expected one of ${PURPOSES.join(', ')}`);
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return fail(purpose, 'expected an object with a "kind"');
  const o = p as Record<string, unknown>;
  const allow = (...keys: string[]) => {
    const extra = Object.keys(o).filter((k) => !keys.includes(k));
    if (extra.length) fail(purpose, `unexpected field ${extra.map((k) => `"${k}"`).join(', ')}`);
  };
  if (purpose === 'legal-obligation') {
    // A legal obligation is a fixed period set by law: open-ended or date-bound keeps would outlive it.
    if (o.kind !== 'days') fail(purpose, 'a legal obligation must be a number of days');
    if (!isDays(o.days)) fail(purpose, `expected whole days from 1 to ${MAX_RETENTION_DAYS} (7 years); default is ${LEGAL_OBLIGATION_DAYS} (5 years)`);
  }
  switch (o.kind) {
    case 'days':
      allow('kind', 'days');
      if (!isDays(o.days)) fail(purpose, `expected whole days from 1 to ${MAX_RETENTION_DAYS} (7 years), got ${JSON.stringify(o.days)}`);
      return { kind: 'days', days: o.days as number };
    case 'until-date':
      allow('kind', 'date');
      if (o.date === undefined) return { kind: 'until-date' };
      if (!isTime(o.date)) fail(purpose, `expected "date" as ms since 1970 (or no date for ${UNTIL_DATE_FALLBACK_DAYS} days), got ${JSON.stringify(o.date)}`);
      return { kind: 'until-date', date: o.date as number };
    case 'until-released':
      allow('kind', 'reviewEvery');
      if (o.reviewEvery === undefined) return { kind: 'until-released' };
      if (!isDays(o.reviewEvery)) fail(purpose, `expected "reviewEvery" as whole days from 1 to ${MAX_RETENTION_DAYS}, got ${JSON.stringify(o.reviewEvery)}`);
      return { kind: 'until-released', reviewEvery: o.reviewEvery as number };
    default:
      return fail(purpose, `expected kind "days", "until-date" or "until-released", got ${JSON.stringify(o.kind)}`);
  }
}

/** Checks a full policy set: every purpose must have exactly one valid policy. */
export function validateRetention(policies: unknown): RetentionPolicies {
  if (typeof policies !== 'object' || policies === null || Array.isArray(policies)) return fail('*', 'expected an object with one policy per purpose');
  const o = policies as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(PURPOSES as readonly string[]).includes(k)) fail(k, `unknown purpose, expected one of ${PURPOSES.join(', ')}`);
  const out = {} as RetentionPolicies;
  for (const purpose of PURPOSES) {
    if (!(purpose in o)) fail(purpose, 'missing; every purpose needs a policy');
    out[purpose] = checkRetention(purpose, o[purpose]);
  }
  return out;
}
