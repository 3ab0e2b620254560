import type { AbsentReason } from '../dsp/callerid.ts';

/**
 * Where calls start and end on an analog line, from what the detectors heard. Pure: the same
 * evidence always gives the same calls. `analyze` calls it once on a whole recording; a live
 * tracker can call it again on the evidence so far with `nowMs` = now — a call whose end is not yet
 * certain comes back with `open: true`.
 *
 * Rules: a ring, caller ID or the alerting tone opens an incoming call, dial tone, dialled digits or ring-back an
 * outgoing one, voice with neither before it a call of unknown direction. The first voice is the
 * answer. Busy or congestion tone ends the call at the tone's start; otherwise it ends at the last
 * voice once `hangoverMs` of quiet follows, or — never answered — after the last ring or ring-back.
 */

export type ToneKind = 'dial' | 'ringback' | 'busy' | 'congestion';

export type Evidence =
  | { kind: 'ring'; startMs: number; endMs: number }
  /** ETSI dual-tone alerting signal: caller ID follows before the first ring */
  | { kind: 'alerting'; startMs: number; endMs: number }
  | { kind: 'caller-id'; startMs: number; number?: string; name?: string; absent?: AbsentReason }
  | { kind: 'digit'; startMs: number; digit: string }
  | { kind: 'tone'; tone: ToneKind; startMs: number; endMs: number }
  | { kind: 'voice'; startMs: number; endMs: number };

export type EndReason = 'busy' | 'congestion' | 'silence' | 'unanswered' | 'end-of-audio';

export interface CallSpan {
  direction: 'in' | 'out' | 'unknown';
  startMs: number;
  answerMs?: number;
  endMs: number;
  endReason: EndReason;
  /** the caller's number (incoming) */
  number?: string;
  name?: string;
  absent?: AbsentReason;
  /** digits dialled on an outgoing call, in order */
  dialled?: string;
  /** true when `nowMs` came before the end was certain (live use) */
  open?: boolean;
}

export interface CallSpanOptions {
  /** quiet after the last voice that ends an answered call, ms (3000–5000 on lines) */
  hangoverMs: number;
  /** end of the evidence: the recording's length, or now */
  nowMs: number;
  /** an unanswered call ends this long after its last ring or ring-back, ms; default 6500 (Dutch rings repeat every 5 s) */
  unansweredMs?: number;
  /** before any ring-back, an outgoing call waits this long after dial tone or the last digit, ms; default 10000 */
  postDialMs?: number;
}

const startOf = (e: Evidence): number => e.startMs;
const endOf = (e: Evidence): number => ('endMs' in e ? e.endMs : e.startMs);

export function callSpans(evidence: readonly Evidence[], opts: CallSpanOptions): CallSpan[] {
  const unansweredMs = opts.unansweredMs ?? 6500;
  const postDialMs = opts.postDialMs ?? 10_000;
  const events = [...evidence].sort((a, b) => startOf(a) - startOf(b));
  const calls: CallSpan[] = [];
  let call: CallSpan | null = null;
  /** last moment something belonging to the open call was heard */
  let lastActivity = 0;
  let lastVoiceEnd = -Infinity;
  let heardRingback = false;

  /** when the open call ends if nothing more is heard */
  const deadline = (c: CallSpan): { at: number; endMs: number; reason: EndReason } =>
    c.answerMs !== undefined
      ? { at: lastVoiceEnd + opts.hangoverMs, endMs: lastVoiceEnd, reason: 'silence' }
      : { at: lastActivity + (c.direction === 'out' && !heardRingback ? postDialMs : unansweredMs), endMs: lastActivity, reason: 'unanswered' };

  const close = (endMs: number, reason: EndReason): void => {
    if (!call) return;
    call.endMs = Math.max(call.startMs, endMs);
    call.endReason = reason;
    calls.push(call);
    call = null;
  };
  const open = (direction: CallSpan['direction'], at: number): CallSpan => {
    call = { direction, startMs: at, endMs: at, endReason: 'end-of-audio' };
    lastActivity = at;
    lastVoiceEnd = -Infinity;
    heardRingback = false;
    return call;
  };

  for (const e of events) {
    if (call) {
      const d = deadline(call);
      if (d.at <= e.startMs) close(d.endMs, d.reason);
    }
    // a ring or caller ID while another call of no known direction is open: that one is over, a new call rings in
    const current = call as CallSpan | null;
    if (current && (e.kind === 'ring' || e.kind === 'caller-id' || e.kind === 'alerting') && current.direction === 'unknown') {
      close(lastVoiceEnd > current.startMs ? lastVoiceEnd : lastActivity, 'silence');
    }
    let c = call as CallSpan | null;
    if (!c) {
      if (e.kind === 'ring' || e.kind === 'caller-id' || e.kind === 'alerting') c = open('in', e.startMs);
      else if (e.kind === 'digit' || (e.kind === 'tone' && (e.tone === 'dial' || e.tone === 'ringback'))) c = open('out', e.startMs);
      else if (e.kind === 'voice') c = open('unknown', e.startMs);
      else continue; // busy or congestion with no call: the tail of one already ended
    }
    switch (e.kind) {
      case 'ring': case 'alerting':
        break;
      case 'caller-id':
        if (c.direction === 'in' && c.answerMs === undefined) {
          if (e.number !== undefined) c.number = e.number;
          if (e.name !== undefined) c.name = e.name;
          if (e.absent !== undefined) c.absent = e.absent;
        }
        break;
      case 'digit':
        if (c.direction === 'out') c.dialled = (c.dialled ?? '') + e.digit;
        break;
      case 'tone':
        if (e.tone === 'busy' || e.tone === 'congestion') {
          close(e.startMs, e.tone);
          continue;
        }
        if (e.tone === 'ringback') heardRingback = true;
        break;
      case 'voice':
        c.answerMs ??= e.startMs;
        lastVoiceEnd = Math.max(lastVoiceEnd, e.endMs);
        break;
    }
    lastActivity = Math.max(lastActivity, endOf(e));
  }
  if (call) {
    const d = deadline(call);
    if (d.at <= opts.nowMs) close(d.endMs, d.reason);
    else {
      const c: CallSpan = call;
      c.endMs = Math.max(c.startMs, lastActivity);
      c.endReason = 'end-of-audio';
      c.open = true;
      calls.push(c);
    }
  }
  return calls;
}
