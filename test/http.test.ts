import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Box } from '../src/box.ts';
import { buildApp, type App } from '../src/http/app.ts';
import { parseConfig } from '../src/config/load.ts';
import { silentLog } from '../src/log.ts';
import { ROOT } from './helpers/appliance.ts';

const PASS = 'correct horse battery staple';

/** One in-process box + app per test; inject() with a cookie jar and the CSRF token like a browser. */
async function harness(t: { after(fn: () => Promise<void>): void }, loginsPerMinute = 50) {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-http-'));
  const box = await Box.open({ config: parseConfig({ dataDir, sim: { speed: 50 } }, 'test'), log: silentLog, clock: { now: Date.now, synced: () => true }, speechDir: join(ROOT, 'assets/speech') });
  const app = await buildApp(box, { webDir: join(ROOT, 'web'), tls: false, loginsPerMinute, sessionHours: 1, version: 'test' });
  t.after(async () => { await app.close(); await box.close(); await rm(dataDir, { recursive: true, force: true }); });
  return { box, app, agent: () => new Agent(app) };
}

class Agent {
  cookies = new Map<string, string>();
  csrf = '';
  constructor(private readonly app: App) {}
  async req(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, opts: { csrf?: boolean; raw?: string } = {}) {
    if (!this.csrf && method !== 'GET') await this.state();
    const headers: Record<string, string> = {};
    if (method !== 'GET' && opts.csrf !== false) headers['x-csrf-token'] = this.csrf;
    if (opts.raw !== undefined || body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.app.inject({ method, url, headers, cookies: Object.fromEntries(this.cookies), payload: opts.raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    for (const c of res.cookies as { name: string; value: string }[]) this.cookies.set(c.name, c.value);
    return { status: res.statusCode, body: res.body ? (/^application\/json/.test(String(res.headers['content-type'])) ? res.json() : res.body) : undefined, headers: res.headers };
  }
  async state() { const r = await this.req('GET', '/api/state'); this.csrf = r.body.csrfToken; return r.body; }
  async login(username: string, passphrase: string) { await this.state(); const r = await this.req('POST', '/api/login', { username, passphrase }); await this.state(); return r; }
}

async function setUp(h: Awaited<ReturnType<typeof harness>>) {
  const admin = h.agent();
  await admin.state();
  assert.equal((await admin.req('POST', '/api/setup', { username: 'admin', passphrase: PASS, claimCode: h.box.claim?.code })).status, 200);
  await admin.state();
  for (const [name, role, ext] of [['mia', 'manager'], ['rik', 'reviewer'], ['sam', 'staff', '201']] as const) {
    const r = await admin.req('POST', '/api/users', { username: name, passphrase: `${name}-passphrase`, role, ...(ext ? { extension: ext } : {}) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const as = async (name: string) => { const a = h.agent(); assert.equal((await a.login(name, `${name}-passphrase`)).status, 200); return a; };
  return { admin, manager: await as('mia'), reviewer: await as('rik'), staff: await as('sam') };
}

test('no route answers without a login; state, setup and login are the only open doors', async (t) => {
  const h = await harness(t);
  await setUp(h);
  const anon = h.agent();
  await anon.state();
  const routes: [string, string][] = [
    ['GET', '/api/lines'], ['GET', '/api/events'], ['POST', '/api/lines/line1/save'], ['POST', '/api/lines/line1/private'],
    ['POST', '/api/sim/lines/line1/call'], ['POST', '/api/sim/lines/line1/hangup'], ['GET', '/api/calls'], ['GET', '/api/calls/x'],
    ['GET', '/api/calls/x/audio.wav'], ['DELETE', '/api/calls/x'], ['GET', '/api/settings'], ['PUT', '/api/settings'],
    ['GET', '/api/users'], ['POST', '/api/users'], ['DELETE', '/api/users/mia'], ['GET', '/api/audit'], ['POST', '/api/unlock'], ['POST', '/api/lock'], ['POST', '/api/logout'],
  ];
  for (const [m, u] of routes) {
    const r = await anon.req(m as 'GET', u, m === 'GET' ? undefined : {});
    assert.equal(r.status, 401, `${m} ${u} → ${r.status}`);
    assert.equal(r.body.error.code, 'RV_ERR_NOT_LOGGED_IN');
  }
  const setupAgain = await anon.req('POST', '/api/setup', { username: 'evil', passphrase: 'another passphrase' });
  assert.equal(setupAgain.status, 409, 'setup runs once');
});

test('roles are enforced on every route', async (t) => {
  const h = await harness(t);
  const { manager, reviewer, staff } = await setUp(h);
  const deny: [Agent, string, string, unknown?][] = [
    [staff, 'GET', '/api/settings'], [staff, 'GET', '/api/audit'], [staff, 'GET', '/api/calls/x/audio.wav'], [staff, 'DELETE', '/api/calls/x'], [staff, 'POST', '/api/unlock', { secret: PASS }],
    [reviewer, 'DELETE', '/api/calls/x'], [reviewer, 'POST', '/api/lock'], [reviewer, 'PUT', '/api/settings', {}], [reviewer, 'POST', '/api/sim/lines/line1/call', {}],
    [manager, 'GET', '/api/users'], [manager, 'POST', '/api/users', { username: 'x', passphrase: 'xxxxxxxxxx', role: 'admin' }], [manager, 'PUT', '/api/settings', {}], [manager, 'GET', '/api/audit'],
  ];
  for (const [a, m, u, b] of deny) {
    const r = await a.req(m as 'GET', u, b);
    assert.equal(r.status, 403, `${m} ${u} → ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'RV_ERR_FORBIDDEN');
  }
  assert.equal((await staff.req('GET', '/api/lines')).status, 200);
  assert.equal((await reviewer.req('GET', '/api/calls')).status, 200);
  assert.equal((await manager.req('POST', '/api/lock')).status, 200);
});

test('CSRF: a state change without the token is refused and changes nothing', async (t) => {
  const h = await harness(t);
  const { admin } = await setUp(h);
  const r = await admin.req('PUT', '/api/settings', { graceSeconds: 5 }, { csrf: false });
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, 'RV_ERR_CSRF');
  assert.equal(h.box.config().graceSeconds, 120);
});

test('session cookie is HttpOnly and SameSite=Strict', async (t) => {
  const h = await harness(t);
  const a = h.agent();
  await a.state();
  const r = await a.req('POST', '/api/setup', { username: 'admin', passphrase: PASS, claimCode: h.box.claim?.code });
  const set = ([] as string[]).concat(r.headers['set-cookie'] as string[]).find((c) => c.startsWith('rv_session='))!;
  assert.match(set, /HttpOnly/i);
  assert.match(set, /SameSite=Strict/i);
  assert.doesNotMatch(set, /Secure/, 'plain HTTP demo: no Secure flag');
});

test('login is rate limited with a clear error', async (t) => {
  // The limit is per client address; setting up logs in three users from it first.
  const h = await harness(t, 6);
  await setUp(h);
  const a = h.agent();
  await a.state();
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) codes.push((await a.req('POST', '/api/login', { username: 'admin', passphrase: 'wrong one' })).status);
  assert.deepEqual(codes.slice(0, 3), [401, 401, 401]);
  const last = await a.req('POST', '/api/login', { username: 'admin', passphrase: PASS });
  assert.equal(last.status, 429);
  assert.match(last.body.error.message, /wait a minute/);
  const audit = await h.box.audit.readAll();
  assert.ok(audit.filter((e) => e.action === 'login.failed').length >= 3, 'failed logins are audited');
});

test('bad input gets a clear error and changes nothing', async (t) => {
  const h = await harness(t);
  const { admin } = await setUp(h);
  const bad = await admin.req('PUT', '/api/settings', undefined, { raw: '{"graceSeconds": 5,' });
  assert.equal(bad.status, 400);
  assert.ok(bad.body.error.code.startsWith('RV_ERR_'));
  const unknown = await admin.req('PUT', '/api/settings', { lines: [{ id: 'line1', purposes: ['training'] }] });
  assert.equal(unknown.status, 400, 'unknown fields are refused, not dropped');
  const range = await admin.req('PUT', '/api/settings', { graceSeconds: -4 });
  assert.equal(range.status, 400);
  assert.match(range.body.error.message, /graceSeconds/);
  const notAnnounced = await admin.req('PUT', '/api/settings', { lines: [{ id: 'line1', keepPurposes: ['evidence'] }] });
  assert.equal(notAnnounced.status, 422);
  assert.equal(notAnnounced.body.error.code, 'RV_ERR_PURPOSE_NOT_ANNOUNCED');
  assert.equal((await admin.req('GET', '/api/calls?from=yesterday')).status, 400);
  assert.equal((await admin.req('GET', '/api/calls/..%2F..%2Fvault')).status, 400);
  assert.equal(h.box.config().graceSeconds, 120);
  assert.deepEqual(h.box.config().lines[0]!.keepPurposes, ['complaint']);
});

test('partial settings update changes only what was sent, and persists', async (t) => {
  const h = await harness(t);
  const { admin } = await setUp(h);
  const before = h.box.config().lines.find((l) => l.id === 'line2')!;
  const r = await admin.req('PUT', '/api/settings', { lines: [{ id: 'line2', name: 'Back office' }] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const after = h.box.config().lines.find((l) => l.id === 'line2')!;
  assert.deepEqual({ ...after, name: before.name }, before);
  assert.equal(after.name, 'Back office');
  assert.ok((await h.box.audit.readAll()).some((e) => e.action === 'settings.change'));
});

test('wrong unlock passphrase: clear error, vault stays locked; recovery key unlocks', async (t) => {
  const h = await harness(t);
  const admin = h.agent();
  await admin.state();
  const { recoveryKey } = (await admin.req('POST', '/api/setup', { username: 'admin', passphrase: PASS, claimCode: h.box.claim?.code })).body;
  await admin.state();
  assert.equal((await admin.req('POST', '/api/lock')).status, 200);
  const wrong = await admin.req('POST', '/api/unlock', { secret: 'not it at all' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error.code, 'RV_ERR_WRONG_PASSPHRASE');
  assert.equal((await admin.state()).vault, 'locked');
  const ok = await admin.req('POST', '/api/unlock', { secret: recoveryKey.toLowerCase().replaceAll('-', ' ') });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.via, 'recovery');
});

test('a simulated source fault shows on the line and clears by itself when recovered', async (t) => {
  const h = await harness(t);
  const { manager, staff } = await setUp(h);
  assert.equal((await staff.req('POST', '/api/sim/lines/line1/fault', { fault: true })).status, 403);
  assert.equal((await manager.req('POST', '/api/sim/lines/line1/fault', { fault: true })).status, 200);
  const lines = (await staff.req('GET', '/api/lines')).body.lines;
  assert.equal(lines[0].state, 'fault');
  assert.ok(lines[0].fault);
  assert.equal(lines[1].state, 'idle', 'other lines go on');
  assert.equal((await manager.req('POST', '/api/sim/lines/line1/fault', { fault: false })).status, 200);
  assert.equal((await staff.req('GET', '/api/lines')).body.lines[0].state, 'idle');
});

test('admins export the audit chain; it verifies and the export itself is audited', async (t) => {
  const h = await harness(t);
  const { admin, manager } = await setUp(h);
  assert.equal((await manager.req('GET', '/api/audit/export')).status, 403);
  const r = await admin.req('GET', '/api/audit/export');
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-audit-chain'], 'intact');
  const lines = String(r.body).trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.length >= 5);
  // The export is audited, then anchored: a checkpoint signed with the box key ends the copy (issue 10).
  assert.equal(lines.at(-2).action, 'audit.export');
  assert.equal(lines.at(-1).action, 'audit.checkpoint');
  assert.equal(lines.at(-1).detail.count, lines.at(-2).seq);
  for (let i = 1; i < lines.length; i++) assert.equal(lines[i].prev, lines[i - 1].hash);
});
