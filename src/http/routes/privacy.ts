import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../app.ts';
import { ADMINS, MANAGERS, STAFF_AND_UP, allow } from '../sessions.ts';
import { RvError } from '../../errors.ts';
import { Config, PURPOSES, noDefault } from '../../config/schema.ts';
import { DAY_MS, validateRetention } from '../../retention/policy.ts';
import type { HoldStore } from '../../retention/holds.ts';
import { policyDocument } from '../../privacy/policy-doc.ts';
import { staffView } from '../../privacy/staff-view.ts';

const HoldParams = Type.Object({ id: Type.String({ pattern: '^hold-[0-9a-f]{12}$' }) });
const PlaceHold = Type.Object({
  kind: Type.Union([Type.Literal('call'), Type.Literal('number')]),
  callId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,80}$' })),
  number: Type.Optional(Type.String({ maxLength: 32 })),
  reason: Type.String({ maxLength: 500 }),
  caseRef: Type.String({ maxLength: 120 }),
}, { additionalProperties: false });
// A patch: no field has a default, or ajv would fill in (and so reset) every field the page did not send.
const PrivacySettings = Type.Object({
  retention: Type.Optional(Type.Partial(noDefault(Config.properties.retention))),
  exclusions: Type.Optional(noDefault(Config.properties.exclusions)),
  rolePurposes: Type.Optional(Type.Partial(noDefault(Config.properties.rolePurposes))),
}, { additionalProperties: false });

/** Legal holds, the privacy settings (retention, exclusions, role matrix), the staff view and the recording policy. */
export const privacyRoutes = (ctx: RouteContext): FastifyPluginAsyncTypebox => async (app) => {
  const { box } = ctx;
  const holds = (): HoldStore => {
    if (!box.holds) throw new RvError('RV_ERR_NOT_READY', 'Legal holds are not loaded yet; wait for the box to finish starting.', 503);
    return box.holds;
  };

  app.get('/api/holds', { onRequest: allow(MANAGERS) }, async (req) => {
    const locked = !box.vault.unlocked;
    const list = await holds().list();
    // Unlocked, the list shows held numbers and case details: who looked is recorded.
    if (!locked && list.length > 0) await box.audit.append({ actor: req.session!.user, action: 'holds.view', detail: { holds: list.length } });
    return { holds: list, locked };
  });

  app.post('/api/holds', { onRequest: allow(MANAGERS), schema: { body: PlaceHold } }, async (req) => {
    const b = req.body;
    if (b.kind === 'call' && !b.callId) throw new RvError('RV_ERR_BAD_HOLD', 'A hold on a recording needs its call id.', 422);
    if (b.kind === 'number' && !b.number) throw new RvError('RV_ERR_BAD_HOLD', 'A hold on a number needs the phone number.', 422);
    return { hold: await holds().place(req.session!.user, b) };
  });

  app.post('/api/holds/:id/propose-release', { onRequest: allow(MANAGERS), schema: { params: HoldParams } }, async (req) => ({ hold: await holds().proposeRelease(req.session!.user, req.params.id) }));
  app.post('/api/holds/:id/confirm-release', { onRequest: allow(MANAGERS), schema: { params: HoldParams } }, async (req) => ({ hold: await holds().confirmRelease(req.session!.user, req.params.id) }));
  app.post('/api/holds/:id/withdraw-release', { onRequest: allow(MANAGERS), schema: { params: HoldParams } }, async (req) => ({ hold: await holds().withdrawRelease(req.session!.user, req.params.id) }));

  const privacyView = async () => {
    const c = box.config();
    // The exclusion list is sealed: its numbers show only while the vault is unlocked (issue 10).
    return { retention: validateRetention(c.retention), ...(await box.exclusionsView()), rolePurposes: c.rolePurposes, purposes: PURPOSES };
  };
  // Managers read the settings (they answer requests under them); only administrators change them.
  app.get('/api/privacy/settings', { onRequest: allow(MANAGERS) }, async () => ({ settings: await privacyView() }));
  app.put('/api/privacy/settings', { onRequest: allow(ADMINS), schema: { body: PrivacySettings } }, async (req) => {
    const b = req.body;
    const now = box.config();
    // Only what was sent changes, down to one purpose's retention or one role's purposes.
    await box.updateSettings(req.session!.user, {
      ...(b.exclusions !== undefined ? { exclusions: b.exclusions } : {}),
      ...(b.retention !== undefined ? { retention: { ...now.retention, ...b.retention } } : {}),
      ...(b.rolePurposes !== undefined ? { rolePurposes: { ...now.rolePurposes, ...b.rolePurposes } } : {}),
    });
    return { settings: await privacyView() };
  });

  // A staff member's own kept calls: when and for what, never audio or the other party's number.
  app.get('/api/mycalls', {
    onRequest: allow(STAFF_AND_UP),
    schema: { querystring: Type.Object({ period: Type.Optional(Type.Union([Type.Literal('week'), Type.Literal('month')])) }, { additionalProperties: false }) },
  }, async (req) => {
    const s = req.session!;
    const period = req.query.period ?? 'week';
    const since = box.clock.now() - (period === 'week' ? 7 : 31) * DAY_MS;
    if (!s.extension) return { calls: [], locked: !box.catalog.unlocked, extension: null, period, since };
    // The extension is sealed with the call: it can be matched only while the vault is unlocked.
    if (!box.catalog.unlocked) return { calls: [], locked: true, extension: s.extension, period, since };
    const calls = box.catalog.search({ extension: s.extension, from: since }).map(staffView);
    await box.audit.append({ actor: s.user, action: 'mycalls.view', detail: { period, calls: calls.length } });
    return { calls, locked: false, extension: s.extension, period, since };
  });

  app.get('/api/policy', {
    onRequest: allow(STAFF_AND_UP),
    schema: { querystring: Type.Object({ lang: Type.Optional(Type.Union([Type.Literal('nl'), Type.Literal('en')])) }, { additionalProperties: false }) },
  }, async (req) => {
    const cfg = box.config();
    // The document counts the exclusion list; its numbers are sealed (issue 10), so only the count is passed.
    const counted = { ...cfg, exclusions: Array.from({ length: box.exclusionCount() }, () => '') };
    return { policy: policyDocument(counted, req.query.lang ?? cfg.language, box.clock.now()) };
  });
};
