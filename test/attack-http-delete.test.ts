// Attack (issue 10, item 3): a manager deletes, over HTTP on the running appliance, a call that a legal hold on a
// phone number covers but that the box could not check yet, because it was kept while the vault was locked after a
// restart. The one delete path refuses it ("maybe held"); after an unlock the hold lands on the call and it stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, keepSimCall, logIn, setUpBox, startAppliance, type Appliance } from './helpers/appliance.ts';

const PASS = 'correct horse battery staple';
const HELD = '+31205550123';

test('DELETE /api/calls/:id refuses a call a number hold may cover (kept while locked); an unheld call is deleted and audited', { timeout: 180_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-attack-delete-'));
  let box: Appliance = await startAppliance(dataDir, ['--sim-speed', '1']);
  t.after(async () => { await box.stop(); await rm(dataDir, { recursive: true, force: true }); });
  let admin = await setUpBox(box.url, 'admin', PASS);
  await addUsers(admin, [['mia', 'manager']]);
  const hold = (await admin.json('POST', '/api/holds', { kind: 'number', number: HELD, reason: 'Claim by a customer', caseRef: 'C/13/2026-1' })).hold;
  assert.equal(hold.status, 'active');

  // Restart: the vault is locked, the box does not know the held number until someone unlocks.
  await box.stop();
  box = await startAppliance(dataDir, ['--sim-speed', '1']);
  admin = await logIn(box.url, 'admin', PASS);
  assert.equal((await admin.state()).vault, 'locked');
  const heldCall = await keepSimCall(admin, ['complaint'], { caller: HELD });
  const freeCall = await keepSimCall(admin, ['complaint'], { caller: '+31301234567' });

  const mia = await logIn(box.url, 'mia');
  const refused = await mia.request('DELETE', `/api/calls/${heldCall}`);
  const body = await refused.json() as any;
  assert.equal(refused.status, 409, JSON.stringify(body));
  assert.equal(body.error.code, 'RV_ERR_MAYBE_HELD');
  assert.match(body.error.message, /unlock the vault/);
  assert.ok((await mia.json('GET', '/api/calls')).calls.some((c: any) => c.id === heldCall), 'the call is still there');

  // Unlocked, the box checks every call against the held numbers: the held call now carries the hold.
  await admin.json('POST', '/api/unlock', { secret: PASS });
  const detail = (await mia.json('GET', `/api/calls/${heldCall}`)).call;
  assert.deepEqual(detail.holds, [hold.id]);
  const again = await mia.request('DELETE', `/api/calls/${heldCall}`);
  assert.equal(again.status, 409);
  assert.equal((await again.json() as any).error.code, 'RV_ERR_ON_HOLD');

  // The other call was checked by the sweep and is free: the same route deletes it, and the audit names it.
  const ok = await mia.request('DELETE', `/api/calls/${freeCall}`);
  assert.equal(ok.status, 200, await ok.text());
  const ids = (await mia.json('GET', '/api/calls')).calls.map((c: any) => c.id);
  assert.ok(!ids.includes(freeCall) && ids.includes(heldCall));
  assert.equal((await mia.request('GET', `/api/calls/${freeCall}`)).status, 404);
  const audit = (await admin.json('GET', '/api/audit?limit=500')).entries;
  assert.ok(audit.some((e: any) => e.action === 'call.delete' && e.target === freeCall && e.actor === 'mia'));
  assert.ok(!audit.some((e: any) => e.action === 'call.delete' && e.target === heldCall), 'a refused delete is no delete');
});
