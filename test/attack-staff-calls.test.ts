// Attack (issue 10, item 6): a staff member (or a curious reviewer) reads the other party's number and the digits a
// customer keyed (a card number, a PIN) from the calls API of the running appliance. Staff get only what My calls
// shows and cannot search by number; keyed digits are stored masked (count and times) unless the line keeps them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, keepSimCall, logIn, setUpBox, startAppliance } from './helpers/appliance.ts';

const PASS = 'correct horse battery staple';
const CARD = '4929531776';
const ORDER = '80417369';
const CUSTOMER = '+31201234567';
const STAFF_FIELDS = new Set(['id', 'line', 'startedAt', 'durationMs', 'direction', 'purposes', 'keptBy', 'held']);

/** Every file under `dir`, as raw bytes. */
async function allBytes(dir: string): Promise<Buffer> {
  const names = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  return Buffer.concat(await Promise.all(names.map((e) => readFile(join(e.parentPath, e.name)).catch(() => Buffer.alloc(0)))));
}

test('staff see only their own calls as My calls shows them; keyed digits are masked unless the line keeps them', { timeout: 180_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-attack-staff-'));
  const box = await startAppliance(dataDir, ['--sim-speed', '1']);
  t.after(async () => { await box.stop(); await rm(dataDir, { recursive: true, force: true }); });
  const admin = await setUpBox(box.url, 'admin', PASS);
  await addUsers(admin, [['sam', 'staff', '201'], ['rik', 'reviewer']]);

  // A customer keys a card number during a call on a line with the default setting (digits not kept).
  const masked = await keepSimCall(admin, ['training'], { caller: CUSTOMER, extension: '201', digits: CARD, durationSec: 4 });
  const reviewer = await logIn(box.url, 'rik');
  const rv = (await reviewer.json('GET', `/api/calls/${masked}`)).call;
  assert.equal(rv.caller, CUSTOMER, 'a reviewer still sees the number');
  assert.equal(rv.digits, undefined, 'the digits are not stored');
  assert.equal(rv.keyed.count, CARD.length);
  assert.equal(rv.keyed.atMs.length, CARD.length);
  assert.ok(rv.keyed.atMs.every((ms: number, i: number, a: number[]) => ms >= 300 && ms <= 4000 && (i === 0 || ms >= a[i - 1]!)), JSON.stringify(rv.keyed.atMs));
  const listed = JSON.stringify(await reviewer.json('GET', '/api/calls'));
  assert.ok(!listed.includes(CARD), 'not in the list either');

  // Staff: their own call, with nothing but My calls' fields, in the list and the detail.
  const sam = await logIn(box.url, 'sam');
  const list = (await sam.json('GET', '/api/calls')).calls;
  assert.deepEqual(list.map((c: any) => c.id), [masked]);
  for (const c of [...list, (await sam.json('GET', `/api/calls/${masked}`)).call, ...(await sam.json('GET', '/api/mycalls')).calls]) {
    const extra = Object.keys(c).filter((k) => !STAFF_FIELDS.has(k));
    assert.deepEqual(extra, [], `staff got ${extra.join(', ')}`);
  }
  // A number search would tell staff who the call was with: refused, not answered.
  const probe = await sam.request('GET', `/api/calls?number=${encodeURIComponent(CUSTOMER)}`);
  assert.equal(probe.status, 403);
  assert.equal((await probe.json() as any).error.code, 'RV_ERR_FORBIDDEN');

  // A reviewer's search by number is audited, without the number.
  await reviewer.json('GET', `/api/calls?number=${encodeURIComponent('020-1234567')}`);
  const audit = (await admin.json('GET', '/api/audit?limit=500')).entries;
  const search = audit.find((e: any) => e.action === 'calls.search' && e.actor === 'rik');
  assert.ok(search, 'the number search is audited');
  assert.ok(!JSON.stringify(audit).includes('1234567'), 'the audit log does not name the number');

  // An order-entry line keeps its digits: reviewers see them, staff still do not.
  await admin.json('PUT', '/api/settings', { lines: [{ id: 'line1', keepDigits: true }] });
  const kept = await keepSimCall(admin, ['training'], { caller: CUSTOMER, extension: '201', digits: ORDER, durationSec: 4 });
  const rk = (await reviewer.json('GET', `/api/calls/${kept}`)).call;
  assert.equal(rk.digits, ORDER);
  assert.equal(rk.keyed.count, ORDER.length);
  const staffSees = JSON.stringify([await sam.json('GET', '/api/calls'), await sam.json('GET', `/api/calls/${kept}`), await sam.json('GET', '/api/mycalls')]);
  assert.ok(!staffSees.includes(ORDER) && !staffSees.includes('1234567'), 'staff never see digits or the number');

  // Nothing on disk holds either digit string in the clear.
  await box.stop();
  const disk = (await allBytes(dataDir)).toString('latin1');
  assert.ok(!disk.includes(CARD) && !disk.includes(ORDER), 'no keyed digits in the clear on disk');
});
