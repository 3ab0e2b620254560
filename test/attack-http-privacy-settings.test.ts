// Attack (issue 10, item 11): a partial PUT /api/privacy/settings (say, a page or script that sends only the
// exclusion list) must not reset the role matrix and retention to their defaults, which would quietly give reviewers
// complaint recordings back and shorten retention. Over HTTP against the running appliance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setUpBox, startAppliance } from './helpers/appliance.ts';

const PASS = 'correct horse battery staple';
const ALL = ['training', 'evaluation', 'complaint', 'evidence', 'legal-obligation'];

test('a partial privacy settings PUT changes only the fields it sends, down to one purpose or one role', { timeout: 120_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-attack-privacy-'));
  const box = await startAppliance(dataDir);
  t.after(async () => { await box.stop(); await rm(dataDir, { recursive: true, force: true }); });
  const admin = await setUpBox(box.url, 'admin', PASS);
  const get = async () => (await admin.json('GET', '/api/privacy/settings')).settings;

  const custom = {
    retention: {
      training: { kind: 'days', days: 30 }, evaluation: { kind: 'days', days: 60 }, complaint: { kind: 'days', days: 365 },
      evidence: { kind: 'until-released', reviewEvery: 30 }, 'legal-obligation': { kind: 'days', days: 2557 },
    },
    rolePurposes: { admin: ALL, manager: ['complaint', 'evidence'], reviewer: ['training'] },
    exclusions: ['+31612345678'],
  };
  await admin.json('PUT', '/api/privacy/settings', custom);
  const before = await get();
  assert.deepEqual(before.rolePurposes, custom.rolePurposes);
  assert.deepEqual(before.retention.training, { kind: 'days', days: 30 });

  // Only the exclusion list: retention and the role matrix stay as they were.
  await admin.json('PUT', '/api/privacy/settings', { exclusions: ['+31612345678', '+31687654321'] });
  let now = await get();
  assert.deepEqual(now.exclusions, ['+31612345678', '+31687654321']);
  assert.deepEqual(now.rolePurposes, custom.rolePurposes, 'the role matrix was not reset');
  assert.deepEqual(now.retention, before.retention, 'retention was not reset');

  // One purpose's retention: the other four stay.
  await admin.json('PUT', '/api/privacy/settings', { retention: { complaint: { kind: 'days', days: 180 } } });
  now = await get();
  assert.deepEqual(now.retention, { ...before.retention, complaint: { kind: 'days', days: 180 } });
  assert.deepEqual(now.exclusions, ['+31612345678', '+31687654321'], 'the exclusion list was not reset');

  // One role's purposes: the other roles stay.
  await admin.json('PUT', '/api/privacy/settings', { rolePurposes: { reviewer: ['training', 'evaluation'] } });
  now = await get();
  assert.deepEqual(now.rolePurposes, { ...custom.rolePurposes, reviewer: ['training', 'evaluation'] });

  // Bad input is still refused with a reason and changes nothing.
  const bad = await admin.request('PUT', '/api/privacy/settings', { retention: { shopping: { kind: 'days', days: 1 } } });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json() as any).error.code, 'RV_ERR_BAD_REQUEST');
  assert.deepEqual(await get(), now);
  // An empty PUT changes nothing either.
  await admin.json('PUT', '/api/privacy/settings', {});
  assert.deepEqual(await get(), now);
});
