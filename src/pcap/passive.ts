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
  call: PassiveCall;
  fromTag?: string;
  toTag?: string;
  inviteCseq: number;
  /** the addresses each party receives RTP on, as "addr|port" */
  media: Set<string>;
  /** payload types by the party that receives them */
  payloads: [Record<number, RtpMap>, Record<number, RtpMap>];
  streams: [RtpStream | undefined, RtpStream | undefined];
  joiner?: StereoJoiner;
  lastActivity: number;
  ended: boolean;
}

/** the static G.711 types (RFC 3551), understood even before any SDP names them */
const BASE_PAYLOADS = (): Record<number, RtpMap> => ({ 0: { encoding: 'PCMU', clockRate: 8000 }, 8: { encoding: 'PCMA', clockRate: 8000 } });
const MAX_TCP_FLOWS = 1024;

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
        continue;
      }
      if (now - d.lastActivity > this.o.rtpTimeoutMs) { this.end(d, d.lastActivity, 'rtp-timeout'); continue; }
      for (const ch of [0, 1] as const) {
        const st = d.streams[ch];
        if (st) for (const b of st.drain(now)) d.joiner!.push(ch, b);
      }
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
    if (status < 200) { if (status > 100) this.offerAnswer(d, m, sender); return; }
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
    const call: PassiveCall = { ref: n === 1 ? callId : `${callId}#${n}`, callId, transport, invitedAt: ts, digits: [], rtp: [undefined, undefined], rate: SAMPLE_RATE, undecodable: [] };
    this.parties(call, m);
    const d: Dialog = {
      call, inviteCseq: seq, media: new Set(), payloads: [BASE_PAYLOADS(), BASE_PAYLOADS()],
      streams: [undefined, undefined], lastActivity: ts, ended: false,
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
    // fixed now for the whole call: wideband when either side's SDP offers a wideband codec this box decodes
    d.call.rate = this.codecs.callRate([...Object.values(d.payloads[0]), ...Object.values(d.payloads[1])]);
    d.joiner = new StereoJoiner((index, pcm) => this.o.onAudio?.(d.call, index, pcm), { rate: d.call.rate });
    this.o.onStart?.(d.call);
  }

  /** Registers the addresses in an SDP body: the party that sent it receives RTP there. */
  private offerAnswer(d: Dialog, m: SipMessage, sender: Role): void {
    if (m.body.length === 0) return;
    const ct = m.get('Content-Type') ?? 'application/sdp';
    let sdp: Buffer | undefined;
    try {
      sdp = splitMultipart(ct, m.body).find((p) => p.type === 'application/sdp')?.body;
    } catch {
      return;
    }
    if (!sdp) return;
    let streams;
    try { streams = parseSdpStreams(sdp).streams; } catch { return; }
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
      d.streams[sender === 0 ? 1 : 0]?.setPayloads(d.payloads[sender]);
      const prev = this.byMedia.get(key);
      if (prev && prev.d !== d && !prev.d.ended) prev.d.media.delete(key);
      this.byMedia.set(key, { d, role: sender });
      d.media.add(key);
    }
  }

  private rtp(s: Segment): void {
    // RTP sent to a party's address is the other party's voice; with symmetric RTP, from it is its own.
    const to = this.byMedia.get(`${s.dst}|${s.dport}`);
    const from = to ? undefined : this.byMedia.get(`${s.src}|${s.sport}`);
    const hit = to ?? from;
    if (!hit || hit.d.ended) { this.stats.rtpUnmatched++; return; }
    const d = hit.d;
    if (d.call.answeredAt === undefined) return; // early media (ring-back) is not part of the recording
    const channel: Role = to ? (hit.role === 0 ? 1 : 0) : hit.role;
    const receiver: Role = channel === 0 ? 1 : 0;
    const p = parseRtp(s.payload);
    if (!p) { this.stats.rtpUnmatched++; return; }
    this.stats.rtpMatched++;
    d.lastActivity = Math.max(d.lastActivity, s.ts);
    // Encrypted payloads decoded as G.711 would be loud noise in the recording: the call keeps its time, silent.
    if (d.call.encrypted) return;
    let st = d.streams[channel];
    if (!st) {
      st = new RtpStream({
        origin: d.call.answeredAt, payloads: d.payloads[receiver], codecs: this.codecs, rate: d.call.rate,
        onUndecodable: (u) => {
          if (d.call.undecodable.includes(u.codec)) return;
          d.call.undecodable.push(u.codec);
          this.o.log?.(`passive: ${undecodableNote(u)} (${u.reason})`, { callId: d.call.callId, code: 'RV_ERR_CODEC_UNDECODABLE' });
          this.o.onInfo?.(d.call);
        },
        onUndecoded: (p, index) => {
          d.call.undecodedRtp ??= { packets: [], bytes: 0, truncated: false };
          const m = d.payloads[receiver][p.pt];
          keepUndecoded(d.call.undecodedRtp, channel, m ? m.encoding.toUpperCase() : `pt${p.pt}`, p, index);
        },
        onUnknownPayload: (pt) => this.o.log?.(`passive: RTP payload type ${pt} is not in the call's SDP; its packets are dropped, not guessed at`, { callId: d.call.callId, pt, code: 'RV_ERR_RTP_PAYLOAD_UNKNOWN' }),
        onDigit: (dg) => {
          d.call.digits.push({ digit: dg.digit, at: dg.at, durationMs: dg.durationMs, channel });
          this.o.onInfo?.(d.call);
        },
      });
      d.streams[channel] = st;
      d.call.rtp[channel] = st.stats;
    }
    for (const b of st.push(p, s.ts)) d.joiner!.push(channel, b);
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
      for (const ch of [0, 1] as const) {
        const st = d.streams[ch];
        if (st) { for (const b of st.flush()) d.joiner.push(ch, b); st.close(); }
      }
      // Durations in digits are final now; the call is as long as the signalling says, or its audio if longer.
      for (const dg of d.call.digits) {
        const src = d.streams[dg.channel]?.digits.find((x) => x.at === dg.at && x.digit === dg.digit);
        if (src) dg.durationMs = src.durationMs;
      }
      d.joiner.flush(Math.round(((d.call.endedAt - d.call.answeredAt) * d.call.rate) / 1000));
    }
    this.o.onEnd?.(d.call);
  }
}
