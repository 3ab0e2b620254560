import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { RvError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { Clock } from '../clock.ts';
import type { LineConfig } from '../config/schema.ts';
import type { Ring } from '../ring/ring.ts';
import type { Archive, CallHeader, KeptBy, KeptCallWriter } from '../archive/archive.ts';
import type { CallParties, LineSource } from '../sources/source.ts';
import { decideAtStart, isExcluded, normalizeNumber, resolvePurposes } from '../policy/keep.ts';
import { callsOf } from '../config/trunk.ts';
import { Chunker, type Chunk } from './chunker.ts';
import { KeyedDigits } from './keyed-digits.ts';
import { SAMPLE_RATE, type CallRate } from '../audio/frame.ts';

/** The call-end reason a source gives a call shorter than its line's minimum length. */
export const TOO_SHORT = 'too-short';

export interface RecorderDeps {
  ring: Ring;
  archive: Archive;
  clock: Clock;
  log: Log;
  /** the running line config (the UI may change it between calls) */
  lines: () => readonly LineConfig[];
  graceSeconds: () => number;
  exclusions: () => readonly string[];
  draw?: (n: number) => number;
}

interface LiveCall {
  ref: string;
  line: string;
  ringId: string;
  startedAt: number;
  channels: 1 | 2;
  rate: CallRate;
  parties: CallParties;
  buffered: boolean;
  private: boolean;
  chunker: Chunker;
  keeping?: Promise<KeptCallWriter>;
  /** who started keeping it: a rule ('all', 'sample') or a person */
  keptBy?: KeptBy;
  writer?: KeptCallWriter;
  lastAppend: Promise<void>;
  endedAt?: number;
  /** digits keyed during the call and when; masked in the sealed metadata unless the line keeps them */
  keyed: KeyedDigits;
}

interface EndedCall { ref: string; ringId: string; line: string; startedAt: number; endedAt: number; channels: 1 | 2; rate: CallRate; parties: CallParties; keyed: KeyedDigits; savableUntil: number; timer: NodeJS.Timeout }

/** A live call as the dashboard and the LEDs see it (no numbers: staff see the dashboard). */
export interface LiveCallStatus { ref: string; startedAt: number; direction: 'in' | 'out'; keeping: boolean; private: boolean; callId?: string; extension?: string }
export interface EndedCallStatus { ref: string; endedAt: number; savableUntil: number; extension?: string }

/** Which calls a save or private acts on: one call by its ref, the calls of one extension, or (neither) the line's. */
export interface CallPick { ref?: string | undefined; extension?: string | undefined }

export interface LineStatus {
  id: string; name: string; source: string; channels: 1 | 2; keep: LineConfig['keep']; sampleN: number;
  purposes: string[]; keepPurposes: string[];
  state: 'idle' | 'in-call' | 'keeping' | 'fault'; fault?: string;
  /** calls the line carries at once: 1, or a trunk's maxCalls */
  maxCalls: number;
  /** every live call, oldest first */
  calls: LiveCallStatus[];
  /** the newest live call (the only one on an analog line) */
  call?: LiveCallStatus;
  /** calls that ended within the grace period and can still be kept, oldest first */
  ended: EndedCallStatus[];
  lastEnded?: EndedCallStatus;
}

const keyOf = (line: string, ref: string): string => `${line}\u0000${ref}`;

/** Does a call belong to an extension: its own extension, or the extension as caller or callee (a trunk's own number)? */
export function ofExtension(p: Pick<CallParties, 'extension' | 'caller' | 'called'>, ext: string): boolean {
  const n = normalizeNumber(ext);
  return [p.extension, p.caller, p.called].some((x) => x !== undefined && (x === ext || normalizeNumber(x) === n));
}

export type RecorderEvents = {
  change: [];
  /** a call started being kept (rule or person) */
  kept: [{ line: string; callId: string; keptBy: KeptBy }];
  /** a kept call is complete in the archive; the parties let legal holds on a number match while locked */
  archived: [CallHeader, CallParties];
};

/**
 * Turns line-source events into ring writes and kept calls: the call tracker and keep policy
 * of the data flow. Saving pins the call, copies its ring slots and streams the rest to the archive.
 */
export class Recorder extends EventEmitter<RecorderEvents> {
  /** by line and ref: a trunk line carries several live calls, an analog line one */
  private readonly live = new Map<string, LiveCall>();
  private readonly ended = new Map<string, EndedCall>();
  private readonly faults = new Map<string, string>();
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly d: RecorderDeps) { super(); }

  attach(source: LineSource): void {
    source.on('call-start', (e) => this.onStart(e.line, e.ref, e.at, e.channels, e.parties, e.rate ?? SAMPLE_RATE));
    source.on('call-audio', (e) => {
      const call = this.live.get(keyOf(e.line, e.ref));
      call?.keyed.heard(e.block.at);
      // Unbuffered (never/excluded) and private calls are not even gathered.
      if (call?.buffered && !call.private) call.chunker.push(e.block);
    });
    source.on('call-info', (e) => this.onInfo(e.line, e.ref, e.parties));
    source.on('call-end', (e) => this.onEnd(e.line, e.ref, e.at, e.reason));
    source.on('fault', (e) => { this.faults.set(e.line, e.message); this.d.log.warn({ line: e.line, code: e.code }, e.message); this.emit('change'); });
    source.on('recovered', (e) => { this.faults.delete(e.line); this.d.log.info({ line: e.line }, 'line recovered'); this.emit('change'); });
  }

  private lineConfig(id: string): LineConfig {
    const l = this.d.lines().find((x) => x.id === id);
    if (!l) throw new RvError('RV_ERR_UNKNOWN_LINE', `There is no line "${id}"; the configured lines are ${this.d.lines().map((x) => x.id).join(', ')}.`, 404);
    return l;
  }

  private liveOn(line: string): LiveCall[] { return [...this.live.values()].filter((c) => c.line === line); }
  private endedOn(line: string): EndedCall[] { return [...this.ended.values()].filter((c) => c.line === line); }

  private onStart(line: string, ref: string, at: number, channels: 1 | 2, parties: CallParties, rate: CallRate): void {
    const cfg = this.lineConfig(line);
    const same = this.live.get(keyOf(line, ref));
    if (same) this.onEnd(line, ref, at, 'superseded');
    // A line full of calls (an analog line's one, a trunk's maxCalls) gives way to the new call: the oldest ends.
    const others = this.liveOn(line);
    for (const old of others.slice(0, Math.max(0, others.length - callsOf(cfg) + 1))) this.onEnd(line, old.ref, at, 'superseded');
    const decision = decideAtStart(cfg, parties, this.d.exclusions(), this.d.draw);
    const call: LiveCall = {
      ref, line, ringId: `${line}.${ref}.${randomBytes(4).toString('hex')}`, startedAt: at, channels, rate, parties: { ...parties },
      buffered: decision.buffer, private: false, lastAppend: Promise.resolve(),
      chunker: new Chunker(channels, (c) => this.onChunk(call, c), rate), keyed: new KeyedDigits(at),
    };
    call.keyed.update(parties.digits);
    this.live.set(keyOf(line, ref), call);
    this.d.log.info({ line, ref, buffered: decision.buffer }, `call started: ${decision.reason}`);
    if (decision.keep) this.track(this.startKeeping(call, decision.keep, resolvePurposes(cfg)), 'could not keep call');
    this.emit('change');
  }

  private onChunk(call: LiveCall, chunk: Chunk): void {
    if (call.private) return;
    if (call.writer) {
      const w = call.writer;
      call.lastAppend = call.lastAppend.then(() => w.append({ at: chunk.at, pcm: chunk.pcm })).catch((e) => this.d.log.error({ err: e, line: call.line }, 'archive append failed'));
      return;
    }
    try {
      this.d.ring.write(call.ringId, chunk);
    } catch (e) {
      this.d.log.error({ err: e, line: call.line }, 'ring write failed; this second of audio is lost');
    }
  }

  private onInfo(line: string, ref: string, parties: Partial<CallParties>): void {
    const call = this.live.get(keyOf(line, ref));
    if (!call) return;
    Object.assign(call.parties, parties);
    call.keyed.update(call.parties.digits);
    if (isExcluded(call.parties, this.d.exclusions())) {
      this.track(this.wipe(call, 'number on the exclusion list'), 'could not wipe an excluded call');
      return;
    }
    if (call.writer) this.track(call.writer.setMeta(this.metaOf(call.line, call.parties, call.keyed)), 'could not update call metadata');
  }

  private onEnd(line: string, ref: string, at: number, reason: string): void {
    const key = keyOf(line, ref);
    const call = this.live.get(key);
    if (!call) return;
    call.chunker.flush();
    call.endedAt = at;
    this.live.delete(key);
    this.d.log.info({ line, ref, reason }, 'call ended');
    // A call shorter than the line's minimum (a misdial, a line glitch) is not stored, unless a person kept it.
    if (reason === TOO_SHORT && (!call.keeping || call.keptBy === 'all' || call.keptBy === 'sample')) {
      this.track(this.wipe(call, 'shorter than the minimum call length'), 'could not wipe a too-short call');
      this.emit('change');
      return;
    }
    if (call.keeping) {
      this.track(this.finishKept(call), 'could not finish a kept call');
    } else if (call.buffered && !call.private && this.d.ring.has(call.ringId)) {
      const graceMs = this.d.graceSeconds() * 1000;
      // A line keeps as many just-ended calls savable as it carries at once; older ones are wiped.
      const olds = this.endedOn(line);
      for (const old of olds.slice(0, Math.max(0, olds.length - callsOf(this.lineConfig(line)) + 1))) this.forgetEnded(old);
      // Wipe at the end of the grace period instead of waiting to be overwritten: the buffer stays minimal.
      const timer = setTimeout(() => this.expireEnded(key, call.ringId), graceMs);
      this.ended.set(key, { ref, ringId: call.ringId, line, startedAt: call.startedAt, endedAt: at, channels: call.channels, rate: call.rate, parties: call.parties, keyed: call.keyed, savableUntil: at + graceMs, timer });
    }
    this.emit('change');
  }

  private expireEnded(key: string, ringId: string): void {
    const e = this.ended.get(key);
    if (!e || e.ringId !== ringId) return;
    this.forgetEnded(e);
    this.emit('change');
  }

  private forgetEnded(e: EndedCall): void {
    clearTimeout(e.timer);
    this.ended.delete(keyOf(e.line, e.ref));
    this.d.ring.forget(e.ringId);
  }

  /** The sealed metadata: keyed digits (card numbers, PINs) only as count and times unless the line keeps them. */
  private metaOf(line: string, p: CallParties, keyed: KeyedDigits): Record<string, unknown> {
    const keepDigits = this.d.lines().find((l) => l.id === line)?.keepDigits ?? false;
    return { direction: p.direction, caller: p.caller, called: p.called, extension: p.extension, ...keyed.meta(p.digits, keepDigits), ...(p.siprecMetadata ? { siprecMetadata: p.siprecMetadata } : {}), ...(p.undecodable?.length ? { undecodable: p.undecodable } : {}), ...(p.notes?.length ? { notes: p.notes } : {}) };
  }

  private startKeeping(call: LiveCall, keptBy: KeptBy, purposes: string[]): Promise<KeptCallWriter> {
    if (call.keeping) return call.keeping;
    call.keptBy = keptBy;
    this.d.ring.pin(call.ringId);
    call.keeping = (async () => {
      try {
        const writer = await this.d.archive.beginCall({
          line: call.line, startedAt: call.startedAt, channels: call.channels, sampleRate: call.rate, meta: this.metaOf(call.line, call.parties, call.keyed),
          purposes, keptBy, clockSynced: this.d.clock.synced(),
        });
        // Chunks that arrived while the open record was made went to the ring, so one read covers them all.
        const earlier = this.readRing(call.ringId);
        call.writer = writer;
        for (const c of earlier) call.lastAppend = call.lastAppend.then(() => writer.append({ at: c.at, pcm: c.pcm }));
        await call.lastAppend;
        this.d.ring.unpin(call.ringId);
        this.d.ring.forget(call.ringId);
        this.emit('kept', { line: call.line, callId: writer.id, keptBy });
        this.emit('change');
        return writer;
      } catch (e) {
        // Leave the audio in the ring so a later press can try again.
        this.d.ring.unpin(call.ringId);
        call.keeping = undefined;
        call.keptBy = undefined;
        call.writer = undefined;
        throw e;
      }
    })();
    return call.keeping;
  }

  private readRing(ringId: string): Chunk[] {
    if (!this.d.ring.has(ringId)) return [];
    try {
      return this.d.ring.read(ringId);
    } catch (e) {
      this.d.log.error({ err: e }, 'ring slots failed to authenticate; keeping the call from the press on');
      return [];
    }
  }

  private async finishKept(call: LiveCall): Promise<void> {
    const writer = await call.keeping!;
    await call.lastAppend;
    if (call.private) return;
    const header = await writer.finish(call.endedAt);
    this.emit('archived', header, call.parties);
    this.emit('change');
  }

  /**
   * The calls a save or private acts on. A ref picks one call; an extension the calls of that
   * extension (a trunk button mapped to it); neither every live call on the line. With no live call
   * the newest call that ended within the grace period (of that extension, when one is given).
   */
  private pick(lineId: string, pick: CallPick, now: number): { live: LiveCall[]; ended?: EndedCall } {
    const match = (c: { ref: string; parties: CallParties }) => (pick.ref === undefined || c.ref === pick.ref) && (pick.extension === undefined || ofExtension(c.parties, pick.extension));
    const live = this.liveOn(lineId).filter(match);
    if (live.length) return { live };
    const ended = this.endedOn(lineId).filter((e) => match(e) && now <= e.savableUntil && this.d.ring.has(e.ringId)).pop();
    return ended ? { live, ended } : { live };
  }

  private nothingTo(lineId: string, pick: CallPick, what: string): RvError {
    const which = pick.ref !== undefined ? ` with ref ${pick.ref}` : pick.extension !== undefined ? ` of extension ${pick.extension}` : '';
    return new RvError('RV_ERR_NOTHING_TO_SAVE', `There is no call${which} on line ${lineId} to ${what}: none is live and none ended in the last ${this.d.graceSeconds()} seconds.`, 409);
  }

  /** The refs of the live calls on a line that belong to an extension (what a button mapped to it shows). */
  refsOf(lineId: string, extension: string): Set<string> {
    return new Set(this.liveOn(lineId).filter((c) => ofExtension(c.parties, extension)).map((c) => c.ref));
  }

  /**
   * Keep the live calls on a line (one call on an analog line; on a trunk every live call, or those
   * `pick` names), or else the newest that ended within the grace period. Resolves once durable.
   */
  async save(lineId: string, opts: { purposes?: string[] | undefined; keptBy: KeptBy } & CallPick): Promise<{ callId: string; callIds: string[] }> {
    const cfg = this.lineConfig(lineId);
    if (cfg.keep === 'never') throw new RvError('RV_ERR_LINE_NEVER_KEEPS', `Line ${lineId} is set to never keep calls; change its keep policy in the settings first.`, 409);
    const purposes = resolvePurposes(cfg, opts.purposes);
    const { live, ended } = this.pick(lineId, opts, this.d.clock.now());
    if (live.length) {
      // On a trunk the private and excluded calls among several are left alone; alone, they say why they cannot be kept.
      const keepable = live.filter((c) => !c.private && c.buffered);
      if (!keepable.length) {
        if (live[0]!.private) throw new RvError('RV_ERR_CALL_PRIVATE', 'This call was marked private and wiped; it cannot be kept.', 409);
        throw new RvError('RV_ERR_EXCLUDED', 'This call is with a number on the exclusion list (a private call) and is never recorded.', 409);
      }
      const writers = await Promise.all(keepable.map((c) => this.startKeeping(c, opts.keptBy, purposes)));
      const callIds = writers.map((w) => w.id);
      return { callId: callIds[0]!, callIds };
    }
    if (ended) {
      const e = ended;
      clearTimeout(e.timer);
      this.ended.delete(keyOf(e.line, e.ref));
      this.d.ring.pin(e.ringId);
      try {
        const writer = await this.d.archive.beginCall({ line: lineId, startedAt: e.startedAt, channels: e.channels, sampleRate: e.rate, meta: this.metaOf(lineId, e.parties, e.keyed), purposes, keptBy: opts.keptBy, clockSynced: this.d.clock.synced() });
        for (const c of this.readRing(e.ringId)) await writer.append({ at: c.at, pcm: c.pcm });
        const header = await writer.finish(e.endedAt);
        this.emit('kept', { line: lineId, callId: writer.id, keptBy: opts.keptBy });
        this.emit('archived', header, e.parties);
        return { callId: writer.id, callIds: [writer.id] };
      } finally {
        this.d.ring.unpin(e.ringId);
        this.d.ring.forget(e.ringId);
        this.emit('change');
      }
    }
    throw this.nothingTo(lineId, opts, 'keep');
  }

  /**
   * "Private": wipe the live or just-ended call from the ring at once; it is never kept. On a trunk
   * with several live calls, `pick` must say which (a ref, or the extension of the button pressed).
   */
  async private(lineId: string, pick: CallPick = {}): Promise<void> {
    const cfg = this.lineConfig(lineId);
    const { live, ended } = this.pick(lineId, pick, this.d.clock.now());
    const open = live.filter((c) => !c.private);
    if (open.length > 1) {
      throw new RvError('RV_ERR_WHICH_CALL', `Line ${lineId} carries ${open.length} live calls${pick.extension !== undefined ? ` of extension ${pick.extension}` : ''}; say which one to make private (its ref), or map the board's buttons to extensions (board.units).`, 409);
    }
    const call = open[0];
    if (call) {
      if (cfg.keep === 'all') throw new RvError('RV_ERR_KEPT_BY_RULE', `Line ${lineId} keeps every call by rule (for example a legal obligation); a call on it cannot be made private.`, 409);
      await this.wipe(call, 'marked private');
      return;
    }
    if (!live.length && ended) {
      this.forgetEnded(ended);
      this.emit('change');
      return;
    }
    throw new RvError('RV_ERR_NOTHING_TO_SAVE', `There is no live or just-ended call${pick.ref !== undefined ? ` with ref ${pick.ref}` : pick.extension !== undefined ? ` of extension ${pick.extension}` : ''} on line ${lineId} to make private.`, 409);
  }

  private async wipe(call: LiveCall, why: string): Promise<void> {
    call.private = true;
    this.d.ring.forget(call.ringId);
    this.d.log.info({ line: call.line, ref: call.ref }, `call wiped: ${why}`);
    this.emit('change');
    if (!call.keeping) return;
    const writer = await call.keeping;
    await call.lastAppend;
    await writer.finish(call.endedAt ?? this.d.clock.now());
    await this.d.archive.shred(writer.id);
  }

  private track(p: Promise<unknown>, failure: string): void {
    const q = p.catch((e) => this.d.log.error({ err: e }, failure)).finally(() => this.inflight.delete(q));
    this.inflight.add(q);
  }

  /** Resolves when every keep, finish and wipe under way has landed on disk. */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  status(): LineStatus[] {
    return this.d.lines().map((l) => {
      const calls = this.liveOn(l.id).map((c): LiveCallStatus => {
        const keeping = !!c.keeping && !c.private;
        return {
          ref: c.ref, startedAt: c.startedAt, direction: c.parties.direction, keeping, private: c.private || !c.buffered,
          ...(c.writer ? { callId: c.writer.id } : {}), ...(c.parties.extension ? { extension: c.parties.extension } : {}),
        };
      });
      const ended = this.endedOn(l.id).map((e): EndedCallStatus => ({ ref: e.ref, endedAt: e.endedAt, savableUntil: e.savableUntil, ...(e.parties.extension ? { extension: e.parties.extension } : {}) }));
      const fault = this.faults.get(l.id);
      const call = calls[calls.length - 1];
      const lastEnded = ended[ended.length - 1];
      return {
        id: l.id, name: l.name, source: l.source, channels: l.channels, keep: l.keep, sampleN: l.sampleN,
        purposes: [...l.announced], keepPurposes: [...l.keepPurposes], maxCalls: callsOf(l),
        state: fault ? 'fault' : calls.some((c) => c.keeping) ? 'keeping' : call ? 'in-call' : 'idle',
        ...(fault ? { fault } : {}),
        calls, ...(call ? { call } : {}), ended, ...(lastEnded ? { lastEnded } : {}),
      };
    });
  }

  /** Stop timers; calls still live are ended by their source before this. */
  async close(): Promise<void> {
    for (const e of this.ended.values()) clearTimeout(e.timer);
    this.ended.clear();
    await this.settle();
  }
}
