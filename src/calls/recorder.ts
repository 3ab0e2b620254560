import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { RvError } from '../errors.ts';
import type { Log } from '../log.ts';
import type { Clock } from '../clock.ts';
import type { LineConfig } from '../config/schema.ts';
import type { Ring } from '../ring/ring.ts';
import type { Archive, CallHeader, KeptBy, KeptCallWriter } from '../archive/archive.ts';
import type { Missing, MissingReason } from '../archive/format.ts';
import { isDiskError, isDiskFull, errnoOf } from '../archive/disk-errors.ts';
import type { CallParties, LineSource } from '../sources/source.ts';
import { decideAtStart, isExcluded, normalizeNumber, resolvePurposes, type Exclusions } from '../policy/keep.ts';
import { callsOf } from '../config/trunk.ts';
import { Chunker, type Chunk } from './chunker.ts';
import { KeyedDigits } from './keyed-digits.ts';
import { SAMPLE_RATE, msOf, type CallRate } from '../audio/frame.ts';

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
  exclusions: () => Exclusions;
  draw?: (n: number) => number;
  /** ms between tries to store a kept call the disk refused (default 2000) */
  retryMs?: number;
}

/** Why kept audio is waiting in the ring instead of the archive; shown as the line's fault. */
export interface ArchiveFault { code: 'RV_ERR_DISK_FULL' | 'RV_ERR_ARCHIVE_WRITE'; message: string; since: number }

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
  /** appends, ring writes of kept audio and drains, one at a time in call order */
  lastAppend: Promise<void>;
  endedAt?: number;
  /** digits keyed during the call and when; masked in the sealed metadata unless the line keeps them */
  keyed: KeyedDigits;
  /** frames heard on the line so far */
  heardFrames: number;
  /** kept audio goes to the (pinned) ring, not the archive: while a keep starts, or while the disk refuses writes */
  viaRing: boolean;
  /** the archive refused a write: the line shows this fault until a retry stores everything */
  stalled?: ArchiveFault;
  /** seq of the last chunk stored in the archive */
  storedSeq: number;
  /** stretches that will never be stored (the ring was full while the disk was) */
  missing: Missing[];
  /** audio up to the keep's acknowledgement is durable; from here the line shows the call id */
  acked: boolean;
  /** finishKept() waits on these while the call is stalled */
  whenWhole: (() => void)[];
}

interface EndedCall { ref: string; ringId: string; line: string; startedAt: number; endedAt: number; channels: 1 | 2; rate: CallRate; parties: CallParties; keyed: KeyedDigits; savableUntil: number; timer: NodeJS.Timeout }

/** A live call as the dashboard and the LEDs see it (no numbers: staff see the dashboard). */
/** heardMs: audio heard so far; durableMs: of it, stored durably in the archive (a kept call, once acknowledged) */
export interface LiveCallStatus { ref: string; startedAt: number; direction: 'in' | 'out'; keeping: boolean; private: boolean; callId?: string; extension?: string; heardMs?: number; durableMs?: number }
export interface EndedCallStatus { ref: string; endedAt: number; savableUntil: number; extension?: string }

/** Which calls a save or private acts on: one call by its ref, the calls of one extension, or (neither) the line's. */
export interface CallPick { ref?: string | undefined; extension?: string | undefined }

export interface LineStatus {
  id: string; name: string; source: string; channels: 1 | 2; keep: LineConfig['keep']; sampleN: number;
  purposes: string[]; keepPurposes: string[];
  state: 'idle' | 'in-call' | 'keeping' | 'fault'; fault?: string;
  /** what the fault is: the audio source (RV_ERR_AUDIO_SOURCE) or kept audio the disk refuses (RV_ERR_DISK_FULL, RV_ERR_ARCHIVE_WRITE) */
  faultCode?: string;
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
  /** the archive started or stopped refusing kept audio (the disk filled, failed, or has room again) */
  'archive-fault': [];
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
  /** kept calls (live or ended) whose audio waits in the ring for the disk */
  private readonly stalledCalls = new Set<LiveCall>();
  private readonly sleepers = new Set<() => void>();
  private closed = false;
  /** when a failed retry was last logged: a full disk must not fill the log */
  private lastRetryLog = 0;

  constructor(private readonly d: RecorderDeps) { super(); }

  attach(source: LineSource): void {
    source.on('call-start', (e) => this.onStart(e.line, e.ref, e.at, e.channels, e.parties, e.rate ?? SAMPLE_RATE));
    source.on('call-audio', (e) => {
      const call = this.live.get(keyOf(e.line, e.ref));
      call?.keyed.heard(e.block.at);
      // Unbuffered (never/excluded) and private calls are not even gathered.
      if (call?.buffered && !call.private) {
        call.heardFrames += e.block.pcm.length / call.channels;
        call.chunker.push(e.block);
      }
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
      ...this.freshKeep(), ref, line, ringId: `${line}.${ref}.${randomBytes(4).toString('hex')}`, startedAt: at, channels, rate, parties: { ...parties },
      buffered: decision.buffer, private: false,
      chunker: new Chunker(channels, (c) => this.onChunk(call, c), rate), keyed: new KeyedDigits(at),
    };
    call.keyed.update(parties.digits);
    this.live.set(keyOf(line, ref), call);
    this.d.log.info({ line, ref, buffered: decision.buffer }, `call started: ${decision.reason}`);
    if (decision.keep) this.track(this.startKeeping(call, decision.keep, resolvePurposes(cfg)), 'could not keep call');
    this.emit('change');
  }

  private freshKeep(): Pick<LiveCall, 'lastAppend' | 'heardFrames' | 'viaRing' | 'storedSeq' | 'missing' | 'acked' | 'whenWhole'> {
    return { lastAppend: Promise.resolve(), heardFrames: 0, viaRing: false, storedSeq: -1, missing: [], acked: false, whenWhole: [] };
  }

  private onChunk(call: LiveCall, chunk: Chunk): void {
    if (call.private) return;
    if (call.writer) {
      call.lastAppend = call.lastAppend.then(() => this.deliver(call, chunk));
      return;
    }
    this.toRing(call, chunk);
  }

  /** One chunk of a kept call, in call order: to the archive, or to the ring while the disk refuses it. */
  private async deliver(call: LiveCall, chunk: Chunk): Promise<void> {
    if (call.private) return;
    if (call.viaRing) { this.toRing(call, chunk); return; }
    try {
      await call.writer!.append({ at: chunk.at, pcm: chunk.pcm });
      call.storedSeq = chunk.seq;
    } catch (e) {
      this.stall(call, e, true);
      this.toRing(call, chunk);
    }
  }

  private toRing(call: LiveCall, chunk: Chunk): void {
    try {
      this.d.ring.write(call.ringId, chunk);
    } catch (e) {
      if (!call.keeping) {
        this.d.log.error({ err: e, line: call.line }, 'ring write failed; this second of audio is lost');
        return;
      }
      // A kept call that has filled the ring while the disk is full: this second is lost, and the call says so.
      const first = call.missing.length === 0;
      this.addMissing(call, chunk.at, chunk.at + msOf(chunk.pcm.length / 2 / chunk.channels, call.rate), 'ring-full');
      if (first) this.d.log.error({ line: call.line, code: (e as RvError).code }, 'the ring is full of kept audio waiting for the disk; later seconds of this kept call are lost and recorded as missing');
    }
  }

  private addMissing(call: LiveCall, from: number, to: number, reason: MissingReason): void {
    const last = call.missing.at(-1);
    // Seconds lost back to back are one stretch (chunk times are rounded to the ms).
    if (last && last.reason === reason && last.to !== null && from - last.to <= 2) last.to = Math.max(last.to, to);
    else call.missing.push({ from, to, reason });
  }

  /** The archive refused a write: the line shows a fault at once, the audio stays in the ring (pinned), and a retry loop starts. */
  private stall(call: LiveCall, e: unknown, viaRing: boolean): void {
    if (viaRing && !call.viaRing) {
      call.viaRing = true;
      this.d.ring.pin(call.ringId);
    }
    if (call.stalled) return;
    const full = isDiskFull(e);
    const code = full ? 'RV_ERR_DISK_FULL' : 'RV_ERR_ARCHIVE_WRITE';
    const message = full
      ? 'The disk is full: kept calls wait in the ring buffer and are stored as soon as there is room. Export and delete recordings whose purpose has ended, or fit a bigger disk.'
      : `The disk refuses to store kept calls (${errnoOf(e) ?? (e as Error).message}); they wait in the ring buffer and are stored once it works again. Check the disk and the box's log.`;
    call.stalled = { code, message, since: this.d.clock.now() };
    this.stalledCalls.add(call);
    this.d.log.error({ line: call.line, code, errno: errnoOf(e) }, `archive write failed; the kept call waits in the ring and is retried every ${this.retryMs() / 1000} s`);
    this.emit('archive-fault');
    this.emit('change');
    this.track(this.retryLoop(call), 'could not store a kept call the disk refused');
  }

  private unstall(call: LiveCall): void {
    if (!call.stalled) return;
    call.stalled = undefined;
    this.stalledCalls.delete(call);
    this.d.log.info({ line: call.line }, 'the disk takes writes again; the kept call waiting in the ring is stored');
    this.emit('archive-fault');
    this.emit('change');
  }

  private retryMs(): number { return this.d.retryMs ?? 2000; }

  private sleep(ms: number): Promise<void> {
    return new Promise((res) => {
      const done = (): void => { clearTimeout(t); this.sleepers.delete(done); res(); };
      const t = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private noteRetryFailure(call: LiveCall, e: unknown): void {
    this.emit('archive-fault');
    const now = Date.now();
    if (now - this.lastRetryLog < 60_000) return;
    this.lastRetryLog = now;
    this.d.log.warn({ line: call.line, errno: errnoOf(e) }, 'the disk still refuses kept audio; retrying');
  }

  /** Tries to store what waits in the ring until it is all stored (a full disk got room) or the box stops. */
  private async retryLoop(call: LiveCall): Promise<void> {
    while (call.viaRing && !this.closed && !call.private) {
      await this.sleep(this.retryMs());
      if (this.closed || call.private || !call.writer) break;
      call.lastAppend = call.lastAppend.then(() => this.drain(call));
      await call.lastAppend;
    }
    if (this.closed && call.viaRing && !call.private) {
      this.d.log.error({ line: call.line, callId: call.writer?.id }, 'the box stopped while a kept call waited in the ring for the disk; what was not stored is lost, and the call is marked cut short at the next start');
    }
  }

  /** Runs in the call's chain: stores every ring chunk not yet stored, in order; on success the audio flows to the archive again. */
  private async drain(call: LiveCall): Promise<void> {
    const writer = call.writer;
    if (!call.viaRing || !writer || call.private) return;
    for (const c of this.readRing(call.ringId)) {
      if (c.seq <= call.storedSeq) continue;
      try {
        await writer.append({ at: c.at, pcm: c.pcm });
      } catch (e) {
        this.stall(call, e, true);
        this.noteRetryFailure(call, e);
        return;
      }
      call.storedSeq = c.seq;
    }
    if (call.missing.length > 0) {
      try {
        await writer.setMissing(call.missing);
      } catch (e) {
        this.stall(call, e, true);
        this.noteRetryFailure(call, e);
        return;
      }
    }
    call.viaRing = false;
    this.d.ring.forget(call.ringId);
    this.unstall(call);
    for (const f of call.whenWhole.splice(0)) f();
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
    return { direction: p.direction, caller: p.caller, called: p.called, extension: p.extension, ...keyed.meta(p.digits, keepDigits), ...(p.siprecMetadata ? { siprecMetadata: p.siprecMetadata } : {}), ...(p.undecodable?.length ? { undecodable: p.undecodable } : {}), ...(p.undecodedRtp ? { undecodedRtp: p.undecodedRtp } : {}), ...(p.notes?.length ? { notes: p.notes } : {}) };
  }

  private startKeeping(call: LiveCall, keptBy: KeptBy, purposes: string[]): Promise<KeptCallWriter> {
    if (call.keeping) return call.keeping;
    call.keptBy = keptBy;
    this.d.ring.pin(call.ringId);
    call.keeping = this.keepLoop(call, keptBy, purposes);
    return call.keeping;
  }

  /**
   * Starts the call in the archive, copies what the ring holds of it, and makes the audio heard so far
   * durable (the partial second too) before the keep counts as acknowledged. A disk that refuses the
   * start (full) leaves the call pinned in the ring and the keep is retried until it starts: a kept
   * call is never dropped for a full disk.
   */
  private async keepLoop(call: LiveCall, keptBy: KeptBy, purposes: string[]): Promise<KeptCallWriter> {
    let writer: KeptCallWriter;
    for (;;) {
      try {
        if (call.private) throw new RvError('RV_ERR_CALL_PRIVATE', 'This call was marked private and wiped; it cannot be kept.', 409);
        writer = await this.d.archive.beginCall({
          line: call.line, startedAt: call.startedAt, channels: call.channels, sampleRate: call.rate, meta: this.metaOf(call.line, call.parties, call.keyed),
          purposes, keptBy, clockSynced: this.d.clock.synced(),
        });
        break;
      } catch (e) {
        if (isDiskError(e) && !this.closed && !call.private) {
          this.stall(call, e, false);
          this.noteRetryFailure(call, e);
          await this.sleep(this.retryMs());
          continue;
        }
        // Leave the audio in the ring so a later press can try again.
        this.d.ring.unpin(call.ringId);
        if (call.stalled) { call.stalled = undefined; this.stalledCalls.delete(call); this.emit('archive-fault'); this.emit('change'); }
        call.keeping = undefined;
        call.keptBy = undefined;
        throw e;
      }
    }
    // Chunks that arrived while the open record was made went to the ring, so one drain covers them all.
    call.viaRing = true;
    call.writer = writer;
    call.lastAppend = call.lastAppend.then(() => this.drain(call));
    await this.ackDurable(call);
    if (!call.stalled) {
      call.acked = true;
      this.emit('kept', { line: call.line, callId: writer.id, keptBy });
    } else {
      // Acknowledged once the retry has stored it all.
      call.whenWhole.push(() => { call.acked = true; this.emit('kept', { line: call.line, callId: writer.id, keptBy }); });
    }
    this.emit('change');
    return writer;
  }

  /** Sends the partial second heard so far to the archive and waits until it (and all before it) is durable. */
  private async ackDurable(call: LiveCall): Promise<void> {
    if (call.endedAt === undefined) call.chunker.flush();
    await call.lastAppend;
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
    // The disk is full: the call stays pinned in the ring until the retry has stored it all.
    while (call.viaRing && !this.closed) {
      await new Promise<void>((res) => {
        const wake = (): void => { this.sleepers.delete(wake); res(); };
        call.whenWhole.push(wake);
        this.sleepers.add(wake);
      });
    }
    if (this.closed && call.viaRing) return;
    let header: CallHeader;
    for (;;) {
      try {
        header = await writer.finish(call.endedAt);
        break;
      } catch (e) {
        if (!isDiskError(e) || this.closed) throw e;
        this.stall(call, e, false);
        this.noteRetryFailure(call, e);
        await this.sleep(this.retryMs());
      }
    }
    this.unstall(call);
    this.emit('archived', header, call.parties);
    this.emit('change');
  }

  /** The fault that a kept call waiting for the disk puts on the box, if any. */
  archiveFault(): ArchiveFault | undefined {
    return this.stalledCalls.values().next().value?.stalled;
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
   * `pick` names), or else the newest that ended within the grace period. Resolves once the audio heard
   * so far (the partial second too) is durable; a disk that refuses it answers RV_ERR_DISK_FULL (the call
   * still gets kept once there is room). heardMs/durableMs are the first call's.
   */
  async save(lineId: string, opts: { purposes?: string[] | undefined; keptBy: KeptBy } & CallPick): Promise<{ callId: string; callIds: string[]; heardMs: number; durableMs: number }> {
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
      const acks = await Promise.all(keepable.map((c) => this.acknowledge(c, lineId, this.startKeeping(c, opts.keptBy, purposes), msOf(c.heardFrames, c.rate))));
      const callIds = acks.map((a) => a.callId);
      return { callId: callIds[0]!, callIds, heardMs: acks[0]!.heardMs, durableMs: acks[0]!.durableMs };
    }
    if (ended) {
      const e = ended;
      clearTimeout(e.timer);
      this.ended.delete(keyOf(e.line, e.ref));
      // The ended call is kept like a live one, so a full disk holds it in the ring and retries too.
      const kept: LiveCall = {
        ...this.freshKeep(), ref: e.ref, line: lineId, ringId: e.ringId, startedAt: e.startedAt, channels: e.channels, rate: e.rate, parties: e.parties, keyed: e.keyed,
        buffered: true, private: false, endedAt: e.endedAt, chunker: new Chunker(e.channels, () => undefined, e.rate),
      };
      const keeping = this.startKeeping(kept, opts.keptBy, purposes);
      // Not kept after all (not a disk problem: say, the vault was never set up): wiped as the grace end would have.
      keeping.catch(() => { if (!kept.writer) this.d.ring.forget(kept.ringId); });
      const finishing = this.finishKept(kept);
      this.track(finishing, 'could not finish a kept call');
      const ack = await this.acknowledge(kept, lineId, keeping, e.endedAt - e.startedAt);
      // A call that has ended is listed when the save answers.
      await finishing;
      return { ...ack, callIds: [ack.callId] };
    }
    throw this.nothingTo(lineId, opts, 'keep');
  }

  /** Waits for a keep to be durable up to now; tells the person at once if the disk refuses it. */
  private async acknowledge(call: LiveCall, lineId: string, keeping: Promise<KeptCallWriter>, heardMs: number): Promise<{ callId: string; heardMs: number; durableMs: number }> {
    const stalled = new Promise<never>((_, rej) => {
      const check = (): void => {
        if (!call.stalled) return;
        this.off('archive-fault', check);
        rej(this.stalledError(lineId, call.stalled));
      };
      this.on('archive-fault', check);
      keeping.finally(() => this.off('archive-fault', check)).catch(() => undefined);
      check();
    });
    stalled.catch(() => undefined);
    const writer = await Promise.race([keeping, stalled]);
    // A press on a call already kept: what was heard up to this press is made durable too.
    await this.ackDurable(call);
    if (call.stalled) throw this.stalledError(lineId, call.stalled);
    return { callId: writer.id, heardMs, durableMs: writer.durableMs };
  }

  private stalledError(lineId: string, f: ArchiveFault): RvError {
    return f.code === 'RV_ERR_DISK_FULL'
      ? new RvError('RV_ERR_DISK_FULL', `The disk is full, so the call on line ${lineId} cannot be stored now. It is held in the ring buffer and kept as soon as there is room: export and delete recordings whose purpose has ended, or fit a bigger disk.`, 507)
      : new RvError('RV_ERR_ARCHIVE_WRITE', `The disk refuses to store the call on line ${lineId}. It is held in the ring buffer and kept once the disk works again; check the disk and the box's log.`, 507);
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
    call.viaRing = false;
    if (call.stalled) { call.stalled = undefined; this.stalledCalls.delete(call); this.emit('archive-fault'); }
    for (const f of call.whenWhole.splice(0)) f();
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
          ref: c.ref, startedAt: c.startedAt, direction: c.parties.direction, keeping, private: c.private || !c.buffered, heardMs: msOf(c.heardFrames, c.rate),
          ...(c.writer && c.acked ? { callId: c.writer.id, durableMs: c.writer.durableMs } : {}), ...(c.parties.extension ? { extension: c.parties.extension } : {}),
        };
      });
      const ended = this.endedOn(l.id).map((e): EndedCallStatus => ({ ref: e.ref, endedAt: e.endedAt, savableUntil: e.savableUntil, ...(e.parties.extension ? { extension: e.parties.extension } : {}) }));
      const stalled = [...this.stalledCalls].find((c) => c.line === l.id)?.stalled;
      const fault = this.faults.get(l.id) ?? stalled?.message;
      const faultCode = this.faults.has(l.id) ? 'RV_ERR_AUDIO_SOURCE' : stalled?.code;
      const call = calls[calls.length - 1];
      const lastEnded = ended[ended.length - 1];
      return {
        id: l.id, name: l.name, source: l.source, channels: l.channels, keep: l.keep, sampleN: l.sampleN,
        purposes: [...l.announced], keepPurposes: [...l.keepPurposes], maxCalls: callsOf(l),
        state: fault ? 'fault' : calls.some((c) => c.keeping) ? 'keeping' : call ? 'in-call' : 'idle',
        ...(fault ? { fault, faultCode } : {}),
        calls, ...(call ? { call } : {}), ended, ...(lastEnded ? { lastEnded } : {}),
      };
    });
  }

  /** Stop timers; calls still live are ended by their source before this. */
  async close(): Promise<void> {
    for (const e of this.ended.values()) clearTimeout(e.timer);
    this.ended.clear();
    // Keeps waiting for the disk give up: their audio is in the ring, which a stop makes unreadable.
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
    await this.settle();
  }
}
