// Purposes per role over real HTTP against the running appliance: a reviewer cannot see, open or play a
// complaint recording; a manager can; the matrix is a setting; staff see their own kept calls without audio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, keepSimCall, logIn, setUpBox, startAppliance } from './helpers/appliance.ts';

const PASS = 'correct horse battery staple';

test('roles see only the purposes they are allowed, on list, detail, audio and delete; the matrix is a setting', { timeout: 120_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-purposes-'));
  const box = await startAppliance(dataDir, ['--sim-speed', '1']);
  t.after(async () => { await box.stop(); await rm(dataDir, { recursive: true, force: true }); });
  const admin = await setUpBox(box.url, 'admin', PASS);
  await addUsers(admin, [['mia', 'manager'], ['rik', 'reviewer'], ['sam', 'staff', '201']]);
  const login = (name: string) => logIn(box.url, name);

  const complaint = await keepSimCall(admin, ['complaint'], { caller: '+31201234567', extension: '201' });
  const training = await keepSimCall(admin, ['training'], { caller: '+31207654321', extension: '201' });

  // Line 1 announces complaint and training only: keeping for evaluation is refused with the reason.
  await admin.json('POST', '/api/sim/lines/line1/call', { direction: 'in', caller: '+31200000001', durationSec: 2 });
  await admin.until(async () => (await admin.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1')?.call, 'a live call');
  const unannounced = await admin.request('POST', '/api/lines/line1/save', { purposes: ['evaluation'] });
  assert.equal(unannounced.status, 422);
  const ua = await unannounced.json() as any;
  assert.equal(ua.error.code, 'RV_ERR_PURPOSE_NOT_ANNOUNCED');
  assert.match(ua.error.message, /does not announce evaluation.*Announced: complaint, training/);

  const reviewer = await login('rik');
  const manager = await login('mia');
  const staff = await login('sam');

  const list = await reviewer.json('GET', '/api/calls');
  assert.deepEqual(list.calls.map((c: any) => c.id), [training], 'the complaint recording is not even listed');
  assert.deepEqual(list.allowedPurposes, ['training', 'evaluation']);
  for (const path of [`/api/calls/${complaint}`, `/api/calls/${complaint}/audio.wav`]) {
    const r = await reviewer.request('GET', path);
    assert.equal(r.status, 403, path);
    const body = await r.json() as any;
    assert.equal(body.error.code, 'RV_ERR_PURPOSE_NOT_ALLOWED');
    assert.match(body.error.message, /kept for complaint; your role \(reviewer\) may only see recordings kept for training, evaluation/);
  }
  assert.equal((await reviewer.json('GET', `/api/calls/${training}`)).call.id, training);
  const wav = await reviewer.request('GET', `/api/calls/${training}/audio.wav`);
  assert.equal(wav.status, 200);
  assert.equal(Buffer.from(await wav.arrayBuffer()).subarray(0, 4).toString('latin1'), 'RIFF');

  assert.deepEqual(new Set((await manager.json('GET', '/api/calls')).calls.map((c: any) => c.id)), new Set([complaint, training]));
  assert.deepEqual((await manager.json('GET', `/api/calls/${complaint}`)).call.purposes, ['complaint']);
  const mwav = await manager.request('GET', `/api/calls/${complaint}/audio.wav`);
  assert.equal(mwav.status, 200);
  await mwav.arrayBuffer();

  // The matrix is a setting: give reviewers complaints, take them from managers.
  const bad = await admin.request('PUT', '/api/privacy/settings', { rolePurposes: { admin: ['training'], manager: ['training'], reviewer: ['shopping'] } });
  assert.equal(bad.status, 400);
  const saved = await admin.json('PUT', '/api/privacy/settings', { rolePurposes: { admin: ['training', 'evaluation', 'complaint', 'evidence', 'legal-obligation'], manager: ['training'], reviewer: ['training', 'complaint'] } });
  assert.deepEqual(saved.settings.rolePurposes.reviewer, ['training', 'complaint']);
  assert.equal((await reviewer.json('GET', `/api/calls/${complaint}`)).call.id, complaint);
  const refused = await manager.request('DELETE', `/api/calls/${complaint}`);
  assert.equal(refused.status, 403);
  assert.equal(((await refused.json()) as any).error.code, 'RV_ERR_PURPOSE_NOT_ALLOWED');
  assert.ok((await admin.json('GET', `/api/calls/${complaint}`)).call, 'still there');
  assert.equal((await manager.request('GET', `/api/calls/${complaint}/audio.wav`)).status, 403);

  // Staff: which of their calls were kept and for what, no audio.
  const mine = await staff.json('GET', '/api/mycalls?period=week');
  assert.equal(mine.locked, false);
  assert.deepEqual(mine.calls.map((c: any) => [c.id, c.purposes, c.keptBy]).sort(), [[complaint, ['complaint'], 'user'], [training, ['training'], 'user']].sort());
  assert.ok(mine.calls.every((c: any) => !('caller' in c) && !('called' in c)), 'no numbers in the staff view');
  assert.equal((await staff.request('GET', `/api/calls/${training}/audio.wav`)).status, 403);
  const reviewersOwn = await reviewer.json('GET', '/api/mycalls');
  assert.deepEqual(reviewersOwn.calls, [], 'a user without an extension has no own calls');
});
