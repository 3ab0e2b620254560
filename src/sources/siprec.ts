import { networkInterfaces } from 'node:os';
import type { Log } from '../log.ts';
import type { CallRate } from '../audio/frame.ts';
import { Codecs } from '../codecs/codecs.ts';
import { keepUndecoded, rtpMapsOf, undecodableNote } from '../codecs/sdp-maps.ts';
import { parseRtp, type RtpPacket } from '../rtp/packet.ts';
import { RtpStream, type RtpAudio } from '../rtp/stream.ts';
import { StereoJoiner } from '../rtp/stereo.ts';
import { MediaLatch, plainAddr } from '../rtp/latch.ts';
import { numberFromUri } from '../sip/message.ts';
import { participantNumber, siprecRoles } from '../sip/siprec-meta.ts';
import { SiprecServer, type RecordingSession, type SiprecServerOptions } from '../sip/siprec-server.ts';
import { LineSource, type CallParties } from './source.ts';

/** A SIPREC trunk line: up to `maxCalls` sessions at once (default 1). */
export interface SiprecLine { id: string; channels: 1 | 2; match?: readonly string[]; maxCalls?: number }

export interface SiprecSourceOptions {
  lines: SiprecLine[];
  server: Omit<SiprecServerOptions, 'admit' | 'log' | 'now' | 'mediaAddr'> & { mediaAddr?: string };
  log: Log;
  now?: () => number;
  /** the decoders this box has (default G.711 only; the box passes Codecs.open()) */
  codecs?: Codecs;
}

interface Live {
  /** payload types seen that the SDP does not name: logged once per call, however many a sender sprays */
  unknownPts?: Set<number>;
  /** the call's rate, fixed at its start from the codecs its streams may use */
  rate: CallRate;
  s: RecordingSession;
  line: SiprecLine;
  parties: CallParties;
  origin?: number;
  streams: Map<number, RtpStream>;
  joiner: StereoJoiner;
  garbage: number;
  /** channel per SDP m-line, from the metadata's stream associations */
  channels: Array<0 | 1>;
  /** per m-line: whether the SRC sends on it, and the samples already put out before a pause */
  sending: boolean[];
  floor: Map<number, number>;
  /** per m-line: the last packet's source and number, and whether the stream was resumed since */
  last: Map<number, { ssrc: number; seq: number }>;
  resumed: Set<number>;
  /** the first packets of a stream segment, held until its start time is judged */
  pending: Map<number, Array<{ p: RtpPacket; at: number }>>;
  /** per m-line: the sender the stream latched on; packets from others are dropped */
  latches: Map<number, MediaLatch>;
}

/** A new stream segment's start is judged on this many packets, or on what came in this many ms. */
const SETTLE_PACKETS = 5;
const SETTLE_MS = 120;

/** The address SRCs should send RTP to when listening on every interface: the first external IPv4 one. */
export function defaultMediaAddr(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

/**
 * Lines fed by a SIPREC recording server: each answered session becomes a call on a free line
 * (the one whose `match` numbers fit, else the first free one), caller on the left channel and
 * callee on the right, the metadata XML kept with the call.
 */
export class SiprecSource extends LineSource {
  readonly kind = 'siprec';
  readonly lines: readonly string[];
  readonly server: SiprecServer;
  private readonly live = new Map<string, Live>();
  /** live sessions per line */
  private readonly busy = new Map<string, number>();
  private drainTimer?: NodeJS.Timeout;
  private readonly now: () => number;
  /** RTP packets dropped because a sender other than the recording client's sent them (issue 10: audio injection) */
  strangerPackets = 0;
  private readonly codecs: Codecs;

  constructor(private readonly o: SiprecSourceOptions) {
    super();
    this.lines = o.lines.map((l) => l.id);
    this.now = o.now ?? Date.now;
    this.codecs = o.codecs ?? Codecs.g711Only();
    this.server = new SiprecServer({
      ...o.server, mediaAddr: o.server.mediaAddr || defaultMediaAddr(o.server.host), log: o.log, now: this.now,
      admit: (s) => this.admit(s),
      decodable: (p) => rtpMapsOf([p]).some((m) => this.codecs.nativeRate(m) !== undefined),
    });
    this.server.on('session', (s) => this.onSession(s));
    this.server.on('rtp', (s, i, buf, at, from) => this.onRtp(s, i, buf, at, from));
    this.server.on('update', (s) => this.onUpdate(s));
    this.server.on('end', (s, reason) => this.onEnd(s, reason));
    this.server.on('cancelled', (s) => this.release(s));
    this.server.on('refused', (s) => this.release(s));
    this.server.on('srtp-dropped', (s, i, stats) => {
      const live = this.live.get(s.id);
      if (live && stats.authFailed + stats.replayed + stats.malformed === 1) this.note(live, `SRTP packets on stream ${i + 1} fail authentication (a wrong key, or packets from someone else): they are dropped, not recorded`);
    });
  }

  async start(): Promise<void> {
    await this.server.start();
    this.drainTimer = setInterval(() => this.drain(), 50);
    this.drainTimer.unref();
    this.o.log.info({ port: this.server.port, lines: this.lines }, 'SIPREC recording server listening');
  }

  async stop(): Promise<void> {
    if (this.drainTimer) clearInterval(this.drainTimer);
    await this.server.stop();
  }

  /** Numbers of the parties as far as the session tells: metadata first, the SIP From/To as fallback. */
  private partiesOf(s: RecordingSession, line: SiprecLine): CallParties {
    const roles = siprecRoles(s.metadata, s.streams.map((x) => x.label));
    const caller = (roles.caller && participantNumber(roles.caller)) ?? numberFromUri(s.from.uri);
    const called = (roles.callee && participantNumber(roles.callee)) ?? numberFromUri(s.to.uri);
    const own = new Set(line.match ?? []);
    const p: CallParties = { direction: caller !== undefined && own.has(caller) ? 'out' : 'in' };
    if (caller !== undefined) p.caller = caller;
    if (called !== undefined) p.called = called;
    // The line's own number on this call is the extension a board button can be mapped to.
    const ext = p.direction === 'out' ? caller : called !== undefined && own.has(called) ? called : undefined;
    if (ext !== undefined) p.extension = ext;
    if (s.metadataXml.length) p.siprecMetadata = [...s.metadataXml];
    return p;
  }

  /** A session that held a place on its line gives it back, once. */
  private release(s: RecordingSession): void {
    if (!s.line || this.released.has(s)) return;
    this.released.add(s);
    const n = (this.busy.get(s.line) ?? 1) - 1;
    if (n > 0) this.busy.set(s.line, n); else this.busy.delete(s.line);
  }

  private readonly released = new WeakSet<RecordingSession>();

  private admit(s: RecordingSession): boolean {
    const free = this.o.lines.filter((l) => (this.busy.get(l.id) ?? 0) < (l.maxCalls ?? 1));
    const numbers = new Set<string>();
    for (const p of s.metadata.participants) { const n = participantNumber(p); if (n) numbers.add(n); }
    for (const u of [s.from.uri, s.to.uri]) { const n = numberFromUri(u); if (n) numbers.add(n); }
    const line = free.find((l) => l.match?.some((n) => numbers.has(n))) ?? free.find((l) => !l.match?.length);
    if (!line) {
      this.o.log.warn({ callId: s.callId }, 'SIPREC session refused: every SIPREC line carries its maxCalls or none matches its numbers; raise maxCalls, add lines or widen their match lists');
      return false;
    }
    this.busy.set(line.id, (this.busy.get(line.id) ?? 0) + 1);
    s.line = line.id;
    return true;
  }

  private onSession(s: RecordingSession): void {
    const line = this.o.lines.find((l) => l.id === s.line)!;
    const rate = this.codecs.callRate(rtpMapsOf(s.streams.flatMap((x) => x.payloads)));
    const live: Live = {
      rate, s, line, parties: this.partiesOf(s, line), streams: new Map(), garbage: 0, channels: this.channelsOf(s),
      sending: this.sendingOf(s), floor: new Map(), last: new Map(), resumed: new Set(), pending: new Map(), latches: new Map(),
      joiner: new StereoJoiner((index, pcm) => this.emitAudio(live, index, pcm), { maxLagMs: 1000, rate }),
    };
    this.live.set(s.id, live);
    this.emit('call-start', { line: line.id, ref: s.id, at: this.now(), channels: line.channels, parties: { ...live.parties }, rate });
  }

  private sendingOf(s: RecordingSession): boolean[] {
    return s.streams.map((x) => x.port !== 0 && (x.offered === 'sendonly' || x.offered === 'sendrecv'));
  }

  private channelsOf(s: RecordingSession): Array<0 | 1> {
    return siprecRoles(s.metadata, s.streams.map((x) => x.label)).channels;
  }

  private streamFor(live: Live, index: number, arrival: number, firstLen: number): RtpStream {
    let st = live.streams.get(index);
    if (st) return st;
    // Both directions share one origin, so equal sample indices are equal moments.
    live.origin ??= arrival - (firstLen * 1000) / live.rate;
    st = new RtpStream({
      origin: live.origin, payloads: rtpMapsOf(live.s.streams[index]?.payloads ?? [], true), codecs: this.codecs, rate: live.rate,
      onUndecodable: (u) => {
        this.codecs.notice(u, live.line.id);
        const have = live.parties.undecodable ?? [];
        if (have.includes(u.codec)) return;
        live.parties.undecodable = [...have, u.codec];
        this.o.log.warn({ line: live.line.id, callId: live.s.callId, codec: u.codec, code: 'RV_ERR_CODEC_UNDECODABLE' }, `${undecodableNote(u)} on this call; its RTP is kept as sent`);
        this.emit('call-info', { line: live.line.id, ref: live.s.id, parties: { undecodable: live.parties.undecodable } });
      },
      onUndecoded: (p, at) => {
        live.parties.undecodedRtp ??= { packets: [], bytes: 0, truncated: false };
        const codec = live.s.streams[index]?.payloads.find((q) => q.pt === p.pt)?.codec ?? `pt${p.pt}`;
        keepUndecoded(live.parties.undecodedRtp, live.channels[index] ?? (index === 0 ? 0 : 1), codec.toUpperCase(), p, at);
      },
      onUnknownPayload: (pt) => {
        const first = !live.unknownPts;
        (live.unknownPts ??= new Set()).add(pt);
        if (first) this.server.warnBad({ line: live.line.id, pt, code: 'RV_ERR_RTP_PAYLOAD_UNKNOWN' }, `RTP payload type ${pt} is not in the session's SDP; packets of payload types the SDP does not name are dropped, not guessed at (logged once per call)`);
      },
      onDigit: (d) => {
        live.parties.digits = (live.parties.digits ?? '') + d.digit;
        this.emit('call-info', { line: live.line.id, ref: live.s.id, parties: { digits: live.parties.digits } });
      },
    });
    live.streams.set(index, st);
    return st;
  }

  /**
   * Media is taken only from the address the SRC's SDP gives for the stream, the SIP peer's address,
   * or siprec.allowFrom; the stream latches on its first valid packet's sender (symmetric RTP).
   */
  private latchFor(live: Live, index: number): MediaLatch {
    let latch = live.latches.get(index);
    if (latch) return latch;
    const s = live.s;
    latch = new MediaLatch((addr) => {
      const sdp = s.streams[index]?.remoteAddr;
      return (sdp !== undefined && plainAddr(sdp) === addr) || plainAddr(s.peer.address) === addr || this.server.listed(addr);
    });
    live.latches.set(index, latch);
    return latch;
  }

  /** A stranger's packets on a recorded stream: dropped, counted, logged once and noted in the call's report. */
  private onStranger(live: Live, index: number, latch: MediaLatch): void {
    this.strangerPackets++;
    if (latch.dropped !== 1) return;
    const note = `RTP from ${latch.firstStranger} on stream ${index + 1} was dropped: only the recording client (${latch.latchedOn ?? live.s.peer.address}) may send this call's media`;
    this.o.log.warn({ line: live.line.id, from: latch.firstStranger, port: live.s.streams[index]?.port, code: 'RV_ERR_RTP_STRANGER' }, `${note}; check that nothing else on the network sends to the recorder's RTP ports`);
    this.note(live, note);
  }

  private note(live: Live, note: string): void {
    live.parties.notes = [...(live.parties.notes ?? []), note];
    this.emit('call-info', { line: live.line.id, ref: live.s.id, parties: { notes: live.parties.notes } });
  }

  private onRtp(s: RecordingSession, index: number, buf: Buffer, at: number, from?: { address: string; port: number }): void {
    const live = this.live.get(s.id);
    if (!live) return;
    const p = parseRtp(buf);
    if (from) {
      const latch = this.latchFor(live, index);
      const valid = p !== null && (s.streams[index]?.payloads ?? []).some((x) => x.pt === p.pt);
      const v = latch.check(from.address, from.port, valid);
      if (v.stranger) { this.onStranger(live, index, latch); return; }
      if (!v.ok && p) return;
    }
    if (!p) {
      if (live.garbage++ === 0) this.o.log.warn({ line: live.line.id, port: s.streams[index]?.port }, 'packets on an RTP port that are not RTP; ignored');
      return;
    }
    const last = live.last.get(index);
    if (live.resumed.delete(index) && last && !(p.ssrc === last.ssrc && ((p.seq - last.seq) & 0xffff) > 0 && ((p.seq - last.seq) & 0xffff) < 3000)) {
      // A restarted stream after a resume: a new timeline segment anchored on arrival, not a jump the old one would doubt.
      const old = live.streams.get(index);
      if (old) {
        this.place(live, index, old.flush());
        live.floor.set(index, Math.max(live.floor.get(index) ?? 0, old.samples));
        live.streams.delete(index);
      }
    }
    live.last.set(index, { ssrc: p.ssrc, seq: p.seq });
    const st = live.streams.get(index);
    if (st) { this.place(live, index, st.push(p, at)); return; }
    const pend = live.pending.get(index) ?? [];
    pend.push({ p, at });
    live.pending.set(index, pend);
    if (pend.length >= SETTLE_PACKETS) this.settle(live, index);
  }

  /**
   * Starts a stream segment from its first packets. Its place on the call's timeline comes from arrival
   * time, so the least delayed of the first few packets (by their RTP timestamps) sets it: one late
   * wake-up of the event loop does not shift the whole segment.
   */
  private settle(live: Live, index: number): void {
    const pend = live.pending.get(index);
    if (!pend?.length) return;
    live.pending.delete(index);
    const first = pend[0]!;
    let base = first.at;
    for (const x of pend) {
      if (x.p.ssrc !== first.p.ssrc) continue;
      // RTP clock of this packet's codec (Opus 48 kHz, G.722 8 kHz for 16 kHz audio): what the SDP says
      const clock = live.s.streams[index]?.payloads.find((q) => q.pt === x.p.pt)?.rate ?? 8000;
      const ahead = (((x.p.ts - first.p.ts) | 0) * 1000) / clock;
      if (ahead >= 0 && ahead < 1000) base = Math.min(base, x.at - ahead);
    }
    const shift = first.at - base;
    const st = this.streamFor(live, index, base, this.frameOf(live, index, pend));
    for (const x of pend) this.place(live, index, st.push(x.p, x.at - (x.p.ssrc === first.p.ssrc ? shift : 0)));
  }

  /** Call samples in the first packet: its timestamp step to the next packet of the run (what a codec's frame is), else 20 ms. */
  private frameOf(live: Live, index: number, pend: Array<{ p: RtpPacket }>): number {
    const [a, b] = pend;
    const clock = live.s.streams[index]?.payloads.find((q) => q.pt === a?.p.pt)?.rate ?? 8000;
    if (a && b && a.p.ssrc === b.p.ssrc && a.p.pt === b.p.pt && ((b.p.seq - a.p.seq) & 0xffff) === 1) {
      const n = (((b.p.ts - a.p.ts) | 0) * live.rate) / clock;
      if (n > 0 && n <= live.rate * 0.12) return n;
    }
    return live.rate / 50;
  }

  private place(live: Live, index: number, audio: RtpAudio[]): void {
    const ch = live.channels[index] ?? (index === 0 ? 0 : 1);
    const floor = live.floor.get(index) ?? 0;
    for (const a of audio) {
      // A stream resumed after a pause starts a new timeline from the shared origin; what it pads before the pause is already out.
      if (a.index + a.pcm.length <= floor) continue;
      const pcm = a.index < floor ? a.pcm.subarray(floor - a.index) : a.pcm;
      live.joiner.push(ch, { index: Math.max(a.index, floor), pcm });
    }
  }

  private drain(): void {
    const now = this.now();
    for (const live of this.live.values()) {
      for (const [i, pend] of live.pending) if (now - pend[0]!.at >= SETTLE_MS) this.settle(live, i);
      for (const [i, st] of live.streams) this.place(live, i, st.drain(now));
    }
  }

  private emitAudio(live: Live, index: number, stereo: Int16Array): void {
    const at = (live.origin ?? this.now()) + (index * 1000) / live.rate;
    let pcm = stereo;
    if (live.line.channels === 1) {
      pcm = new Int16Array(stereo.length / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = (stereo[2 * i]! + stereo[2 * i + 1]!) >> 1;
    }
    this.emit('call-audio', { line: live.line.id, ref: live.s.id, block: { at, channels: live.line.channels, pcm } });
  }

  private onUpdate(s: RecordingSession): void {
    const live = this.live.get(s.id);
    if (!live) return;
    live.channels = this.channelsOf(s);
    // A re-INVITE or UPDATE may switch codec or payload types mid-call: each stream reads its packets by the new map.
    for (const [i, st] of live.streams) st.setPayloads(rtpMapsOf(s.streams[i]?.payloads ?? [], true));
    // Hold or pause (RFC 7866): packets still on their way are kept; on resume the SRC may restart its RTP
    // sequence and timestamps, which onRtp checks for on the stream's next packet.
    const sending = this.sendingOf(s);
    sending.forEach((now, i) => { if (now && !live.sending[i]) live.resumed.add(i); });
    live.sending = sending;
    // Media moved by the re-INVITE (a new address, or a stream resumed): latch again on the next valid packet.
    for (const [i, latch] of live.latches) if (sending[i] && live.resumed.has(i)) latch.reset();
    const next = this.partiesOf(s, live.line);
    const changed: Partial<CallParties> = {};
    for (const k of ['caller', 'called', 'direction'] as const) if (next[k] !== undefined && next[k] !== live.parties[k]) (changed as Record<string, unknown>)[k] = next[k];
    const [a, b] = [next.siprecMetadata ?? [], live.parties.siprecMetadata ?? []];
    if (a.length !== b.length || a[a.length - 1] !== b[b.length - 1]) changed.siprecMetadata = next.siprecMetadata;
    if (!Object.keys(changed).length) return;
    Object.assign(live.parties, changed);
    this.emit('call-info', { line: live.line.id, ref: s.id, parties: changed });
  }

  private onEnd(s: RecordingSession, reason: string): void {
    const live = this.live.get(s.id);
    this.release(s);
    if (!live) return;
    this.live.delete(s.id);
    for (const i of [...live.pending.keys()]) this.settle(live, i);
    for (const [i, st] of live.streams) { this.place(live, i, st.flush()); st.close(); }
    live.joiner.flush();
    // the packets no decoder here could read go with the call, sealed in its metadata when it is kept
    if (live.parties.undecodedRtp) this.emit('call-info', { line: live.line.id, ref: s.id, parties: { undecodedRtp: live.parties.undecodedRtp } });
    // The report gives the final count of SRTP packets dropped (failed tag, replay) per stream.
    s.streams.forEach((st, i) => {
      const x = st.srtp?.receiver.stats;
      if (x && x.authFailed + x.replayed + x.malformed > 0) this.note(live, `SRTP on stream ${i + 1}: ${x.authFailed} packets failed authentication, ${x.replayed} were replays, ${x.malformed} were not SRTP; all dropped (${x.ok} decrypted)`);
    });
    // The report gives the final count of a stranger's dropped packets.
    for (const [i, latch] of live.latches) {
      if (latch.dropped > 1) this.note(live, `${latch.dropped} RTP packets from ${latch.firstStranger} (and any other stranger) on stream ${i + 1} were dropped in all`);
    }
    this.emit('call-end', { line: live.line.id, ref: s.id, at: this.now(), reason });
  }
}
