import { Codecs, codecName, isEventEncoding } from '../codecs/codecs.ts';
import { isDecoder, type CallRate, type Decoder, type RtpMap, type Undecodable } from '../codecs/types.ts';
import { digitOfEvent, parseTelephoneEvent, type RtpPacket } from './packet.ts';

/** A payload type's meaning: a bare G.711/event name (8 kHz), or what the SDP's rtpmap and fmtp say. */
export type RtpCodec = 'PCMA' | 'PCMU' | 'telephone-event';
export type PayloadMap = Readonly<Record<number, RtpCodec | RtpMap>>;

export interface RtpStreamOptions {
  /** payload type → codec; default 0 PCMU, 8 PCMA, 101 telephone-event (the SDP says which, when known) */
  payloads?: PayloadMap;
  /** the decoders this box has (default: G.711 only) */
  codecs?: Codecs;
  /** the call's rate, fixed at its start (default 8000): every codec's audio is put out at this rate */
  rate?: CallRate;
  /** once per payload type whose codec cannot be decoded here; its packets go to onUndecoded */
  onUndecodable?: (u: Undecodable, pt: number) => void;
  /** each packet of an undecodable codec, in playout order, so the call can keep it sealed as sent */
  onUndecoded?: (p: RtpPacket, index: number) => void;
  /** once per payload type the SDP does not list: its packets are dropped, never decoded as a guess */
  onUnknownPayload?: (pt: number) => void;
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
  /** samples of lost packets the codec concealed (G.729, Opus) instead of silence */
  concealed: number;
  /** the codec of the audio last decoded */
  codec?: string;
  /** every audio codec decoded, in the order first heard (a re-INVITE may switch codec mid-call) */
  codecs: string[];
  /** codecs heard that this box cannot decode: their packets are kept, not decoded */
  undecodable: string[];
  /** packets of a payload type the SDP does not list */
  unknownPayload: number;
}

const DEFAULT_PAYLOADS: PayloadMap = { 0: 'PCMU', 8: 'PCMA', 101: 'telephone-event' };
/** RFC 3550 A.1: a jump larger than this starts a new sequence (after two packets agree). */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const DUP_WINDOW = 1024;
const MAX_DIGITS = 512;
/** gaps up to this long inside one codec's run are concealed by the codec (when it can), longer ones are silence */
const MAX_CONCEAL_MS = 120;

const mapOf = (c: RtpCodec | RtpMap): RtpMap => (typeof c === 'string' ? { encoding: c, clockRate: 8000 } : c);
/** Comfort noise (RFC 3389) says "quiet here": the gap it covers is filled with silence like any other. */
const isComfortNoise = (m: RtpMap): boolean => /^CN$/i.test(m.encoding);

interface Held { ext: number; p: RtpPacket; arrival: number }

/**
 * One direction of one call: puts packets back in order, decodes G.711, fills loss and gaps with
 * silence so that sample N of the output is N/8 ms after the origin (timing from RTP timestamps,
 * re-anchored on arrival time after an SSRC change, a sequence restart or a timestamp jump), and
 * reads RFC 4733 digits. Never throws on what the network sends.
 */
export class RtpStream {
  readonly stats: RtpStats = {
    packets: 0, lost: 0, reordered: 0, duplicates: 0, late: 0, jitterMs: 0, ssrcChanges: 0, ignored: 0, filled: 0, concealed: 0,
    codecs: [], undecodable: [], unknownPayload: 0,
  };
  readonly digits: RtpDigit[] = [];
  /** the call's rate: sample N of the output is N / rate seconds after the origin */
  readonly rate: CallRate;
  private payloads: Map<number, RtpMap>;
  private readonly codecs: Codecs;
  /** one decoder per payload type, made when its first packet is played; kept across a switch and back */
  private readonly decoders = new Map<number, Decoder | Undecodable>();
  private readonly unknownPts = new Set<number>();
  private lastDecoder?: Decoder;
  /** timestamp gaps up to this are trusted as sent; longer ones must agree with the arrival times */
  private readonly trustGap: number;
  private readonly agree: number;
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

  constructor(private readonly opts: RtpStreamOptions = {}) {
    this.rate = opts.rate ?? 8000;
    this.trustGap = 2 * this.rate;
    this.agree = this.rate;
    this.codecs = opts.codecs ?? Codecs.g711Only();
    this.payloads = this.toMap(opts.payloads ?? DEFAULT_PAYLOADS);
    this.depth = Math.max(0, opts.depth ?? 5);
    this.maxDelay = Math.max(0, opts.maxDelayMs ?? 200);
    this.origin = opts.origin;
    this.onDigit = opts.onDigit;
  }

  private readonly onDigit?: (d: RtpDigit) => void;

  /**
   * A re-INVITE or UPDATE changed what the payload types mean (a codec switch mid-call): packets from now on
   * are read by the new map; a type whose codec changed gets a fresh decoder.
   */
  setPayloads(payloads: PayloadMap): void {
    const next = this.toMap(payloads);
    for (const [pt, m] of next) {
      const old = this.payloads.get(pt);
      if (old && (codecName(old.encoding) !== codecName(m.encoding) || old.clockRate !== m.clockRate || old.fmtp !== m.fmtp)) this.dropDecoder(pt);
    }
    for (const pt of this.payloads.keys()) if (!next.has(pt)) this.dropDecoder(pt);
    this.payloads = next;
    this.unknownPts.clear();
  }

  /** Frees every decoder (native memory); call at the end of the call. */
  close(): void {
    for (const pt of [...this.decoders.keys()]) this.dropDecoder(pt);
  }

  private dropDecoder(pt: number): void {
    const d = this.decoders.get(pt);
    if (d && isDecoder(d)) d.close();
    if (d === this.lastDecoder) this.lastDecoder = undefined;
    this.decoders.delete(pt);
  }

  private toMap(p: PayloadMap): Map<number, RtpMap> {
    const m = new Map<number, RtpMap>();
    for (const [pt, c] of Object.entries(p)) if (c !== undefined) m.set(Number(pt), mapOf(c));
    return m;
  }

  /** The decoder of a payload type, made on first use; undefined for types the SDP does not list or events. */
  private decoderOf(pt: number): Decoder | Undecodable | undefined {
    const have = this.decoders.get(pt);
    if (have) return have;
    const m = this.payloads.get(pt);
    if (!m || isEventEncoding(m.encoding) || isComfortNoise(m)) return undefined;
    const d = this.codecs.createDecoder(m, this.rate);
    this.decoders.set(pt, d);
    if (!isDecoder(d)) {
      if (!this.stats.undecodable.includes(d.codec)) this.stats.undecodable.push(d.codec);
      this.opts.onUndecodable?.(d, pt);
    }
    return d;
  }

  /** RTP clock units per output sample for a payload type (events run on their own clock, e.g. 48 kHz beside Opus). */
  private tsPerSample(pt: number): number {
    const d = this.decoders.get(pt);
    if (d && isDecoder(d)) return d.tsPerSample;
    const m = this.payloads.get(pt);
    return (m?.clockRate ?? 8000) / this.rate;
  }

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
    const m = this.payloads.get(p.pt);
    // Event packets repeat their start timestamp, so they say nothing about transit time.
    if (!m || isEventEncoding(m.encoding) || !(m.clockRate > 0)) return;
    const clock = m.clockRate;
    const transit = arrivalMs * (clock / 1000) - p.ts;
    if (this.lastTransit !== undefined && this.jitterClock === clock) {
      let d = Math.abs(transit - this.lastTransit);
      if (d > 0x80000000) d = Math.abs(d - 0x100000000);
      if (d < clock * 10) this.jitter += (d * 1000 / clock - this.jitter) / 16;
    }
    this.lastTransit = transit;
    this.jitterClock = clock;
    this.stats.jitterMs = Math.round(this.jitter * 100) / 100;
  }

  private jitterClock = 0;

  private releaseAll(out: RtpAudio[]): void {
    while (this.held.length > 0) this.release(this.held.shift()!, out);
  }

  private release(h: Held, out: RtpAudio[]): void {
    this.nextPlay = h.ext + 1;
    this.stats.lost = this.lostBefore + this.lostNow();
    const m = this.payloads.get(h.p.pt);
    if (!m) {
      this.stats.unknownPayload++;
      if (!this.unknownPts.has(h.p.pt) && this.unknownPts.size < 128) {
        this.unknownPts.add(h.p.pt);
        this.opts.onUnknownPayload?.(h.p.pt);
      }
      return;
    }
    if (isEventEncoding(m.encoding)) { this.telephoneEvent(h); return; }
    const d = this.decoderOf(h.p.pt);
    if (!d) { this.stats.ignored++; return; }
    if (isDecoder(d)) this.play(h, d, out);
    else this.keepUndecoded(h, out);
  }

  /** The sample the stream's clock is at when a packet arrives: time since the origin alone. */
  private sinceOrigin(arrival: number): number {
    return Math.round((arrival - this.origin!) * (this.rate / 1000));
  }

  /** Where the sample of timestamp `ts` falls, judged by arrival time alone. */
  private byArrival(arrival: number, samplesBefore: number): number {
    if (this.anchor) return this.anchor.index + this.anchor.n + Math.round((arrival - this.anchor.arrival) * (this.rate / 1000)) - samplesBefore;
    return Math.round((arrival - this.origin!) * (this.rate / 1000)) - samplesBefore;
  }

  /** Where a packet's first sample falls on the timeline: by timestamp from the last audio, checked against arrival. */
  private place(h: Held, n: number, tsPerSample: number, switched: boolean): number {
    if (this.origin === undefined) this.origin = h.arrival - (n * 1000) / this.rate;
    const arrived = (): number => this.byArrival(h.arrival, n);
    if (this.resync || !this.anchor) {
      this.resync = false;
      return arrived();
    }
    if (switched) {
      // A codec switch restarts the timestamps' meaning (another clock rate, often another base): the new codec's
      // audio follows straight on when arrival agrees within a packet or two, so the switch leaves no gap or overlap.
      const a = arrived();
      return Math.abs(a - this.pos) <= this.rate / 20 ? this.pos : a;
    }
    let index = this.anchor.index + Math.round(((h.p.ts - this.anchor.ts) | 0) / tsPerSample);
    const gap = index - this.pos;
    const a = arrived();
    // A long gap, or a big step back, is believed only when the arrival times agree (hold, a new talk spurt);
    // and audio never runs more than a second ahead of its arrival, so a lying sender cannot make hours of silence.
    if (((gap > this.trustGap || gap < -this.agree) && Math.abs(a - index) > this.agree) || index > a + this.agree) index = a;
    return index;
  }

  private play(h: Held, d: Decoder, out: RtpAudio[]): void {
    if (h.p.payload.length === 0) return;
    const switched = this.lastDecoder !== undefined && this.lastDecoder !== d;
    // A gap is concealed before the packet after it is decoded, in the order the codec's state expects; so the
    // packet's length is read from its header when the codec can tell, and only otherwise from decoding it first.
    const expected = d.samplesOf?.(h.p.payload);
    let pcm = expected === undefined ? d.decode(h.p.payload) : undefined;
    const n = expected ?? pcm!.length;
    if (n === 0) { if (!pcm) d.decode(h.p.payload); return; }
    if (this.stats.codec !== d.codec) {
      this.stats.codec = d.codec;
      if (!this.stats.codecs.includes(d.codec)) this.stats.codecs.push(d.codec);
    }
    // Never more than a second ahead of the clock since the origin, whatever the packets' lengths and timestamps
    // claim (a packet may hold more time than its timestamp step), so a lying sender cannot stretch the call.
    const limit = this.sinceOrigin(h.arrival) + this.agree;
    const index = Math.min(this.place(h, n, d.tsPerSample, switched), Math.max(this.pos, limit - n));
    if (this.pos >= limit) { if (!pcm) d.decode(h.p.payload); this.stats.late++; return; }
    const sameRun = !switched && this.lastDecoder === d && this.anchor?.ssrc === h.p.ssrc;
    this.lastDecoder = d;
    this.anchor = { ts: h.p.ts, index, arrival: h.arrival, n, ssrc: h.p.ssrc };
    const gap = index - this.pos;
    const cn = gap > 0 && sameRun && gap <= this.trustGap * 5 ? d.comfortNoise?.(gap) : undefined;
    if (cn) this.fillWith(cn, gap, out);
    else if (gap > 0 && sameRun && d.plc && gap <= (this.rate * MAX_CONCEAL_MS) / 1000) this.conceal(d, gap, out);
    else this.silence(gap, out);
    pcm ??= d.decode(h.p.payload);
    const skip = this.pos - index;
    if (skip >= pcm.length) return;
    const part = (skip > 0 ? pcm.subarray(skip) : pcm).subarray(0, Math.max(0, limit - this.pos));
    out.push({ index: this.pos, at: this.timeOf(this.pos), pcm: part });
    this.pos += part.length;
  }

  /** Lost packets inside one codec's run: the codec's own concealment, so speech fades rather than clicks off. */
  private conceal(d: Decoder, samples: number, out: RtpAudio[]): void {
    this.stats.concealed += this.fillWith(d.plc!(samples), samples, out);
  }

  /** Puts out up to `samples` of `pcm` for a gap, silence for the rest; returns how many came from `pcm`. */
  private fillWith(pcm: Int16Array, samples: number, out: RtpAudio[]): number {
    const k = Math.min(pcm.length, samples);
    if (k > 0) {
      out.push({ index: this.pos, at: this.timeOf(this.pos), pcm: pcm.subarray(0, k) });
      this.pos += k;
    }
    this.silence(samples - k, out);
    return k;
  }

  /**
   * A packet of a codec this box cannot decode: its time on the timeline is silence (the call stays whole and
   * in step), and the packet itself goes out as sent, to be kept sealed beside the audio.
   */
  private keepUndecoded(h: Held, out: RtpAudio[]): void {
    const m = this.payloads.get(h.p.pt)!;
    if (this.origin === undefined) this.origin = h.arrival;
    const index = this.anchor && this.anchor.ssrc === h.p.ssrc && this.lastDecoder === undefined && this.undecodedClock === m.clockRate
      ? this.anchor.index + Math.round(((h.p.ts - this.anchor.ts) | 0) / (m.clockRate / this.rate))
      : this.byArrival(h.arrival, 0);
    const at = Math.max(this.pos, Math.min(index, this.byArrival(h.arrival, 0) + this.agree, this.sinceOrigin(h.arrival) + this.agree));
    this.silence(at - this.pos, out);
    this.anchor = { ts: h.p.ts, index: at, arrival: h.arrival, n: 0, ssrc: h.p.ssrc };
    this.lastDecoder = undefined;
    this.undecodedClock = m.clockRate;
    // audio decoded after this is placed by arrival: these timestamps belong to another codec's clock
    this.resync = true;
    this.opts.onUndecoded?.(h.p, at);
  }

  private undecodedClock = 0;

  private silence(samples: number, out: RtpAudio[]): void {
    if (!(samples > 0)) return;
    this.stats.filled += samples;
    while (samples > 0) {
      const k = Math.min(samples, this.rate);
      out.push({ index: this.pos, at: this.timeOf(this.pos), pcm: new Int16Array(k) });
      this.pos += k;
      samples -= k;
    }
  }

  private timeOf(index: number): number {
    return this.origin! + (index * 1000) / this.rate;
  }

  private telephoneEvent(h: Held): void {
    const te = parseTelephoneEvent(h.p.payload);
    if (!te) { this.stats.ignored++; return; }
    const digit = digitOfEvent(te.event);
    if (digit === undefined) return;
    // Every packet of one event carries its start timestamp; the end packet is sent three times (RFC 4733 §2.5.1.4).
    const cur = this.event;
    // the event's own clock (8 kHz beside G.711, 16 or 48 kHz beside wideband codecs), in call samples
    const tps = this.tsPerSample(h.p.pt);
    const clock = tps * this.rate;
    const durMs = (te.duration * 1000) / clock;
    if (cur && cur.ts === h.p.ts && cur.event === te.event) {
      cur.digit.durationMs = Math.max(cur.digit.durationMs, durMs);
      if (te.end) cur.digit.ended = true;
      return;
    }
    const durSamples = Math.round(te.duration / tps);
    if (this.origin === undefined) this.origin = h.arrival - durMs;
    // Placed by timestamp when audio of the same source and clock anchors it, else by arrival.
    const arrived = this.byArrival(h.arrival, durSamples);
    const anchorTps = this.lastDecoder?.tsPerSample;
    let index = this.anchor?.ssrc === h.p.ssrc && anchorTps === tps ? this.anchor.index + Math.round(((h.p.ts - this.anchor.ts) | 0) / tps) : arrived;
    if (Math.abs(index - arrived) > this.trustGap) index = arrived;
    const d: RtpDigit = { digit, at: Math.round(this.timeOf(Math.max(0, index))), durationMs: durMs, ended: te.end };
    this.event = { ts: h.p.ts, event: te.event, digit: d };
    if (this.digits.length < MAX_DIGITS) this.digits.push(d);
    this.onDigit?.(d);
  }
}
