import { alawEncode } from '../src/audio/g711.ts';
import { parseRtp } from '../src/rtp/packet.ts';
import type { RtpStream } from '../src/rtp/stream.ts';
import type { StereoJoiner } from '../src/rtp/stereo.ts';

/** 20 ms of a tone as A-law: real payload bytes, so decoding costs what it costs on a call. */
export const TONE_PCMA = Buffer.from(alawEncode(Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000)))));

export interface BenchCall { joiner: StereoJoiner; streams: readonly [RtpStream, RtpStream] }

/** The live path after the socket, shared by the RTP and SRTP ingest benches: parse → stream → stereo join. */
export function ingestPacket(call: BenchCall, dir: 0 | 1, buf: Buffer, at: number): void {
  const pkt = parseRtp(buf);
  if (!pkt) return;
  for (const b of call.streams[dir].push(pkt, at)) call.joiner.push(dir, b);
}

/** Drains every stream into its joiner at the end of a run. */
export function flushCall(call: BenchCall): void {
  for (const d of [0, 1] as const) for (const b of call.streams[d].flush()) call.joiner.push(d, b);
  call.joiner.flush();
}
