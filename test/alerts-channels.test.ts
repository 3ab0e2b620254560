// The three alert channels against real peers: smtp-server (STARTTLS + AUTH), an HTTP listener that
// checks the HMAC, and the aedes MQTT broker. Bad settings come back as a sentence saying what to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import mqtt from 'mqtt';
import { NotificationsConfig } from '../src/alerts/config.ts';
import { sendMail } from '../src/alerts/email.ts';
import { postWebhook } from '../src/alerts/webhook.ts';
import { MqttPublisher, testMqtt } from '../src/alerts/mqtt.ts';
import { newDelivery, webhookBody, signBody } from '../src/alerts/payload.ts';
import { closedPort, mqttPeer, selfSignedCert, smtpPeer, webhookPeer } from './helpers/alert-peers.ts';
import { until } from './helpers/until.ts';

const defaults = (): NotificationsConfig => Value.Default(NotificationsConfig, {}) as NotificationsConfig;
const quiet = { warn: () => undefined, info: () => undefined };

test('e-mail: STARTTLS and login against smtp-server; wrong password, closed port and untrusted certificate each say what to fix', async (t) => {
  const cert = selfSignedCert();
  t.after(() => cert.cleanup());
  const smtp = await smtpPeer({ user: 'alerts@example.com', pass: 'correct horse battery', cert: cert.certPem, key: cert.keyPem });
  t.after(() => smtp.close());
  const base = { ...defaults().email, enabled: true, host: '127.0.0.1', port: smtp.port, security: 'starttls' as const, user: 'alerts@example.com', password: 'correct horse battery', from: 'box@example.com', to: ['it@example.com'], caFile: cert.cert };

  await sendMail(base, 'subject 1', 'body one');
  assert.equal(smtp.mails.length, 1);
  assert.equal(smtp.mails[0]!.secure, true, 'the mail went over STARTTLS');
  assert.equal(smtp.mails[0]!.user, 'alerts@example.com');
  assert.deepEqual(smtp.mails[0]!.to, ['it@example.com']);
  assert.match(smtp.mails[0]!.raw, /Subject: subject 1/);

  await assert.rejects(sendMail({ ...base, password: 'wrong' }, 's', 'b'), (e: Error) => /refused the user name or password/.test(e.message) && /check the login and password/.test(e.message));
  const port = await closedPort();
  await assert.rejects(sendMail({ ...base, port }, 's', 'b'), (e: Error) => e.message.includes(`Nothing answers at 127.0.0.1:${port}`) && /check the SMTP server's address and port/.test(e.message));
  await assert.rejects(sendMail({ ...base, caFile: '' }, 's', 'b'), /TLS certificate at 127\.0\.0\.1:\d+ is not trusted: give the PEM file of the CA/);
  await assert.rejects(sendMail({ ...base, host: 'no-such-host.invalid' }, 's', 'b'), /name in no-such-host\.invalid:\d+ cannot be found \(DNS\)/);
  assert.equal(smtp.mails.length, 1, 'no failed attempt delivered anything');
});

test('webhook: HMAC-SHA256 over the exact body with a timestamp; a 500 and a closed port are explained', async (t) => {
  const secret = 'a-webhook-secret-of-32-characters!';
  const hook = await webhookPeer(secret);
  t.after(() => hook.close());
  const s = { ...defaults().webhook, enabled: true, url: hook.url, secret };
  const d = newDelivery([{ key: 'clock.unsynced', kind: 'clock.unsynced', state: 'raised', params: { code: 'RV_ERR_CLOCK_UNSYNCED' }, at: Date.now() }], Date.now());
  const ts = Math.floor(Date.now() / 1000);
  const body = webhookBody(d, 'box-1', 'en', ts, 0);
  await postWebhook(s, body, ts, d.id);
  assert.equal(hook.hooks.length, 1);
  const h = hook.hooks[0]!;
  assert.equal(h.signatureOk, true);
  assert.equal(h.body, body, 'the exact bytes signed are the bytes sent');
  assert.equal(h.timestamp, String(ts));
  assert.equal(h.json.timestamp, ts, 'the timestamp is inside the signed body too');
  assert.equal(h.delivery, d.id);
  assert.equal(h.json.alerts[0].kind, 'clock.unsynced');
  assert.match(h.json.alerts[0].text, /clock is not synchronised/);
  // A receiver with another secret would reject it: the signature depends on the key and the bytes.
  assert.notEqual(signBody('another-secret-0123456789', body), signBody(secret, body));
  assert.notEqual(signBody(secret, body.replace('box-1', 'box-2')), signBody(secret, body));

  hook.status.code = 500;
  await assert.rejects(postWebhook(s, body, ts, d.id), /The webhook at 127\.0\.0\.1:\d+ answered 500 Internal Server Error: the receiving service failed; its own log says why/);
  hook.status.code = 403;
  await assert.rejects(postWebhook(s, body, ts, d.id), /answered 403 Forbidden: it did not accept the request; check that it checks the signature with the same secret/);
  const port = await closedPort();
  await assert.rejects(postWebhook({ ...s, url: `http://127.0.0.1:${port}/x` }, body, ts, d.id), new RegExp(`Nothing answers at 127.0.0.1:${port}`));
});

test('MQTT: Home Assistant discovery, retained state and availability on aedes; a refused login is explained', async (t) => {
  const broker = await mqttPeer({ user: 'ringvault', pass: 'broker-pass-1' });
  t.after(() => broker.close());
  const s = { ...defaults().mqtt, enabled: true, url: broker.url, username: 'ringvault', password: 'broker-pass-1' };
  const pub = new MqttPublisher(s, { nodeId: 'box1', name: 'box1', version: '9.9.9', lines: ['line1', 'line-2'], board: true }, quiet);
  await pub.start();
  t.after(() => pub.stop());
  pub.setState({ problem: 'ON', line_line1_audio_lost: 'ON', board_connected: 'OFF', disk_hours_left: 12 });
  await until(() => broker.retained('ringvault/box1/availability') === 'online', 'availability online');
  const cfgTopic = 'homeassistant/binary_sensor/ringvault_box1/line_line1_audio_lost/config';
  await until(() => broker.retained(cfgTopic), 'the discovery config of line1');
  const cfg = JSON.parse(broker.retained(cfgTopic)!);
  assert.equal(cfg.device_class, 'problem');
  assert.equal(cfg.state_topic, 'ringvault/box1/state');
  assert.equal(cfg.availability_topic, 'ringvault/box1/availability');
  assert.equal(cfg.unique_id, 'ringvault_box1_line_line1_audio_lost');
  assert.equal(cfg.device.sw_version, '9.9.9');
  assert.ok(broker.retained('homeassistant/binary_sensor/ringvault_box1/line_line_2_audio_lost/config'), 'one entity per line');
  assert.equal(JSON.parse(broker.retained('homeassistant/binary_sensor/ringvault_box1/board_connected/config')!).device_class, 'connectivity');
  assert.equal(JSON.parse(broker.retained('homeassistant/sensor/ringvault_box1/disk_hours_left/config')!).unit_of_measurement, 'h');
  await until(() => broker.retained('ringvault/box1/state')?.includes('"line_line1_audio_lost":"ON"'), 'the retained state');
  pub.setState({ problem: 'OFF', line_line1_audio_lost: 'OFF', board_connected: 'ON', disk_hours_left: 30 });
  await until(() => broker.retained('ringvault/box1/state')?.includes('"line_line1_audio_lost":"OFF"'), 'the state after recovery');

  // What Home Assistant does: subscribe and read the retained messages.
  const ha = await mqtt.connectAsync(broker.url, { username: 'ringvault', password: 'broker-pass-1', reconnectPeriod: 0 });
  t.after(() => ha.endAsync(true));
  const seen = new Map<string, string>();
  ha.on('message', (topic, payload) => seen.set(topic, payload.toString()));
  await ha.subscribeAsync(['homeassistant/#', 'ringvault/#']);
  await until(() => seen.get('ringvault/box1/state'), 'retained state delivered to a new subscriber');
  assert.equal(JSON.parse(seen.get('ringvault/box1/state')!).disk_hours_left, 30);

  await testMqtt(s, 'box1', '{"test":true}');
  await until(() => broker.published.some((p) => p.topic === 'ringvault/box1/test'), 'the test message');
  await assert.rejects(testMqtt({ ...s, password: 'wrong' }, 'box1', '{}'), /The MQTT broker at 127\.0\.0\.1:\d+ refused the user name or password: check them/);
  const port = await closedPort();
  await assert.rejects(testMqtt({ ...s, url: `mqtt://127.0.0.1:${port}` }, 'box1', '{}'), new RegExp(`Nothing answers at 127.0.0.1:${port}`));
});
