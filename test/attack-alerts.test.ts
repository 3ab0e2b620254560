// Attack and privacy test of the alerts on the real running appliance. Calls, users, a line name and
// data-subject requests full of personal data are made, every alert kind is provoked, and every byte
// the real peers received (webhook bodies and headers, mails, MQTT topics and payloads) is scanned for
// the numbers, names and notes. Then the attacker's side: the channel secrets never come back out of
// the API, the log or a file a non-admin can read, other roles and strangers cannot read or change
// the settings, CSRF is enforced, and a stored secret cannot be sent to a server the attacker names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAppliance, setUpBox, logIn, keepSimCall, Client, type Appliance } from './helpers/appliance.ts';
import { mqttPeer, selfSignedCert, smtpPeer, webhookPeer } from './helpers/alert-peers.ts';
import { until } from './helpers/until.ts';

const PASS = 'correct horse battery staple';
const SECRETS = { smtp: 'smtp-Pa55word-9f3k', webhook: 'hook-secret-7c1e9a4b2d6f', mqtt: 'mqtt-Pa55word-x8q2' };
const NUMBERS = ['+31612345678', '0687654321', '+31201239876'];
const WORDS = ['Marieke', 'Vries', 'Bakker', 'pietersen', 'factuur', 'klachtbrief', '4711'];

/** Digits of a number as they could be written anywhere: the national significant part. */
const significant = (n: string) => n.replace(/\D/g, '').replace(/^(31|0)/, '');

test('no personal data in any alert; channel secrets never leave through the API, the log or readable files', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-alerts-'));
  const cert = selfSignedCert();
  const smtp = await smtpPeer({ user: 'box@example.com', pass: SECRETS.smtp, cert: cert.certPem, key: cert.keyPem });
  const hook = await webhookPeer(SECRETS.webhook);
  const broker = await mqttPeer({ user: 'ha', pass: SECRETS.mqtt });
  const evilHook = await webhookPeer('whatever-the-attacker-uses');
  const evilSmtp = await smtpPeer({ user: 'box@example.com', pass: 'x', cert: cert.certPem, key: cert.keyPem });
  let box: Appliance | undefined;
  t.after(async () => {
    await box?.stop();
    for (const p of [hook, evilHook]) await p.close();
    for (const p of [smtp, evilSmtp]) await p.close();
    await broker.close();
    cert.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  const clockFile = join(dir, 'clock');
  await writeFile(clockFile, 'synced\n');
  const data = join(dir, 'data');
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify({
    dataDir: data, sim: { speed: 8 }, board: { driver: 'sim' }, health: { checkSeconds: 5, diskHoursWanted: 1_000_000 },
    lines: [
      { id: 'line1', name: 'Desk of Henk Bakker', source: 'sim', keep: 'on-demand', announced: ['complaint'], keepPurposes: ['complaint'] },
      { id: 'line2', name: 'Line 2', source: 'sim', keep: 'on-demand', announced: ['complaint'], keepPurposes: ['complaint'] },
    ],
    notifications: {
      boxName: 'attackbox', startupGraceSeconds: 0, backoffSeconds: 0, requestWarnDays: 5,
      email: { enabled: true, host: '127.0.0.1', port: smtp.port, user: 'box@example.com', password: SECRETS.smtp, from: 'box@example.com', to: ['it@example.com'], caFile: cert.cert },
      webhook: { enabled: true, url: hook.url, secret: SECRETS.webhook },
      mqtt: { enabled: true, url: broker.url, username: 'ha', password: SECRETS.mqtt },
    },
  }));
  box = await startAppliance(data, ['--config', configFile], { env: { RINGVAULT_CLOCK: `file:${clockFile}`, RINGVAULT_LOG: 'debug' } });
  const admin = await setUpBox(box.url, 'admin', PASS);
  for (const [u, role, ext] of [['pietersen', 'staff', '4711'], ['mia', 'manager'], ['rob', 'reviewer']] as const) {
    await admin.json('POST', '/api/users', { username: u, passphrase: `${u}-passphrase`, role, ...(ext ? { extension: ext } : {}) });
  }

  // Personal data everywhere the box has it: kept calls, a call live when its line fails, requests.
  await keepSimCall(admin, ['complaint'], { caller: NUMBERS[0], extension: '4711' });
  const day = (ms: number) => new Date(Date.now() - ms * 86_400_000).toISOString().slice(0, 10);
  await admin.json('POST', '/api/requests', { kind: 'erasure', received: day(40), numbers: [NUMBERS[1]], name: 'Marieke de Vries', details: 'Belde over de factuur', note: 'klachtbrief volgt' });
  await admin.json('POST', '/api/requests', { kind: 'access', received: day(28), numbers: [NUMBERS[2]], name: 'Marieke de Vries' });
  await admin.json('POST', '/api/sim/lines/line1/call', { direction: 'in', durationSec: 30, caller: NUMBERS[2], extension: '4711' });
  await admin.until(async () => (await admin.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1')?.call, 'a live call on line1');
  await admin.json('POST', '/api/sim/lines/line1/fault', { fault: true });
  await admin.json('POST', '/api/sim/board/plug', { plugged: false });
  await writeFile(clockFile, 'unsynced\n');
  for (const ch of ['email', 'webhook', 'mqtt']) await admin.json('POST', '/api/notifications/test', { channel: ch });

  const kinds = () => new Set(hook.tried.flatMap((h) => h.json.alerts.map((a: any) => a.kind)));
  const want = ['line.source-lost', 'board.gone', 'disk.low', 'clock.unsynced', 'requests.overdue', 'requests.due-soon', 'test'];
  await until(() => want.every((k) => kinds().has(k)), `every alert kind (${want.join(', ')})`, 90_000);
  // Recoveries carry the same scan.
  await admin.json('POST', '/api/sim/lines/line1/fault', { fault: false });
  await admin.json('POST', '/api/sim/board/plug', { plugged: true });
  await until(() => hook.tried.some((h) => h.json.alerts.some((a: any) => a.state === 'recovered' && a.kind === 'board.gone')), 'a recovery');
  await until(() => smtp.mails.length >= 3 && broker.published.some((p) => p.topic.endsWith('/event')), 'mails and MQTT events');

  const payloads = [
    ...hook.tried.map((h) => `${h.body}\n${h.timestamp} ${h.delivery}`),
    ...smtp.mails.map((m) => m.raw),
    ...broker.published.map((p) => `${p.topic}\n${p.payload}`),
  ];
  assert.ok(payloads.length >= 20, `enough payloads to scan (${payloads.length})`);
  for (const p of payloads) {
    // Written with spaces, dashes, dots or brackets, or as quoted-printable in a mail: the digits still show.
    const squeezed = p.replace(/=\r?\n/g, '').replace(/[\s\-().=]/g, '');
    for (const n of NUMBERS) assert.ok(!squeezed.includes(significant(n)), `a phone number (${n}) in an alert:\n${p.slice(0, 400)}`);
    for (const w of WORDS) assert.ok(!p.toLowerCase().includes(w.toLowerCase()), `"${w}" in an alert:\n${p.slice(0, 400)}`);
    for (const s of Object.values(SECRETS)) assert.ok(!p.includes(s), 'a secret in an alert');
  }

  // ---- the secrets: never returned by the API
  const view = JSON.stringify(await admin.json('GET', '/api/notifications'));
  for (const s of Object.values(SECRETS)) assert.ok(!view.includes(s), 'a secret in GET /api/notifications');
  assert.match(view, /"passwordSet":true/);
  assert.match(view, /"secretSet":true/);

  // ---- other roles and strangers: no reading, no changing, no sending
  const body = { ...JSON.parse(view).settings };
  for (const u of ['mia', 'rob', 'pietersen']) {
    const c = await logIn(box.url, u);
    for (const [m, p, b] of [['GET', '/api/notifications', undefined], ['PUT', '/api/notifications', body], ['POST', '/api/notifications/test', { channel: 'webhook' }]] as const) {
      const r = await c.request(m, p, b);
      assert.equal(r.status, 403, `${u} ${m} ${p}`);
      assert.ok(!(await r.text()).includes(SECRETS.webhook));
    }
  }
  const stranger = new Client(box.url);
  await stranger.state();
  assert.equal((await stranger.request('GET', '/api/notifications')).status, 401);
  assert.equal((await stranger.request('POST', '/api/notifications/test', { channel: 'email' })).status, 401);
  // CSRF: an admin's cookie without the page's token changes nothing.
  const noToken = await fetch(`${box.url}/api/notifications/test`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: (admin as any).cookies ? [...(admin as any).cookies].map(([k, v]: [string, string]) => `${k}=${v}`).join('; ') : '' }, body: JSON.stringify({ channel: 'webhook' }) });
  assert.equal(noToken.status, 403);
  assert.equal((await noToken.json()).error.code, 'RV_ERR_CSRF');

  // ---- a hijacked admin session points a channel elsewhere: the stored secret does not follow
  const s = JSON.parse(view).settings;
  const strip = (o: any) => Object.fromEntries(Object.entries(o).filter(([k]) => !k.endsWith('Set')));
  const evil = { ...s, email: strip({ ...s.email, port: evilSmtp.port }), webhook: strip({ ...s.webhook, url: evilHook.url }), mqtt: strip(s.mqtt) };
  delete evil.email.password; delete evil.webhook.secret; delete evil.mqtt.password;
  const r1 = await admin.request('POST', '/api/notifications/test', { channel: 'webhook', settings: evil });
  assert.equal(r1.status, 422);
  assert.match((await r1.json()).error.message, /webhook\.secret: give a secret of at least 16 characters/);
  const r2 = await admin.request('POST', '/api/notifications/test', { channel: 'email', settings: evil });
  assert.equal(r2.status, 422);
  assert.match((await r2.json()).error.message, /email\.password: a login needs its password/);
  assert.equal(evilHook.tried.length, 0, 'nothing reached the attacker\'s webhook');
  assert.equal(evilSmtp.mails.length, 0, 'nothing reached the attacker\'s SMTP server');
  const r3 = await admin.request('PUT', '/api/notifications', evil);
  assert.equal(r3.status, 422, 'saving it is refused too, so the running box keeps its working channels');

  // ---- at rest and in the log
  const nf = join(data, 'notifications.json');
  await admin.json('PUT', '/api/notifications', { ...s, email: strip(s.email), webhook: strip(s.webhook), mqtt: strip(s.mqtt) });
  assert.equal((await stat(nf)).mode & 0o777, 0o600, 'notifications.json is for the box user only');
  assert.equal((await stat(data)).mode & 0o777, 0o700);
  assert.ok((await readFile(nf, 'utf8')).includes(SECRETS.webhook), 'the kept secret stayed stored (kept, not blanked)');
  for (const f of ['settings.json', 'audit.log', 'alerts-outbox.json']) {
    const text = await readFile(join(data, f), 'utf8').catch(() => '');
    for (const sec of Object.values(SECRETS)) assert.ok(!text.includes(sec), `a secret in ${f}`);
  }
  await box.stop();
  const logs = box.stderr() + box.stdout();
  assert.ok(logs.length > 0);
  for (const sec of Object.values(SECRETS)) assert.ok(!logs.includes(sec), 'a secret in the log');
});
