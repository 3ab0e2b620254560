import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRvError } from '../src/errors.ts';
import {
  DAY_MS, LEGAL_OBLIGATION_DAYS, MAX_RETENTION_DAYS, UNTIL_DATE_FALLBACK_DAYS,
  checkRetention, defaultRetention, validateRetention, type RetentionPolicies,
} from '../src/retention/policy.ts';
import { decide, erasureDecision, expiryOf, freeSpaceForecast } from '../src/retention/rules.ts';

const D = DAY_MS;
const T0 = Date.UTC(2026, 0, 1); // keptAt of every test call
const EVAL = Date.UTC(2026, 2, 15); // a next evaluation date
const CONTRACT_END = Date.UTC(2027, 5, 30);

const withPolicy = (over: Partial<RetentionPolicies>): RetentionPolicies => ({ ...defaultRetention(), ...over });
const rvRetention = (purposeAndText: RegExp) => (e: unknown) =>
  isRvError(e) && e.code === 'RV_ERR_RETENTION' && purposeAndText.test(e.message);

test('defaults follow practice', () => {
  assert.deepEqual(defaultRetention(), {
    training: { kind: 'days', days: 90 },
    complaint: { kind: 'days', days: 90 },
    evaluation: { kind: 'until-date' },
    evidence: { kind: 'until-released', reviewEvery: 92 },
    'legal-obligation': { kind: 'days', days: 1826 },
  });
  assert.equal(LEGAL_OBLIGATION_DAYS, 1826);
  assert.equal(MAX_RETENTION_DAYS, 2557);
  assert.equal(UNTIL_DATE_FALLBACK_DAYS, 92);
  assert.deepEqual(validateRetention(defaultRetention()), defaultRetention());
  const a = defaultRetention();
  (a.training as { days: number }).days = 1;
  assert.equal((defaultRetention().training as { days: number }).days, 90, 'defaults are a fresh copy');
});

test('expiry per purpose and overall, as a table', () => {
  const rows: { name: string; purposes: string[]; policy?: Partial<RetentionPolicies>; until?: Record<string, number>; per: Record<string, number | null>; at: number | null }[] = [
    { name: 'training 90 days', purposes: ['training'], per: { training: T0 + 90 * D }, at: T0 + 90 * D },
    { name: 'complaint 90 days', purposes: ['complaint'], per: { complaint: T0 + 90 * D }, at: T0 + 90 * D },
    { name: 'legal obligation 5 years', purposes: ['legal-obligation'], per: { 'legal-obligation': T0 + 1826 * D }, at: T0 + 1826 * D },
    { name: 'legal obligation extended to 7 years', purposes: ['legal-obligation'], policy: { 'legal-obligation': { kind: 'days', days: 2557 } }, per: { 'legal-obligation': T0 + 2557 * D }, at: T0 + 2557 * D },
    { name: 'until-date without a date: a quarter', purposes: ['evaluation'], per: { evaluation: T0 + 92 * D }, at: T0 + 92 * D },
    { name: 'until-date with a policy date', purposes: ['evaluation'], policy: { evaluation: { kind: 'until-date', date: EVAL } }, per: { evaluation: EVAL }, at: EVAL },
    { name: 'until-date with a per-call date over the policy date', purposes: ['evaluation'], policy: { evaluation: { kind: 'until-date', date: EVAL } }, until: { evaluation: EVAL + 7 * D }, per: { evaluation: EVAL + 7 * D }, at: EVAL + 7 * D },
    { name: 'until-released: open-ended', purposes: ['evidence'], per: { evidence: null }, at: null },
    { name: 'until-released with a contract end', purposes: ['evidence'], until: { evidence: CONTRACT_END }, per: { evidence: CONTRACT_END }, at: CONTRACT_END },
    { name: 'per-call date does not change a day count', purposes: ['legal-obligation'], until: { 'legal-obligation': T0 + D }, per: { 'legal-obligation': T0 + 1826 * D }, at: T0 + 1826 * D },
    { name: 'multiple: the latest wins', purposes: ['training', 'legal-obligation'], per: { training: T0 + 90 * D, 'legal-obligation': T0 + 1826 * D }, at: T0 + 1826 * D },
    { name: 'multiple: until-date later than days', purposes: ['complaint', 'evaluation'], until: { evaluation: T0 + 200 * D }, per: { complaint: T0 + 90 * D, evaluation: T0 + 200 * D }, at: T0 + 200 * D },
    { name: 'multiple: one open-ended keeps it all', purposes: ['training', 'evidence'], per: { training: T0 + 90 * D, evidence: null }, at: null },
    { name: 'multiple: open-ended first, then days', purposes: ['evidence', 'complaint'], per: { evidence: null, complaint: T0 + 90 * D }, at: null },
    { name: 'a date before keptAt is honoured (already expired)', purposes: ['evaluation'], until: { evaluation: T0 - D }, per: { evaluation: T0 - D }, at: T0 - D },
  ];
  for (const r of rows) {
    const e = expiryOf({ keptAt: T0, purposes: r.purposes, purposeUntil: r.until }, withPolicy(r.policy ?? {}));
    assert.deepEqual(e.perPurpose, r.per, r.name);
    assert.equal(e.expiresAt, r.at, r.name);
  }
});

test('expiry refuses what it cannot compute', () => {
  const rows: { name: string; call: { keptAt: number; purposes: string[]; purposeUntil?: Record<string, number> }; re: RegExp }[] = [
    { name: 'no purpose', call: { keptAt: T0, purposes: [] }, re: /no purpose/ },
    { name: 'unknown purpose', call: { keptAt: T0, purposes: ['marketing'] }, re: /"marketing".*no policy/ },
    { name: 'prototype key is not a purpose', call: { keptAt: T0, purposes: ['toString'] }, re: /"toString"/ },
    { name: 'bad keptAt', call: { keptAt: Number.NaN, purposes: ['training'] }, re: /keptAt/ },
    { name: 'bad per-call date', call: { keptAt: T0, purposes: ['evidence'], purposeUntil: { evidence: -5 } }, re: /"evidence".*not a valid time/ },
  ];
  for (const r of rows) assert.throws(() => expiryOf(r.call, defaultRetention()), rvRetention(r.re), r.name);
});

test('keep or shred, as a table', () => {
  const EXP = T0 + 90 * D;
  const base = { holds: [] as string[], restricted: false, clockSynced: true, expiresAt: EXP as number | null };
  const rows: { name: string; call?: Partial<typeof base>; now: number; synced?: boolean; numberHolds?: boolean; action: 'keep' | 'shred'; re: RegExp }[] = [
    { name: 'before expiry', now: EXP - 1, action: 'keep', re: /not expired: kept until 2026-04-01T00:00:00.000Z/ },
    { name: 'exactly at expiry', now: EXP, action: 'shred', re: /expired at 2026-04-01T00:00:00.000Z/ },
    { name: 'after expiry', now: EXP + 1, action: 'shred', re: /expired/ },
    { name: 'long after expiry', now: EXP + 3000 * D, action: 'shred', re: /expired/ },
    { name: 'unsynced clock never shreds', now: EXP + 1, synced: false, action: 'keep', re: /clock not synchronised/ },
    { name: 'unsynced clock, not expired', now: EXP - 1, synced: false, action: 'keep', re: /clock not synchronised/ },
    { name: 'held', call: { holds: ['H-2026-7'] }, now: EXP + 1, action: 'keep', re: /legal hold: H-2026-7/ },
    { name: 'held twice', call: { holds: ['H1', 'H2'] }, now: EXP + 1, action: 'keep', re: /legal hold: H1, H2/ },
    { name: 'number hold', now: EXP + 1, numberHolds: true, action: 'keep', re: /legal hold on the number/ },
    { name: 'number hold false', now: EXP + 1, numberHolds: false, action: 'shred', re: /expired/ },
    { name: 'held and unsynced: clock first', call: { holds: ['H1'] }, now: EXP + 1, synced: false, action: 'keep', re: /clock not synchronised/ },
    { name: 'restricted still expires', call: { restricted: true }, now: EXP, action: 'shred', re: /restriction does not stop expiry/ },
    { name: 'restricted not yet expired', call: { restricted: true }, now: EXP - 1, action: 'keep', re: /not expired/ },
    { name: 'restricted and held', call: { restricted: true, holds: ['H1'] }, now: EXP + 1, action: 'keep', re: /legal hold/ },
    { name: 'until released', call: { expiresAt: null }, now: EXP + 3000 * D, action: 'keep', re: /until released/ },
    { name: 'kept on an unsynced clock', call: { clockSynced: false }, now: EXP + 1, action: 'keep', re: /review by hand/ },
    { name: 'bad now', now: Number.NaN, action: 'keep', re: /no valid current time/ },
    { name: 'bad expiry', call: { expiresAt: Number.POSITIVE_INFINITY }, now: EXP, action: 'keep', re: /not a valid time/ },
  ];
  for (const r of rows) {
    const d = decide({ ...base, ...r.call }, { now: r.now, clockSynced: r.synced ?? true, numberHolds: r.numberHolds });
    assert.equal(d.action, r.action, r.name);
    assert.match(d.reason, r.re, r.name);
  }
});

test('expiry and decision together across purposes', () => {
  const rows: { purposes: string[]; until?: Record<string, number>; policy?: Partial<RetentionPolicies>; now: number; action: 'keep' | 'shred' }[] = [
    { purposes: ['training'], now: T0 + 90 * D, action: 'shred' },
    { purposes: ['training'], now: T0 + 90 * D - 1, action: 'keep' },
    { purposes: ['training', 'complaint'], now: T0 + 90 * D, action: 'shred' },
    { purposes: ['training', 'legal-obligation'], now: T0 + 91 * D, action: 'keep' },
    { purposes: ['training', 'legal-obligation'], now: T0 + 1826 * D, action: 'shred' },
    { purposes: ['legal-obligation'], policy: { 'legal-obligation': { kind: 'days', days: 2557 } }, now: T0 + 1826 * D, action: 'keep' },
    { purposes: ['legal-obligation'], policy: { 'legal-obligation': { kind: 'days', days: 2557 } }, now: T0 + 2557 * D, action: 'shred' },
    { purposes: ['evaluation'], now: T0 + 92 * D, action: 'shred' },
    { purposes: ['evaluation'], policy: { evaluation: { kind: 'until-date', date: EVAL } }, now: EVAL - 1, action: 'keep' },
    { purposes: ['evaluation'], policy: { evaluation: { kind: 'until-date', date: EVAL } }, now: EVAL, action: 'shred' },
    { purposes: ['evidence'], now: T0 + 10_000 * D, action: 'keep' },
    { purposes: ['evidence'], until: { evidence: CONTRACT_END }, now: CONTRACT_END, action: 'shred' },
    { purposes: ['evidence', 'training'], now: T0 + 10_000 * D, action: 'keep' },
  ];
  for (const r of rows) {
    const { expiresAt } = expiryOf({ keptAt: T0, purposes: r.purposes, purposeUntil: r.until }, withPolicy(r.policy ?? {}));
    const d = decide({ holds: [], restricted: false, clockSynced: true, expiresAt }, { now: r.now, clockSynced: true });
    assert.equal(d.action, r.action, JSON.stringify(r));
  }
});

test('invalid policies are refused naming the purpose and what is expected', () => {
  const rows: { name: string; purpose: string; policy: unknown; re: RegExp }[] = [
    { name: 'legal obligation beyond 7 years', purpose: 'legal-obligation', policy: { kind: 'days', days: 2558 }, re: /"legal-obligation".*2557 \(7 years\)/ },
    { name: 'legal obligation open-ended', purpose: 'legal-obligation', policy: { kind: 'until-released' }, re: /"legal-obligation".*number of days/ },
    { name: 'legal obligation until a date', purpose: 'legal-obligation', policy: { kind: 'until-date', date: EVAL }, re: /"legal-obligation".*number of days/ },
    { name: 'zero days', purpose: 'training', policy: { kind: 'days', days: 0 }, re: /"training".*whole days from 1 to 2557/ },
    { name: 'negative days', purpose: 'complaint', policy: { kind: 'days', days: -1 }, re: /"complaint".*whole days/ },
    { name: 'fractional days', purpose: 'complaint', policy: { kind: 'days', days: 1.5 }, re: /"complaint".*whole days/ },
    { name: 'days as text', purpose: 'training', policy: { kind: 'days', days: '90' }, re: /"training".*got "90"/ },
    { name: 'training beyond 7 years', purpose: 'training', policy: { kind: 'days', days: 3000 }, re: /"training".*7 years/ },
    { name: 'bad date', purpose: 'evaluation', policy: { kind: 'until-date', date: 'next week' }, re: /"evaluation".*"date"/ },
    { name: 'negative date', purpose: 'evaluation', policy: { kind: 'until-date', date: -1 }, re: /"evaluation".*"date"/ },
    { name: 'bad reviewEvery', purpose: 'evidence', policy: { kind: 'until-released', reviewEvery: 0 }, re: /"evidence".*"reviewEvery"/ },
    { name: 'unknown kind', purpose: 'evidence', policy: { kind: 'forever' }, re: /"evidence".*expected kind/ },
    { name: 'not an object', purpose: 'evidence', policy: null, re: /"evidence".*object/ },
    { name: 'extra field', purpose: 'training', policy: { kind: 'days', days: 90, date: EVAL }, re: /"training".*unexpected field "date"/ },
    { name: 'unknown purpose', purpose: 'marketing', policy: { kind: 'days', days: 30 }, re: /"marketing".*unknown purpose/ },
  ];
  for (const r of rows) {
    assert.throws(() => checkRetention(r.purpose, r.policy), rvRetention(r.re), r.name);
    if (r.purpose !== 'marketing') assert.throws(() => validateRetention({ ...defaultRetention(), [r.purpose]: r.policy }), rvRetention(r.re), `${r.name} (set)`);
  }
  const { evidence: _e, ...missing } = defaultRetention();
  assert.throws(() => validateRetention(missing), rvRetention(/"evidence".*missing/));
  assert.throws(() => validateRetention({ ...defaultRetention(), marketing: { kind: 'days', days: 30 } }), rvRetention(/"marketing".*unknown purpose/));
  assert.throws(() => validateRetention([]), rvRetention(/one policy per purpose/));
});

test('valid policies pass and come back clean', () => {
  const rows: { purpose: string; policy: unknown }[] = [
    { purpose: 'legal-obligation', policy: { kind: 'days', days: 2557 } },
    { purpose: 'legal-obligation', policy: { kind: 'days', days: 1826 } },
    { purpose: 'training', policy: { kind: 'days', days: 1 } },
    { purpose: 'evaluation', policy: { kind: 'until-date' } },
    { purpose: 'evaluation', policy: { kind: 'until-date', date: EVAL } },
    { purpose: 'evidence', policy: { kind: 'until-released' } },
    { purpose: 'evidence', policy: { kind: 'until-released', reviewEvery: 30 } },
    { purpose: 'complaint', policy: { kind: 'until-released' } },
  ];
  for (const r of rows) assert.deepEqual(checkRetention(r.purpose, r.policy), r.policy, JSON.stringify(r));
});

test('erasure request, as a table', () => {
  const LO_END = T0 + 1826 * D;
  const rows: { name: string; purposes: string[]; holds?: string[]; now: number; synced?: boolean; numberHolds?: boolean; policy?: Partial<RetentionPolicies>; erase: boolean; re: RegExp }[] = [
    { name: 'complaint only', purposes: ['complaint'], now: T0 + D, erase: true, re: /no legal obligation or legal hold/ },
    { name: 'training and evaluation', purposes: ['training', 'evaluation'], now: T0 + D, erase: true, re: /no legal obligation/ },
    { name: 'evidence without hold', purposes: ['evidence'], now: T0 + D, erase: true, re: /no legal obligation/ },
    { name: 'legal obligation running', purposes: ['legal-obligation'], now: T0 + D, erase: false, re: /^legal obligation: kept until 2031-01-01T00:00:00.000Z$/ },
    { name: 'legal obligation beside other purposes', purposes: ['complaint', 'legal-obligation'], now: T0 + D, erase: false, re: /legal obligation: kept until/ },
    { name: 'legal obligation one ms before its end', purposes: ['legal-obligation'], now: LO_END - 1, erase: false, re: /legal obligation/ },
    { name: 'legal obligation exactly ended', purposes: ['legal-obligation'], now: LO_END, erase: true, re: /no legal obligation/ },
    { name: 'legal obligation extended to 7 years', purposes: ['legal-obligation'], policy: { 'legal-obligation': { kind: 'days', days: 2557 } }, now: LO_END, erase: false, re: /kept until 2033-01-01/ },
    { name: 'legal obligation, clock unsynced', purposes: ['legal-obligation'], now: LO_END + D, synced: false, erase: false, re: /legal obligation: kept until .*not synchronised/ },
    { name: 'unsynced clock, no obligation', purposes: ['complaint'], now: T0, synced: false, erase: true, re: /no legal obligation/ },
    { name: 'legal hold', purposes: ['complaint'], holds: ['H-42'], now: T0 + D, erase: false, re: /^legal hold: H-42$/ },
    { name: 'two legal holds', purposes: ['training'], holds: ['H1', 'H2'], now: T0 + D, erase: false, re: /^legal hold: H1, H2$/ },
    { name: 'hold on the number', purposes: ['training'], numberHolds: true, now: T0 + D, erase: false, re: /legal hold: hold on the number/ },
    { name: 'hold and legal obligation: hold named', purposes: ['legal-obligation'], holds: ['H1'], now: T0 + D, erase: false, re: /legal hold: H1/ },
    { name: 'hold after legal obligation ended', purposes: ['legal-obligation'], holds: ['H1'], now: LO_END + D, erase: false, re: /legal hold: H1/ },
  ];
  for (const r of rows) {
    const d = erasureDecision(
      { keptAt: T0, purposes: r.purposes, holds: r.holds ?? [] },
      { now: r.now, clockSynced: r.synced ?? true, numberHolds: r.numberHolds, policy: r.policy ? withPolicy(r.policy) : undefined },
    );
    assert.equal(d.erase, r.erase, r.name);
    assert.match(d.reason, r.re, r.name);
  }
});

test('free space forecast, as a table', () => {
  const GB = 1e9;
  const rows: { freeBytes: number; bytesPerHour: number; hoursWanted: number; ok: boolean; hoursLeft: number }[] = [
    { freeBytes: 100 * GB, bytesPerHour: 1 * GB, hoursWanted: 48, ok: true, hoursLeft: 100 },
    { freeBytes: 48 * GB, bytesPerHour: 1 * GB, hoursWanted: 48, ok: true, hoursLeft: 48 },
    { freeBytes: 48 * GB - 1, bytesPerHour: 1 * GB, hoursWanted: 48, ok: false, hoursLeft: 47 },
    { freeBytes: 0, bytesPerHour: 1 * GB, hoursWanted: 1, ok: false, hoursLeft: 0 },
    { freeBytes: 0, bytesPerHour: 1 * GB, hoursWanted: 0, ok: true, hoursLeft: 0 },
    { freeBytes: 10 * GB, bytesPerHour: 0, hoursWanted: 1000, ok: true, hoursLeft: Infinity },
  ];
  for (const r of rows) {
    assert.deepEqual(freeSpaceForecast(r), { ok: r.ok, hoursLeft: r.hoursLeft }, JSON.stringify(r));
  }
  for (const bad of [{ freeBytes: -1, bytesPerHour: 1, hoursWanted: 1 }, { freeBytes: 1, bytesPerHour: Number.NaN, hoursWanted: 1 }, { freeBytes: 1, bytesPerHour: 1, hoursWanted: Infinity }]) {
    assert.throws(() => freeSpaceForecast(bad), rvRetention(/Free space forecast/), JSON.stringify(bad));
  }
});

test('the rules read no clock', async () => {
  const { readFile } = await import('node:fs/promises');
  for (const f of ['src/retention/rules.ts', 'src/retention/policy.ts']) {
    const src = await readFile(new URL(`../${f}`, import.meta.url), 'utf8');
    assert.doesNotMatch(src, /Date\.now|performance\.now|new Date\(\)/, f);
  }
});
