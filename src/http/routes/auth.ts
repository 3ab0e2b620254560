import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../app.ts';
import { SESSION_COOKIE, STAFF_AND_UP, MANAGERS, REVIEWERS, allow } from '../sessions.ts';
import { RvError } from '../../errors.ts';
import { boxIdOf, keyFingerprintOf } from '../../export/manifest.ts';

const Credentials = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), passphrase: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });

export const authRoutes = (ctx: RouteContext): FastifyPluginAsyncTypebox => async (app) => {
  const { box, sessions, cookieBase } = ctx;

  app.get('/api/state', async (req, reply) => {
    const initialized = await box.initialized();
    const s = req.session;
    return {
      initialized,
      user: s ? { name: s.user, role: s.role, ...(s.extension ? { extension: s.extension } : {}) } : null,
      vault: !initialized ? 'uninitialized' : box.vault.unlocked ? 'unlocked' : 'locked',
      csrfToken: reply.generateCsrf(),
      sim: !!box.sim,
      clockSynced: box.clock.synced(),
      language: box.config().language,
      version: ctx.o.version,
      // Box health (issue 5): strangers learn only whether all is well; a login sees what is wrong.
      health: s ? (box.health?.report() ?? null) : { ok: box.health?.report().ok ?? true },
      simBoard: box.board?.kind === 'sim',
      // The setup page asks for the claim code unless someone held the save button.
      ...(initialized ? {} : { claim: { buttonArmed: box.claim?.buttonArmed ?? false } }),
    };
  });

  const SetupBody = Type.Object({
    username: Type.String({ minLength: 1, maxLength: 32 }), passphrase: Type.String({ minLength: 1, maxLength: 1024 }),
    language: Type.Optional(Type.Union([Type.Literal('nl'), Type.Literal('en')])), claimCode: Type.Optional(Type.String({ maxLength: 64 })),
  }, { additionalProperties: false });
  app.post('/api/setup', { config: { rateLimit: { max: ctx.o.loginsPerMinute, timeWindow: 60_000 } }, schema: { body: SetupBody } }, async (req, reply) => {
    if (!(await box.initialized()) && !box.claim?.accepts(req.body.claimCode)) {
      await box.auditStranger(req.ip, 'setup.refused');
      throw new RvError('RV_ERR_CLAIM_CODE', 'Setting up this box needs its claim code: it is printed in the box\'s log (sudo journalctl -u ringvault | grep "claim code"), or hold the save button for two seconds and try again.', 403);
    }
    const { recoveryKey, user } = await box.setup(req.body.username, req.body.passphrase);
    if (req.body.language) await box.updateSettings(user.name, { language: req.body.language });
    const s = sessions.create(user.name, user.role);
    reply.setCookie(SESSION_COOKIE, s.token, cookieBase);
    return { recoveryKey, user: { name: user.name, role: user.role } };
  });

  app.post('/api/login', { config: { rateLimit: { max: ctx.o.loginsPerMinute, timeWindow: 60_000 } }, schema: { body: Credentials } }, async (req, reply) => {
    const user = await box.authenticate(req.body.username, req.body.passphrase, req.ip);
    sessions.drop(req.cookies[SESSION_COOKIE]);
    const s = sessions.create(user.name, user.role, user.extension);
    reply.setCookie(SESSION_COOKIE, s.token, cookieBase);
    return { user: { name: user.name, role: user.role, ...(user.extension ? { extension: user.extension } : {}) } };
  });

  // The box's identity, as export recipients compare it (issue 10): any logged-in user may read it.
  app.get('/api/about', { onRequest: allow(STAFF_AND_UP) }, async () => {
    const key = (await box.initialized()) ? await box.vault.signPublicKey() : undefined;
    return { version: ctx.o.version, ...(key ? { boxId: boxIdOf(key), keyFingerprint: keyFingerprintOf(key) } : {}) };
  });

  // Changing one's own passphrase: any role; rewraps the keyslot and ends the user's other sessions.
  app.post('/api/me/passphrase', {
    onRequest: allow(STAFF_AND_UP), config: { rateLimit: { max: ctx.o.loginsPerMinute, timeWindow: 60_000 } },
    schema: { body: Type.Object({ current: Type.String({ minLength: 1, maxLength: 1024 }), next: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }) },
  }, async (req) => {
    await box.changePassphrase(req.session!.user, req.body.current, req.body.next, req.session!.token);
    return { ok: true };
  });

  app.post('/api/logout', { onRequest: allow(STAFF_AND_UP) }, async (req, reply) => {
    sessions.drop(req.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, cookieBase);
    await box.audit.append({ actor: req.session!.user, action: 'logout' });
    return { ok: true };
  });

  app.post('/api/unlock', { onRequest: allow(REVIEWERS), config: { rateLimit: { max: ctx.o.loginsPerMinute, timeWindow: 60_000 } }, schema: { body: Type.Object({ secret: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }) } }, async (req) => {
    if (!(await box.initialized())) throw new RvError('RV_ERR_NOT_SET_UP', 'The box is not set up yet; run the setup first.', 409);
    const r = await box.unlock(req.body.secret, req.session!.user);
    return { ok: true, via: r.via };
  });

  app.post('/api/lock', { onRequest: allow(MANAGERS) }, async (req) => {
    await box.lock(req.session!.user);
    return { ok: true };
  });
};
