import { Type, type TSchema, type TObject } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../app.ts';
import { ADMINS, allow } from '../sessions.ts';
import { EmailSettings, MqttSettings, NotificationsConfig, WebhookSettings, maskSecrets, withStoredSecrets, SECRET_FIELDS } from '../../alerts/config.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../alerts/payload.ts';

/** A channel's schema with its secret optional: left out = keep the stored one. */
const optionalSecret = (s: TObject, field: string): TObject => {
  const { default: _d, ...plain } = s.properties[field] as TSchema & { default?: unknown };
  return Type.Object({ ...s.properties, [field]: Type.Optional(plain as TSchema) }, { additionalProperties: false });
};
const Input = Type.Object({
  ...NotificationsConfig.properties,
  email: optionalSecret(EmailSettings, SECRET_FIELDS.email),
  webhook: optionalSecret(WebhookSettings, SECRET_FIELDS.webhook),
  mqtt: optionalSecret(MqttSettings, SECRET_FIELDS.mqtt),
}, { additionalProperties: false });
const Channel = Type.Union([Type.Literal('email'), Type.Literal('webhook'), Type.Literal('mqtt')]);

/** The Notifications page: administrators only; secrets go in, never out. */
export const notificationRoutes = (ctx: RouteContext): FastifyPluginAsyncTypebox => async (app) => {
  const { box } = ctx;
  const view = () => ({
    settings: maskSecrets(box.notifications()),
    status: box.alerter?.status() ?? null,
    active: box.alerter?.active() ?? [],
    webhookHeaders: { signature: SIGNATURE_HEADER, timestamp: TIMESTAMP_HEADER, delivery: DELIVERY_HEADER },
  });

  app.get('/api/notifications', { onRequest: allow(ADMINS) }, async () => view());

  app.put('/api/notifications', { onRequest: allow(ADMINS), schema: { body: Input } }, async (req) => {
    await box.updateNotifications(req.session!.user, withStoredSecrets(req.body as NotificationsConfig, box.notifications()));
    return view();
  });

  app.post('/api/notifications/test', {
    onRequest: allow(ADMINS),
    schema: { body: Type.Object({ channel: Channel, settings: Type.Optional(Input) }, { additionalProperties: false }) },
  }, async (req) => {
    const stored = box.notifications();
    const settings = req.body.settings ? withStoredSecrets(req.body.settings as NotificationsConfig, stored) : stored;
    await box.testNotification(req.session!.user, req.body.channel, settings);
    return { ok: true, channel: req.body.channel };
  });
};
