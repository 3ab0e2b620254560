import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../app.ts';
import { ADMINS, allow } from '../sessions.ts';
import { SettingsPatch } from '../../config/schema.ts';

const Role = Type.Union([Type.Literal('admin'), Type.Literal('manager'), Type.Literal('reviewer'), Type.Literal('staff')]);

export const adminRoutes = (ctx: RouteContext): FastifyPluginAsyncTypebox => async (app) => {
  const { box, sessions } = ctx;
  const view = async () => {
    const c = box.config();
    return { lines: c.lines, graceSeconds: c.graceSeconds, ...(await box.exclusionsView()), language: c.language, ring: { minutesPerLine: c.ring.minutesPerLine, coverageMinutes: box.coverageMinutes() } };
  };

  app.get('/api/settings', { onRequest: allow(ADMINS) }, async () => ({ settings: await view() }));

  app.put('/api/settings', { onRequest: allow(ADMINS), schema: { body: SettingsPatch } }, async (req) => {
    await box.updateSettings(req.session!.user, req.body);
    return { settings: await view() };
  });

  app.get('/api/users', { onRequest: allow(ADMINS) }, async () => ({
    users: box.settings.users.map((u) => ({ name: u.name, role: u.role, ...(u.extension ? { extension: u.extension } : {}) })),
  }));

  app.post('/api/users', {
    onRequest: allow(ADMINS),
    schema: { body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 32 }), passphrase: Type.String({ minLength: 1, maxLength: 1024 }), role: Role, extension: Type.Optional(Type.String({ pattern: '^[0-9]{0,8}$' })) }, { additionalProperties: false }) },
  }, async (req) => {
    const u = await box.addUser(req.session!.user, { ...req.body, extension: req.body.extension || undefined });
    return { user: { name: u.name, role: u.role, ...(u.extension ? { extension: u.extension } : {}) } };
  });

  app.delete('/api/users/:name', { onRequest: allow(ADMINS), schema: { params: Type.Object({ name: Type.String({ maxLength: 32 }) }) } }, async (req) => {
    await box.removeUser(req.session!.user, req.params.name);
    sessions.dropUser(req.params.name);
    return { ok: true };
  });

  app.get('/api/audit', { onRequest: allow(ADMINS), schema: { querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })) }) } }, async (req) => {
    const entries = await box.audit.recent(req.query.limit ?? 200);
    return { entries: entries.map(({ prev: _p, hash: _h, ...e }) => e) };
  });

  // The whole chain, hashes included, so it can be checked elsewhere with `ringvault verify-audit`.
  app.get('/api/audit/export', { onRequest: allow(ADMINS) }, async (req, reply) => {
    await box.audit.append({ actor: req.session!.user, action: 'audit.export' });
    const entries = await box.audit.readAll();
    const verdict = await box.audit.verify((await box.initialized()) ? await box.vault.signPublicKey() : undefined);
    reply.header('content-type', 'application/x-ndjson; charset=utf-8').header('content-disposition', 'attachment; filename="ringvault-audit.jsonl"').header('x-audit-chain', verdict.ok ? 'intact' : `broken at ${verdict.seq}`);
    return entries.map((e) => JSON.stringify(e)).join('\n') + '\n';
  });
};
