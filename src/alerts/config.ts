import { Type, type Static } from '@sinclair/typebox';

const CaFile = Type.String({ default: '', maxLength: 512, title: 'PEM file of the CA that signed the server certificate (empty = the system CAs)' });

export const EmailSettings = Type.Object({
  enabled: Type.Boolean({ default: false, title: 'Send alerts by e-mail' }),
  host: Type.String({ default: '', maxLength: 253, title: 'SMTP server name or address' }),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 587, title: 'SMTP port (587 STARTTLS, 465 TLS, 25 plain)' }),
  security: Type.Union([Type.Literal('starttls'), Type.Literal('tls'), Type.Literal('none')], { default: 'starttls', title: 'starttls (required, port 587), tls (from the first byte, port 465) or none (only for a relay on the box or the LAN)' }),
  user: Type.String({ default: '', maxLength: 256, title: 'SMTP login (empty = no login)' }),
  password: Type.String({ default: '', maxLength: 512, title: 'SMTP password (never shown again once set)' }),
  from: Type.String({ default: '', maxLength: 256, title: 'Sender address' }),
  to: Type.Array(Type.String({ maxLength: 256 }), { default: [], maxItems: 10, title: 'Recipient addresses' }),
  caFile: CaFile,
}, { additionalProperties: false, default: {} });

export const WebhookSettings = Type.Object({
  enabled: Type.Boolean({ default: false, title: 'POST alerts to a webhook' }),
  url: Type.String({ default: '', maxLength: 2048, title: 'http:// or https:// address the alerts are POSTed to' }),
  secret: Type.String({ default: '', maxLength: 512, title: 'HMAC-SHA256 key (at least 16 characters; never shown again once set)' }),
  caFile: CaFile,
}, { additionalProperties: false, default: {} });

export const MqttSettings = Type.Object({
  enabled: Type.Boolean({ default: false, title: 'Publish health over MQTT (Home Assistant discovery)' }),
  url: Type.String({ default: '', maxLength: 2048, title: 'Broker: mqtt://host:1883 or mqtts://host:8883' }),
  username: Type.String({ default: '', maxLength: 256, title: 'Broker user (empty = anonymous)' }),
  password: Type.String({ default: '', maxLength: 512, title: 'Broker password (never shown again once set)' }),
  topicPrefix: Type.String({ default: 'ringvault', pattern: '^[A-Za-z0-9_/-]{1,64}$', title: 'Topic prefix of state, events and availability' }),
  discoveryPrefix: Type.String({ default: 'homeassistant', pattern: '^[A-Za-z0-9_/-]{1,64}$', title: 'Home Assistant discovery prefix' }),
  caFile: CaFile,
}, { additionalProperties: false, default: {} });

export const NotificationsConfig = Type.Object({
  boxName: Type.String({ default: '', maxLength: 64, pattern: '^[A-Za-z0-9._-]*$', title: 'Name of this box in alerts and MQTT topics (empty = the host name)' }),
  repeatHours: Type.Number({ minimum: 0, maximum: 720, default: 24, title: 'Remind of a problem that lasts this long, and again after as long (0 = never)' }),
  backoffSeconds: Type.Number({ minimum: 0, maximum: 86_400, default: 300, title: 'A problem that comes back sooner than this after its last alert waits, the wait doubling per return up to 6 h (0 = no wait)' }),
  startupGraceSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 120, title: 'After a start, problems must still be there this long before they are sent (the clock syncs, the board enumerates)' }),
  vaultLockedHours: Type.Number({ minimum: 0.0003, maximum: 720, default: 4, title: 'Alert when the vault is still locked this many hours after a start' }),
  requestWarnDays: Type.Integer({ minimum: 0, maximum: 31, default: 3, title: 'Alert when an open data-subject request is due within this many days' }),
  queueMax: Type.Integer({ minimum: 10, maximum: 10_000, default: 500, title: 'Alerts kept per channel while it cannot be reached (the oldest go first)' }),
  email: EmailSettings,
  webhook: WebhookSettings,
  mqtt: MqttSettings,
}, { additionalProperties: false, default: {}, title: 'Alerts off the box: e-mail, webhook, MQTT' });

export type NotificationsConfig = Static<typeof NotificationsConfig>;
export type EmailSettings = Static<typeof EmailSettings>;
export type WebhookSettings = Static<typeof WebhookSettings>;
export type MqttSettings = Static<typeof MqttSettings>;
export type Channel = 'email' | 'webhook' | 'mqtt';
export const CHANNELS: readonly Channel[] = ['email', 'webhook', 'mqtt'];

/** The secret fields per channel: never returned by the API, masked in logs. */
export const SECRET_FIELDS = { email: 'password', webhook: 'secret', mqtt: 'password' } as const;

const EMAIL = /^[^\s@<>]+@[^\s@<>]+$/;

/** Problems of an enabled channel, as sentences naming the key; empty when usable. */
export function checkNotifications(n: NotificationsConfig, where = 'notifications'): string[] {
  const out: string[] = [];
  if (n.email.enabled) {
    if (!n.email.host) out.push(`${where}.email.host: give the SMTP server's name (e.g. smtp.example.com).`);
    if (!EMAIL.test(n.email.from)) out.push(`${where}.email.from: give the sender address (e.g. ringvault@example.com).`);
    if (n.email.to.length === 0 || !n.email.to.every((a) => EMAIL.test(a))) out.push(`${where}.email.to: give one or more recipient addresses (name@example.com).`);
    if (n.email.user && !n.email.password) out.push(`${where}.email.password: a login needs its password.`);
  }
  if (n.webhook.enabled) {
    let u: URL | undefined;
    try { u = new URL(n.webhook.url); } catch { /* reported below */ }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password) out.push(`${where}.webhook.url: give an http:// or https:// address without a user name or password in it.`);
    if (n.webhook.secret.length < 16) out.push(`${where}.webhook.secret: give a secret of at least 16 characters (the receiver checks the signature with it).`);
  }
  if (n.mqtt.enabled) {
    let u: URL | undefined;
    try { u = new URL(n.mqtt.url); } catch { /* reported below */ }
    if (!u || !['mqtt:', 'mqtts:'].includes(u.protocol) || u.username || u.password) out.push(`${where}.mqtt.url: give the broker as mqtt://host:1883 or mqtts://host:8883, without a user name or password in it (use username and password).`);
  }
  return out;
}

/** The settings with every secret replaced by whether it is set: what the API shows and the log may print. */
export function maskSecrets(n: NotificationsConfig): Record<string, unknown> {
  return {
    ...n,
    email: { ...n.email, password: undefined, passwordSet: n.email.password !== '' },
    webhook: { ...n.webhook, secret: undefined, secretSet: n.webhook.secret !== '' },
    mqtt: { ...n.mqtt, password: undefined, passwordSet: n.mqtt.password !== '' },
  };
}

/**
 * The page sends secrets only when someone typed one. A secret left out keeps its stored value, but
 * only for the server it was set for: pointed elsewhere it must be typed again, so a hijacked admin
 * session cannot make the box hand its SMTP password or webhook key to another server.
 */
export function withStoredSecrets(input: NotificationsConfig & Record<string, any>, stored: NotificationsConfig): NotificationsConfig {
  const out = structuredClone(input) as NotificationsConfig;
  const sameEmail = input.email.host === stored.email.host && input.email.port === stored.email.port && input.email.user === stored.email.user;
  const sameHook = input.webhook.url === stored.webhook.url;
  const sameMqtt = input.mqtt.url === stored.mqtt.url && input.mqtt.username === stored.mqtt.username;
  if (input.email.password === undefined) out.email.password = sameEmail ? stored.email.password : '';
  if (input.webhook.secret === undefined) out.webhook.secret = sameHook ? stored.webhook.secret : '';
  if (input.mqtt.password === undefined) out.mqtt.password = sameMqtt ? stored.mqtt.password : '';
  return out;
}
