import { msOf, type AudioBlock } from '../audio/frame.ts';
import type { CallParties, Direction } from '../sources/source.ts';
import type { LineSenseState } from '../board/board.ts';
import type { CallerIdFormat } from '../config/analog.ts';
import type { AbsentReason } from '../dsp/callerid.ts';
import { RingDetector } from '../dsp/ring.ts';
import { ClipDtmfParser } from '../dsp/clip-dtmf.ts';
import { LineDetectors, type Heard } from './analog-detect.ts';
import { BlockTimeline } from './block-timeline.ts';

/**
 * The call state machine of one analog line. Fed blocks of line audio (and, when the control board
 * senses the line, off-hook/on-hook/ring), it returns LineSource call events. Pure and deterministic:
 * every time comes from the blocks' sample-count timestamps (and the sense events' own times).
 *
 * Audio alone: ring → caller ID → voice (answered) → busy tone or silence ends the call; outgoing:
 * dial tone → dialled digits → ring-back → voice → busy tone or silence. Ends are known only after
 * the fact (a busy cadence takes 2 s to recognise, silence takes the hang-over), so audio is passed
 * on with a lag long enough that a call's audio stops exactly at its end. A call is announced
 * once it has been heard for minCallMs (so the save button finds it early); one that ends before
 * that is dropped here with its audio. One whose end, found later, dates it shorter than minCallMs
 * ends with reason 'too-short'.
 */

export interface TrackerOptions {
  line: string;
  /** 1 = both directions mixed; 2 = [far end, our phone] */
  channels: 1 | 2;
  minCallMs: number;
  /** silence that ends an answered call, ms (3000–5000) */
  hangoverMs: number;
  callerId: readonly CallerIdFormat[];
  /** true when the board's line sense decides start and end */
  lineSense: boolean;
}

export type TrackerEvent =
  | { type: 'call-start'; ref: string; at: number; channels: 1 | 2; parties: CallParties }
  | { type: 'call-audio'; ref: string; block: AudioBlock }
  | { type: 'call-info'; ref: string; parties: Partial<CallParties> }
  | { type: 'call-end'; ref: string; at: number; reason: string }
  /** a call (or an unanswered ring) that is not stored, with why; for the log and `analyze` */
  | { type: 'dropped'; at: number; endAt: number; reason: 'too-short' | 'missed'; parties: CallParties };

/** a voice onset counts only once this much later nothing showed it to be a caller-ID or DTMF burst */
const CONFIRM_MS = 2000;
/** a caller-ID burst spans about this much around its reported start (seizure + mark before, message after) */
const CID_SPAN_BEFORE_MS = 1200;
const DIGIT_SPAN_BEFORE_MS = 1000;
const CID_SPAN_AFTER_MS = 700;
/** caller ID, or DTMF sent before the first ring, belongs to a ring starting within this */
const CID_BEFORE_RING_MS = 10_000;
/** a ringing line with no new ring for this long was not answered (rings repeat every 5 s) */
const RING_GIVE_UP_MS = 7000;
/** digits with no ring, ring-back or voice after them for this long were noise */
const DIGITS_GIVE_UP_MS = 10_000;
/** outgoing, before an answer: the line may be quiet between ring-back bursts (4 s) */
const UNANSWERED_SILENCE_MS = 8000;
/** audio kept from before now, so a call can start where it was first heard */
const HISTORY_MS = 16_000;

interface Call {
  ref: string;
  start: number;
  direction: Direction;
  parties: CallParties;
  announced: boolean;
  /** audio has been passed on up to here, ms */
  sentTo: number;
  answered: boolean;
  /** digits dialled before the answer (the called number), and all digits */
  dialled: string;
  digits: string;
  /** end decided but audio not yet in (line sense ahead of the audio) */
  endAt?: number;
  endReason?: string;
  lastDigitEnd: number;
}

/** `fromDigits`: read from a DTMF burst, which may yet prove to be fast dialling (a speed-dial key). */
type Cid = { at: number; number?: string; absent?: AbsentReason; fromDigits?: boolean };

export class AnalogTracker {
  private readonly o: TrackerOptions;
  private readonly det: LineDetectors;
  private readonly timeline = new BlockTimeline();
  private readonly lagMs: number;
  private now = -Infinity;
  private ringing: { first: number; last: number } | null = null;
  private call: Call | null = null;
  private cid: Cid | null = null;
  private pendingDigits: { digit: string; at: number }[] = [];
  private voiceCands: number[] = [];
  private vetoes: [number, number][] = [];
  private out: TrackerEvent[] = [];
  private readonly clip: ClipDtmfParser | null;

  constructor(o: TrackerOptions) {
    this.o = o;
    this.det = new LineDetectors({ callerId: o.callerId, ring: o.lineSense ? undefined : new RingDetector() });
    this.clip = o.callerId.includes('dtmf-clip') ? new ClipDtmfParser() : null;
    // ends are dated up to the hang-over back; with line sense they come as they happen
    this.lagMs = o.lineSense ? 600 : o.hangoverMs + 600;
  }

  /** The call under way, if any (announced or not yet). */
  get live(): { ref: string; start: number; direction: Direction; announced: boolean } | null {
    const c = this.call;
    return c ? { ref: c.ref, start: c.start, direction: c.direction, announced: c.announced } : null;
  }

  /** One block of line audio, channels as configured ([far end, our phone] when 2). */
  push(block: AudioBlock): TrackerEvent[] {
    const frames = block.pcm.length / block.channels;
    const end = block.at + msOf(frames);
    this.timeline.push(block);
    this.now = end;
    this.det.fskEnabled = !this.call;
    for (const h of this.det.push(mono(block), block.at)) this.hear(h);
    this.tick();
    this.timeline.trim(Math.min(this.now - HISTORY_MS, this.call ? this.call.sentTo : Infinity));
    return this.take();
  }

  /** Line sense from the control board (used when the tracker was made with lineSense). */
  sense(state: LineSenseState, at: number): TrackerEvent[] {
    if (!this.o.lineSense) return [];
    if (state === 'ring') {
      if (!this.call) this.onRing(at);
    } else if (state === 'offhook') {
      if (!this.call) {
        const incoming = this.ringing !== null;
        this.open(at, incoming ? 'in' : 'out');
      }
    } else if (this.call) {
      this.end(at, 'on-hook');
    } else if (this.ringing) {
      this.miss(at);
    }
    if (this.call?.endAt !== undefined && this.call.endAt <= this.now) this.finish();
    return this.take();
  }

  /** The stream ends (capture stopped or failed): a call under way ends with the last audio. */
  flush(reason: string): TrackerEvent[] {
    for (const h of this.det.flush()) this.hear(h);
    if (this.call) {
      if (this.call.endAt === undefined) this.end(this.now, reason);
      this.call.endAt = Math.min(this.call.endAt!, this.now);
      this.finish();
    }
    return this.take();
  }

  private take(): TrackerEvent[] {
    const e = this.out;
    this.out = [];
    return e;
  }

  private hear(h: Heard): void {
    const sense = this.o.lineSense;
    const c = this.call;
    switch (h.kind) {
      case 'ring':
        if (!sense && !c) this.onRing(h.at);
        return;
      case 'callerid':
        this.vetoes.push([h.at - CID_SPAN_BEFORE_MS, h.at + CID_SPAN_AFTER_MS]);
        // a damaged burst does not replace a good one of the same call
        if (!c && (h.number || h.absent || !this.cid)) this.cid = { at: h.at, ...(h.number ? { number: h.number } : {}), ...(h.absent ? { absent: h.absent } : {}) };
        return;
      case 'digit':
        // a line's click or a coarse block can join the digits to a voice run starting just before them
        this.vetoes.push([h.at - DIGIT_SPAN_BEFORE_MS, h.at + h.durationMs + 200]);
        if (c) {
          c.digits += h.digit;
          c.lastDigitEnd = h.at + 100;
          if (c.direction === 'out' && !c.answered) c.dialled += h.digit;
          this.info({ digits: c.digits, ...(c.direction === 'out' && !c.answered ? { called: c.dialled } : {}) });
        } else {
          this.pendingDigits.push({ digit: h.digit, at: h.at });
          const clip = this.clip?.push({ digit: h.digit, at: h.at, durationMs: h.durationMs });
          if (clip) {
            // Most likely caller ID, but a speed-dial key sends a number as fast: the digits stay pending
            // until a ring (caller ID: they are dropped) or ring-back/busy (dialling: the caller ID is dropped).
            this.cid = { at: clip.startMs, fromDigits: true, ...(clip.number ? { number: clip.number } : {}), ...(clip.absent ? { absent: clip.absent } : {}) };
          }
        }
        return;
      case 'dialtone':
        if (!c) {
          // off-hook: a pending digit string before it was not this call's
          this.pendingDigits = [];
          if (!sense) this.open(h.at, 'out');
        } else if (!sense && c.answered && h.at > c.start) {
          this.end(h.at, 'dial-tone');
        }
        return;
      case 'cadence':
        if (h.cadence === 'busy' || h.cadence === 'congestion') {
          // with line sense the hook decides: the recording runs until the phone is put down
          if (c && c.endAt === undefined && !sense) this.end(Math.max(h.onset, c.start), h.cadence);
          else if (!c && this.pendingDigits.length && !this.ringing && !sense) this.openDialled(h.onset, h.cadence);
        } else if (h.cadence === 'ringback' && !c && this.pendingDigits.length && !this.ringing && !sense) {
          this.openDialled(null);
        }
        return;
      case 'voice':
        this.voiceCands.push(h.at);
        return;
    }
  }

  private onRing(at: number): void {
    if (this.ringing) { this.ringing.last = at; return; }
    this.ringing = { first: at, last: at };
    // digits before a ring were not dialled on this line
    this.pendingDigits = [];
  }

  /** An outgoing call found from its dialled digits (no dial tone heard): it starts at the first digit. */
  private openDialled(endAt: number | null, reason?: string): void {
    const first = this.pendingDigits[0];
    const digits = this.pendingDigits.map((d) => d.digit).join('');
    this.pendingDigits = [];
    this.open(first.at, 'out');
    const c = this.call!;
    c.dialled = digits;
    c.digits = digits;
    c.parties.called = digits;
    c.parties.digits = digits;
    if (endAt !== null) this.end(Math.max(endAt, c.start), reason!);
  }

  private open(at: number, direction: Direction): void {
    const parties: CallParties = { direction };
    if (direction === 'in' && this.cid) {
      if (this.cid.number) parties.caller = this.cid.number;
      else if (this.cid.absent) parties.caller = this.cid.absent;
    }
    this.cid = null;
    this.ringing = null;
    this.voiceCands = [];
    this.call = {
      ref: `${this.o.line}-${Math.round(at).toString(36)}`, start: at, direction, parties, announced: false, sentTo: at,
      answered: false, dialled: '', digits: '', lastDigitEnd: at,
    };
  }

  private end(at: number, reason: string): void {
    const c = this.call!;
    if (c.endAt !== undefined) return;
    c.endAt = Math.max(at, c.start);
    c.endReason = reason;
  }

  private miss(at: number): void {
    const r = this.ringing!;
    const parties: CallParties = { direction: 'in' };
    if (this.cid?.number) parties.caller = this.cid.number;
    else if (this.cid?.absent) parties.caller = this.cid.absent;
    this.out.push({ type: 'dropped', at: r.first, endAt: at, reason: 'missed', parties });
    this.ringing = null;
    this.cid = null;
    this.voiceCands = [];
  }

  /** Time-driven decisions, after every block. */
  private tick(): void {
    const now = this.now;
    const sense = this.o.lineSense;
    this.vetoes = this.vetoes.filter(([, b]) => b > now - CONFIRM_MS - 1000);
    const voice = this.confirmedVoice();
    if (!this.call && !sense && voice !== null) {
      // Voice after a DTMF caller-ID burst with no ring heard stays incoming (a tap that misses the ring),
      // unless a 425 Hz call-progress tone (ring-back) came after the digits: then they were dialled.
      const lastDigit = this.pendingDigits[this.pendingDigits.length - 1];
      const dialled = lastDigit && (!this.cid?.fromDigits || this.det.lastToneEnd > lastDigit.at + 200);
      if (lastDigit && !this.ringing && dialled) this.openDialled(null);
      else this.open(voice, this.ringing || (this.cid && voice - this.cid.at < CID_BEFORE_RING_MS) ? 'in' : 'out');
      this.call!.answered = true;
    } else if (this.call && voice !== null) {
      this.call.answered = true;
    }
    if (this.ringing && !this.call && now - this.ringing.last > RING_GIVE_UP_MS && this.voiceCands.length === 0) this.miss(this.ringing.last + 1000);
    if (this.cid && !this.ringing && !this.call && now - this.cid.at > CID_BEFORE_RING_MS + CONFIRM_MS) this.cid = null;
    if (this.pendingDigits.length && !this.call && now - this.pendingDigits[this.pendingDigits.length - 1].at > DIGITS_GIVE_UP_MS) this.pendingDigits = [];
    const c = this.call;
    if (!c) return;
    if (!sense && c.endAt === undefined) {
      const d = this.det;
      if (c.answered) {
        const last = Math.max(d.lastVoiceEnd, c.start);
        if (now - last >= this.o.hangoverMs) this.end(last, 'silence');
      } else {
        const last = Math.max(d.lastVoiceEnd, d.lastToneEnd, c.lastDigitEnd, c.start);
        if (now - last >= UNANSWERED_SILENCE_MS) this.end(last, 'silence');
      }
    }
    if (c.endAt !== undefined && c.endAt <= now) { this.finish(); return; }
    this.send(c, now - this.lagMs);
  }

  /** The earliest voice onset old enough to be sure it was not caller ID or DTMF; consumed. */
  private confirmedVoice(): number | null {
    let found: number | null = null;
    const keep: number[] = [];
    for (const v of this.voiceCands) {
      if (this.vetoes.some(([a, b]) => v >= a && v <= b)) continue;
      if (this.now - v >= CONFIRM_MS) { if (found === null) found = v; } else keep.push(v);
    }
    this.voiceCands = keep;
    return found;
  }

  /** Announces the call once it has lasted minCallMs, and passes on its audio up to `to`. */
  private send(c: Call, to: number): void {
    if (!c.announced) {
      if (this.now - c.start < this.o.minCallMs) return;
      c.announced = true;
      this.out.push({ type: 'call-start', ref: c.ref, at: c.start, channels: this.o.channels, parties: { ...c.parties } });
    }
    if (to <= c.sentTo) return;
    for (const block of this.timeline.slice(c.sentTo, to)) {
      this.out.push({ type: 'call-audio', ref: c.ref, block: c.direction === 'out' ? swap(block) : block });
    }
    c.sentTo = to;
  }

  private finish(): void {
    const c = this.call!;
    const endAt = c.endAt!;
    this.call = null;
    this.voiceCands = [];
    this.pendingDigits = [];
    const short = endAt - c.start < this.o.minCallMs;
    if (short && !c.announced) {
      this.out.push({ type: 'dropped', at: c.start, endAt, reason: 'too-short', parties: { ...c.parties } });
      return;
    }
    this.send(c, endAt);
    this.out.push({ type: 'call-end', ref: c.ref, at: endAt, reason: short ? 'too-short' : c.endReason ?? 'ended' });
  }

  private info(parties: Partial<CallParties>): void {
    const c = this.call!;
    Object.assign(c.parties, parties);
    if (c.announced) this.out.push({ type: 'call-info', ref: c.ref, parties });
  }
}

/** Detection runs on one channel: both directions summed (saturating). */
function mono(b: AudioBlock): Int16Array {
  if (b.channels === 1) return b.pcm;
  const n = b.pcm.length / 2;
  const m = new Int16Array(n);
  for (let i = 0; i < n; i++) m[i] = Math.max(-32768, Math.min(32767, b.pcm[2 * i] + b.pcm[2 * i + 1]));
  return m;
}

/** Channel 0 is the caller's side: on an outgoing call that is our phone. */
function swap(b: AudioBlock): AudioBlock {
  if (b.channels === 1) return b;
  const p = new Int16Array(b.pcm.length);
  for (let i = 0; i < p.length; i += 2) { p[i] = b.pcm[i + 1]; p[i + 1] = b.pcm[i]; }
  return { at: b.at, channels: 2, pcm: p };
}

