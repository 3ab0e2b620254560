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
