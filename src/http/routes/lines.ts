import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteContext } from '../app.ts';
import { STAFF_AND_UP, allow } from '../sessions.ts';
import { RvError } from '../../errors.ts';
import { Purpose } from '../../config/schema.ts';
import { SimBoard } from '../../board/sim.ts';

const LineParams = Type.Object({ id: Type.String({ maxLength: 32 }) });
const SIM_ROLES = ['admin', 'manager', 'staff'] as const;
/** On a trunk line: one live call by its ref, or the calls of one extension; neither = the line's calls. */
const CallPick = {
  ref: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  extension: Type.Optional(Type.String({ pattern: '^\\+?[0-9*#]{1,20}$' })),
};

export const lineRoutes = (ctx: RouteContext): FastifyPluginAsyncTypebox => async (app) => {
  const { box } = ctx;
  const lines = () => {
    const coverageMinutes = Math.round(box.coverageMinutes() * 10) / 10;
    // led: what the save-button board shows for the line (issue 5)
    const leds = box.boardController?.leds() ?? {};
    return box.recorder.status().map((l) => ({ ...l, coverageMinutes, ...(leds[l.id] ? { led: leds[l.id] } : {}) }));
  };

  app.get('/api/lines', { onRequest: allow(STAFF_AND_UP) }, async () => ({ lines: lines() }));

  app.get('/api/events', { onRequest: allow(STAFF_AND_UP) }, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    let pending: NodeJS.Timeout | undefined;
    // Bursts of changes (a call starting on every line) become one message.
    const onChange = () => { pending ??= setTimeout(() => { pending = undefined; send('lines', { lines: lines() }); }, 50); };
    const onKept = (k: { line: string; callId: string }) => send('kept', k);
    box.recorder.on('change', onChange);
    box.recorder.on('kept', onKept);
    const onHealth = () => send('health', box.health?.report() ?? null);
    box.health?.on('change', onHealth);
    box.health?.on('change', onChange);
    const tick = setInterval(() => send('lines', { lines: lines() }), 5000);
    send('lines', { lines: lines() });
    onHealth();
    req.raw.on('close', () => {
      clearInterval(tick);
      clearTimeout(pending);
      box.recorder.off('change', onChange);
      box.recorder.off('kept', onKept);
      box.health?.off('change', onHealth);
      box.health?.off('change', onChange);
    });
  });

  app.post('/api/lines/:id/save', { onRequest: allow(STAFF_AND_UP), schema: { params: LineParams, body: Type.Optional(Type.Object({ purposes: Type.Optional(Type.Array(Purpose, { maxItems: 5 })), ...CallPick }, { additionalProperties: false })) } }, async (req) => {
    const r = await box.recorder.save(req.params.id, { purposes: req.body?.purposes, keptBy: 'user', ref: req.body?.ref, extension: req.body?.extension });
    for (const callId of r.callIds) await box.audit.append({ actor: req.session!.user, action: 'call.save', target: callId, detail: { line: req.params.id } });
    // heardMs: audio heard when the save was made; durableMs: of it, stored durably before this answer.
    return { callId: r.callId, callIds: r.callIds, line: req.params.id, heardMs: r.heardMs, durableMs: r.durableMs };
  });

  app.post('/api/lines/:id/private', { onRequest: allow(STAFF_AND_UP), schema: { params: LineParams, body: Type.Optional(Type.Object(CallPick, { additionalProperties: false })) } }, async (req) => {
    await box.recorder.private(req.params.id, { ref: req.body?.ref, extension: req.body?.extension });
    await box.audit.append({ actor: req.session!.user, action: 'call.private', detail: { line: req.params.id } });
    return { ok: true };
  });

  const sim = () => {
    if (!box.sim) throw new RvError('RV_ERR_NOT_SIMULATED', 'This box has no simulated lines; calls come from the real line.', 404);
    return box.sim;
  };
  app.post('/api/sim/lines/:id/call', {
    onRequest: allow(SIM_ROLES),
    schema: {
      params: LineParams,
      body: Type.Optional(Type.Object({
        direction: Type.Optional(Type.Union([Type.Literal('in'), Type.Literal('out')])),
        caller: Type.Optional(Type.String({ pattern: '^\\+?[0-9]{3,20}$' })),
        called: Type.Optional(Type.String({ pattern: '^\\+?[0-9]{3,20}$' })),
        extension: Type.Optional(Type.String({ pattern: '^[0-9]{1,8}$' })),
        durationSec: Type.Optional(Type.Number({ minimum: 1, maximum: 3600 })),
        digits: Type.Optional(Type.String({ pattern: '^[0-9*#A-D]{1,32}$' })),
      }, { additionalProperties: false })),
    },
  }, async (req) => ({ ref: sim().placeCall(req.params.id, req.body ?? {}) }));

  app.post('/api/sim/lines/:id/fault', { onRequest: allow(['admin', 'manager']), schema: { params: LineParams, body: Type.Object({ fault: Type.Boolean() }, { additionalProperties: false }) } }, async (req) => {
    sim().setFault(req.params.id, req.body.fault);
    return { ok: true };
  });

  app.post('/api/sim/lines/:id/hangup', { onRequest: allow(SIM_ROLES), schema: { params: LineParams } }, async (req) => {
    sim().hangup(req.params.id);
    return { ok: true };
  });

  // The simulated save-button board (board.driver "sim"): the dashboard's simulation panel presses it.
  const simBoard = () => {
    if (!(box.board instanceof SimBoard)) throw new RvError('RV_ERR_NOT_SIMULATED', 'This box has a real save-button board (or none); press its buttons instead.', 404);
    return box.board;
  };
  // A button is a line id, or "line:extension" for a button mapped to a trunk extension (board.units).
  const BoardLine = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}(:\\+?[0-9*#]{1,20})?$' });
  app.post('/api/sim/board/press', { onRequest: allow(SIM_ROLES), schema: { body: Type.Object({ line: Type.Optional(BoardLine), kind: Type.Union([Type.Literal('short'), Type.Literal('long')]) }, { additionalProperties: false }) } }, async (req) => {
    const b = simBoard();
    if (!b.connected) throw new RvError('RV_ERR_BOARD_UNPLUGGED', 'The simulated board is unplugged; plug it back in first.', 409);
    b.press(req.body.line, req.body.kind);
    return { ok: true };
  });
  app.post('/api/sim/board/sense', { onRequest: allow(['admin', 'manager']), schema: { body: Type.Object({ line: BoardLine, state: Type.Union([Type.Literal('offhook'), Type.Literal('onhook'), Type.Literal('ring')]) }, { additionalProperties: false }) } }, async (req) => {
    simBoard().sense(req.body.line, req.body.state);
    return { ok: true };
  });
  app.post('/api/sim/board/plug', { onRequest: allow(['admin', 'manager']), schema: { body: Type.Object({ plugged: Type.Boolean() }, { additionalProperties: false }) } }, async (req) => {
    const b = simBoard();
    if (req.body.plugged) b.plug(); else b.unplug();
    return { ok: true, connected: b.connected };
  });
};
