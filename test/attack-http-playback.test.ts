// Attack (issue 10, item 7): a reviewer downloads a whole recording with `Range: bytes=1-` (or any range not
// starting at 0) to listen without an audit entry. Over HTTP on the running appliance: every session's first
// request touching a recording is audited, whatever its range; opening a call's page is audited too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, keepSimCall, logIn, setUpBox, startAppliance, type Client } from './helpers/appliance.ts';

const PASS = 'correct horse battery staple';

test('a ranged download that skips byte 0 is audited once per call per session; the call page is audited', { timeout: 120_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-attack-play-'));
  const box = await startAppliance(dataDir, ['--sim-speed', '1']);
  t.after(async () => { await box.stop(); await rm(dataDir, { recursive: true, force: true }); });
  const admin = await setUpBox(box.url, 'admin', PASS);
  await addUsers(admin, [['rik', 'reviewer']]);
  const id = await keepSimCall(admin, ['training'], { caller: '+31201234567' });
  const entries = async (action: string) => (await admin.json('GET', '/api/audit?limit=1000')).entries.filter((e: any) => e.action === action && e.target === id && e.actor === 'rik');
  const ranged = async (c: Client, range: string, query = '') => {
    const r = await c.request('GET', `/api/calls/${id}/audio.wav${query}`, undefined, { range });
    assert.equal(r.status, 206, range);
    return { total: Number(r.headers.get('content-range')!.split('/')[1]), bytes: Buffer.from(await r.arrayBuffer()) };
  };

  const rik = await logIn(box.url, 'rik');
  const all = await ranged(rik, 'bytes=1-');
  assert.equal(all.bytes.length, all.total - 1, 'the attacker got all but the first byte');
  assert.ok(all.total > 16_000, 'a real recording');
  assert.equal((await entries('call.play')).length, 1, 'bytes=1- is audited');

  // The same session's further ranges (a player seeking) add nothing.
  await ranged(rik, 'bytes=0-');
  await ranged(rik, 'bytes=5000-9000');
  assert.equal((await entries('call.play')).length, 1);

  // A new session that only ever asks for a middle range or the tail is audited again.
  const rik2 = await logIn(box.url, 'rik');
  await ranged(rik2, 'bytes=8000-');
  const rik3 = await logIn(box.url, 'rik');
  await ranged(rik3, 'bytes=-500');
  assert.equal((await entries('call.play')).length, 3);
  // A download is its own act: audited even when it starts past byte 0.
  await ranged(rik2, 'bytes=44-', '?download=1');
  assert.equal((await entries('call.download')).length, 1);

  // Opening the call's page is recorded too, once per session.
  assert.equal((await entries('call.view')).length, 0);
  await rik.json('GET', `/api/calls/${id}`);
  await rik.json('GET', `/api/calls/${id}`);
  assert.equal((await entries('call.view')).length, 1);
  await rik2.json('GET', `/api/calls/${id}`);
  assert.equal((await entries('call.view')).length, 2);
});
