import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../app.ts';
import { MANAGERS, allow } from '../sessions.ts';
import { RvError } from '../../errors.ts';
import { RequestRegister, REQUEST_KINDS, REQUEST_STATUSES } from '../../requests/register.ts';
import { RequestActions } from '../../requests/actions.ts';
import { ExportJobs } from '../../export/jobs.ts';
import { validateRetention } from '../../retention/policy.ts';
import { mayOpen } from '../../privacy/access.ts';

const RequestParams = Type.Object({ id: Type.String({ pattern: '^RQ-[0-9]{8}-[0-9a-f]{6}$' }) });
const ExportParams = Type.Object({ id: Type.String({ pattern: '^ex-[0-9a-f]{16}$' }) });
const Kind = Type.Union(REQUEST_KINDS.map((k) => Type.Literal(k)));
const Status = Type.Union(REQUEST_STATUSES.map((s) => Type.Literal(s)));
const Lang = Type.Union([Type.Literal('nl'), Type.Literal('en')]);
const NewRequestBody = Type.Object({
  kind: Kind,
  received: Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD the request came in' }),
  numbers: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 10 })),
  extension: Type.Optional(Type.String({ maxLength: 8 })),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  details: Type.Optional(Type.String({ maxLength: 4000 })),
  note: Type.Optional(Type.String({ maxLength: 4000 })),
}, { additionalProperties: false });
const UpdateBody = Type.Object({ status: Type.Optional(Status), outcome: Type.Optional(Type.String({ maxLength: 4000 })) }, { additionalProperties: false });
const ActBody = Type.Object({ lang: Type.Optional(Lang), lift: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

/** The data-subject requests register and its export jobs (issue 6): managers and administrators only. */
export const requestRoutes = (ctx: RouteContext): FastifyPluginAsyncTypebox => async (app) => {
  const { box } = ctx;
  const dataDir = box.config().dataDir;
  const register = new RequestRegister({ dir: join(dataDir, 'requests'), vault: box.vault, now: box.clock.now });
  await register.open();
  box.requests = register;
  box.alerter?.poke();
  if (register.damaged.length > 0) box.log.error({ files: register.damaged }, 'requests: some request files could not be read; restore them from a backup');
  const exports = new ExportJobs({ dir: join(dataDir, 'exports.tmp'), source: box.archive, signer: box.vault, now: box.clock.now });
  await exports.open();
  app.addHook('onClose', async () => exports.close());
  const actions = new RequestActions({
    register, archive: box.archive, catalog: box.catalog, audit: box.audit, clock: box.clock, exports,
    policy: () => validateRetention(box.config().retention),
    numberHeld: (id) => box.holds?.maybeHeld(id) ?? false,
    deleter: box.deleter!,
  });
  const unlocked = () => box.vault.unlocked;

  app.get('/api/requests', { onRequest: allow(MANAGERS) }, async () => ({
    requests: await register.list(unlocked()), locked: !unlocked(), summary: register.summary(), damaged: register.damaged.length,
  }));

  // Counts only, no personal data and no unlock needed: for the dashboard.
  app.get('/api/requests/summary', { onRequest: allow(MANAGERS) }, async () => register.summary());

  app.get('/api/requests/:id', { onRequest: allow(MANAGERS), schema: { params: RequestParams } }, async (req) => {
    const r = await register.get(req.params.id, unlocked());
    if (unlocked()) await box.audit.append({ actor: req.session!.user, action: 'request.view', target: r.id });
    return { request: r, locked: !unlocked() };
  });

  app.post('/api/requests', { onRequest: allow(MANAGERS), schema: { body: NewRequestBody } }, async (req) => {
    const b = req.body;
    const r = await register.create({
      kind: b.kind, received: b.received, subject: { numbers: b.numbers, extension: b.extension },
      name: b.name, details: b.details, note: b.note, handledBy: req.session!.user,
    });
    // The audit log is in the clear: it names the request, never the person.
    await box.audit.append({ actor: req.session!.user, action: 'request.create', target: r.id, detail: { kind: r.kind, deadline: r.deadline } });
    return { request: r };
  });

  app.patch('/api/requests/:id', { onRequest: allow(MANAGERS), schema: { params: RequestParams, body: UpdateBody } }, async (req) => {
    const { status, outcome } = req.body;
    if (status === undefined && outcome === undefined) throw new RvError('RV_ERR_BAD_REQUEST', 'Nothing to change: send a status or an outcome.', 400);
    if (outcome !== undefined && !unlocked()) throw new RvError('RV_ERR_VAULT_LOCKED', 'The outcome is encrypted; unlock the vault to write it.', 423);
    const user = req.session!.user;
    const r = await register.update(req.params.id, {
      ...(status ? { status } : {}),
      ...(outcome !== undefined ? { personal: (p) => ({ ...p, outcome, handledBy: user }) } : {}),
    });
    await box.audit.append({ actor: user, action: 'request.update', target: r.id, detail: { ...(status ? { status } : {}), ...(outcome !== undefined ? { outcome: 'changed' } : {}) } });
    return { request: r };
  });

  app.post('/api/requests/:id/act', { onRequest: allow(MANAGERS), schema: { params: RequestParams, body: Type.Optional(ActBody) } }, async (req) => {
    if (!unlocked()) throw new RvError('RV_ERR_VAULT_LOCKED', 'The vault is locked; unlock it to act on a request (the numbers are encrypted).', 423);
    const s = req.session!;
    return actions.act(req.params.id, s.user, { ...(req.body ?? {}), mayOpen: (purposes) => mayOpen(box.config().rolePurposes, s.role, purposes) });
  });

  app.get('/api/exports/:id', { onRequest: allow(MANAGERS), schema: { params: ExportParams } }, async (req) => ({ job: exports.get(req.params.id) }));

  app.get('/api/exports/:id/download', { onRequest: allow(MANAGERS), schema: { params: ExportParams } }, async (req, reply) => {
    const d = exports.download(req.params.id);
    const job = exports.get(req.params.id);
    await box.audit.append({ actor: req.session!.user, action: 'export.download', target: job.request ?? job.id, detail: { export: job.id, calls: job.calls } });
    reply.header('content-type', 'application/zip').header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="${d.filename}"`).header('content-length', String(d.size));
    return reply.send(d.stream);
  });
};
