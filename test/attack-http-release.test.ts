// Attack (issue 10, item 14): one administrator releases a legal hold alone by making a second manager account
// (or using one they made) and confirming their own release proposal with it. Over HTTP on the running appliance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, logIn, setUpBox, startAppliance } from './helpers/appliance.ts';

const PASS = 'correct horse battery staple';

test('a release is confirmed only by a manager that existed before the proposal and was not made by the proposer', { timeout: 120_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-attack-release-'));
  const box = await startAppliance(dataDir);
  t.after(async () => { await box.stop(); await rm(dataDir, { recursive: true, force: true }); });
  const admin = await setUpBox(box.url, 'admin', PASS);
  await addUsers(admin, [['mia', 'manager']]);
  const hold = (await admin.json('POST', '/api/holds', { kind: 'number', number: '+31205550199', reason: 'Court case', caseRef: 'C/13/2026-9' })).hold;
  const status = async () => (await admin.json('GET', '/api/holds')).holds.find((h: any) => h.id === hold.id).status;
  const refusedWith = async (who: string, re: RegExp) => {
    const c = await logIn(box.url, who);
    const r = await c.request('POST', `/api/holds/${hold.id}/confirm-release`);
    const body = await r.json() as any;
    assert.equal(r.status, 409, `${who}: ${JSON.stringify(body)}`);
    assert.equal(body.error.code, 'RV_ERR_NOT_INDEPENDENT');
    assert.match(body.error.message, re);
    assert.equal(await status(), 'release-proposed', `${who} could not release it`);
  };

  await admin.json('POST', `/api/holds/${hold.id}/propose-release`);
  // A fresh accomplice account, made after the proposal by the proposer.
  await addUsers(admin, [['mallory', 'manager']]);
  await refusedWith('mallory', /made after admin proposed the release/);
  // A manager the proposer made before the proposal is not independent either.
  await refusedWith('mia', /admin, who proposed the release, made your account/);
  // Removing an account and making it again under the same name does not help.
  await admin.json('DELETE', '/api/users/mia');
  await addUsers(admin, [['mia', 'manager']]);
  await refusedWith('mia', /made after admin proposed the release|made your account/);

  const audit = (await admin.json('GET', '/api/audit?limit=500')).entries;
  assert.equal(audit.filter((e: any) => e.action === 'hold.release.refused' && e.target === hold.id).length, 3);
  assert.ok(!audit.some((e: any) => e.action === 'hold.release.confirm'));

  // The honest way round: a manager proposes, the administrator (not made by that manager) confirms.
  await admin.json('POST', `/api/holds/${hold.id}/withdraw-release`);
  const mia = await logIn(box.url, 'mia');
  await mia.json('POST', `/api/holds/${hold.id}/propose-release`);
  const done = await admin.json('POST', `/api/holds/${hold.id}/confirm-release`);
  assert.equal(done.hold.status, 'released');
  assert.equal(done.hold.releasedBy, 'admin');
});
