import Fastify, { type FastifyInstance, type FastifyError, type FastifyServerOptions } from 'fastify';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { isRvError } from '../errors.ts';
import { diskError } from '../archive/disk-errors.ts';
import type { Box } from '../box.ts';
import { Sessions, SESSION_COOKIE } from './sessions.ts';
import { authRoutes } from './routes/auth.ts';
import { lineRoutes } from './routes/lines.ts';
import { callRoutes } from './routes/calls.ts';
import { adminRoutes } from './routes/admin.ts';
import { privacyRoutes } from './routes/privacy.ts';
import { requestRoutes } from './routes/requests.ts';
import { notificationRoutes } from './routes/notifications.ts';

export interface AppOptions {
  webDir: string;
  tls: boolean;
  /** PEM key and certificate: the app then serves HTTPS itself (tls should then be true). */
  https?: { key: Buffer; cert: Buffer };
  loginsPerMinute: number;
  sessionHours: number;
  logger?: boolean;
  version: string;
}

export type App = FastifyInstance;

/** The web app as a plugin-composed instance; it does not listen (server code does), so tests use inject(). */
export async function buildApp(box: Box, o: AppOptions): Promise<App> {
  const app = Fastify({
    logger: o.logger ?? false, bodyLimit: 64 * 1024, trustProxy: false,
    // Live-status streams never end by themselves; a stop must not wait for them.
    forceCloseConnections: true,
    // Unknown fields are an error the client should hear about, not something dropped silently.
    ajv: { customOptions: { removeAdditional: false } },
    ...(o.https ? { https: o.https } : {}),
  } as FastifyServerOptions).withTypeProvider<TypeBoxTypeProvider>();
  const sessions = new Sessions(o.sessionHours * 3600_000, box.clock.now);
  const endSessions = (user: string, keep: string | undefined): void => sessions.dropUserExcept(user, keep);
  box.userEvents.on('passphrase', endSessions);
  app.addHook('onClose', async () => { box.userEvents.off('passphrase', endSessions); });
  const cookieBase = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: o.tls };

  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'], mediaSrc: ["'self'"],
        connectSrc: ["'self'"], objectSrc: ["'none'"], frameAncestors: ["'none'"], formAction: ["'self'"], baseUri: ["'none'"],
        upgradeInsecureRequests: o.tls ? [] : null,
      },
    },
    hsts: o.tls,
  });
  await app.register(cookie);
  await app.register(csrf, { sessionPlugin: '@fastify/cookie', cookieKey: 'rv_csrf', cookieOpts: cookieBase });
  await app.register(rateLimit, { global: false });

  app.decorateRequest('session', undefined);
  app.addHook('onRequest', async (req) => {
    req.session = sessions.get(req.cookies[SESSION_COOKIE]);
  });
  // Every state change carries the CSRF token, whatever its route.
  app.addHook('onRequest', (req, reply, done) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return done();
    app.csrfProtection(req, reply, done);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (isRvError(err)) return reply.status(err.status).send({ error: { code: err.code, message: err.message, ...(err.localized ? { localized: err.localized } : {}) } });
    if (err.validation) return reply.status(400).send({ error: { code: 'RV_ERR_BAD_REQUEST', message: `The request is not valid: ${err.message}. Check the fields and send it again.` } });
    if (err.code?.startsWith('FST_CSRF')) return reply.status(403).send({ error: { code: 'RV_ERR_CSRF', message: 'The page is out of date or the request did not come from it; reload the page and try again.' } });
    if (err.statusCode === 429) return reply.status(429).send({ error: { code: 'RV_ERR_TOO_MANY_ATTEMPTS', message: 'Too many attempts; wait a minute and try again.' } });
    // A write the disk refused is a state of the box, not a bug: say so in words, with what to do.
    const disk = diskError(err, 'this change');
    if (disk) {
      box.log.warn({ url: req.url, code: disk.code }, disk.message);
      return reply.status(disk.status).send({ error: { code: disk.code, message: disk.message } });
    }
    if (err.statusCode && err.statusCode < 500) return reply.status(err.statusCode).send({ error: { code: 'RV_ERR_BAD_REQUEST', message: err.message } });
    req.log.error({ err }, 'request failed');
    box.log.error({ err, url: req.url }, 'request failed');
    return reply.status(500).send({ error: { code: 'RV_ERR_INTERNAL', message: 'Something went wrong inside the box; the log has the details. Try again, or restart the box if it persists.' } });
  });
  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/api/')) return reply.status(404).send({ error: { code: 'RV_ERR_NOT_FOUND', message: `There is no ${req.method} ${req.url.split('?')[0]}.` } });
    return reply.status(404).type('text/plain').send('Not found');
  });

  const ctx = { box, sessions, cookieBase, o };
  await app.register(authRoutes(ctx));
  await app.register(lineRoutes(ctx));
  await app.register(callRoutes(ctx));
  await app.register(adminRoutes(ctx));
  await app.register(privacyRoutes(ctx));
  await app.register(requestRoutes(ctx));
  await app.register(notificationRoutes(ctx));
  await app.register(fastifyStatic, { root: o.webDir, prefix: '/', index: 'index.html', cacheControl: false });
  return app;
}

export type RouteContext = { box: Box; sessions: Sessions; cookieBase: { path: string; httpOnly: boolean; sameSite: 'strict'; secure: boolean }; o: AppOptions };
