import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Socket } from 'node:dgram';
import { RvError } from '../errors.ts';
import type { Log } from '../log.ts';
import { cseqOf, parseNameAddr, serializeSip, type NameAddr, type SipLimits, type SipMessage } from './message.ts';
import { parseContentType, splitMultipart } from './multipart.ts';
import { answerDirection, buildAnswerSdp, chooseAudioPayloads, parseSdpStreams, type SdpDirection, type SdpPayload, type SdpStream } from './sdp.ts';
import { chooseSrtp, type StreamSrtp } from './srtp-offer.ts';
import { mergeSiprecMetadata, parseSiprecMetadata, type SiprecMetadata } from './siprec-meta.ts';
import { SipTransport, type SipPeer, type SipTlsOptions } from './transport.ts';
import { RtpPortPool } from './rtp-ports.ts';

export interface SiprecServerOptions {
  /** which offered codecs this box decodes (default G.711): they come first in the answer */
  decodable?: (p: SdpPayload) => boolean;
  host: string;
  port: number;
  udp?: boolean;
  tcp?: boolean;
  /** the address written into SDP answers and Contact headers (the host when that is a concrete address) */
  mediaAddr: string;
  rtpPortMin: number;
  rtpPortMax: number;
  /** a call whose RTP stops for this long without BYE is ended */
  rtpTimeoutMs: number;
  /** ring this long before answering (0: answer at once) */
  answerDelayMs?: number;
  maxSessions: number;
  limits?: SipLimits;
  log: Log;
  now?: () => number;
  /** SIP peers accepted (addresses or IPv4 CIDR ranges); empty or absent = any. Others get 403. */
  allowFrom?: readonly string[];
  /** whether a new recording session may start (a free line for it); false answers 486 Busy Here */
  admit?: (s: RecordingSession) => boolean;
  /** RFC 3261 T1 (default 500 ms): the 2xx is resent from T1 on, and a session whose ACK has not come after 64·T1 (Timer H, 32 s) is torn down */
  t1Ms?: number;
  /** a session whose streams are all paused and that gave no sign of life (SIP request, RTP, RTCP) for this long is asked with an in-dialog OPTIONS; no answer within 64·T1 ends it (default 60 s) */
  pausedProbeMs?: number;
  /** SIP over TLS with the box's certificate (and a CA for mutual TLS) */
  tls?: SipTlsOptions;
  /** a TCP/TLS connection with no bytes for this long is closed unless it carries a live session (default 120 s) */
  tcpIdleMs?: number;
  /** TCP/TLS connections from one address at once (default 32) */
  tcpPerAddress?: number;
}

export interface MediaStream {
  index: number;
  label?: string;
  media: string;
  /** our RTP port; 0 when the stream was refused */
  port: number;
  socket?: Socket;
  /** the RTCP socket on the odd port above */
  rtcp?: Socket;
  payloads: SdpPayload[];
  /** what the SRC offered: sendonly/sendrecv while it sends, inactive/recvonly when paused or on hold */
  offered: SdpDirection;
  packets: number;
  lastPacketAt: number;
  /** RTCP packets (on the odd port, or multiplexed on the RTP port) from an allowed address: a paused stream's sign of life */
  rtcpPackets: number;
  lastRtcpAt: number;
  /** SRTP (SDES): the SRC's key decrypts here; packets failing their tag are dropped and counted in its stats */
  srtp?: StreamSrtp;
  /** why the stream was refused, when it was (port 0) */
  refusal?: string;
  /** the address the SRC's SDP gives for this stream (c= line); media is accepted from it (or the SIP peer, or allowFrom) */
  remoteAddr?: string;
}

/** One SIPREC recording session (RFC 7866): the SIP dialog with the SRC and its media streams. */
export class RecordingSession {
  readonly id = randomUUID();
  readonly localTag = randomBytes(6).toString('hex');
  state: 'early' | 'confirmed' | 'ended' = 'early';
  /** the SRC's ACK came; only then is the session a call (a 2xx never ACKed is torn down at Timer H) */
  acked = false;
  answeredAt = 0;
  /** the last in-dialog request from the SRC, or answer to our probe */
  lastSipAt: number;
  /** an in-dialog OPTIONS we sent to a paused session, waiting for its answer */
  probe?: { cseq: number; sentAt: number };
  /** RTP that came between the 2xx and the ACK, handed on when the ACK comes */
  early: Array<[number, Buffer, number, { address: string; port: number }]> = [];
  streams: MediaStream[] = [];
  metadata: SiprecMetadata = { participants: [], streams: [] };
  /** every metadata document the SRC sent, in order (kept with the call) */
  metadataXml: string[] = [];
  /** the line a source assigned this session to */
  line?: string;
  sdpVersion = 1;
  remoteTarget: string;
  localCseq = 1;
  /** when media last started or changed direction, for the RTP timeout */
  mediaChangedAt: number;
  startedAt: number;
  invite: SipMessage;
  /** the INVITE transaction's response-cache key, so a late retransmission gets the final answer again */
  inviteKey = '';
  timers: { answer?: NodeJS.Timeout; retransmit?: NodeJS.Timeout; probe?: NodeJS.Timeout } = {};

  constructor(readonly callId: string, readonly remoteTag: string, readonly from: NameAddr, readonly to: NameAddr, public peer: SipPeer, invite: SipMessage, now: number) {
    this.invite = invite;
    this.startedAt = now;
    this.mediaChangedAt = now;
    this.lastSipAt = now;
    const contact = invite.get('Contact');
    let target = from.uri;
    try { if (contact) target = parseNameAddr(contact).uri; } catch { /* keep From */ }
    this.remoteTarget = target;
  }

  /** True while the SRC says it sends on at least one stream. */
  get sending(): boolean { return this.streams.some((s) => s.port !== 0 && (s.offered === 'sendonly' || s.offered === 'sendrecv')); }
}

export type SiprecServerEvents = {
  /** a session was answered; audio may follow */
  session: [RecordingSession];
  /** a datagram on a stream's port: session, m-line index, bytes, arrival ms, the sender */
  rtp: [RecordingSession, number, Buffer, number, { address: string; port: number }];
  /** metadata or stream directions changed (UPDATE, re-INVITE) */
  update: [RecordingSession];
  end: [RecordingSession, string];
  /** the SRC cancelled before the answer; nothing was recorded */
  cancelled: [RecordingSession];
  /** a session admitted to a line was refused after all (no usable stream, no RTP port, no ACK); nothing was recorded */
  refused: [RecordingSession, string];
  /** SRTP packets of a stream were dropped (failed tag, replay); logged at 1, 10, 100… */
  'srtp-dropped': [RecordingSession, number, { ok: number; authFailed: number; replayed: number; malformed: number }];
};

const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO';
const SUPPORTED = new Set(['siprec', 'timer']);
const T2 = 4000;
/** RTP packets held per session between the 2xx and the ACK (about 2 s of two streams at 20 ms). */
const MAX_EARLY_PACKETS = 200;
/** A session paused this long (no RTP, no media change) is ended even while its SRC answers probes. */
const PAUSED_LIMIT_MS = 4 * 3600_000;
/** Malformed-input log lines per second at most; the rest are counted and reported with the next one. */
const BAD_LOGS_PER_SEC = 5;
const MAX_CACHED_RESPONSES = 4096;
/** Metadata documents kept per call. */
const MAX_METADATA_DOCS = 16;

/** A SIPREC recording server (RFC 7866) over UDP and TCP: answers SRCs, receives their RTP, never throws on input. */
export class SiprecServer extends EventEmitter<SiprecServerEvents> {
  private readonly transport: SipTransport;
  private readonly ports: RtpPortPool;
  private readonly sessions = new Map<string, RecordingSession>();
  private readonly responses = new Map<string, { buf: Buffer; at: number }>();
  private sweeper?: NodeJS.Timeout;
  private readonly now: () => number;
  private badLog = { second: 0, count: 0, suppressed: 0 };
  private readonly t1: number;
  private readonly timerH: number;

  constructor(private readonly o: SiprecServerOptions) {
    super();
    this.now = o.now ?? Date.now;
    this.t1 = o.t1Ms ?? 500;
    this.timerH = 64 * this.t1;
    this.transport = new SipTransport({
      host: o.host, port: o.port, udp: o.udp, tcp: o.tcp, limits: o.limits, ...(o.tls ? { tls: o.tls } : {}),
      perAddress: o.tcpPerAddress ?? 32, idleMs: o.tcpIdleMs ?? 120_000,
      accept: (address) => this.allowed(address),
      keepOpen: (peer) => [...this.sessions.values()].some((x) => x.peer.proto === peer.proto && x.peer.address === peer.address && x.peer.port === peer.port),
    });
    this.ports = new RtpPortPool({ host: o.host, min: o.rtpPortMin, max: o.rtpPortMax });
    this.transport.on('message', (m, p) => { void this.onMessage(m, p).catch((e) => this.o.log.error({ err: e }, 'SIP request handling failed')); });
    this.transport.on('malformed', (e, raw, p) => { try { this.onMalformed(e, raw, p); } catch (err) { this.o.log.error({ err }, 'answering a malformed SIP message failed'); } });
    this.transport.on('error', (e) => this.o.log.warn({ err: e }, 'SIP socket error'));
    this.transport.on('dropped', (d) => {
      const why = { 'not-allowed': 'its address is not in siprec.allowFrom', 'per-address': `it has ${o.tcpPerAddress ?? 32} connections open already`, idle: 'it sent nothing for a while and carries no recording session', handshake: 'its TLS handshake failed (wrong CA, no client certificate, or too slow)' }[d.why];
      if (d.why === 'idle') return;
      this.warnBad({ from: d.address, code: d.why === 'not-allowed' ? 'RV_ERR_SIP_FORBIDDEN' : 'RV_ERR_SIP_CONNECTION' }, `SIP ${d.proto.toUpperCase()} connection from ${d.address} closed: ${why}`);
    });
  }

  get port(): number { return this.transport.port; }
  get tlsPort(): number { return this.transport.tlsPort; }
  /** TCP and TLS connections open now */
  get connections(): number { return this.transport.connections; }
  get liveSessions(): RecordingSession[] { return [...this.sessions.values()]; }
  get rtpPortsInUse(): number { return this.ports.inUse; }

  async start(): Promise<void> {
    this.ports.check();
    await this.transport.start();
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, this.o.rtpTimeoutMs / 4, this.timerH / 8)));
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const s of [...this.sessions.values()]) {
      if (s.state === 'confirmed') this.sendBye(s);
      this.end(s, 'shutdown');
    }
    await this.transport.stop();
  }

  private key(callId: string, tag: string): string { return `${callId}\u0000${tag}`; }

  private async onMessage(m: SipMessage, peer: SipPeer): Promise<void> {
    if (!this.allowed(peer.address)) {
      if (m.kind === 'response') return;
      this.warnBad({ from: peer.address, code: 'RV_ERR_SIP_FORBIDDEN' }, `SIP ${m.method} from ${peer.address}, which is not in siprec.allowFrom; refused`);
      return m.method === 'ACK' ? undefined : this.reply(m, peer, 403, 'Forbidden');
    }
    if (m.kind === 'response') return this.onResponse(m);
    const method = m.method!;
    const cseq = cseqOf(m);
    if (method !== 'ACK' && cseq.method !== method) return this.reply(m, peer, 400, 'Bad Request - CSeq method differs');
    const cacheKey = `${m.get('Call-ID')}|${m.get('CSeq')}|${this.topBranch(m)}`;
    const cached = method === 'ACK' ? undefined : this.responses.get(cacheKey);
    if (cached) { peer.send(cached.buf); return; }
    let from: NameAddr, to: NameAddr;
    try { from = parseNameAddr(m.get('From')!); to = parseNameAddr(m.get('To')!); } catch (e) {
      return method === 'ACK' ? undefined : this.reply(m, peer, 400, 'Bad Request - unreadable From or To');
    }
    const callId = m.get('Call-ID')!;
    const found = from.tag ? this.sessions.get(this.key(callId, from.tag)) : undefined;
    // An in-dialog request must carry our tag (a stray or missing To tag names some other dialog); only
    // CANCEL and a retransmitted INVITE match the session without it.
    const session = found && (to.tag === found.localTag || (!to.tag && (method === 'CANCEL' || method === 'INVITE'))) ? found : undefined;
    if (session && to.tag) session.lastSipAt = this.now();
    switch (method) {
      case 'OPTIONS':
        return this.reply(m, peer, 200, 'OK', [['Accept', 'application/sdp, application/rs-metadata+xml, multipart/mixed']]);
      case 'INVITE':
        if (session && to.tag) return this.reInvite(session, m, peer, cacheKey);
        if (to.tag) return this.reply(m, peer, 481, 'Call/Transaction Does Not Exist');
        if (session) return; // retransmission of an INVITE still being handled
        return this.newInvite(m, peer, from, to, cacheKey);
      case 'ACK':
        if (session && session.state === 'confirmed') this.acked(session);
        return;
      case 'CANCEL':
        if (!session) return this.reply(m, peer, 481, 'Call/Transaction Does Not Exist');
        this.reply(m, peer, 200, 'OK');
        if (session.state === 'early') this.cancel(session, 'cancelled');
        return;
      case 'BYE':
        if (!session) return this.reply(m, peer, 481, 'Call/Transaction Does Not Exist');
        this.reply(m, peer, 200, 'OK', [], undefined, cacheKey);
        if (session.state === 'early') this.cancel(session, 'ended before the answer');
        else this.end(session, 'bye');
        return;
      case 'UPDATE':
        if (!session) return this.reply(m, peer, 481, 'Call/Transaction Does Not Exist');
        return this.reInvite(session, m, peer, cacheKey);
      case 'INFO':
        return session ? this.reply(m, peer, 200, 'OK') : this.reply(m, peer, 481, 'Call/Transaction Does Not Exist');
      default:
        return this.reply(m, peer, 405, 'Method Not Allowed');
    }
  }

  /** Keeps a final response for retransmissions (RFC 3261 §17.2), bounded so a flood cannot grow it without end. */
  private remember(key: string, buf: Buffer): void {
    this.responses.delete(key);
    this.responses.set(key, { buf, at: this.now() });
    if (this.responses.size > MAX_CACHED_RESPONSES) this.responses.delete(this.responses.keys().next().value!);
  }

  /** Whether an address is in siprec.allowFrom (false when the list is empty: media then needs the SDP's or the SIP peer's address). */
  listed(address: string): boolean {
    return (this.o.allowFrom ?? []).length > 0 && this.allowed(address);
  }

  private allowed(address: string): boolean {
    const list = this.o.allowFrom ?? [];
    if (!list.length) return true;
    const a = address.replace(/^::ffff:/, '');
    return list.some((entry) => {
      const [net, bits] = entry.split('/');
      if (bits === undefined) return net === a;
      const v4 = (x: string) => x.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(a) || !/^\d+\.\d+\.\d+\.\d+$/.test(net!)) return false;
      const b = Math.min(32, Number(bits));
      const mask = b === 0 ? 0 : (~0 << (32 - b)) >>> 0;
      return ((v4(a) & mask) >>> 0) === ((v4(net!) & mask) >>> 0);
    });
  }

  private topBranch(m: SipMessage): string {
    return /;\s*branch=([^;,\s]+)/i.exec(m.get('Via') ?? '')?.[1] ?? '';
  }

  /** The SDP offer and metadata of a request body; throws an RvError with the status to answer. */
  private readBody(m: SipMessage): { sdp?: string; xml?: string } {
    if (!m.body.length) return {};
    const enc = m.get('Content-Encoding');
    if (enc && !/^\s*identity\s*$/i.test(enc)) throw new RvError('RV_ERR_SIP_UNSUPPORTED', `Content-Encoding ${enc} is not supported`, 415);
    const ct = m.get('Content-Type') ?? 'application/sdp';
    const parts = splitMultipart(ct, m.body);
    const out: { sdp?: string; xml?: string } = {};
    for (const p of parts) {
      if (p.type === 'application/sdp' && out.sdp === undefined) out.sdp = p.body.toString('utf8');
      else if (/rs-metadata/.test(p.type) && out.xml === undefined) out.xml = p.body.toString('utf8');
    }
    if (!parts.some((p) => p.type === 'application/sdp' || /rs-metadata/.test(p.type))) {
      throw new RvError('RV_ERR_SIP_UNSUPPORTED', `body type ${parseContentType(ct).type} is not SDP or recording metadata`, 415);
    }
    return out;
  }

  private takeMetadata(s: RecordingSession, xml: string | undefined): void {
    if (!xml) return;
    // Session refreshes may resend the metadata all call long: keep the first and the latest documents.
    if (s.metadataXml[s.metadataXml.length - 1] === xml) return;
    if (s.metadataXml.length >= MAX_METADATA_DOCS) s.metadataXml.splice(1, 1);
    s.metadataXml.push(xml);
    try {
      s.metadata = mergeSiprecMetadata(s.metadata, parseSiprecMetadata(xml));
    } catch (e) {
      // The call is still recorded; numbers fall back to From/To and the XML is kept as sent.
      this.warnBad({ callId: s.callId, err: (e as Error).message }, 'recording metadata unreadable; kept as sent');
    }
  }

  private async newInvite(m: SipMessage, peer: SipPeer, from: NameAddr, to: NameAddr, cacheKey: string): Promise<void> {
    const unsupported = m.getAll('Require').flatMap((v) => v.split(',')).map((t) => t.trim().toLowerCase()).filter((t) => t && !SUPPORTED.has(t));
    if (unsupported.length) return this.reply(m, peer, 420, 'Bad Extension', [['Unsupported', unsupported.join(', ')]]);
    if (!from.tag) return this.reply(m, peer, 400, 'Bad Request - From has no tag');
    let body: { sdp?: string; xml?: string };
    try { body = this.readBody(m); } catch (e) { return this.replyError(m, peer, e); }
    if (!body.sdp) return this.reply(m, peer, 488, 'Not Acceptable Here', [['Warning', '399 ringvault "An SDP offer is needed in the INVITE"']]);
    let offer: ReturnType<typeof parseSdpStreams>;
    try { offer = parseSdpStreams(body.sdp); } catch (e) { return this.replyError(m, peer, e); }
    if (this.sessions.size >= this.o.maxSessions) return this.reply(m, peer, 503, 'Service Unavailable', [['Retry-After', '5']]);
    const s = new RecordingSession(m.get('Call-ID')!, from.tag, from, to, peer, m, this.now());
    s.inviteKey = cacheKey;
    this.takeMetadata(s, body.xml);
    if (this.o.admit && !this.o.admit(s)) return this.reply(m, peer, 486, 'Busy Here', [['Warning', '399 ringvault "No free recording line"']]);
    this.sessions.set(this.key(s.callId, s.remoteTag), s);
    this.reply(m, peer, 100, 'Trying');
    const refuse = (why: string) => {
      this.release(s);
      s.state = 'ended';
      this.sessions.delete(this.key(s.callId, s.remoteTag));
      this.emit('refused', s, why);
    };
    try {
      for (const st of offer.streams) s.streams.push(Object.assign(await this.openStream(s, st), st.addr ? { remoteAddr: st.addr } : {}));
    } catch (e) {
      refuse((e as Error).message);
      return this.replyError(m, peer, e);
    }
    const srtpRefused = s.streams.find((x) => x.refusal);
    if (srtpRefused && !s.streams.some((x) => x.port !== 0)) {
      refuse(srtpRefused.refusal!);
      this.warnBad({ callId: s.callId, code: 'RV_ERR_SRTP_KEYS' }, `recording session refused: ${srtpRefused.refusal}`);
      return this.reply(m, peer, 488, 'Not Acceptable Here', [['Warning', `399 ringvault "${srtpRefused.refusal}"`]], undefined, cacheKey);
    }
    if (!s.streams.some((x) => x.port !== 0)) {
      refuse('no audio stream');
      return this.reply(m, peer, 488, 'Not Acceptable Here', [['Warning', '399 ringvault "The offer has no audio stream to record"']], undefined, cacheKey);
    }
    const answer = () => {
      if (s.state !== 'early') return;
      s.state = 'confirmed';
      s.answeredAt = s.mediaChangedAt = this.now();
      // The call starts with the ACK: an INVITE never ACKed (a stray or spoofed one) records nothing and frees its line at Timer H.
      this.sendOk(s, m, peer, cacheKey);
    };
    const delay = this.o.answerDelayMs ?? 0;
    if (delay > 0) {
      this.reply(m, peer, 180, 'Ringing', [], s.localTag);
      s.timers.answer = setTimeout(answer, delay);
    } else answer();
  }

  private async openStream(s: RecordingSession, offer: SdpStream): Promise<MediaStream> {
    const { index, media, label } = offer;
    const payloads = media === 'audio' && offer.port !== 0 ? chooseAudioPayloads(offer.payloads, this.o.decodable) : [];
    const st: MediaStream = { index, media, port: 0, payloads, offered: offer.direction, packets: 0, lastPacketAt: 0, rtcpPackets: 0, lastRtcpAt: 0 };
    if (label !== undefined) st.label = label;
    if (!payloads.length) return st;
    const srtp = chooseSrtp(offer);
    if ('refusal' in srtp) { st.refusal = srtp.refusal; return st; }
    if (srtp.srtp) st.srtp = srtp.srtp;
    const { port, socket, rtcp } = await this.ports.open();
    st.port = port;
    st.socket = socket;
    if (rtcp) st.rtcp = rtcp;
    const onRtcp = (from: string) => {
      if (!this.allowed(from)) return;
      st.rtcpPackets++;
      st.lastRtcpAt = this.now();
    };
    socket.on('message', (raw: Buffer, rinfo) => {
      if (s.state === 'ended') return;
      // RTCP multiplexed on the RTP port (RFC 5761: second byte 192–223) is a sign of life, not audio.
      if (raw.length >= 8 && raw[1]! >= 192 && raw[1]! <= 223) { onRtcp(rinfo.address); return; }
      let buf = raw;
      if (st.srtp) {
        const r = st.srtp.receiver.unprotect(raw);
        if (!r.ok) { this.srtpDropped(s, st, r.why); return; }
        buf = r.packet;
      }
      const at = this.now();
      st.packets++;
      st.lastPacketAt = at;
      if (!s.acked) {
        if (s.early.length < MAX_EARLY_PACKETS) s.early.push([index, buf, at, rinfo]);
        return;
      }
      this.emitRtp(s, st, index, buf, at, rinfo);
    });
    socket.on('error', (e) => this.o.log.warn({ err: e, port }, 'RTP socket error'));
    rtcp?.on('message', (_buf, rinfo) => { if (s.state !== 'ended') onRtcp(rinfo.address); });
    rtcp?.on('error', (e) => this.o.log.warn({ err: e, port: port + 1 }, 'RTCP socket error'));
    return st;
  }

  /** A packet that failed SRTP is dropped, never decoded as noise; the count is logged at 1, 10, 100… (a line notice). */
  private srtpDropped(s: RecordingSession, st: MediaStream, why: 'malformed' | 'auth' | 'replay'): void {
    const { stats } = st.srtp!.receiver;
    const n = stats.authFailed + stats.replayed + stats.malformed;
    if (Math.log10(n) % 1 !== 0) return;
    this.o.log.warn({ line: s.line, callId: s.callId, stream: st.index, code: 'RV_ERR_SRTP_AUTH', ...stats },
      `SRTP on line ${s.line ?? '?'}: ${n} packet(s) dropped (${stats.authFailed} failed authentication, ${stats.replayed} replayed; ${stats.ok} decrypted), the last for ${why === 'auth' ? 'a wrong tag: a wrong key, or packets from someone else' : why}; nothing of them is recorded`);
    this.emit('srtp-dropped', s, st.index, { ...stats });
  }

  private emitRtp(s: RecordingSession, st: MediaStream, index: number, buf: Buffer, at: number, from: { address: string; port: number }): void {
    // A fault while handling one packet must not take the socket, or the box, down with it.
    try { this.emit('rtp', s, index, buf, at, from); } catch (e) { if (st.packets % 1000 === 1) this.o.log.error({ err: e, port: st.port }, 'RTP packet handling failed'); }
  }

  /** The SRC's ACK: the session becomes a call, and RTP that came before the ACK is handed on. */
  private acked(s: RecordingSession): void {
    if (s.timers.retransmit) { clearTimeout(s.timers.retransmit); s.timers.retransmit = undefined; }
    if (s.acked) return;
    s.acked = true;
    this.emit('session', s);
    const early = s.early.splice(0);
    for (const [index, buf, at, from] of early) {
      if (s.state === 'ended') break;
      const st = s.streams[index];
      if (st) this.emitRtp(s, st, index, buf, at, from);
    }
  }

  private answerSdp(s: RecordingSession): string {
    return buildAnswerSdp({
      addr: this.o.mediaAddr, sessionId: String(parseInt(s.localTag.slice(0, 8), 16)), version: s.sdpVersion,
      streams: s.streams.map((st) => ({
        media: st.media, port: st.port, payloads: st.port ? st.payloads : [{ pt: 0, codec: 'PCMU', rate: 8000 }], direction: answerDirection(st.offered),
        ...(st.srtp ? { protocol: st.srtp.protocol, crypto: { tag: st.srtp.tag, suite: st.srtp.suite, keyParams: `inline:${st.srtp.answerKey}` } } : {}),
        ...(st.label !== undefined ? { label: st.label } : {}),
      })),
    });
  }

  private sendOk(s: RecordingSession, m: SipMessage, peer: SipPeer, cacheKey: string): void {
    const buf = this.response(m, 200, 'OK', [['Contact', this.contact(peer)], ['Content-Type', 'application/sdp']], this.answerSdp(s), s.localTag);
    this.remember(cacheKey, buf);
    peer.send(buf);
    if (peer.proto !== 'udp') return;
    // Over UDP the 200 is resent until the ACK comes (RFC 3261 §13.3.1.4).
    let wait = this.t1;
    let spent = 0;
    const again = () => {
      spent += wait;
      if (s.state === 'ended' || spent > this.timerH) { s.timers.retransmit = undefined; return; }
      peer.send(buf);
      wait = Math.min(wait * 2, T2);
      s.timers.retransmit = setTimeout(again, wait);
    };
    if (s.timers.retransmit) clearTimeout(s.timers.retransmit);
    s.timers.retransmit = setTimeout(again, wait);
  }

  private async reInvite(s: RecordingSession, m: SipMessage, peer: SipPeer, cacheKey: string): Promise<void> {
    let body: { sdp?: string; xml?: string };
    try { body = this.readBody(m); } catch (e) { return this.replyError(m, peer, e); }
    this.takeMetadata(s, body.xml);
    s.peer = peer;
    if (body.sdp) {
      let offer: ReturnType<typeof parseSdpStreams>;
      try { offer = parseSdpStreams(body.sdp); } catch (e) { return this.replyError(m, peer, e); }
      try {
        for (const st of offer.streams) {
          const known = s.streams[st.index];
          if (!known) { s.streams.push(Object.assign(await this.openStream(s, st), st.addr ? { remoteAddr: st.addr } : {})); continue; }
          if (st.addr) known.remoteAddr = st.addr;
          // A re-INVITE may bring a new SDES key (rekeying); the old one stays when the offer repeats it.
          if (known.srtp) {
            const next = chooseSrtp(st);
            if ('srtp' in next && next.srtp && next.srtp.offerKey !== known.srtp.offerKey) known.srtp = { ...next.srtp, answerKey: known.srtp.answerKey, receiver: next.srtp.receiver };
          }
          // A port of 0 stops the stream; a direction of inactive/recvonly pauses it (hold, RFC 7866 pause).
          known.offered = st.port === 0 ? 'inactive' : st.direction;
          if (st.label !== undefined) known.label = st.label;
          const chosen = chooseAudioPayloads(st.payloads, this.o.decodable);
          if (known.port && chosen.length) known.payloads = chosen;
        }
      } catch (e) { return this.replyError(m, peer, e); }
      s.sdpVersion++;
      s.mediaChangedAt = this.now();
    }
    if (m.method === 'INVITE') this.sendOk(s, m, peer, cacheKey);
    else if (body.sdp) this.reply(m, peer, 200, 'OK', [['Contact', this.contact(peer)], ['Content-Type', 'application/sdp']], this.answerSdp(s), cacheKey);
    else this.reply(m, peer, 200, 'OK', [['Contact', this.contact(peer)]], undefined, cacheKey);
    this.emit('update', s);
  }

  private cancel(s: RecordingSession, why: string): void {
    if (s.timers.answer) clearTimeout(s.timers.answer);
    this.reply(s.invite, s.peer, 487, 'Request Terminated', [], undefined, s.inviteKey, s.localTag);
    this.release(s);
    s.state = 'ended';
    this.sessions.delete(this.key(s.callId, s.remoteTag));
    this.o.log.info({ callId: s.callId }, `recording session ${why} before it was answered`);
    this.emit('cancelled', s);
  }

  private release(s: RecordingSession): void {
    for (const st of s.streams) if (st.port) this.ports.release(st.port, st.socket, st.rtcp);
    s.early = [];
    for (const t of Object.values(s.timers)) if (t) clearTimeout(t);
  }

  private end(s: RecordingSession, reason: string): void {
    if (s.state === 'ended') return;
    const answered = s.state === 'confirmed';
    s.state = 'ended';
    this.release(s);
    this.sessions.delete(this.key(s.callId, s.remoteTag));
    if (answered && s.acked) this.emit('end', s, reason);
    else if (answered) this.emit('refused', s, reason);
  }

  /**
   * Ends sessions whose 2xx was never ACKed (Timer H), calls whose RTP stopped without a BYE, paused
   * sessions that no longer answer, and forgets old cached responses.
   */
  private sweep(): void {
    const now = this.now();
    for (const s of [...this.sessions.values()]) {
      if (s.state !== 'confirmed') continue;
      if (!s.acked) {
        if (now - s.answeredAt >= this.timerH) {
          this.warnBad({ callId: s.callId, line: s.line, from: s.peer.address, code: 'RV_ERR_SIP_NO_ACK' }, `recording session from ${s.peer.address} was answered but never ACKed in ${Math.round(this.timerH / 1000)} s (RFC 3261 Timer H); ended, nothing recorded, its line is free again`);
          this.sendBye(s);
          this.end(s, 'no-ack');
        }
        continue;
      }
      const last = Math.max(s.mediaChangedAt, ...s.streams.map((x) => x.lastPacketAt));
      if (!s.sending) {
        if (now - last >= PAUSED_LIMIT_MS) {
          this.o.log.warn({ callId: s.callId, line: s.line }, 'recording paused for 4 hours; ending it');
          this.sendBye(s);
          this.end(s, 'paused-timeout');
          continue;
        }
        this.checkPaused(s, now, last);
        continue;
      }
      if (now - last >= this.o.rtpTimeoutMs) {
        this.o.log.warn({ callId: s.callId, line: s.line }, `no RTP for ${Math.round((now - last) / 1000)} s and no BYE; ending the recording`);
        this.sendBye(s);
        this.end(s, 'rtp-timeout');
      }
    }
    for (const [k, v] of this.responses) if (now - v.at > 32_000) this.responses.delete(k);
  }

  /**
   * A paused session (every stream inactive or on hold) must show a sign of life: a SIP request in its
   * dialog, RTP or RTCP. After pausedProbeMs of silence the box asks with an in-dialog OPTIONS; an SRC
   * that no longer knows the dialog (481), or none that answers within 64·T1, ends the session.
   */
  private checkPaused(s: RecordingSession, now: number, lastMedia: number): void {
    if (s.probe) {
      if (now - s.probe.sentAt < this.timerH) return;
      this.warnBad({ callId: s.callId, line: s.line, code: 'RV_ERR_SIP_NO_SIGN_OF_LIFE' }, `paused recording session from ${s.peer.address} answered no OPTIONS in ${Math.round(this.timerH / 1000)} s; ended`);
      this.sendBye(s);
      this.end(s, 'no-sign-of-life');
      return;
    }
    const life = Math.max(lastMedia, s.lastSipAt, ...s.streams.map((x) => x.lastRtcpAt));
    if (now - life >= (this.o.pausedProbeMs ?? 60_000)) this.sendProbe(s);
  }

  private sendProbe(s: RecordingSession): void {
    const cseq = s.localCseq++;
    const buf = this.inDialog(s, 'OPTIONS', cseq);
    s.probe = { cseq, sentAt: this.now() };
    const send = () => { try { s.peer.send(buf); } catch (e) { this.o.log.warn({ err: e }, 'could not send OPTIONS'); } };
    send();
    if (s.peer.proto !== 'udp') return;
    // Over UDP the request is resent (Timer E) until answered or Timer F.
    let wait = this.t1;
    const again = () => {
      if (s.state === 'ended' || s.probe?.cseq !== cseq) return;
      send();
      wait = Math.min(wait * 2, T2);
      s.timers.probe = setTimeout(again, wait);
    };
    s.timers.probe = setTimeout(again, wait);
  }

  /** Answers to our own requests: a probe's answer is a sign of life, unless it says the dialog is gone. */
  private onResponse(m: SipMessage): void {
    const callId = m.get('Call-ID');
    const status = m.status ?? 0;
    if (!callId || status < 200) return;
    let cs: { seq: number; method: string };
    try { cs = cseqOf(m); } catch { return; }
    if (cs.method !== 'OPTIONS') return;
    const s = [...this.sessions.values()].find((x) => x.callId === callId && x.probe?.cseq === cs.seq);
    if (!s) return;
    s.probe = undefined;
    if (s.timers.probe) { clearTimeout(s.timers.probe); s.timers.probe = undefined; }
    if (status === 481 || status === 408) {
      this.o.log.warn({ callId: s.callId, line: s.line }, `the SRC answered ${status} to a probe of a paused recording session: it no longer knows the call; ended`);
      this.end(s, 'gone');
      return;
    }
    s.lastSipAt = this.now();
  }

  private sendBye(s: RecordingSession): void {
    try { s.peer.send(this.inDialog(s, 'BYE', s.localCseq++)); } catch (e) { this.o.log.warn({ err: e }, 'could not send BYE'); }
  }

  /** A request of ours in the session's dialog (we are its UAS: our tag is on From, theirs on To). */
  private inDialog(s: RecordingSession, method: string, cseq: number): Buffer {
    const via = `SIP/2.0/${s.peer.proto.toUpperCase()} ${this.hostPort(s.peer)};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`;
    return serializeSip({
      kind: 'request', method, uri: s.remoteTarget,
      headers: [['Via', via], ['Max-Forwards', '70'], ['From', this.withTag(s.invite.get('To')!, s.localTag)], ['To', s.invite.get('From')!], ['Call-ID', s.callId], ['CSeq', `${cseq} ${method}`], ['User-Agent', 'ringvault']],
    });
  }

  private hostPort(peer?: SipPeer): string {
    const h = this.o.mediaAddr.includes(':') ? `[${this.o.mediaAddr}]` : this.o.mediaAddr;
    return `${h}:${peer?.proto === 'tls' ? this.transport.tlsPort : this.transport.port}`;
  }

  private contact(peer: SipPeer): string {
    return `<sip:srs@${this.hostPort(peer)}${peer.proto === 'udp' ? '' : `;transport=${peer.proto}`}>`;
  }

  private withTag(v: string, tag: string): string {
    return /;\s*tag=/i.test(v) ? v : `${v};tag=${tag}`;
  }

  private response(m: SipMessage, status: number, reason: string, extra: Array<[string, string]> = [], body?: string, tag?: string): Buffer {
    const headers: Array<[string, string]> = [];
    for (const v of m.getAll('Via')) headers.push(['Via', v]);
    headers.push(['From', m.get('From')!]);
    const to = m.get('To')!;
    headers.push(['To', status > 100 ? this.withTag(to, tag ?? randomBytes(6).toString('hex')) : to]);
    headers.push(['Call-ID', m.get('Call-ID')!], ['CSeq', m.get('CSeq')!]);
    if (status === 405 || m.method === 'OPTIONS' || (m.method === 'INVITE' && status === 200)) headers.push(['Allow', ALLOW]);
    if (m.method === 'OPTIONS' || status === 200) headers.push(['Supported', [...SUPPORTED].join(', ')]);
    headers.push(['Server', 'ringvault'], ...extra);
    return serializeSip({ kind: 'response', status, reason, headers, ...(body !== undefined ? { body } : {}) });
  }

  private reply(m: SipMessage, peer: SipPeer, status: number, reason: string, extra: Array<[string, string]> = [], body?: string, cacheKey?: string, tag?: string): void {
    const s = this.sessions.get(this.key(m.get('Call-ID')!, parseTagOf(m.get('From')!) ?? ''));
    const buf = this.response(m, status, reason, extra, body, tag ?? s?.localTag);
    if (cacheKey && status >= 200) this.remember(cacheKey, buf);
    peer.send(buf);
  }

  private replyError(m: SipMessage, peer: SipPeer, e: unknown): void {
    const err = e instanceof RvError ? e : new RvError('RV_ERR_SIP_INTERNAL', (e as Error).message, 500);
    const status = err.status >= 400 && err.status < 700 ? err.status : 500;
    const reason = { 400: 'Bad Request', 415: 'Unsupported Media Type', 488: 'Not Acceptable Here', 503: 'Service Unavailable' }[status] ?? 'Server Internal Error';
    this.warnBad({ callId: m.get('Call-ID'), code: err.code }, err.message);
    this.reply(m, peer, status, reason, [['Warning', `399 ringvault "${err.message.replace(/["\\\r\n]/g, "'").slice(0, 200)}"`]]);
  }

  /** A request that could not be parsed gets a 400 when enough of it is readable to address one (RFC 3261 §8.2). */
  /**
   * Logs bad input, at most a few lines a second, so a flood from one broken peer cannot fill the disk.
   * Public so that what the line source finds in a session's RTP shares the same budget.
   */
  warnBad(obj: object, msg: string): void {
    const sec = Math.floor(this.now() / 1000);
    if (sec !== this.badLog.second) this.badLog = { second: sec, count: 0, suppressed: this.badLog.suppressed };
    if (this.badLog.count++ >= BAD_LOGS_PER_SEC) { this.badLog.suppressed++; return; }
    const more = this.badLog.suppressed ? ` (${this.badLog.suppressed} more bad messages were not logged)` : '';
    this.badLog.suppressed = 0;
    this.o.log.warn(obj, msg + more);
  }

  private onMalformed(e: RvError, raw: Buffer, peer: SipPeer): void {
    this.warnBad({ from: `${peer.proto}:${peer.address}:${peer.port}`, code: e.code }, e.message);
    const text = raw.subarray(0, 8192).toString('latin1');
    const first = /^\s*([A-Z]+) \S+ SIP\/2\.0\r?\n/i.exec(text);
    if (!first || first[1]!.toUpperCase() === 'ACK') return;
    const grab = (re: RegExp): string[] => [...text.split(/\r?\n\r?\n/)[0]!.matchAll(re)].map((x) => x[1]!.trim());
    const via = grab(/^(?:via|v)[ \t]*:(.*)$/gim);
    const from = grab(/^(?:from|f)[ \t]*:(.*)$/gim)[0];
    const to = grab(/^(?:to|t)[ \t]*:(.*)$/gim)[0];
    const callId = grab(/^(?:call-id|i)[ \t]*:(.*)$/gim)[0];
    const cseq = grab(/^cseq[ \t]*:(.*)$/gim)[0];
    if (!via.length || !from || !to || !callId || !cseq) return;
    const reason = `Bad Request - ${e.message.replace(/^Malformed SIP message: /, '').split('.')[0]!.replace(/[\r\n]/g, ' ').slice(0, 100)}`;
    const headers: Array<[string, string]> = [...via.map((v): [string, string] => ['Via', v]), ['From', from], ['To', this.withTag(to, randomBytes(6).toString('hex'))], ['Call-ID', callId], ['CSeq', cseq], ['Server', 'ringvault']];
    peer.send(serializeSip({ kind: 'response', status: 400, reason, headers }));
  }
}

function parseTagOf(v: string): string | undefined {
  return /;\s*tag=([^;>\s]+)/i.exec(v)?.[1];
}
