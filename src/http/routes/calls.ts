import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../app.ts';
import { MANAGERS, REVIEWERS, STAFF_AND_UP, allow, type Session } from '../sessions.ts';
import { RvError } from '../../errors.ts';
import { wavHeader } from '../../audio/wav.ts';
import { SAMPLE_RATE } from '../../audio/frame.ts';
import { parseRange } from '../range.ts';
import type { CallHeader } from '../../archive/archive.ts';
import { allowedPurposes, mayOpen, requirePurpose } from '../../privacy/access.ts';
import { staffView } from '../../privacy/staff-view.ts';

const CallParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,80}$' }) });
const dateParam = (s: string | undefined, field: string, endOfDay: boolean): number | undefined => {
  if (!s) return undefined;
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T${endOfDay ? '23:59:59.999' : '00:00:00'}` : s);
  if (Number.isNaN(t)) throw new RvError('RV_ERR_BAD_DATE', `${field}: "${s}" is not a date; use YYYY-MM-DD.`, 400);
  return t;
};

export const callRoutes = (ctx: RouteContext): FastifyPluginAsyncTypebox => async (app) => {
  const { box } = ctx;
  // Per login session, what it has already been audited for: a player fetches a recording in many ranges, in any
  // order, so the first request that touches a call is the one recorded, whatever range it asks for.
  const seen = new WeakMap<Session, Set<string>>();
  const firstInSession = (s: Session, key: string): boolean => {
    let set = seen.get(s);
    if (!set) seen.set(s, (set = new Set()));
    if (set.has(key)) return false;
    set.add(key);
    return true;
  };
  const header = (id: string): CallHeader => {
    const h = box.archive.get(id);
    if (!h) throw new RvError('RV_ERR_NO_SUCH_CALL', `There is no kept call ${id}; it may have been deleted or expired.`, 404);
    return h;
  };

  app.get('/api/calls', {
    onRequest: allow(STAFF_AND_UP),
    schema: { querystring: Type.Object({ number: Type.Optional(Type.String({ maxLength: 32 })), from: Type.Optional(Type.String({ maxLength: 40 })), to: Type.Optional(Type.String({ maxLength: 40 })), line: Type.Optional(Type.String({ maxLength: 32 })) }, { additionalProperties: false }) },
  }, async (req) => {
    const s = req.session!;
    const locked = !box.catalog.unlocked;
    if (req.query.number && locked) throw new RvError('RV_ERR_VAULT_LOCKED', 'Numbers are encrypted; unlock the vault to search by number.', 423);
    const q = { number: req.query.number || undefined, from: dateParam(req.query.from, 'from', false), to: dateParam(req.query.to, 'to', true), line: req.query.line || undefined };
    if (s.role === 'staff') {
      // A number search would tell staff who their calls were with, which *My calls* never shows.
      if (req.query.number) throw new RvError('RV_ERR_FORBIDDEN', 'Staff cannot search kept calls by phone number; ask a manager.', 403);
      // Staff see only their own extension's kept calls, which needs the sealed extension, and only what My calls shows.
      if (!s.extension || locked) return { calls: [], locked };
      return { calls: box.catalog.search({ ...q, extension: s.extension }).map(staffView), locked };
    }
    // Who looked up which number is personal data too: recorded before the answer, without the number itself.
    if (req.query.number) await box.audit.append({ actor: s.user, action: 'calls.search', detail: { by: 'number' } });
    // Roles see only recordings kept for a purpose they are allowed (privacy settings, role matrix).
    const matrix = box.config().rolePurposes;
    return { calls: box.catalog.search(q).filter((c) => mayOpen(matrix, s.role, c.purposes)), locked, allowedPurposes: allowedPurposes(matrix, s.role) };
  });

  app.get('/api/calls/:id', { onRequest: allow(STAFF_AND_UP), schema: { params: CallParams } }, async (req) => {
    const h = header(req.params.id);
    const summary = box.catalog.summary(h);
    const s = req.session!;
    // Staff may see that one of their own calls was kept, and for what; not anyone else's.
    if (s.role === 'staff' && (!s.extension || summary.extension !== s.extension)) throw new RvError('RV_ERR_FORBIDDEN', 'Staff can see only the kept calls of their own extension.', 403);
    if (s.role !== 'staff') requirePurpose(box.config().rolePurposes, s.role, h);
    // Opening a call's page is a look at personal data: who opened which call is recorded, once per session.
    if (firstInSession(s, `view:${h.id}`)) await box.audit.append({ actor: s.user, action: 'call.view', target: h.id });
    if (s.role === 'staff') return { call: staffView(summary) };
    const v = await box.archive.verify(h.id);
    return { call: { ...summary, verified: v.ok, ...(v.reason ? { verifyProblem: v.reason } : {}) } };
  });

  app.get('/api/calls/:id/audio.wav', {
    onRequest: allow(REVIEWERS),
    schema: { params: CallParams, querystring: Type.Object({ download: Type.Optional(Type.String({ maxLength: 5 })) }) },
  }, async (req, reply) => {
    const h = header(req.params.id);
    requirePurpose(box.config().rolePurposes, req.session!.role, h);
    if (!box.vault.unlocked) throw new RvError('RV_ERR_VAULT_LOCKED', 'The vault is locked; unlock it to listen to recordings.', 423);
    if (h.restricted) throw new RvError('RV_ERR_RESTRICTED', 'Playback of this recording is restricted (a data-subject request); lift the restriction first.', 403);
    const bytesPerFrame = 2 * h.channels;
    const dataBytes = h.samples * bytesPerFrame;
    const head = wavHeader({ sampleRate: h.sampleRate, channels: h.channels, dataBytes });
    const total = head.length + dataBytes;
    const range = parseRange(req.headers.range, total);
    const download = req.query.download === '1';
    const action = download ? 'call.download' : 'call.play';
    // Audited before a byte is sent, for the first request of this session that touches the call, whatever its range.
    if (firstInSession(req.session!, `${action}:${h.id}`)) await box.audit.append({ actor: req.session!.user, action, target: h.id });
    const start = range?.start ?? 0;
    const end = range?.end ?? total - 1;
    // every chunk but a call's last holds 8000 frames, whatever the call's rate (1 s at 8 kHz, 0.5 s at 16 kHz)
    const chunkBytes = SAMPLE_RATE * bytesPerFrame;
    async function* body(): AsyncGenerator<Buffer> {
      let pos = 0;
      const emit = (buf: Buffer): Buffer | undefined => {
        const from = Math.max(start - pos, 0);
        const to = Math.min(end + 1 - pos, buf.length);
        pos += buf.length;
        return to > from ? buf.subarray(from, to) : undefined;
      };
      const h0 = emit(head);
      if (h0) yield h0;
      const first = Math.max(0, Math.floor((start - head.length) / chunkBytes));
      pos = head.length + first * chunkBytes;
      for await (const c of box.archive.readPcm(h.id, first)) {
        if (pos > end) break;
        const part = emit(c.pcm);
        if (part) yield part;
      }
    }
    reply.header('content-type', 'audio/wav').header('accept-ranges', 'bytes').header('cache-control', 'no-store');
    if (download) reply.header('content-disposition', `attachment; filename="ringvault-${h.id}.wav"`);
    if (range) reply.status(206).header('content-range', `bytes ${start}-${end}/${total}`);
    reply.header('content-length', String(end - start + 1));
    return reply.send(Readable.from(body()));
  });

  app.delete('/api/calls/:id', { onRequest: allow(MANAGERS), schema: { params: CallParams } }, async (req) => {
    const h = header(req.params.id);
    requirePurpose(box.config().rolePurposes, req.session!.role, h);
    if (!box.deleter) throw new RvError('RV_ERR_NOT_READY', 'The box is still starting; try again in a moment.', 503);
    await box.deleter.delete(h.id, { actor: req.session!.user, action: 'call.delete' });
    return { ok: true };
  });
};
