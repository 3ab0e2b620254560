import { SAMPLE_RATE, type CallRate } from '../audio/frame.ts';
import { Codecs } from '../codecs/codecs.ts';
import { keepUndecoded, rtpMapsOf, undecodableNote, type UndecodedRtp } from '../codecs/sdp-maps.ts';
import type { RtpMap } from '../codecs/types.ts';
import { cseqOf, numberFromUri, parseNameAddr, parseSip, SipStreamFramer, type SipMessage } from '../sip/message.ts';
import { splitMultipart } from '../sip/multipart.ts';
import { parseSdpStreams } from '../sip/sdp.ts';
import { parseRtp } from '../rtp/packet.ts';
import { RtpStream, type RtpStats } from '../rtp/stream.ts';
import { StereoJoiner } from '../rtp/stereo.ts';
import type { Segment } from './decode.ts';
import { TcpReassembler } from './tcp.ts';

export type EndReason = 'bye' | 'cancel' | 'rejected' | 'rtp-timeout' | 'no-answer' | 'capture-end' | 'evicted';

export interface PassiveDigit { digit: string; at: number; durationMs: number; channel: 0 | 1 }

/** A call seen on the wire. Channel 0 is the caller's voice, channel 1 the callee's. */
export interface PassiveCall {
  /** unique per call, also when a Call-ID is reused: the Call-ID, then `#2`, `#3`… */
  ref: string;
  callId: string;
  transport: 'udp' | 'tcp';
  caller?: string;
  callerName?: string;
  called?: string;
  invitedAt: number;
  answeredAt?: number;
  endedAt?: number;
  endReason?: EndReason;
  /** the final response to the INVITE */
  status?: number;
  digits: PassiveDigit[];
  /** per channel; undefined while no RTP came that way */
  rtp: [RtpStats | undefined, RtpStats | undefined];
  /** the call's audio rate, fixed at the answer: 16000 when a codec the SDP offers is wideband */
  rate: CallRate;
  /** codecs heard that this box cannot decode ("not decodable: CODEC"); their time is silence in the audio */
  undecodable: string[];
  /** where the recording starts: the first early-media packet (after a 183 Session Progress), else the answer */
  mediaFrom?: number;
  /** ms of early media before the answer that the recording holds (IVR, ring-back announcements) */
  earlyMs?: number;
  /** what the tracker noticed about the call's media, for the call's report (early media, streams kept apart) */
  notes: string[];
  /** the packets of those codecs as sent, so the call loses nothing (bounded) */
  undecodedRtp?: UndecodedRtp;
  /** the SDP asked for SRTP (RTP/SAVP or a=crypto): a capture cannot decrypt it, so its RTP is not decoded (no noise) */
  encrypted?: boolean;
}

export interface PassiveOptions {
  /** an answered call with no RTP either way for this long has ended (its BYE was not seen) */
  rtpTimeoutMs?: number;
  /** an INVITE left without a final answer for this long is forgotten */
  ringTimeoutMs?: number;
  /** most calls followed at once; the oldest is ended beyond this, so memory stays bounded */
  maxCalls?: number;
  onStart?: (c: PassiveCall) => void;
  /** interleaved stereo; `index` counts frames from the answer */
  onAudio?: (c: PassiveCall, index: number, pcm: Int16Array) => void;
  onInfo?: (c: PassiveCall) => void;
  onEnd?: (c: PassiveCall) => void;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
  /** the decoders this box has (default G.711 only) */
  codecs?: Codecs;
}

export interface PassiveStats { sipMessages: number; sipMalformed: number; rtpMatched: number; rtpUnmatched: number; calls: number }

type Role = 0 | 1; // 0 = caller, 1 = callee

interface Dialog {
  /** payload types seen that the SDP does not name: logged once per call */
  unknownPts?: Set<number>;
  call: PassiveCall;
  fromTag?: string;
  toTag?: string;
  inviteCseq: number;
  /** the addresses each party receives RTP on, as "addr|port" */
  media: Set<string>;
  /** payload types by the party that receives them */
  payloads: [Record<number, RtpMap>, Record<number, RtpMap>];
  /** every RTP stream of the call by 5-tuple and SSRC, each decoded on its own: two are never interleaved */
  tracks: Map<string, Track>;
  /** per channel, the stream whose audio is recorded; another claiming the same direction is kept apart */
  primary: [Track | undefined, Track | undefined];
  joiner?: StereoJoiner;
  /** early media put out before the answer, held until it comes (and dropped if it never does) */
  early?: Array<[number, Int16Array]>;
  /** a provisional answer (183) carried SDP: RTP before the answer is early media */
  earlyMedia?: boolean;
  earlyFrames?: number;
  lastActivity: number;
  ended: boolean;
}

/** the static G.711 types (RFC 3551), understood even before any SDP names them */
const BASE_PAYLOADS = (): Record<number, RtpMap> => ({ 0: { encoding: 'PCMU', clockRate: 8000 }, 8: { encoding: 'PCMA', clockRate: 8000 } });
const MAX_TCP_FLOWS = 1024;
/** An SSRC change on a 5-tuple whose stream is this quiet is the same stream restarting, not a second one. */
const SAME_STREAM_GAP_MS = 60;
/** A recorded stream silent this long while another one claims its direction gives way to it. */
const SWITCH_AFTER_MS = 1000;
/** Streams followed per call; more (a flood of SSRCs) are ignored so memory stays bounded. */
const MAX_TRACKS = 16;
/** Early media held before the answer, at most (an IVR that plays this long is recorded from here). */
const MAX_EARLY_MS = 120_000;

/** One RTP stream of a call: a 5-tuple and SSRC (the SSRC may change when the stream restarts). */
interface Track { key: string; tuple: string; ssrc: number; channel: Role; stream: RtpStream; packets: number; lastAt: number }

/** Does a datagram or the start of a TCP stream look like SIP? A method or "SIP/2.0" in capitals first. */
function looksLikeSip(b: Buffer): boolean {
  let i = 0;
  while (i < b.length && i < 4 && (b[i] === 0x0d || b[i] === 0x0a)) i++;
  const c = b[i];
  if (c === undefined || c < 0x41 || c > 0x5a) return false;
  const nl = b.indexOf(0x0a, i);
  const line = b.subarray(i, nl < 0 ? Math.min(b.length, i + 256) : nl);
  return line.length < 2048 && line.includes('SIP/2.0');
}

/** IPv6 in SDP may be written in any case or uncompressed; packets give the RFC 5952 form. */
function canonicalAddr(a: string): string {
  if (!a.includes(':')) return a;
  try { return new URL(`http://[${a}]/`).hostname.slice(1, -1); } catch { return a.toLowerCase(); }
}

const tagOf = (v: string | undefined): string | undefined => {
  if (!v) return undefined;
  try { return parseNameAddr(v).tag; } catch { return undefined; }
};

/**
 * Follows SIP dialogs (UDP and TCP) and their RTP on a mirrored port or in a capture file:
 * INVITE/200/ACK/BYE/CANCEL, SDP offer and answer (re-INVITE and UPDATE too) tie RTP streams
 * to calls by address and port, a reused Call-ID starts a new call, and a call whose BYE is never
 * seen ends after `rtpTimeoutMs` without RTP. Time is the capture's, so a file and a live
 * interface are followed the same way. Nothing it is given makes it throw.
 */
export class PassiveTracker {
  readonly stats: PassiveStats = { sipMessages: 0, sipMalformed: 0, rtpMatched: 0, rtpUnmatched: 0, calls: 0 };
  private readonly o: Required<Pick<PassiveOptions, 'rtpTimeoutMs' | 'ringTimeoutMs' | 'maxCalls'>> & PassiveOptions;
  private readonly byCallId = new Map<string, Dialog[]>();
  private readonly byMedia = new Map<string, { d: Dialog; role: Role }>();
  private readonly live = new Set<Dialog>();
  private readonly tcp = new TcpReassembler();
  private readonly tcpFlows = new Map<string, SipStreamFramer>();
  private readonly uses = new Map<string, number>();
  private now = 0;
  private lastSweep = 0;
  private readonly codecs: Codecs;

  constructor(opts: PassiveOptions = {}) {
    this.o = { rtpTimeoutMs: 30_000, ringTimeoutMs: 5 * 60_000, maxCalls: 512, ...opts };
    this.codecs = opts.codecs ?? Codecs.g711Only();
  }

  /** Calls followed now. */
  get active(): number { return this.live.size; }

  push(s: Segment): void {
    if (s.ts > this.now) this.now = s.ts;
    // Sweep first: after a long jump in time the quiet calls end before this packet could stretch them.
    if (this.now - this.lastSweep >= 1000) this.tick(this.now);
    if (s.proto === 'udp') {
      if (looksLikeSip(s.payload)) this.sip(s.payload, s.ts, 'udp');
      else this.rtp(s);
    } else {
      this.tcpSegment(s);
    }
  }

  /** Lets held RTP out and ends calls that went quiet; call it every second on a live interface. */
  tick(now: number): void {
    this.lastSweep = now;
    for (const d of [...this.live]) {
      if (d.call.answeredAt === undefined) {
        if (now - d.call.invitedAt > this.o.ringTimeoutMs) this.end(d, d.call.invitedAt, 'no-answer');
        else this.drainTracks(d, now);
        continue;
      }
      if (now - d.lastActivity > this.o.rtpTimeoutMs) { this.end(d, d.lastActivity, 'rtp-timeout'); continue; }
      this.drainTracks(d, now);
    }
  }

  /** Lets each stream's held packets out; only the recorded stream of a direction reaches the joiner. */
  private drainTracks(d: Dialog, now: number): void {
    for (const tr of d.tracks.values()) {
      const out = tr.stream.drain(now);
      if (d.primary[tr.channel] === tr && d.joiner) for (const b of out) d.joiner.push(tr.channel, b);
    }
  }

  /** The capture is over: every call still followed ends at the last packet's time. */
  finish(): void {
    for (const d of [...this.live]) {
      if (d.call.answeredAt === undefined) this.end(d, this.now, 'no-answer');
      else this.end(d, d.lastActivity, 'capture-end');
    }
  }

  private tcpSegment(s: Segment): void {
    const r = this.tcp.push(s);
    let framer = this.tcpFlows.get(r.key);
    for (let i = 0; i < r.data.length; i++) {
      const chunk = r.data[i]!;
      if (r.gapAt === i) { framer = undefined; this.tcpFlows.delete(r.key); }
      // Framing starts at a segment that begins like SIP (a capture may start mid-stream, or after a hole).
      if (!framer) {
        if (!looksLikeSip(chunk)) continue;
        if (this.tcpFlows.size >= MAX_TCP_FLOWS) this.tcpFlows.delete(this.tcpFlows.keys().next().value!);
        framer = new SipStreamFramer();
        this.tcpFlows.set(r.key, framer);
      }
      let msgs: Buffer[];
      try {
        msgs = framer.push(chunk);
      } catch {
        this.stats.sipMalformed++;
        framer = undefined;
        this.tcpFlows.delete(r.key);
        continue;
      }
      for (const m of msgs) this.sip(m, s.ts, 'tcp');
    }
    if (r.closed) this.tcpFlows.delete(r.key);
  }

  private sip(buf: Buffer, ts: number, transport: 'udp' | 'tcp'): void {
    let m: SipMessage;
    let cseq: { seq: number; method: string };
    try {
      m = parseSip(buf);
      cseq = cseqOf(m);
    } catch {
      this.stats.sipMalformed++;
      return;
    }
    this.stats.sipMessages++;
    try {
      this.onSip(m, cseq, ts, transport);
    } catch (e) {
      this.stats.sipMalformed++;
      this.o.log?.('passive: a SIP message could not be followed', { error: (e as Error).message });
    }
  }

  private find(callId: string, fTag: string | undefined, tTag: string | undefined): { d: Dialog; byCaller: boolean } | undefined {
    const list = this.byCallId.get(callId);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const d = list[i]!;
      if (d.ended) continue;
      if (d.fromTag === fTag) return { d, byCaller: true };
      if (d.toTag !== undefined && d.toTag === fTag && d.fromTag === tTag) return { d, byCaller: false };
    }
    return undefined;
  }

  private onSip(m: SipMessage, cseq: { seq: number; method: string }, ts: number, transport: 'udp' | 'tcp'): void {
    const callId = m.get('Call-ID')!.trim();
    const fTag = tagOf(m.get('From'));
    const tTag = tagOf(m.get('To'));
    const hit = this.find(callId, fTag, tTag);
    if (m.kind === 'request') {
      const method = m.method!;
      if (method === 'INVITE' && tTag === undefined) {
        // A retransmission, or the same INVITE again with credentials after a 401/407, is the same call.
        if (hit && (hit.d.inviteCseq === cseq.seq || hit.d.call.answeredAt === undefined)) {
          hit.d.inviteCseq = cseq.seq;
          this.offerAnswer(hit.d, m, 0);
          return;
        }
        this.newDialog(m, callId, fTag, cseq.seq, ts, transport);
        return;
      }
      if (!hit) return;
      const d = hit.d;
      const sender: Role = hit.byCaller ? 0 : 1;
      if (method === 'INVITE' || method === 'UPDATE') this.offerAnswer(d, m, sender);
      else if (method === 'BYE') this.end(d, ts, 'bye');
      else if (method === 'CANCEL' && d.call.answeredAt === undefined) this.end(d, ts, 'cancel');
      else if (method === 'ACK') this.offerAnswer(d, m, sender); // an answer may come in the ACK (late offer)
      return;
    }
    if (!hit || (cseq.method !== 'INVITE' && cseq.method !== 'UPDATE')) return;
    const d = hit.d;
    // A response travels the other way from its request: the answering party sent it.
    const sender: Role = hit.byCaller ? 1 : 0;
    const status = m.status!;
    if (status < 200) { if (status > 100 && this.offerAnswer(d, m, sender)) d.earlyMedia = true; return; }
    if (status < 300) {
      this.offerAnswer(d, m, sender);
      if (cseq.method === 'INVITE' && d.call.answeredAt === undefined && hit.byCaller) this.answer(d, m, ts, tTag);
      return;
    }
    if (cseq.method === 'INVITE' && d.call.answeredAt === undefined && hit.byCaller) {
      d.call.status = status;
      // 401/407 ask for credentials; the caller will send the INVITE again.
      if (status !== 401 && status !== 407) this.end(d, ts, status === 487 ? 'cancel' : 'rejected');
    }
  }

  private newDialog(m: SipMessage, callId: string, fromTag: string | undefined, seq: number, ts: number, transport: 'udp' | 'tcp'): void {
    if (this.live.size >= this.o.maxCalls) {
      const oldest = this.live.values().next().value!;
      this.o.log?.('passive: too many calls at once; the oldest is ended', { max: this.o.maxCalls });
      this.end(oldest, ts, 'evicted');
    }
    const n = (this.uses.get(callId) ?? 0) + 1;
    this.uses.set(callId, n);
    if (this.uses.size > 4 * this.o.maxCalls) this.uses.delete(this.uses.keys().next().value!);
    const call: PassiveCall = { notes: [], ref: n === 1 ? callId : `${callId}#${n}`, callId, transport, invitedAt: ts, digits: [], rtp: [undefined, undefined], rate: SAMPLE_RATE, undecodable: [] };
    this.parties(call, m);
    const d: Dialog = {
      call, inviteCseq: seq, media: new Set(), payloads: [BASE_PAYLOADS(), BASE_PAYLOADS()],
      tracks: new Map(), primary: [undefined, undefined], lastActivity: ts, ended: false,
      ...(fromTag !== undefined ? { fromTag } : {}),
    };
    const list = this.byCallId.get(callId) ?? [];
    list.push(d);
    this.byCallId.set(callId, list);
    this.live.add(d);
    this.stats.calls++;
    this.offerAnswer(d, m, 0);
  }

  private parties(call: PassiveCall, m: SipMessage): void {
    try {
      const from = parseNameAddr(m.get('P-Asserted-Identity') ?? m.get('From')!);
      const to = parseNameAddr(m.get('To')!);
      const caller = numberFromUri(from.uri);
      const called = numberFromUri(to.uri) ?? (m.uri ? numberFromUri(m.uri) : undefined);
      if (caller) call.caller = caller.slice(0, 64);
      if (called) call.called = called.slice(0, 64);
      const name = from.display ?? (m.get('P-Asserted-Identity') ? parseNameAddr(m.get('From')!).display : undefined);
      if (name) call.callerName = name.slice(0, 64);
    } catch {
      // Numbers stay unknown; the call is still followed.
    }
  }

  private answer(d: Dialog, m: SipMessage, ts: number, toTag: string | undefined): void {
    d.call.answeredAt = ts;
    d.call.status = m.status;
    if (toTag !== undefined) d.toTag = toTag;
    d.lastActivity = ts;
    const hadEarly = !!d.joiner;
    if (!d.joiner) this.startMedia(d, ts);
    const early = d.early ?? [];
    d.early = undefined;
    if (hadEarly && d.call.mediaFrom! < ts) {
      d.call.earlyMs = Math.round(ts - d.call.mediaFrom!);
      d.call.notes.push(`early media: the recording starts ${(d.call.earlyMs / 1000).toFixed(1)} s before the answer, with what was played after the 183 Session Progress (announcement, IVR or ring-back)`);
    }
    this.o.onStart?.(d.call);
    for (const [index, pcm] of early) this.o.onAudio?.(d.call, index, pcm);
  }

  /**
   * The call's timeline starts: at the answer, or at the first early-media packet before it. Audio put
   * out before the answer is held (bounded) until the answer shows the call is one to record.
   */
  private startMedia(d: Dialog, origin: number): void {
    // fixed now for the whole call: wideband when either side's SDP offers a wideband codec this box decodes
    d.call.rate = this.codecs.callRate([...Object.values(d.payloads[0]), ...Object.values(d.payloads[1])]);
    d.call.mediaFrom = origin;
    d.early = [];
    d.earlyFrames = 0;
    d.joiner = new StereoJoiner((index, pcm) => {
      if (d.call.answeredAt !== undefined) { this.o.onAudio?.(d.call, index, pcm); return; }
      const limit = (MAX_EARLY_MS * d.call.rate) / 1000;
      if (!d.early || d.earlyFrames! + pcm.length / 2 > limit) return;
      d.early.push([index, pcm]);
      d.earlyFrames! += pcm.length / 2;
    }, { rate: d.call.rate });
  }

  /** Registers the addresses in an SDP body: the party that sent it receives RTP there. True when it held any. */
  private offerAnswer(d: Dialog, m: SipMessage, sender: Role): boolean {
    if (m.body.length === 0) return false;
    const ct = m.get('Content-Type') ?? 'application/sdp';
    let sdp: Buffer | undefined;
    try {
      sdp = splitMultipart(ct, m.body).find((p) => p.type === 'application/sdp')?.body;
    } catch {
      return false;
    }
    if (!sdp) return false;
    let streams;
    try { streams = parseSdpStreams(sdp).streams; } catch { return false; }
    let any = false;
    for (const s of streams) {
      if (s.media !== 'audio' || s.port === 0 || !s.addr || s.addr === '0.0.0.0' || s.addr === '::') continue;
      if (!d.call.encrypted && (/SAVP/i.test(s.protocol) || s.crypto.length)) {
        d.call.encrypted = true;
        d.call.undecodable.push('SRTP');
        this.o.log?.('passive: the call\'s media is SRTP (RTP/SAVP or a=crypto); a capture cannot decrypt it, so the call is reported as encrypted and none of its audio is recorded', { callId: d.call.callId, code: 'RV_ERR_SRTP_PASSIVE' });
        this.o.onInfo?.(d.call);
      }
      const key = `${canonicalAddr(s.addr)}|${s.port}`;
      Object.assign(d.payloads[sender], rtpMapsOf(s.payloads, true));
      // a re-INVITE or UPDATE may switch codec mid-call: the stream the sender receives reads by the new map
      for (const tr of d.tracks.values()) if (tr.channel !== sender) tr.stream.setPayloads(d.payloads[sender]);
      const prev = this.byMedia.get(key);
      if (prev && prev.d !== d && !prev.d.ended) prev.d.media.delete(key);
      this.byMedia.set(key, { d, role: sender });
      d.media.add(key);
      any = true;
    }
    return any;
  }

  private rtp(s: Segment): void {
    // RTP sent to a party's address is the other party's voice; with symmetric RTP, from it is its own.
    const to = this.byMedia.get(`${s.dst}|${s.dport}`);
    const from = to ? undefined : this.byMedia.get(`${s.src}|${s.sport}`);
    const hit = to ?? from;
    if (!hit || hit.d.ended) { this.stats.rtpUnmatched++; return; }
    const d = hit.d;
    // Before the answer only media after an SDP answer in a 183 (early media) counts; it is held until the answer.
    if (d.call.answeredAt === undefined && !d.earlyMedia) return;
    const channel: Role = to ? (hit.role === 0 ? 1 : 0) : hit.role;
    const p = parseRtp(s.payload);
    if (!p) { this.stats.rtpUnmatched++; return; }
    // Encrypted payloads decoded as G.711 would be loud noise in the recording: the call keeps its time, silent.
    if (d.call.encrypted) { this.stats.rtpMatched++; d.lastActivity = Math.max(d.lastActivity, s.ts); return; }
    const tr = this.trackFor(d, `${s.src}|${s.sport}|${s.dst}|${s.dport}`, p.ssrc, channel, s.ts);
    if (!tr) { this.stats.rtpUnmatched++; return; }
    this.stats.rtpMatched++;
    d.lastActivity = Math.max(d.lastActivity, s.ts);
    tr.packets++;
    tr.lastAt = s.ts;
    const out = tr.stream.push(p, s.ts);
    if (d.primary[channel] === tr) for (const b of out) d.joiner!.push(channel, b);
  }

  /**
   * The stream a packet belongs to, by 5-tuple and SSRC. A new SSRC on a 5-tuple that went quiet is the
   * same stream restarting; one interleaved with another is a second stream, decoded on its own. When
   * two streams claim one direction (forking, a B2BUA in the capture, a NAT'd endpoint) the first is
   * recorded until it falls silent while the other goes on; the call's notes say so.
   */
  private trackFor(d: Dialog, tuple: string, ssrc: number, channel: Role, ts: number): Track | undefined {
    let tr = d.tracks.get(`${tuple}|${ssrc}`);
    if (!tr) {
      const restarted = [...d.tracks.values()].find((x) => x.tuple === tuple && ts - x.lastAt > SAME_STREAM_GAP_MS);
      // A direction whose recorded stream went quiet and now comes from elsewhere moved (hold and resume,
      // a re-INVITE to a new port): the same stream goes on, re-anchored by the new source's arrival.
      const prim = d.primary[channel];
      const moved = restarted ?? (prim && ts - prim.lastAt > SWITCH_AFTER_MS && ![...d.tracks.values()].some((x) => x !== prim && x.channel === channel && ts - x.lastAt <= SWITCH_AFTER_MS) ? prim : undefined);
      if (moved) {
        d.tracks.delete(moved.key);
        moved.key = `${tuple}|${ssrc}`;
        moved.tuple = tuple;
        moved.ssrc = ssrc;
        d.tracks.set(moved.key, moved);
        tr = moved;
      } else {
        if (d.tracks.size >= MAX_TRACKS) return undefined;
        // Early media: the timeline starts one packet time (20 ms, the usual ptime) before the first packet arrived.
        if (!d.joiner) this.startMedia(d, ts - 20);
        tr = this.newTrack(d, tuple, ssrc, channel, ts);
      }
    }
    if (tr.channel !== channel) return tr; // a stream keeps the direction it started with
    const prim = d.primary[channel];
    if (!prim) {
      d.primary[channel] = tr;
      d.call.rtp[channel] = tr.stream.stats;
    } else if (prim !== tr && ts - prim.lastAt > SWITCH_AFTER_MS) {
      d.primary[channel] = tr;
      d.call.rtp[channel] = tr.stream.stats;
      const at = ((ts - (d.call.mediaFrom ?? ts)) / 1000).toFixed(1);
      d.call.notes.push(`the ${channel === 0 ? 'caller' : 'callee'}'s direction switched at ${at} s to stream ${this.describe(tr)}: stream ${this.describe(prim)} went quiet`);
      this.o.onInfo?.(d.call);
    }
    return tr;
  }

  private describe(tr: Track): string {
    const [src, sport, dst, dport] = tr.tuple.split('|');
    return `${src}:${sport} → ${dst}:${dport} (SSRC ${tr.ssrc.toString(16).padStart(8, '0')})`;
  }

  private newTrack(d: Dialog, tuple: string, ssrc: number, channel: Role, ts: number): Track {
    const receiver: Role = channel === 0 ? 1 : 0;
    const tr: Track = { key: `${tuple}|${ssrc}`, tuple, ssrc, channel, packets: 0, lastAt: ts, stream: undefined as unknown as RtpStream };
    tr.stream = new RtpStream({
      origin: d.call.mediaFrom, payloads: d.payloads[receiver], codecs: this.codecs, rate: d.call.rate,
      onUndecodable: (u) => {
        if (d.call.undecodable.includes(u.codec)) return;
        d.call.undecodable.push(u.codec);
        this.o.log?.(`passive: ${undecodableNote(u)} (${u.reason})`, { callId: d.call.callId, code: 'RV_ERR_CODEC_UNDECODABLE' });
        this.o.onInfo?.(d.call);
      },
      onUndecoded: (p, index) => {
        // Kept as sent, from the recorded stream of the direction only (a rival's packets would interleave).
        if (d.primary[channel] !== tr) return;
        d.call.undecodedRtp ??= { packets: [], bytes: 0, truncated: false };
        const m = d.payloads[receiver][p.pt];
        keepUndecoded(d.call.undecodedRtp, channel, m ? m.encoding.toUpperCase() : `pt${p.pt}`, p, index);
      },
      onUnknownPayload: (pt) => {
        const first = !d.unknownPts;
        (d.unknownPts ??= new Set()).add(pt);
        if (first) this.o.log?.(`passive: RTP payload type ${pt} is not in the call's SDP; packets of payload types the SDP does not name are dropped, not guessed at (logged once per call)`, { callId: d.call.callId, pt, code: 'RV_ERR_RTP_PAYLOAD_UNKNOWN' });
      },
      onDigit: (dg) => {
        // The same key press seen on a second stream of the same direction (a B2BUA's other leg) is one digit.
        if (d.call.digits.some((x) => x.channel === channel && x.digit === dg.digit && Math.abs(x.at - dg.at) < 200)) return;
        d.call.digits.push({ digit: dg.digit, at: dg.at, durationMs: dg.durationMs, channel });
        this.o.onInfo?.(d.call);
      },
    });
    const rivals = [...d.tracks.values()].filter((x) => x.channel === channel);
    d.tracks.set(tr.key, tr);
    if (rivals.length === 1) {
      d.call.notes.push(`two RTP streams claimed the ${channel === 0 ? 'caller' : 'callee'}'s direction: ${this.describe(rivals[0]!)} and ${this.describe(tr)}; kept apart, never mixed; the active one is recorded`);
      this.o.log?.('passive: two RTP streams claim one direction of a call; kept apart', { callId: d.call.callId, channel });
      this.o.onInfo?.(d.call);
    }
    return tr;
  }

  private end(d: Dialog, at: number, reason: EndReason): void {
    if (d.ended) return;
    d.ended = true;
    this.live.delete(d);
    for (const key of d.media) if (this.byMedia.get(key)?.d === d) this.byMedia.delete(key);
    const list = this.byCallId.get(d.call.callId);
    if (list) {
      const rest = list.filter((x) => x !== d);
      if (rest.length) this.byCallId.set(d.call.callId, rest); else this.byCallId.delete(d.call.callId);
    }
    // A call lasts at most one RTP timeout past its last sign of life, whatever a damaged timestamp says.
    d.call.endedAt = Math.max(Math.min(at, d.lastActivity + this.o.rtpTimeoutMs), d.call.answeredAt ?? at);
    d.call.endReason = reason;
    if (d.call.answeredAt !== undefined && d.joiner) {
      for (const tr of d.tracks.values()) {
        const out = tr.stream.flush();
        if (d.primary[tr.channel] === tr) for (const b of out) d.joiner.push(tr.channel, b);
        tr.stream.close();
      }
      // Durations in digits are final now; the call is as long as the signalling says, or its audio if longer.
      for (const dg of d.call.digits) {
        for (const tr of d.tracks.values()) {
          const src = tr.channel === dg.channel ? tr.stream.digits.find((x) => x.at === dg.at && x.digit === dg.digit) : undefined;
          if (src) { dg.durationMs = src.durationMs; break; }
        }
      }
      d.joiner.flush(Math.round(((d.call.endedAt - (d.call.mediaFrom ?? d.call.answeredAt)) * d.call.rate) / 1000));
    } else {
      for (const tr of d.tracks.values()) tr.stream.close();
      d.early = undefined;
    }
    this.o.onEnd?.(d.call);
  }
}
