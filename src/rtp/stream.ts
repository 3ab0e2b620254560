import { alawDecode, ulawDecode } from '../audio/g711.ts';
import { SAMPLE_RATE } from '../audio/frame.ts';
import { digitOfEvent, parseTelephoneEvent, type RtpPacket } from './packet.ts';

export type RtpCodec = 'PCMA' | 'PCMU' | 'telephone-event';

export interface RtpStreamOptions {
  /** payload type → codec; default 0 PCMU, 8 PCMA, 101 telephone-event (the SDP says which, when known) */
  payloads?: Readonly<Record<number, RtpCodec>>;
  /** ms since the epoch of sample 0 of this stream's timeline; default: when the first packet's first sample was sent */
  origin?: number;
  /** packets held to put reordered ones back in order (default 5, 100 ms of 20 ms packets) */
  depth?: number;
  /** the longest a packet waits for an earlier one, ms (default 200) */
  maxDelayMs?: number;
  onDigit?: (d: RtpDigit) => void;
}

/** Decoded audio: `index` counts samples from the origin, so two directions line up by index alone. */
export interface RtpAudio { index: number; at: number; pcm: Int16Array }
/** An RFC 4733 key press; `durationMs` grows while the event's packets keep coming. */
export interface RtpDigit { digit: string; at: number; durationMs: number; ended: boolean }

export interface RtpStats {
  /** distinct packets received */
  packets: number;
  /** expected minus received (RFC 3550 A.3), over every SSRC seen */
  lost: number;
  /** packets that came after a later-numbered one */
  reordered: number;
  duplicates: number;
  /** packets that came too late for the reorder buffer; their time was already filled with silence */
  late: number;
  /** interarrival jitter (RFC 3550 A.8), ms */
  jitterMs: number;
  ssrcChanges: number;
  /** payload types neither audio nor events (comfort noise, other codecs), and packets of a broken sequence */
  ignored: number;
  /** samples of silence put in for lost packets and gaps */
  filled: number;
  codec?: 'PCMA' | 'PCMU';
}

const DEFAULT_PAYLOADS: Readonly<Record<number, RtpCodec>> = { 0: 'PCMU', 8: 'PCMA', 101: 'telephone-event' };
/** RFC 3550 A.1: a jump larger than this starts a new sequence (after two packets agree). */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const DUP_WINDOW = 1024;
/** Timestamp gaps up to this are trusted as sent; longer ones must agree with the arrival times. */
const TRUST_GAP = 2 * SAMPLE_RATE;
const AGREE = SAMPLE_RATE;
const SILENCE_BLOCK = SAMPLE_RATE;
const MAX_DIGITS = 512;

interface Held { ext: number; p: RtpPacket; arrival: number }

/**
 * One direction of one call: puts packets back in order, decodes G.711, fills loss and gaps with
 * silence so that sample N of the output is N/8 ms after the origin (timing from RTP timestamps,
 * re-anchored on arrival time after an SSRC change, a sequence restart or a timestamp jump), and
 * reads RFC 4733 digits. Never throws on what the network sends.
 */
export class RtpStream {
  readonly stats: RtpStats = { packets: 0, lost: 0, reordered: 0, duplicates: 0, late: 0, jitterMs: 0, ssrcChanges: 0, ignored: 0, filled: 0 };
  readonly digits: RtpDigit[] = [];
  private readonly payloads: Readonly<Record<number, RtpCodec>>;
  private readonly depth: number;
  private readonly maxDelay: number;
  private origin?: number;

  // sequence state of the current source
  private ssrc?: number;
  private maxExt = 0;
  private baseExt = 0;
  private received = 0;
  private lostBefore = 0;
  private badSeq = -1;
  private readonly seen = new Float64Array(DUP_WINDOW).fill(-1);
  private nextPlay = -Infinity;
  private held: Held[] = [];
  private jitter = 0;
  private lastTransit?: number;

  // timeline
  private pos = 0;
  private anchor?: { ts: number; index: number; arrival: number; n: number; ssrc: number };
  private resync = true;
  private event?: { ts: number; event: number; digit: RtpDigit };

  constructor(opts: RtpStreamOptions = {}) {
    this.payloads = opts.payloads ?? DEFAULT_PAYLOADS;
    this.depth = Math.max(0, opts.depth ?? 5);
    this.maxDelay = Math.max(0, opts.maxDelayMs ?? 200);
    this.origin = opts.origin;
    this.onDigit = opts.onDigit;
  }

  private readonly onDigit?: (d: RtpDigit) => void;

  /** Samples put out so far: the stream's length from its origin. */
  get samples(): number { return this.pos; }

  /** Takes one packet that arrived at `arrivalMs`; returns the audio it lets out, in order. */
  push(p: RtpPacket, arrivalMs: number): RtpAudio[] {
    const out: RtpAudio[] = [];
    if (!Number.isFinite(arrivalMs)) return out;
    if (this.ssrc !== p.ssrc) {
      if (this.ssrc !== undefined) {
        this.releaseAll(out);
        this.stats.ssrcChanges++;
        this.resync = true;
      }
      this.restartSequence(p.ssrc, p.seq);
    }
    let ext = this.extend(p.seq);
    if (ext === undefined) {
      // RFC 3550 A.1: a big jump is believed only when the next packet follows it.
      if (this.badSeq === p.seq) {
        this.releaseAll(out);
        this.restartSequence(p.ssrc, p.seq);
        this.resync = true;
        ext = this.maxExt;
      } else {
        this.badSeq = (p.seq + 1) & 0xffff;
        this.stats.ignored++;
        return out;
      }
    }
    const slot = ext % DUP_WINDOW;
    if (this.seen[slot] === ext) {
      this.stats.duplicates++;
      return out;
    }
    this.seen[slot] = ext;
    this.stats.packets++;
    this.received++;
    if (ext < this.baseExt) this.baseExt = ext;
    if (ext > this.maxExt) this.maxExt = ext;
    else if (ext < this.maxExt) this.stats.reordered++;
    this.updateJitter(p, arrivalMs);
    if (ext < this.nextPlay) {
      this.stats.late++;
      return out;
    }
    let i = this.held.length;
    while (i > 0 && this.held[i - 1]!.ext > ext) i--;
    this.held.splice(i, 0, { ext, p, arrival: arrivalMs });
    while (this.held.length > this.depth || (this.held.length > 0 && this.held[0]!.arrival + this.maxDelay <= arrivalMs)) this.release(this.held.shift()!, out);
    return out;
  }

  /** Lets out packets that waited longer than the reorder delay (call it on a timer for live streams). */
  drain(nowMs: number): RtpAudio[] {
    const out: RtpAudio[] = [];
    while (this.held.length > 0 && this.held[0]!.arrival + this.maxDelay <= nowMs) this.release(this.held.shift()!, out);
    return out;
  }

  /** Lets out everything held, at the end of the call. */
  flush(): RtpAudio[] {
    const out: RtpAudio[] = [];
    this.releaseAll(out);
    return out;
  }

  /** Pads the timeline with silence up to `index` samples (to end two directions together). */
  padTo(index: number): RtpAudio[] {
    const out: RtpAudio[] = [];
    if (this.origin === undefined) return out;
    this.silence(Math.floor(index) - this.pos, out);
    return out;
  }

  private restartSequence(ssrc: number, seq: number): void {
    this.lostBefore += this.lostNow();
    // Extended numbers only grow, across sources too, so the duplicate window never confuses two sources;
    // the extra 2^16 lets packets a little before the first one still get a positive number.
    const floor = this.ssrc === undefined ? 0 : Math.ceil((this.maxExt + 0x20000) / 0x10000) * 0x10000;
    this.maxExt = this.baseExt = floor + 0x10000 + seq;
    this.ssrc = ssrc;
    this.received = 0;
    this.badSeq = -1;
    this.lastTransit = undefined;
    this.nextPlay = -Infinity;
    this.event = undefined;
  }

  private lostNow(): number {
    return this.ssrc === undefined ? 0 : Math.max(0, this.maxExt - this.baseExt + 1 - this.received);
  }

  private extend(seq: number): number | undefined {
    const delta = ((seq - (this.maxExt & 0xffff) + 0x8000) & 0xffff) - 0x8000;
    if (delta > MAX_DROPOUT || delta < -MAX_MISORDER) return undefined;
    return this.maxExt + delta;
  }

  private updateJitter(p: RtpPacket, arrivalMs: number): void {
    const codec = this.payloads[p.pt];
    // Event packets repeat their start timestamp, so they say nothing about transit time.
    if (codec !== 'PCMA' && codec !== 'PCMU') return;
    const transit = arrivalMs * (SAMPLE_RATE / 1000) - p.ts;
    if (this.lastTransit !== undefined) {
      let d = Math.abs(transit - this.lastTransit);
      if (d > 0x80000000) d = Math.abs(d - 0x100000000);
      if (d < SAMPLE_RATE * 10) this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
    this.stats.jitterMs = Math.round((this.jitter * 1000 / SAMPLE_RATE) * 100) / 100;
  }

  private releaseAll(out: RtpAudio[]): void {
    while (this.held.length > 0) this.release(this.held.shift()!, out);
  }

  private release(h: Held, out: RtpAudio[]): void {
    this.nextPlay = h.ext + 1;
    this.stats.lost = this.lostBefore + this.lostNow();
    const codec = this.payloads[h.p.pt];
    if (codec === 'PCMA' || codec === 'PCMU') this.play(h, codec, out);
    else if (codec === 'telephone-event') this.telephoneEvent(h);
    else this.stats.ignored++;
  }

  /** Where the sample of timestamp `ts` falls, judged by arrival time alone. */
  private byArrival(arrival: number, samplesBefore: number): number {
    if (this.anchor) return this.anchor.index + this.anchor.n + Math.round((arrival - this.anchor.arrival) * (SAMPLE_RATE / 1000)) - samplesBefore;
    return Math.round((arrival - this.origin!) * (SAMPLE_RATE / 1000)) - samplesBefore;
  }

  private play(h: Held, codec: 'PCMA' | 'PCMU', out: RtpAudio[]): void {
    const n = h.p.payload.length;
    if (n === 0) return;
    this.stats.codec = codec;
    // The packet left when its last sample was taken, so its first sample is n samples before that.
    if (this.origin === undefined) this.origin = h.arrival - (n * 1000) / SAMPLE_RATE;
    let index: number;
    if (this.resync || !this.anchor) {
      index = this.byArrival(h.arrival, n);
      this.resync = false;
    } else {
      index = this.anchor.index + ((h.p.ts - this.anchor.ts) | 0);
      const gap = index - this.pos;
      const arrived = this.byArrival(h.arrival, n);
      // A long gap, or a big step back, is believed only when the arrival times agree (hold, a new talk spurt);
      // and audio never runs more than a second ahead of its arrival, so a lying sender cannot make hours of silence.
      if (((gap > TRUST_GAP || gap < -AGREE) && Math.abs(arrived - index) > AGREE) || index > arrived + AGREE) index = arrived;
    }
    this.anchor = { ts: h.p.ts, index, arrival: h.arrival, n, ssrc: h.p.ssrc };
    this.silence(index - this.pos, out);
    const skip = this.pos - index;
    if (skip >= n) return;
    const pcm = (codec === 'PCMA' ? alawDecode : ulawDecode)(skip > 0 ? h.p.payload.subarray(skip) : h.p.payload);
    out.push({ index: this.pos, at: this.timeOf(this.pos), pcm });
    this.pos += pcm.length;
  }

  private silence(samples: number, out: RtpAudio[]): void {
    if (!(samples > 0)) return;
    this.stats.filled += samples;
    while (samples > 0) {
      const k = Math.min(samples, SILENCE_BLOCK);
      out.push({ index: this.pos, at: this.timeOf(this.pos), pcm: new Int16Array(k) });
      this.pos += k;
      samples -= k;
    }
  }

  private timeOf(index: number): number {
    return this.origin! + (index * 1000) / SAMPLE_RATE;
  }

  private telephoneEvent(h: Held): void {
    const te = parseTelephoneEvent(h.p.payload);
    if (!te) { this.stats.ignored++; return; }
    const digit = digitOfEvent(te.event);
    if (digit === undefined) return;
    // Every packet of one event carries its start timestamp; the end packet is sent three times (RFC 4733 §2.5.1.4).
    const cur = this.event;
    if (cur && cur.ts === h.p.ts && cur.event === te.event) {
      cur.digit.durationMs = Math.max(cur.digit.durationMs, (te.duration * 1000) / SAMPLE_RATE);
      if (te.end) cur.digit.ended = true;
      return;
    }
    if (this.origin === undefined) this.origin = h.arrival - (te.duration * 1000) / SAMPLE_RATE;
    // Placed by timestamp when audio of the same source anchors it, else by arrival.
    const arrived = this.byArrival(h.arrival, te.duration);
    let index = this.anchor?.ssrc === h.p.ssrc ? this.anchor.index + ((h.p.ts - this.anchor.ts) | 0) : arrived;
    if (Math.abs(index - arrived) > TRUST_GAP) index = arrived;
    const d: RtpDigit = { digit, at: Math.round(this.timeOf(Math.max(0, index))), durationMs: (te.duration * 1000) / SAMPLE_RATE, ended: te.end };
    this.event = { ts: h.p.ts, event: te.event, digit: d };
    if (this.digits.length < MAX_DIGITS) this.digits.push(d);
    this.onDigit?.(d);
  }
}
