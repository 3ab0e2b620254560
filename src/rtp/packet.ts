/** One RTP packet (RFC 3550 §5.1), payload without padding, CSRCs or header extension. */
export interface RtpPacket {
  version: 2;
  pt: number;
  seq: number;
  ts: number;
  ssrc: number;
  marker: boolean;
  payload: Buffer;
}

/**
 * Reads an RTP packet; null for anything that is not one (short, wrong version, lying lengths, RTCP).
 * Never throws: this runs on every datagram from the network and on every packet of a capture.
 */
export function parseRtp(buf: Buffer): RtpPacket | null {
  if (!Buffer.isBuffer(buf) || buf.length < 12) return null;
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  if (b0 >> 6 !== 2) return null;
  const pt = b1 & 0x7f;
  // RTCP multiplexed on the same port (RFC 5761): packet types 200–204 look like PT 72–76 with the marker set.
  if (pt >= 72 && pt <= 76) return null;
  let off = 12 + (b0 & 0x0f) * 4;
  if (off > buf.length) return null;
  if (b0 & 0x10) {
    if (off + 4 > buf.length) return null;
    off += 4 + buf.readUInt16BE(off + 2) * 4;
    if (off > buf.length) return null;
  }
  let end = buf.length;
  if (b0 & 0x20) {
    const pad = buf[buf.length - 1]!;
    if (pad === 0 || end - pad < off) return null;
    end -= pad;
  }
  return {
    version: 2, pt, marker: (b1 & 0x80) !== 0,
    seq: buf.readUInt16BE(2), ts: buf.readUInt32BE(4), ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(off, end),
  };
}

/** Writes a plain RTP packet (no CSRC, no extension); for tests, the bench and replay tools. */
export function buildRtp(p: { pt: number; seq: number; ts: number; ssrc: number; marker?: boolean; payload: Uint8Array }): Buffer {
  const out = Buffer.alloc(12 + p.payload.length);
  out[0] = 0x80;
  out[1] = (p.marker ? 0x80 : 0) | (p.pt & 0x7f);
  out.writeUInt16BE(p.seq & 0xffff, 2);
  out.writeUInt32BE(p.ts >>> 0, 4);
  out.writeUInt32BE(p.ssrc >>> 0, 8);
  out.set(p.payload, 12);
  return out;
}

/** RFC 4733 §2.3 telephone-event payload. `duration` is in timestamp units (1/8 ms at 8 kHz). */
export interface TelephoneEvent { event: number; end: boolean; volume: number; duration: number }

export function parseTelephoneEvent(payload: Buffer): TelephoneEvent | null {
  if (!Buffer.isBuffer(payload) || payload.length < 4) return null;
  return { event: payload[0]!, end: (payload[1]! & 0x80) !== 0, volume: payload[1]! & 0x3f, duration: payload.readUInt16BE(2) };
}

export function buildTelephoneEvent(e: TelephoneEvent): Buffer {
  const out = Buffer.alloc(4);
  out[0] = e.event & 0xff;
  out[1] = (e.end ? 0x80 : 0) | (e.volume & 0x3f);
  out.writeUInt16BE(e.duration & 0xffff, 2);
  return out;
}

/** RFC 4733 §3.2: events 0–15 are the DTMF keys, 16 is flash (hook flash, written "!"). */
const DIGITS = '0123456789*#ABCD!';

/** The key of a DTMF event, or undefined for the other named events (tones, modem signals). */
export const digitOfEvent = (event: number): string | undefined => (event >= 0 && event < DIGITS.length ? DIGITS[event] : undefined);

export const eventOfDigit = (digit: string): number | undefined => {
  const i = DIGITS.indexOf(digit.toUpperCase());
  return digit.length === 1 && i >= 0 ? i : undefined;
};
