// Legal holds against a real vault, archive, catalog and audit log in a temp folder.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from '../src/vault/vault.ts';
import { Archive } from '../src/archive/archive.ts';
import { AuditLog } from '../src/audit/audit.ts';
import { Catalog } from '../src/calls/catalog.ts';
import { HoldStore } from '../src/retention/holds.ts';
import { RetentionScheduler } from '../src/retention/scheduler.ts';
import { erasureDecision } from '../src/retention/rules.ts';
import { DAY_MS, defaultRetention } from '../src/retention/policy.ts';
import type { Log } from '../src/log.ts';

const PASS = 'holds test passphrase';
// Calls are kept "yesterday": the sweep marks (wall clock, like keptAt) must fall after them.
const T0 = Date.now() - DAY_MS;
const NUMBER = '+31201234567';

interface Ctx { root: string; vault: Vault; archive: Archive; catalog: Catalog; audit: AuditLog; store: () => HoldStore; log: Log }

async function withBox(fn: (c: Ctx) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'rv-holds-'));
  const vaultDir = join(root, 'vault');
  await new Vault(vaultDir).init('admin', PASS);
  const vault = new Vault(vaultDir);
  const archive = new Archive({ dir: join(root, 'archive'), vault });
  await archive.open();
  const catalog = new Catalog(archive);
  const audit = new AuditLog(join(root, 'audit.log'), () => T0);
  await audit.open();
  const nop = () => undefined;
  const log: Log = { debug: nop, info: nop, warn: nop, error: nop } as unknown as Log;
  const store = () => new HoldStore({
    path: join(root, 'holds.json'), archive, vault, audit, now: () => T0,
    partiesOf: (id) => { const h = archive.get(id); return h && catalog.unlocked ? catalog.summary(h) : undefined; },
  });
  try {
    await fn({ root, vault, archive, catalog, audit, store, log });
  } finally {
    await audit.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** A finished call kept at `keptAt` (the archive stamps keptAt from Date.now()). */
async function keep(a: Archive, o: { purposes?: string[]; keptAt?: number; caller?: string; called?: string } = {}): Promise<string> {
  const keptAt = o.keptAt ?? T0;
  const now = mock.method(Date, 'now', () => keptAt);
  try {
    const w = await a.beginCall({ line: 'l1', startedAt: keptAt, channels: 1, meta: { caller: o.caller ?? '+31309999999', called: o.called ?? '+31208888888' }, purposes: o.purposes ?? ['training'], keptBy: 'button', clockSynced: true });
    await w.append({ at: keptAt, pcm: Buffer.alloc(1600) });
    return (await w.finish()).id;
  } finally {
    now.mock.restore();
  }
}

const clock = (at: number) => ({ now: () => at, synced: () => true });

test('release needs two different managers: the proposer cannot confirm, a second manager can; every step audited', async () => {
  await withBox(async (c) => {
    const id = await keep(c.archive);
    const s = c.store();
    await s.open();
    const hold = await s.place('anna', { kind: 'call', callId: id, reason: 'Dispute with supplier', caseRef: 'C/13/2026-77' });
    assert.match(hold.id, /^hold-[0-9a-f]{12}$/);
    assert.equal(hold.status, 'active');
    assert.deepEqual(c.archive.get(id)!.holds, [hold.id]);
    assert.equal((await c.archive.verify(id)).ok, true, 'the rewritten header is signed again');

    await assert.rejects(s.confirmRelease('bert', hold.id), { code: 'RV_ERR_NO_RELEASE_PENDING' });
    assert.equal((await s.proposeRelease('anna', hold.id)).status, 'release-proposed');
    await assert.rejects(s.proposeRelease('anna', hold.id), (e: Error & { code?: string }) => e.code === 'RV_ERR_RELEASE_PENDING' && /different manager/.test(e.message));
    await assert.rejects(s.confirmRelease('anna', hold.id), (e: Error & { code?: string }) => e.code === 'RV_ERR_SAME_MANAGER' && /second, different manager/.test(e.message));
    assert.deepEqual(c.archive.get(id)!.holds, [hold.id], 'still held after the refused confirmation');

    const done = await s.confirmRelease('bert', hold.id);
    assert.equal(done.status, 'released');
    assert.equal(done.proposedBy, 'anna');
    assert.equal(done.releasedBy, 'bert');
    assert.deepEqual(c.archive.get(id)!.holds, []);
    await assert.rejects(s.proposeRelease('anna', hold.id), { code: 'RV_ERR_HOLD_RELEASED' });

    const entries = await c.audit.readAll();
    assert.deepEqual(entries.map((e) => [e.actor, e.action]), [
      ['anna', 'hold.place'], ['anna', 'hold.release.propose'], ['anna', 'hold.release.refused'], ['bert', 'hold.release.confirm'],
    ]);
    assert.ok(entries.every((e) => e.target === hold.id));
    assert.deepEqual(await c.audit.verify(), { ok: true, entries: 4 });
  });
});

test('a held call survives the retention run and an erasure decision; once released it expires', async () => {
  await withBox(async (c) => {
    const held = await keep(c.archive, { keptAt: T0 - 200 * DAY_MS });
    const free = await keep(c.archive, { keptAt: T0 - 200 * DAY_MS });
    const s = c.store();
    await s.open();
    const hold = await s.place('anna', { kind: 'call', callId: held, reason: 'Court case', caseRef: 'ECLI:NL:RBAMS:2026:1' });
    const scheduler = new RetentionScheduler({ archive: c.archive, audit: c.audit, clock: clock(T0), log: c.log, policy: defaultRetention, numberHeld: (id) => s.maybeHeld(id) });
    const r = await scheduler.runOnce();
    assert.deepEqual(r.shredded, [free]);
    assert.ok(c.archive.get(held), 'the held call is still there');
    const h = c.archive.get(held)!;
    const erase = erasureDecision(h, { now: T0, clockSynced: true });
    assert.equal(erase.erase, false);
    assert.match(erase.reason, new RegExp(`legal hold: ${hold.id}`));
    await assert.rejects(c.archive.shred(held), { code: 'RV_ERR_ON_HOLD' });

    await s.proposeRelease('anna', hold.id);
    assert.equal((await scheduler.runOnce()).shredded.length, 0, 'a proposed release still holds');
    await s.confirmRelease('bert', hold.id);
    assert.equal(erasureDecision(c.archive.get(held)!, { now: T0, clockSynced: true }).erase, true);
    assert.deepEqual((await scheduler.runOnce()).shredded, [held]);
  });
});

test('a number hold covers every call of the number in any notation, calls kept later while locked, and sealed storage', async () => {
  await withBox(async (c) => {
    const asCaller = await keep(c.archive, { caller: '020-1234567' });
    const asCalled = await keep(c.archive, { caller: '+31301111111', called: '0031201234567' });
    const other = await keep(c.archive, { caller: '+31201234568' });
    const s = c.store();
    await s.open();
    await assert.rejects(s.place('anna', { kind: 'number', number: NUMBER, reason: 'x', caseRef: 'y' }), { code: 'RV_ERR_VAULT_LOCKED' });
    await c.vault.unlock(PASS);
    await c.catalog.unlock();
    await assert.rejects(s.place('anna', { kind: 'number', number: 'call me', reason: 'x', caseRef: 'y' }), { code: 'RV_ERR_BAD_HOLD' });
    await assert.rejects(s.place('anna', { kind: 'number', number: NUMBER, reason: '  ', caseRef: 'y' }), { code: 'RV_ERR_BAD_HOLD' });
    const hold = await s.place('anna', { kind: 'number', number: '020 1234567', reason: 'Claim by Mr Jansen', caseRef: 'Zaak 2026/118' });
    assert.equal(hold.number, NUMBER);
    assert.equal(hold.calls, 2);
    assert.deepEqual(c.archive.get(asCaller)!.holds, [hold.id]);
    assert.deepEqual(c.archive.get(asCalled)!.holds, [hold.id]);
    assert.deepEqual(c.archive.get(other)!.holds, []);

    // Nothing personal in the clear on disk.
    const text = await readFile(join(c.root, 'holds.json'), 'utf8');
    for (const secret of ['1234567', 'Jansen', '2026/118']) assert.ok(!text.includes(secret), `holds.json must not contain ${secret}`);
    assert.ok(!JSON.stringify(await c.audit.readAll()).includes('1234567'), 'the audit log names no number');

    // Locked again: a call of the number kept now is matched from the live parties, through the in-memory index.
    c.vault.lock();
    c.catalog.lock();
    const later = await keep(c.archive, { caller: NUMBER });
    assert.deepEqual(await s.onKept(later, { caller: NUMBER }), [hold.id]);
    assert.deepEqual(c.archive.get(later)!.holds, [hold.id]);
    const notHeld = await keep(c.archive, { caller: '+31209999999' });
    assert.deepEqual(await s.onKept(notHeld, { caller: '+31209999999' }), []);
    assert.equal(s.maybeHeld(notHeld), false, 'checked at keep time');
    const listed = await s.list();
    assert.equal(listed[0]!.sealed, true, 'locked: reason and number are not shown');
    assert.equal(listed[0]!.number, undefined);

    // After a restart the box does not know the number until an unlock: a call kept meanwhile is "maybe held".
    const s2 = c.store();
    await s2.open();
    const keptWhileLocked = await keep(c.archive, { caller: '0201234567', keptAt: Date.now() + 1000 });
    assert.deepEqual(await s2.onKept(keptWhileLocked, { caller: '0201234567' }), []);
    assert.equal(s2.maybeHeld(keptWhileLocked), true);
    const scheduler = new RetentionScheduler({ archive: c.archive, audit: c.audit, clock: clock(T0 + 400 * DAY_MS), log: c.log, policy: defaultRetention, numberHeld: (id) => s2.maybeHeld(id) });
    const run = await scheduler.runOnce();
    assert.ok(!run.shredded.includes(keptWhileLocked), 'retention keeps a call it could not check');
    assert.ok(run.shredded.includes(notHeld), 'an unheld, checked, expired call goes');
    await c.vault.unlock(PASS);
    await c.catalog.unlock();
    assert.deepEqual(await s2.sweep(), { applied: 1 });
    assert.deepEqual(c.archive.get(keptWhileLocked)!.holds, [hold.id]);
    const reread = (await s2.list())[0]!;
    assert.deepEqual([reread.sealed, reread.reason, reread.caseRef, reread.number, reread.calls], [false, 'Claim by Mr Jansen', 'Zaak 2026/118', NUMBER, 4]);
  });
});

test('open() finishes a release a power cut interrupted and puts back a call hold missing from its header', async () => {
  await withBox(async (c) => {
    const a = await keep(c.archive);
    const b = await keep(c.archive);
    const s = c.store();
    await s.open();
    const ha = await s.place('anna', { kind: 'call', callId: a, reason: 'r', caseRef: 'c' });
    const hb = await s.place('anna', { kind: 'call', callId: b, reason: 'r', caseRef: 'c' });
    await s.proposeRelease('anna', ha.id);
    await s.confirmRelease('bert', ha.id);
    // As if the power failed between the file write and the header rewrites (and a header lost its hold).
    await c.archive.updateHeader(a, { holds: [ha.id] });
    await c.archive.updateHeader(b, { holds: [] });
    const again = c.store();
    await again.open();
    assert.deepEqual(c.archive.get(a)!.holds, []);
    assert.deepEqual(c.archive.get(b)!.holds, [hb.id]);
    assert.deepEqual(again.activeOn(b), [hb.id]);
  });
});

test('the confirming manager must be independent of the proposer, as a table', async () => {
  const { independenceProblem } = await import('../src/retention/holds.ts');
  const P = 1_000_000;
  const rows: [string, Parameters<typeof independenceProblem>[3], string | undefined][] = [
    ['bert', { createdAt: P - 1, createdBy: 'admin' }, undefined],
    ['bert', { createdAt: P - 1 }, undefined],
    ['anna', { createdAt: P - 1, createdBy: 'admin' }, 'same manager'],
    ['bert', undefined, 'unknown account'],
    ['bert', { createdAt: P, createdBy: 'admin' }, 'account made after the proposal'],
    ['bert', { createdAt: P + 5, createdBy: 'carl' }, 'account made after the proposal'],
    ['bert', { createdAt: P - 1, createdBy: 'anna' }, 'account made by the proposer'],
    ['bert', { createdAt: P - 1, createdBy: 'admin', changedBy: ['carl', 'anna'] }, 'account changed by the proposer'],
    ['bert', { createdAt: P - 1, createdBy: 'admin', changedBy: ['carl'] }, undefined],
  ];
  for (const [actor, acct, want] of rows) assert.equal(independenceProblem(actor, 'anna', P, acct), want, `${actor} ${JSON.stringify(acct)}`);
});
