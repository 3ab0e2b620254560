// Alerts from the real running appliance to real peers (smtp-server with STARTTLS + AUTH, an HTTP
// listener checking the HMAC, aedes): faults driven on the box arrive once, recover once, wait in the
// outbox while the network is down (across a restart too), and MQTT shows the state with an LWT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAppliance, setUpBox, logIn, type Appliance, type Client } from './helpers/appliance.ts';
import { mqttPeer, selfSignedCert, smtpPeer, webhookPeer, type WebhookPeer, type Hook } from './helpers/alert-peers.ts';
import { until } from './helpers/until.ts';

const SECRET = 'webhook-secret-for-the-appliance-test';
const PASS = 'correct horse battery staple';

const alertsOf = (hooks: Hook[]) => hooks.flatMap((h) => h.json.alerts.map((a: any) => `${a.state} ${a.key}`));

test('faults on the running box become alerts by e-mail, webhook and MQTT, deduplicated, queued while the network is down', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-alerts-'));
  const cert = selfSignedCert();
  const smtp = await smtpPeer({ user: 'box@example.com', pass: 'smtp-pass-123', cert: cert.certPem, key: cert.keyPem });
  let hook: WebhookPeer = await webhookPeer(SECRET);
  const peers: WebhookPeer[] = [hook];
  const hooks = () => peers.flatMap((p) => p.hooks);
  const broker = await mqttPeer({ user: 'ha', pass: 'mqtt-pass-123' });
  let box: Appliance | undefined;
  t.after(async () => {
    await box?.stop();
    await hook.close();
    await smtp.close();
    await broker.close();
    cert.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  const clockFile = join(dir, 'clock');
  await writeFile(clockFile, 'synced\n');
  const configFile = join(dir, 'config.json');
  const hookPort = hook.port;
  await writeFile(configFile, JSON.stringify({
    dataDir: join(dir, 'data'), sim: { speed: 20 }, board: { driver: 'sim' }, health: { checkSeconds: 5 },
    notifications: {
      boxName: 'testbox', startupGraceSeconds: 0, backoffSeconds: 3600, vaultLockedHours: 0.0003,
      email: { enabled: true, host: '127.0.0.1', port: smtp.port, security: 'starttls', user: 'box@example.com', password: 'smtp-pass-123', from: 'box@example.com', to: ['it@example.com'], caFile: cert.cert },
      webhook: { enabled: true, url: hook.url, secret: SECRET },
      mqtt: { enabled: true, url: broker.url, username: 'ha', password: 'mqtt-pass-123' },
    },
  }));
  const env = { RINGVAULT_CLOCK: `file:${clockFile}` };
  box = await startAppliance(join(dir, 'data'), ['--config', configFile], { env });
  const seen = (what: string) => until(() => alertsOf(hooks()).includes(what), `webhook: ${what}`, 60_000);

  // Never set up: that is a problem too, and setting up ends it.
  await seen('raised box.not-set-up');
  let admin: Client = await setUpBox(box.url, 'admin', PASS);
  await seen('recovered box.not-set-up');
  assert.ok(hooks().every((h) => h.signatureOk), 'every delivery carries a valid signature');

  // A line's audio source lost, and back: one alert each way, on all three channels.
  await admin.json('POST', '/api/sim/lines/line1/fault', { fault: true });
  await seen('raised line.source-lost:line1');
  await until(() => smtp.mails.some((m) => /line1/.test(m.raw) && m.secure), 'the mail about line1', 30_000);
  await until(() => broker.retained('ringvault/testbox/state')?.includes('"line_line1_audio_lost":"ON"'), 'MQTT state ON');
  await admin.json('POST', '/api/sim/lines/line1/fault', { fault: false });
  await seen('recovered line.source-lost:line1');
  await until(() => broker.retained('ringvault/testbox/state')?.includes('"line_line1_audio_lost":"OFF"'), 'MQTT state OFF');

  // A loose cable: the fault flaps; within the back-off window nothing more is sent about it.
  for (let i = 0; i < 5; i++) {
    await admin.json('POST', '/api/sim/lines/line1/fault', { fault: true });
    await new Promise((r) => setTimeout(r, 150));
    await admin.json('POST', '/api/sim/lines/line1/fault', { fault: false });
    await new Promise((r) => setTimeout(r, 150));
  }
  // The button box gone and back; deliveries go in order, so once this arrived any flap alert would have.
  await admin.json('POST', '/api/sim/board/plug', { plugged: false });
  await seen('raised board.gone');
  await admin.json('POST', '/api/sim/board/plug', { plugged: true });
  await seen('recovered board.gone');
  assert.equal(alertsOf(hooks()).filter((a) => a.endsWith('line.source-lost:line1')).length, 2, `no storm: ${alertsOf(hooks()).join(', ')}`);

  // The clock unsynchronised (through the detector's file hook), and synchronised again.
  await writeFile(clockFile, 'unsynced\n');
  await seen('raised clock.unsynced');
  await until(() => broker.retained('ringvault/testbox/state')?.includes('"clock_unsynced":"ON"'), 'MQTT clock ON');
  await writeFile(clockFile, 'synced\n');
  await seen('recovered clock.unsynced');

  // The network to the webhook is down: the alert waits in the outbox and arrives once it is back.
  await hook.close();
  await admin.json('POST', '/api/sim/lines/line2/fault', { fault: true });
  await until(async () => (await admin.json('GET', '/api/notifications')).status.webhook.queued >= 1, 'the webhook alert queued', 30_000);
  const st = (await admin.json('GET', '/api/notifications')).status.webhook;
  assert.match(st.failing, /Nothing answers at 127\.0\.0\.1:\d+ \(connection refused\)/);
  // The other channels are not held up by the one that is down.
  await until(() => smtp.mails.some((m) => /line2/.test(m.raw)), 'the mail about line2', 30_000);
  hook = await webhookPeer(SECRET, hookPort);
  peers.push(hook);
  await seen('raised line.source-lost:line2');

  // Down again, and the box restarts meanwhile: the queued alert survives it.
  await hook.close();
  await admin.json('POST', '/api/sim/lines/line2/fault', { fault: false });
  await until(async () => (await admin.json('GET', '/api/notifications')).status.webhook.queued >= 1, 'the recovery queued', 30_000);
  const outbox = join(dir, 'data', 'alerts-outbox.json');
  assert.equal((await stat(outbox)).mode & 0o777, 0o600);
  await until(async () => (await readFile(outbox, 'utf8')).includes('"state":"recovered"'), 'the queued recovery written to the outbox');
  await box.stop();
  box = await startAppliance(join(dir, 'data'), ['--config', configFile], { env });
  hook = await webhookPeer(SECRET, hookPort);
  peers.push(hook);
  await seen('recovered line.source-lost:line2');

  // After the restart nobody unlocks the vault: after vaultLockedHours (about a second here) that is an alert.
  await seen('raised vault.locked');
  admin = await logIn(box.url, 'admin', PASS);
  await admin.json('POST', '/api/unlock', { secret: PASS });
  await seen('recovered vault.locked');

  // A data-subject request past its deadline.
  const received = new Date(Date.now() - 40 * 86_400_000).toISOString().slice(0, 10);
  await admin.json('POST', '/api/requests', { kind: 'access', received, numbers: ['0201234567'] });
  await seen('raised requests.overdue');
  await until(() => broker.retained('ringvault/testbox/state')?.includes('"requests_overdue":"ON"'), 'MQTT requests overdue ON');

  // Every alert so far went out once per change, and every webhook delivery was signed.
  const all = alertsOf(hooks());
  assert.equal(new Set(hooks().map((h) => h.delivery)).size, hooks().length, 'no delivery twice');
  assert.ok(hooks().every((h) => h.signatureOk && Math.abs(Number(h.timestamp) * 1000 - h.receivedAt) < 60_000), 'signed and fresh');
  assert.deepEqual(all.filter((a) => a.includes('clock')), ['raised clock.unsynced', 'recovered clock.unsynced']);

  // The box dies: the broker publishes its will, so Home Assistant shows it unavailable.
  assert.equal(broker.retained('ringvault/testbox/availability'), 'online');
  await box.stop('SIGKILL');
  await until(() => broker.retained('ringvault/testbox/availability') === 'offline', 'the LWT: offline', 60_000);
});
