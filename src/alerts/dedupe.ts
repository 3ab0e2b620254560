import type { Condition } from './conditions.ts';
import type { AlertKind, AlertState, Params } from './kinds.ts';

/** One thing to tell people: a problem began, lasts, or ended. */
export interface AlertEvent {
  key: string;
  kind: AlertKind;
  state: AlertState;
  line?: string;
  params: Params;
  at: number;
  /** times the problem came back while its alerts were held back */
  returned?: number;
}

/** Per condition key: what was last said about it. Serialisable, so a restart does not repeat itself. */
export interface KeyState {
  kind: AlertKind;
  line?: string;
  params: Params;
  active: boolean;
  /** a raise was sent and its recovery not yet */
  told: boolean;
  since?: number;
  lastRaiseAt?: number;
  lastToldAt?: number;
  flaps: number;
  held: number;
}

export interface DedupeOptions {
  /** a problem returning sooner than this after its last raise waits (doubling per return) */
  backoffMs: number;
  maxBackoffMs: number;
  /** reminder interval while a problem lasts; 0 = none */
  repeatMs: number;
  /** problems are not sent before this time (start-up grace) */
  quietUntil: number;
}

/**
 * Deduplication and back-off, as a pure step function: given what is true now, returns what to send.
 * A problem is sent once when it starts and once when it ends (only if its start was sent); while it
 * lasts a reminder follows every `repeatMs`. A problem that flaps is held back for a window that
 * doubles with every return (up to `maxBackoffMs`), then sent once if it is still there, saying how
 * often it came back: no mail storm from a loose cable.
 */
export function step(state: Map<string, KeyState>, now: Condition[], at: number, o: DedupeOptions): AlertEvent[] {
  // During the start-up grace nothing is said, not even a recovery: sources and the clock are still settling.
  if (at < o.quietUntil) return [];
  const out: AlertEvent[] = [];
  const present = new Map(now.map((c) => [c.key, c]));
  const windowOf = (k: KeyState) => Math.min(o.backoffMs * 2 ** k.flaps, o.maxBackoffMs);
  const raise = (key: string, k: KeyState) => {
    const w = windowOf(k);
    // A return within a few windows is flapping and widens the next window; a long quiet resets it.
    k.flaps = k.lastRaiseAt !== undefined && at - k.lastRaiseAt < 4 * w ? k.flaps + 1 : 0;
    out.push({ key, kind: k.kind, state: 'raised', ...(k.line ? { line: k.line } : {}), params: k.params, at, ...(k.held ? { returned: k.held } : {}) });
    k.told = true;
    k.held = 0;
    k.lastRaiseAt = at;
    k.lastToldAt = at;
  };
  for (const [key, c] of present) {
    let k = state.get(key);
    if (!k) {
      k = { kind: c.kind, params: c.params, active: false, told: false, flaps: 0, held: 0, ...(c.line ? { line: c.line } : {}) };
      state.set(key, k);
    }
    k.params = c.params;
    if (!k.active) {
      k.active = true;
      k.since = at;
      if (k.told) continue; // still told from before a restart: nothing new to say
      if (k.lastRaiseAt !== undefined && at - k.lastRaiseAt < windowOf(k)) k.held++;
    }
    if (!k.told) {
      if (k.lastRaiseAt === undefined || at - k.lastRaiseAt >= windowOf(k)) raise(key, k);
      continue;
    }
    if (o.repeatMs > 0 && at - (k.lastToldAt ?? at) >= o.repeatMs) {
      out.push({ key, kind: k.kind, state: 'reminder', ...(k.line ? { line: k.line } : {}), params: k.params, at });
      k.lastToldAt = at;
    }
  }
  for (const [key, k] of state) {
    if (present.has(key) || !k.active && !k.told) continue;
    k.active = false;
    if (k.told) {
      out.push({ key, kind: k.kind, state: 'recovered', ...(k.line ? { line: k.line } : {}), params: k.params, at });
      k.told = false;
      k.lastToldAt = at;
    }
  }
  // Forget what is over and cannot flap any more, so the state stays small.
  for (const [key, k] of state) if (!k.active && !k.told && (k.lastRaiseAt === undefined || at - k.lastRaiseAt > 4 * o.maxBackoffMs)) state.delete(key);
  return out;
}

/** When step() should run again by itself (a held problem's window ends, or a reminder is due); Infinity if never. */
export function nextWake(state: Map<string, KeyState>, at: number, o: DedupeOptions): number {
  let next = Infinity;
  if (at < o.quietUntil) next = o.quietUntil;
  for (const k of state.values()) {
    if (!k.active) continue;
    if (!k.told && k.lastRaiseAt !== undefined) next = Math.min(next, k.lastRaiseAt + Math.min(o.backoffMs * 2 ** k.flaps, o.maxBackoffMs));
    if (k.told && o.repeatMs > 0 && k.lastToldAt !== undefined) next = Math.min(next, k.lastToldAt + o.repeatMs);
  }
  return next;
}
