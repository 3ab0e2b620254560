// The one delete path (CallDeleter) against a real vault, archive, catalog, holds and audit log: every kind of hold
// stops it, and what it deletes is gone from the disk, the catalog's memory and is audited, whoever asked.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from '../src/vault/vault.ts';
import { Archive } from '../src/archive/archive.ts';
import { AuditLog } from '../src/audit/audit.ts';
import { Catalog } from '../src/calls/catalog.ts';
import { HoldStore } from '../src/retention/holds.ts';
import { CallDeleter } from '../src/retention/delete-call.ts';
import { RetentionScheduler } from '../src/retention/scheduler.ts';
import { DAY_MS, defaultRetention } from '../src/retention/policy.ts';
import type { Log } from '../src/log.ts';

const PASS = 'delete test passphrase';
const T0 = Date.now() - DAY_MS;
const nop = () => undefined;
const log = { debug: nop, info: nop, warn: nop, error: nop } as unknown as Log;

async function keep(a: Archive, caller: string, keptAt = T0): Promise<string> {
  const now = mock.method(Date, 'now', () => keptAt);
  try {
    const w = await a.beginCall({ line: 'l1', startedAt: keptAt, channels: 1, meta: { caller, called: '+31208888888' }, purposes: ['training'], keptBy: 'button', clockSynced: true });
    await w.append({ at: keptAt, pcm: Buffer.alloc(1600) });
    return (await w.finish()).id;
  } finally {
    now.mock.restore();
  }
}

test('the one delete path (route, erasure, retention): holds and maybe-held calls stay; retention through it leaves no file, no catalog memory, and audits', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'rv-delete-'));
  const vaultDir = join(root, 'vault');
  await new Vault(vaultDir).init('admin', PASS);
  const vault = new Vault(vaultDir);
  await vault.unlock(PASS);
  const archive = new Archive({ dir: join(root, 'archive'), vault });
  await archive.open();
  const catalog = new Catalog(archive);
  const audit = new AuditLog(join(root, 'audit.log'), () => T0);
  await audit.open();
  t.after(async () => { await audit.close(); await rm(root, { recursive: true, force: true }); });
  const holdsOf = () => new HoldStore({
    path: join(root, 'holds.json'), archive, vault, audit, now: () => T0,
    partiesOf: (id) => { const h = archive.get(id); return h && catalog.unlocked ? catalog.summary(h) : undefined; },
  });
  let holds = holdsOf();
  await holds.open();

  const old = await keep(archive, '+31301111111', T0 - 200 * DAY_MS);
  const heldByCall = await keep(archive, '+31302222222', T0 - 200 * DAY_MS);
  await catalog.unlock();
  assert.ok(catalog.holds(old));
  await holds.place('anna', { kind: 'call', callId: heldByCall, reason: 'dispute', caseRef: 'C-1' });
  await holds.place('anna', { kind: 'number', number: '+31205555555', reason: 'claim', caseRef: 'C-2' });

  // A restart: the held number is unknown until the next unlock, so a call kept now is "maybe held".
  holds = holdsOf();
  await holds.open();
  const maybe = await keep(archive, '+31205555555', Date.now() + 1000);
  assert.deepEqual(await holds.onKept(maybe, { caller: '+31205555555' }), []);
  assert.equal(holds.maybeHeld(maybe), true);
  await catalog.refresh(maybe);

  const deleter = new CallDeleter({ archive, catalog, audit, maybeHeld: (id) => holds.maybeHeld(id) });
  await assert.rejects(deleter.delete(maybe, { actor: 'mia', action: 'call.delete' }), (e: Error & { code?: string; status?: number }) =>
    e.code === 'RV_ERR_MAYBE_HELD' && e.status === 409 && /unlock the vault/.test(e.message));
  await assert.rejects(deleter.delete(heldByCall, { actor: 'mia', action: 'call.delete' }), { code: 'RV_ERR_ON_HOLD' });
  await assert.rejects(deleter.delete('20260101T000000-abcdef', { actor: 'mia', action: 'call.delete' }), { code: 'RV_ERR_NO_SUCH_CALL' });
  assert.ok(archive.get(maybe) && archive.get(heldByCall));

  // Retention through the box's deleter: the expired, unheld call goes, and the catalog forgets its numbers.
  const scheduler = new RetentionScheduler({
    archive, audit, clock: { now: () => T0 + 400 * DAY_MS, synced: () => true }, log, policy: defaultRetention,
    numberHeld: (id) => holds.maybeHeld(id), deleter,
  });
  const run = await scheduler.runOnce();
  assert.deepEqual(run.shredded, [old]);
  assert.equal(archive.get(old), undefined);
  assert.equal(catalog.holds(old), false, 'retention made the catalog forget the shredded call');
  assert.deepEqual(catalog.search({ number: '+31301111111' }), []);
  const files = (await readdir(join(root, 'archive'), { recursive: true })).map(String);
  assert.ok(!files.some((f) => f.includes(old)), 'no file of the shredded call is left');
  const entries = await audit.readAll();
  const expired = entries.find((e) => e.action === 'call.expired');
  assert.deepEqual([expired?.actor, expired?.target], ['retention', old]);
  assert.ok(!entries.some((e) => e.target === maybe || (e.action === 'call.delete' && e.target === heldByCall)), 'refused deletes are not audited as deletes');

  // After the unlock sweep the maybe-held call carries the number hold and stays held.
  await holds.sweep();
  assert.equal(archive.get(maybe)!.holds.length, 1);
  await assert.rejects(deleter.delete(maybe, { actor: 'mia', action: 'call.delete' }), { code: 'RV_ERR_ON_HOLD' });

  // A failing audit after the shred is reported as deleted-not-audited, never as kept.
  const free = await keep(archive, '+31306666666');
  await catalog.refresh(free);
  const brokenAudit = { append: () => Promise.reject(new Error('disk full')) };
  const d2 = new CallDeleter({ archive, catalog, audit: brokenAudit, maybeHeld: () => false });
  await assert.rejects(d2.delete(free, { actor: 'mia', action: 'call.delete' }), { code: 'RV_ERR_DELETED_NOT_AUDITED' });
  assert.equal(archive.get(free), undefined);
  assert.equal(catalog.holds(free), false);
});
