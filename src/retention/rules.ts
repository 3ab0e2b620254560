import { RvError } from '../errors.ts';
import { isTime, type CallHeader } from '../archive/format.ts';
import { DAY_MS, UNTIL_DATE_FALLBACK_DAYS, defaultRetention, type RetentionPolicies, type RetentionPolicy } from './policy.ts';

// Pure and clock-free so the deleting loop stays dumb and every rule is testable as a table.
// An expiry time is the first ms a recording is no longer kept: now === expiresAt is already expired.

export interface ExpiryInput {
  keptAt: number;
  purposes: string[];
  /** per-call dates for until-date / until-released purposes, e.g. this evaluation's date or the contract end */
  purposeUntil?: Record<string, number>;
}

export interface Expiry {
  /** null = until released */
  perPurpose: Record<string, number | null>;
  /** max over purposes; null when any purpose is open-ended */
  expiresAt: number | null;
}

const bad = (msg: string): never => {
  throw new RvError('RV_ERR_RETENTION', msg);
};

function purposeExpiry(purpose: string, p: RetentionPolicy, keptAt: number, until: number | undefined): number | null {
  switch (p.kind) {
    // A per-call date cannot shorten or stretch a day count, so a legal obligation stays what the policy says.
    case 'days':
      return keptAt + p.days * DAY_MS;
    case 'until-date':
      return until ?? p.date ?? keptAt + UNTIL_DATE_FALLBACK_DAYS * DAY_MS;
    case 'until-released':
      return until ?? null;
    default:
      return bad(`Retention for "${purpose}": unknown policy kind.`);
  }
}

/** When a recording expires: each purpose on its own, and the whole when all of its purposes have expired. */
export function expiryOf(call: ExpiryInput, policy: RetentionPolicies | Record<string, RetentionPolicy>): Expiry {
  if (!isTime(call.keptAt)) bad(`Cannot compute expiry: keptAt ${JSON.stringify(call.keptAt)} is not a valid time.`);
  // No purpose means no stated basis; refuse rather than treat it as expired, so a bad header never deletes by itself.
  if (call.purposes.length === 0) bad('Cannot compute expiry: the recording has no purpose; set one or delete it by hand.');
  const perPurpose: Record<string, number | null> = {};
  let expiresAt: number | null = -Infinity;
  for (const purpose of call.purposes) {
    const p = Object.hasOwn(policy, purpose) ? (policy as Record<string, RetentionPolicy>)[purpose] : undefined;
    if (!p) return bad(`Retention for "${purpose}": no policy for this purpose, expected one of ${Object.keys(policy).join(', ')}.`);
    const until = call.purposeUntil && Object.hasOwn(call.purposeUntil, purpose) ? call.purposeUntil[purpose] : undefined;
    if (until !== undefined && !isTime(until)) bad(`Retention for "${purpose}": the recording's date ${JSON.stringify(until)} is not a valid time.`);
    const at = purposeExpiry(purpose, p, call.keptAt, until);
    perPurpose[purpose] = at;
    expiresAt = at === null || expiresAt === null ? null : Math.max(expiresAt, at);
  }
  return { perPurpose, expiresAt };
}

export type RetentionCall = Pick<CallHeader, 'holds' | 'restricted' | 'clockSynced'> & { expiresAt: number | null };

export interface DecideContext {
  now: number;
  /** whether the box clock is known right now */
  clockSynced: boolean;
  /** a hold on the caller's number covers this call */
  numberHolds?: boolean;
}

export interface Decision {
  action: 'keep' | 'shred';
  reason: string;
}

const iso = (t: number) => new Date(t).toISOString();

/** Keep or shred one recording now. Any doubt keeps: a late shred can be redone, an early one cannot be undone. */
export function decide(call: RetentionCall, ctx: DecideContext): Decision {
  if (!ctx.clockSynced) return { action: 'keep', reason: 'clock not synchronised: never shred on an unknown time' };
  if (!isTime(ctx.now)) return { action: 'keep', reason: `no valid current time (${String(ctx.now)}): never shred on an unknown time` };
  if (call.holds.length > 0) return { action: 'keep', reason: `legal hold: ${call.holds.join(', ')}` };
  if (ctx.numberHolds) return { action: 'keep', reason: 'legal hold on the number' };
  // keptAt stamped before clock sync may be far off, so its expiry could fall years early; a person must look.
  if (!call.clockSynced) return { action: 'keep', reason: 'kept while the clock was not synchronised: expiry unreliable, review by hand' };
  if (call.expiresAt === null) return { action: 'keep', reason: 'kept until released' };
  if (!isTime(call.expiresAt)) return { action: 'keep', reason: `expiry ${String(call.expiresAt)} is not a valid time: review by hand` };
  if (ctx.now < call.expiresAt) return { action: 'keep', reason: `not expired: kept until ${iso(call.expiresAt)}` };
  // Restriction (Art. 18 GDPR) blocks use, not deletion: a restricted recording still expires and is shredded on time.
  return { action: 'shred', reason: `expired at ${iso(call.expiresAt)}${call.restricted ? ' (restricted; restriction does not stop expiry)' : ''}` };
}

export type ErasureCall = Pick<CallHeader, 'holds' | 'keptAt' | 'purposes'> & { purposeUntil?: Record<string, number> };

export interface ErasureContext {
  now: number;
  /** whether now can be trusted when a legal obligation's end is compared with it */
  clockSynced: boolean;
  numberHolds?: boolean;
  /** defaults to defaultRetention() */
  policy?: RetentionPolicies;
}

/** A data subject's erasure request (Art. 17 GDPR): erase unless a legal obligation or a legal hold says keep. */
export function erasureDecision(call: ErasureCall, ctx: ErasureContext): { erase: boolean; reason: string } {
  const held = [...call.holds, ...(ctx.numberHolds ? ['hold on the number'] : [])];
  if (held.length > 0) return { erase: false, reason: `legal hold: ${held.join(', ')}` };
  if (call.purposes.includes('legal-obligation')) {
    const policy = ctx.policy ?? defaultRetention();
    const { perPurpose } = expiryOf({ keptAt: call.keptAt, purposes: ['legal-obligation'], purposeUntil: call.purposeUntil }, policy);
    const until = perPurpose['legal-obligation'];
    if (until === null) return { erase: false, reason: 'legal obligation: kept until released' };
    // With an unknown time the obligation may still run; erasing it could break the law, so keep and retry later.
    if (!ctx.clockSynced || !isTime(ctx.now)) return { erase: false, reason: `legal obligation: kept until ${iso(until)} (clock not synchronised, cannot tell if it has ended)` };
    if (ctx.now < until) return { erase: false, reason: `legal obligation: kept until ${iso(until)}` };
  }
  return { erase: true, reason: 'no legal obligation or legal hold stops erasure' };
}

/** Hours of recording the free space still holds; only ever a warning, never a reason to delete. */
export function freeSpaceForecast(x: { freeBytes: number; bytesPerHour: number; hoursWanted: number }): { ok: boolean; hoursLeft: number } {
  const { freeBytes, bytesPerHour, hoursWanted } = x;
  for (const [k, v] of Object.entries({ freeBytes, bytesPerHour, hoursWanted })) {
    if (!Number.isFinite(v) || v < 0) bad(`Free space forecast: "${k}" must be a number of at least 0, got ${String(v)}.`);
  }
  // Round down so the warning comes an hour early rather than late.
  const hoursLeft = bytesPerHour === 0 ? Infinity : Math.floor(freeBytes / bytesPerHour);
  return { ok: hoursLeft >= hoursWanted, hoursLeft };
}
