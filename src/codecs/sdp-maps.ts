import type { SdpPayload } from '../sip/sdp.ts';
import type { RtpMap, Undecodable } from './types.ts';

/** SDP payloads as rtpmaps for the decoders; `byPt` gives the payload-type map an RtpStream reads. */
export function rtpMapsOf(payloads: readonly SdpPayload[]): RtpMap[];
export function rtpMapsOf(payloads: readonly SdpPayload[], byPt: true): Record<number, RtpMap>;
export function rtpMapsOf(payloads: readonly SdpPayload[], byPt?: true): RtpMap[] | Record<number, RtpMap> {
  const maps = payloads.map((p): [number, RtpMap] => {
    const m: RtpMap = { encoding: p.codec, clockRate: p.rate };
    if (p.channels !== undefined) m.channels = p.channels;
    if (p.fmtp !== undefined) m.fmtp = p.fmtp;
    return [p.pt, m];
  });
  return byPt ? Object.fromEntries(maps) : maps.map(([, m]) => m);
}

/** The mark a call carries when part of it could not be decoded: what people see in the call list and the export. */
export const undecodableNote = (u: Undecodable): string => `not decodable: ${u.codec}`;

/** RTP of a codec this box cannot decode, kept as sent (sealed with the call) so a later version or an export can decode it. */
export interface UndecodedRtp {
  /** per packet: direction (0 caller, 1 callee), payload type, codec, sequence number, RTP timestamp, sample index in the call, payload (base64) */
  packets: Array<{ ch: 0 | 1; pt: number; codec: string; seq: number; ts: number; index: number; payload: string }>;
  /** payload bytes kept; beyond MAX_UNDECODED_BYTES the rest is dropped and `truncated` set */
  bytes: number;
  truncated: boolean;
}

/** A bound on what one call keeps undecoded in memory and in its sealed metadata: about 20 minutes of AMR-WB. */
export const MAX_UNDECODED_BYTES = 4 << 20;

/** Adds one undecodable packet to a call's store, within the bound. */
export function keepUndecoded(store: UndecodedRtp, ch: 0 | 1, codec: string, p: { pt: number; seq: number; ts: number; payload: Uint8Array }, index: number): void {
  if (store.bytes + p.payload.length > MAX_UNDECODED_BYTES) { store.truncated = true; return; }
  store.bytes += p.payload.length;
  store.packets.push({ ch, pt: p.pt, codec, seq: p.seq, ts: p.ts, index, payload: Buffer.from(p.payload).toString('base64') });
}
