import { parse, write, type MediaDescription, type SessionDescription } from 'sdp-transform';
import { RvError } from '../errors.ts';

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export interface SdpPayload {
  pt: number; codec: 'PCMA' | 'PCMU' | 'telephone-event' | string; rate: number;
  /** a=rtpmap's encoding parameters: the channel count (Opus always says 2) */
  channels?: number;
  /** the a=fmtp text for this payload type (annexb=no, maxplaybackrate=16000, 0-16, …) */
  fmtp?: string;
}
export interface SdpStream {
  /** position of the m-line, from 0 */
  index: number;
  /** a=label (RFC 4574), which SIPREC metadata uses to name the stream */
  label?: string;
  media: string;
  addr: string;
  port: number;
  payloads: SdpPayload[];
  direction: SdpDirection;
  /** the transport profile: RTP/AVP, or RTP/SAVP (SRTP) */
  protocol: string;
  /** SDES keys (RFC 4568 a=crypto), in the offerer's order of preference */
  crypto: SdpCrypto[];
}
export interface SdpCrypto { tag: number; suite: string; keyParams: string; sessionParams?: string }
export interface SdpStreams { sessionAddr?: string; origin?: { sessionId: string; version: number }; streams: SdpStream[] }

/** Static payload types (RFC 3551) that an offer may list without a=rtpmap. */
const STATIC: Record<number, [string, number]> = { 0: ['PCMU', 8000], 3: ['GSM', 8000], 4: ['G723', 8000], 8: ['PCMA', 8000], 9: ['G722', 8000], 18: ['G729', 8000] };
const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

const bad = (what: string): RvError => new RvError('RV_ERR_SDP_MALFORMED', `The SDP body ${what}; the SIP peer must send a valid offer (RFC 4566).`, 488);

/** The media streams of an SDP offer or answer: address, port, codecs and direction of each m-line. */
export function parseSdpStreams(sdp: string | Buffer): SdpStreams {
  const text = Buffer.isBuffer(sdp) ? sdp.toString('utf8') : sdp;
  if (!/^\s*v=0/.test(text)) throw bad('does not start with "v=0"');
  let s: SessionDescription;
  try { s = parse(text); } catch (e) { throw bad(`could not be read (${(e as Error).message})`); }
  const sessionDir = (s as { direction?: string }).direction;
  const sessionAddr = s.connection?.ip;
  const out: SdpStreams = { streams: [] };
  if (sessionAddr) out.sessionAddr = sessionAddr;
  if (s.origin) out.origin = { sessionId: String(s.origin.sessionId), version: Number(s.origin.sessionVersion) || 0 };
  (s.media ?? []).forEach((m: MediaDescription, index) => {
    const pts = String(m.payloads ?? '').trim().split(/\s+/).filter((p) => /^[0-9]{1,3}$/.test(p)).map(Number);
    const payloads: SdpPayload[] = pts.map((pt) => {
      const map = m.rtp?.find((r) => r.payload === pt);
      const fmtp = m.fmtp?.find((f) => f.payload === pt)?.config;
      const extra = (p: SdpPayload): SdpPayload => {
        if (fmtp !== undefined) p.fmtp = String(fmtp);
        return p;
      };
      if (map) {
        const p: SdpPayload = { pt, codec: /^(pcma|pcmu|telephone-event)$/i.test(map.codec) ? (map.codec.toUpperCase() === 'TELEPHONE-EVENT' ? 'telephone-event' : map.codec.toUpperCase()) : map.codec, rate: map.rate ?? 8000 };
        const ch = Number(map.encoding);
        if (Number.isInteger(ch) && ch > 0) p.channels = ch;
        return extra(p);
      }
      const st = STATIC[pt];
      return extra({ pt, codec: st ? st[0] : `pt${pt}`, rate: st ? st[1] : 8000 });
    });
    const dir = m.direction ?? sessionDir;
    const stream: SdpStream = {
      index, media: m.type, addr: m.connection?.ip ?? sessionAddr ?? '', port: Number(m.port) || 0, payloads,
      direction: dir && DIRECTIONS.has(dir) ? (dir as SdpDirection) : 'sendrecv',
      protocol: String(m.protocol ?? 'RTP/AVP'),
      crypto: (m.crypto ?? []).map((c) => ({ tag: Number(c.id), suite: String(c.suite), keyParams: String(c.config), ...(c.sessionConfig ? { sessionParams: String(c.sessionConfig) } : {}) })),
    };
    if (m.label !== undefined) stream.label = String(m.label);
    out.streams.push(stream);
  });
  return out;
}

export interface AnswerStream {
  media: string;
  /** 0 rejects the stream */
  port: number;
  payloads: SdpPayload[];
  direction: SdpDirection;
  label?: string;
  /** RTP/AVP unless the offer asked for SRTP (RTP/SAVP) */
  protocol?: string;
  /** the SDES key the answerer would send with (RFC 4568 §5.1.2): same tag and suite as the offer's chosen line */
  crypto?: { tag: number; suite: string; keyParams: string };
}

/** Writes an answer SDP (RFC 3264): one m-line per offered one, in the same order. */
export function buildAnswerSdp(a: { addr: string; sessionId: string; version: number; streams: AnswerStream[] }): string {
  const ip4 = a.addr.includes(':') ? 6 : 4;
  const desc: SessionDescription = {
    version: 0,
    origin: { username: 'ringvault', sessionId: a.sessionId, sessionVersion: a.version, netType: 'IN', ipVer: ip4, address: a.addr },
    name: 'ringvault',
    connection: { version: ip4, ip: a.addr },
    timing: { start: 0, stop: 0 },
    media: a.streams.map((s) => {
      const m: MediaDescription = {
        type: s.media, port: s.port, protocol: s.protocol ?? 'RTP/AVP',
        payloads: s.payloads.length ? s.payloads.map((p) => p.pt).join(' ') : '0',
        rtp: s.payloads.map((p) => ({ payload: p.pt, codec: p.codec, rate: p.rate, ...(p.channels && p.channels > 1 ? { encoding: p.channels } : {}) })),
        // the offer's format parameters are echoed (annexb, Opus bandwidth), so the sender keeps what it offered
        fmtp: s.payloads.flatMap((p) => (p.codec === 'telephone-event' ? [{ payload: p.pt, config: p.fmtp ?? '0-16' }] : p.fmtp ? [{ payload: p.pt, config: p.fmtp }] : [])),
      };
      if (s.port !== 0) m.direction = s.direction;
      if (s.label !== undefined) m.label = s.label;
      if (s.crypto && s.port !== 0) m.crypto = [{ id: s.crypto.tag, suite: s.crypto.suite, config: s.crypto.keyParams }];
      return m;
    }),
  };
  return write(desc);
}

/** The direction a recording server answers with: it only receives, and never more than was offered. */
export function answerDirection(offered: SdpDirection): SdpDirection {
  return offered === 'inactive' || offered === 'recvonly' ? 'inactive' : 'recvonly';
}

const isG711 = (p: SdpPayload): boolean => (p.codec === 'PCMA' || p.codec === 'PCMU') && p.rate === 8000;

/**
 * The payloads a recorder accepts from an offer: every codec it can decode (in the offer's order, so a
 * re-INVITE may switch between them), telephone-event, then the codecs it cannot decode: a recorder that
 * refuses the codec in use loses the call, while one that accepts it keeps the RTP sealed and marked.
 */
export function chooseAudioPayloads(offered: SdpPayload[], decodable: (p: SdpPayload) => boolean = isG711): SdpPayload[] {
  const audio = offered.filter((p) => p.codec !== 'telephone-event' && !/^CN$/i.test(p.codec) && p.rate > 0);
  const events = offered.filter((p) => p.codec === 'telephone-event');
  if (!audio.length) return [];
  const can = audio.filter(decodable);
  return [...can, ...events, ...audio.filter((p) => !can.includes(p))];
}
