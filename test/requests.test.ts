import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from '../src/vault/vault.ts';
import { RequestRegister, deadlineOf, isOverdue } from '../src/requests/register.ts';
import { Box } from '../src/box.ts';
import { buildApp, type App } from '../src/http/app.ts';
import { parseConfig } from '../src/config/load.ts';
import { silentLog } from '../src/log.ts';
import { verifyExport } from '../src/export/verify.ts';
import { ROOT } from './helpers/appliance.ts';

const PASS = 'requests test passphrase';
const NUMBER = '+31612345678';
const DAY = 86_400_000;

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await allFiles(p)));
    else out.push(p);
  }
  return out;
}

test('deadline is one calendar month after receipt; overdue only while open or in progress', () => {
  const table: [string, string][] = [
    ['2026-01-15', '2026-02-15'], ['2026-01-31', '2026-02-28'], ['2028-01-31', '2028-02-29'], ['2026-03-31', '2026-04-30'],
    ['2026-12-15', '2027-01-15'], ['2026-08-31', '2026-09-30'], ['2026-02-28', '2026-03-28'],
  ];
  for (const [received, deadline] of table) assert.equal(deadlineOf(received), deadline, received);
  assert.throws(() => deadlineOf('2026-02-30'), { code: 'RV_ERR_BAD_REQUEST_ENTRY' });
  assert.throws(() => deadlineOf('15-01-2026'), { code: 'RV_ERR_BAD_REQUEST_ENTRY' });
  assert.equal(isOverdue({ status: 'open', deadline: '2026-02-15' }, '2026-02-15'), false, 'the deadline day itself is on time');
  assert.equal(isOverdue({ status: 'open', deadline: '2026-02-15' }, '2026-02-16'), true);
  assert.equal(isOverdue({ status: 'in-progress', deadline: '2026-02-15' }, '2026-03-01'), true);
  assert.equal(isOverdue({ status: 'done', deadline: '2026-02-15' }, '2026-03-01'), false);
  assert.equal(isOverdue({ status: 'rejected', deadline: '2026-02-15' }, '2026-03-01'), false);
});

test('register: added while locked, nothing personal in the clear on disk, durable across a restart, readable after unlock', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-requests-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const vault = new Vault(join(dir, 'vault'));
  await vault.init('admin', PASS);
  vault.lock();
  let now = Date.UTC(2026, 10, 23, 10);
  const reg = new RequestRegister({ dir: join(dir, 'requests'), vault, now: () => now });
  await reg.open();
  const a = await reg.create({ kind: 'access', received: '2026-10-01', subject: { numbers: [NUMBER, '020 123 4567'] }, name: 'Jansen-de Vries', details: 'belde over factuur', handledBy: 'mia' });
  const b = await reg.create({ kind: 'erasure', received: '2026-11-20', subject: { extension: '4711' }, handledBy: 'mia' });
  assert.equal(a.deadline, '2026-11-01');
  assert.equal(a.overdue, true, 'received October 1st, open on November 23rd');
  assert.equal(b.overdue, false);
  assert.deepEqual(reg.summary(), { open: 2, overdue: 1 });

  const files = await allFiles(join(dir, 'requests'));
  assert.equal(files.length, 2);
  const needles = [NUMBER, '612345678', '1234567', 'Jansen', 'factuur', '4711', 'mia'].map((s) => Buffer.from(s));
  for (const f of files) {
    const bytes = await readFile(f);
    for (const n of needles) assert.equal(bytes.indexOf(n), -1, `${f} holds "${n}" in the clear`);
    const j = JSON.parse(bytes.toString());
    assert.deepEqual(Object.keys(j).sort(), ['createdAt', 'deadline', 'epoch', 'id', 'kind', 'received', 'sealed', 'status', 'updatedAt', 'v']);
  }
  // Locked: the plain fields only, and the personal part cannot be changed.
  assert.equal((await reg.list(false))[0]!.personal, undefined);
  await assert.rejects(reg.get(a.id, true), { code: 'RV_ERR_VAULT_LOCKED' });
  await assert.rejects(reg.update(a.id, { personal: (p) => ({ ...p, outcome: 'x' }) }), { code: 'RV_ERR_VAULT_LOCKED' });
  const st = await reg.update(b.id, { status: 'in-progress' });
  assert.equal(st.status, 'in-progress', 'status is plain and changes while locked');

  // A power cut mid-write leaves a temp file, which the next open removes; damaged files are reported, not fatal.
  await writeFile(join(dir, 'requests', `${a.id}.json.1234.tmp`), '{"half":');
  await writeFile(join(dir, 'requests', 'RQ-20261123-abcdef.json'), 'not json');
  now += 40 * DAY;
  const again = new RequestRegister({ dir: join(dir, 'requests'), vault, now: () => now });
  await again.open();
  assert.deepEqual(again.damaged, ['RQ-20261123-abcdef.json']);
  assert.ok(!(await readdir(join(dir, 'requests'))).some((n) => n.endsWith('.tmp')), 'temp file removed');
  assert.deepEqual((await again.list(false)).map((r) => [r.id, r.status, r.overdue]), [[a.id, 'open', true], [b.id, 'in-progress', true]]);
  await vault.unlock(PASS);
  const opened = await again.get(a.id, true);
  assert.deepEqual(opened.personal, { subject: { kind: 'customer', numbers: [NUMBER, '020 123 4567'] }, name: 'Jansen-de Vries', details: 'belde over factuur', handledBy: 'mia' });
  assert.deepEqual((await again.get(b.id, true)).personal?.subject, { kind: 'staff', extension: '4711' });
  const done = await again.update(a.id, { status: 'done', personal: (p) => ({ ...p, outcome: 'bundel overhandigd' }) });
  assert.equal(done.overdue, false);
  assert.equal((await new RequestRegister({ dir: join(dir, 'requests'), vault, now: () => now }).get(a.id, true).catch(() => undefined)), undefined, 'a register that was not opened knows nothing');

  // An edited sealed part is refused, not misread.
  const path = join(dir, 'requests', `${a.id}.json`);
  const j = JSON.parse(await readFile(path, 'utf8'));
  const raw = Buffer.from(j.sealed, 'base64');
  raw[raw.length - 1]! ^= 1;
  await writeFile(path, JSON.stringify({ ...j, sealed: raw.toString('base64') }));
  const third = new RequestRegister({ dir: join(dir, 'requests'), vault, now: () => now });
  await third.open();
  await assert.rejects(third.get(a.id, true), { code: 'RV_ERR_REQUEST_DAMAGED' });

  for (const bad of [
    { kind: 'access' as const, received: '2026-11-01', subject: {} },
    { kind: 'access' as const, received: '2026-11-01', subject: { numbers: [NUMBER], extension: '12' } },
    { kind: 'access' as const, received: '2026-11-01', subject: { numbers: ['bel me'] } },
    { kind: 'access' as const, received: '2099-01-01', subject: { numbers: [NUMBER] } },
    { kind: 'note' as const, received: '2026-11-01', subject: { numbers: [NUMBER] } },
  ]) await assert.rejects(again.create({ ...bad, handledBy: 'mia' }), { code: 'RV_ERR_BAD_REQUEST_ENTRY' }, JSON.stringify(bad));
});

/** In-process box and app; inject() with cookies and the CSRF token like a browser. */
async function harness(t: { after(fn: () => Promise<void>): void }) {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-requests-http-'));
  const box = await Box.open({ config: parseConfig({ dataDir, sim: { speed: 50 } }, 'test'), log: silentLog, clock: { now: Date.now, synced: () => true }, speechDir: join(ROOT, 'assets/speech') });
  const app = await buildApp(box, { webDir: join(ROOT, 'web'), tls: false, loginsPerMinute: 50, sessionHours: 1, version: 'test' });
  t.after(async () => { await app.close(); await box.close(); await rm(dataDir, { recursive: true, force: true }); });
  return { box, app, dataDir };
}

class Agent {
  cookies = new Map<string, string>();
  csrf = '';
  constructor(private readonly app: App) {}
  async req(method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, body?: unknown, csrf = true) {
    if (!this.csrf && method !== 'GET') await this.state();
    const headers: Record<string, string> = {};
    if (method !== 'GET' && csrf) headers['x-csrf-token'] = this.csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.app.inject({ method, url, headers, cookies: Object.fromEntries(this.cookies), payload: body === undefined ? undefined : JSON.stringify(body) });
    for (const c of res.cookies as { name: string; value: string }[]) this.cookies.set(c.name, c.value);
    return { status: res.statusCode, json: () => res.json(), raw: res.rawPayload, headers: res.headers };
  }
  async state() { const r = await this.req('GET', '/api/state'); this.csrf = r.json().csrfToken; }
  async ok(method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, body?: unknown) {
    const r = await this.req(method, url, body);
    assert.equal(r.status, 200, `${method} ${url}: ${r.raw.toString()}`);
    return r.json();
  }
}

test('HTTP: managers only, CSRF; note, restriction (blocks playback and export), access export with progress and download, erasure with reasons', async (t) => {
  const h = await harness(t);
  const admin = new Agent(h.app);
  await admin.state();
  await admin.ok('POST', '/api/setup', { username: 'admin', passphrase: PASS, claimCode: h.box.claim?.code });
  await admin.state();
  await admin.ok('POST', '/api/users', { username: 'rik', passphrase: 'rik-passphrase', role: 'reviewer' });
  // Four calls of the customer (one kept for a legal obligation, one held), one of someone else.
  const ids: string[] = [];
  const T = Date.now() - 3 * DAY;
  for (const [i, x] of [[NUMBER, ['complaint']], [NUMBER, ['legal-obligation']], ['0612345678', ['training']], [NUMBER, ['complaint']], ['+31611111111', ['complaint']]].entries()) {
    const w = await h.box.archive.beginCall({ line: 'line1', startedAt: T + i * 60_000, channels: 2, meta: { direction: 'in', caller: x[0] as string, called: '0201234567', extension: i === 4 ? '21' : '22' }, purposes: x[1] as string[], keptBy: 'button', clockSynced: true });
    await w.append({ at: T + i * 60_000, pcm: Buffer.alloc(3200, i + 1) });
    await w.finish();
    await h.box.catalog.refresh(w.id);
    ids.push(w.id);
  }
  await h.box.archive.updateHeader(ids[3]!, { holds: ['hold-0123456789ab'] });

  const anon = new Agent(h.app);
  assert.equal((await anon.req('GET', '/api/requests')).status, 401);
  const rik = new Agent(h.app);
  await rik.state();
  assert.equal((await rik.req('POST', '/api/login', { username: 'rik', passphrase: 'rik-passphrase' })).status, 200);
  assert.equal((await rik.req('GET', '/api/requests')).status, 403, 'a reviewer does not see the register');
  assert.equal((await admin.req('POST', '/api/requests', { kind: 'access', received: '2026-11-01', numbers: [NUMBER] }, false)).status, 403, 'CSRF token required');
  assert.equal((await admin.req('POST', '/api/requests', { kind: 'access', received: '2026-11-01', numbers: [NUMBER], extra: 1 })).status, 400, 'unknown fields refused');
  const badNumber = await admin.req('POST', '/api/requests', { kind: 'access', received: '2026-11-01', numbers: ['bel me'] });
  assert.equal(badNumber.status, 422);
  assert.match(badNumber.json().error.message, /not a phone number/);

  const today = new Date().toISOString().slice(0, 10);
  const mk = async (body: object) => (await admin.ok('POST', '/api/requests', { received: today, ...body })).request;

  // Note: attached to every recording of the number, sealed, and part of later exports.
  const note = await mk({ kind: 'note', numbers: ['06 12345678'], note: 'Klant betwist het gesprek van 3 nov.' });
  const noted = await admin.ok('POST', `/api/requests/${note.id}/act`, {});
  assert.equal(noted.request.status, 'done');
  assert.deepEqual(noted.request.personal.results.map((r: any) => r.callId).sort(), ids.slice(0, 4).sort());
  assert.deepEqual((await h.box.archive.meta(ids[0]!)).notes, [{ at: (await h.box.archive.meta(ids[0]!) as any).notes[0].at, text: 'Klant betwist het gesprek van 3 nov.', request: note.id }]);
  assert.equal((await h.box.archive.meta(ids[4]!)).notes, undefined, 'someone else\'s call untouched');

  // Restriction blocks playback and export; lifting clears it.
  const restrict = await mk({ kind: 'restriction', numbers: [NUMBER] });
  await admin.ok('POST', `/api/requests/${restrict.id}/act`, {});
  assert.equal(h.box.archive.get(ids[0]!)!.restricted, true);
  const play = await admin.req('GET', `/api/calls/${ids[0]}/audio.wav`);
  assert.equal(play.status, 403);
  assert.equal(play.json().error.code, 'RV_ERR_RESTRICTED');
  const access = await mk({ kind: 'access', numbers: [NUMBER] });
  const blocked = await admin.req('POST', `/api/requests/${access.id}/act`, { lang: 'en' });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.json().error.code, 'RV_ERR_RESTRICTED');
  const lifted = await admin.ok('POST', `/api/requests/${restrict.id}/act`, { lift: true });
  assert.ok(lifted.request.personal.results.every((r: any) => r.action === 'lifted'));
  assert.equal(h.box.archive.get(ids[0]!)!.restricted, false);
  assert.equal((await admin.req('GET', `/api/calls/${ids[0]}/audio.wav`)).status, 200);

  // Access: an export job with progress, then a download that verifies.
  const started = await admin.ok('POST', `/api/requests/${access.id}/act`, { lang: 'en' });
  assert.equal(started.request.status, 'in-progress');
  assert.match(started.job.id, /^ex-[0-9a-f]{16}$/);
  let job = started.job;
  for (let i = 0; i < 200 && job.state === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 25));
    job = (await admin.ok('GET', `/api/exports/${job.id}`)).job;
  }
  assert.equal(job.state, 'done', JSON.stringify(job));
  assert.equal(job.progress.filesDone, job.progress.filesTotal);
  assert.equal((await rik.req('GET', `/api/exports/${job.id}/download`)).status, 403);
  const dl = await admin.req('GET', `/api/exports/${job.id}/download`);
  assert.equal(dl.status, 200);
  assert.match(String(dl.headers['content-disposition']), new RegExp(`attachment; filename="ringvault-${access.id}.zip"`));
  const zip = join(h.dataDir, 'dl.zip');
  await writeFile(zip, dl.raw);
  const v = await verifyExport(zip, { boxPublicKey: await h.box.vault.signPublicKey() });
  assert.deepEqual(v.problems, []);
  assert.equal(v.calls, 4);
  assert.equal(v.request, access.id);
  // On disk the bundle waiting for download is encrypted: no WAV or zip header in the clear.
  for (const f of await allFiles(join(h.dataDir, 'exports.tmp'))) {
    const bytes = await readFile(f);
    assert.equal(bytes.indexOf(Buffer.from('RIFF')), -1, `${f} holds a WAV in the clear`);
    assert.equal(bytes.indexOf(Buffer.from('PK\x03\x04', 'latin1')), -1, `${f} holds a zip in the clear`);
  }
  const afterAccess = (await admin.ok('GET', `/api/requests/${access.id}`)).request;
  assert.equal(afterAccess.status, 'done');

  // Erasure: all but the held and the legal-obligation recording go, each with its reason.
  const erasure = await mk({ kind: 'erasure', numbers: [NUMBER] });
  const erased = await admin.ok('POST', `/api/requests/${erasure.id}/act`, {});
  const byId = Object.fromEntries(erased.request.personal.results.map((r: any) => [r.callId, r]));
  assert.equal(byId[ids[0]!].action, 'erased');
  assert.equal(byId[ids[2]!].action, 'erased');
  assert.equal(byId[ids[1]!].action, 'kept');
  assert.match(byId[ids[1]!].reason, /^legal obligation: kept until \d{4}-/);
  assert.equal(byId[ids[3]!].action, 'kept');
  assert.match(byId[ids[3]!].reason, /^legal hold: hold-0123456789ab/);
  assert.equal(h.box.archive.get(ids[0]!), undefined);
  assert.ok(h.box.archive.get(ids[1]!) && h.box.archive.get(ids[3]!) && h.box.archive.get(ids[4]!));

  const list = await admin.ok('GET', '/api/requests');
  assert.equal(list.requests.length, 4);
  assert.deepEqual(list.summary, { open: 0, overdue: 0 });
  const audit = (await admin.ok('GET', '/api/audit?limit=500')).entries;
  for (const action of ['request.create', 'request.act', 'call.note', 'call.restrict', 'call.unrestrict', 'export.download', 'call.delete']) {
    assert.ok(audit.some((e: any) => e.action === action), `${action} audited`);
  }
  assert.ok(!JSON.stringify(audit).includes('612345678'), 'no number in the audit log');
  const old = await mk({ kind: 'access', numbers: ['0207654321'], received: new Date(Date.now() - 40 * DAY).toISOString().slice(0, 10) });
  assert.equal(old.overdue, true);
  assert.deepEqual(await admin.ok('GET', '/api/requests/summary'), { open: 1, overdue: 1 });
  const rejected = await admin.ok('PATCH', `/api/requests/${old.id}`, { status: 'rejected', outcome: 'Geen opnamen; verzoeker niet geïdentificeerd.' });
  assert.equal(rejected.request.personal.outcome, 'Geen opnamen; verzoeker niet geïdentificeerd.');
  assert.deepEqual(await admin.ok('GET', '/api/requests/summary'), { open: 0, overdue: 0 });

  // A staff member's request by extension reaches only their calls.
  const staff = await mk({ kind: 'restriction', extension: '21' });
  const staffDone = await admin.ok('POST', `/api/requests/${staff.id}/act`, {});
  assert.deepEqual(staffDone.request.personal.results.map((r: any) => r.callId), [ids[4]]);
  assert.equal(h.box.archive.get(ids[4]!)!.restricted, true);
  assert.equal(h.box.archive.get(ids[1]!)!.restricted, false);

  // Purpose binding: a manager whose role may only use training recordings cannot hand over complaint ones.
  await admin.ok('POST', '/api/users', { username: 'mia', passphrase: 'mia-passphrase', role: 'manager' });
  await admin.ok('PUT', '/api/privacy/settings', { rolePurposes: { admin: ['training', 'evaluation', 'complaint', 'evidence', 'legal-obligation'], manager: ['training'], reviewer: ['training'] } });
  const mia = new Agent(h.app);
  await mia.state();
  assert.equal((await mia.req('POST', '/api/login', { username: 'mia', passphrase: 'mia-passphrase' })).status, 200);
  await mia.state();
  const bound = (await mia.ok('POST', '/api/requests', { kind: 'access', received: today, numbers: [NUMBER] })).request;
  const refused = await mia.req('POST', `/api/requests/${bound.id}/act`, {});
  assert.equal(refused.status, 403);
  assert.equal(refused.json().error.code, 'RV_ERR_PURPOSE_NOT_ALLOWED');
  assert.match(refused.json().error.message, /ask an administrator/);
  assert.equal((await mia.ok('GET', `/api/requests/${bound.id}`)).request.status, 'open', 'nothing happened');
  await admin.ok('PATCH', `/api/requests/${bound.id}`, { status: 'rejected' });

  // Locked: the list shows dates and status, no personal fields; acting needs the unlock.
  await admin.ok('POST', '/api/lock', {});
  const locked = await admin.ok('GET', '/api/requests');
  assert.equal(locked.locked, true);
  assert.ok(locked.requests.every((r: any) => r.personal === undefined));
  assert.equal((await admin.req('POST', `/api/requests/${old.id}/act`, {})).status, 423);
});
