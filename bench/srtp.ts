import { randomBytes } from 'node:crypto';
import { buildRtp } from '../src/rtp/packet.ts';
import { RtpStream } from '../src/rtp/stream.ts';
import { StereoJoiner } from '../src/rtp/stereo.ts';
import { parseInlineKey, SrtpReceiver, SrtpSender, type SrtpSuite } from '../src/rtp/srtp.ts';
import { TONE_PCMA, flushCall, ingestPacket } from './rtp-workload.ts';

const T0 = 1_763_900_000_000;
const SECONDS = 20;
const CALLS = 50;
const PAYLOAD = TONE_PCMA;

/**
 * RTP ingest with and without SRTP on the same packets: (check tag, replay, decrypt →) parse → RtpStream
 * (reorder, G.711 decode) → stereo join, on one core. A G.711 call is 2 directions × 50 packets/s.
 */
export function srtpIngest(suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80'): { plainPps: number; srtpPps: number } {
  const keys = Array.from({ length: CALLS * 2 }, () => parseInlineKey(suite, `inline:${randomBytes(30).toString('base64')}`)!);
  const senders = keys.map((k) => new SrtpSender(k));
  const packets: Array<{ call: number; dir: 0 | 1; plain: Buffer; srtp: Buffer; at: number }> = [];
  for (let k = 0; k < SECONDS * 50; k++) {
    for (let c = 0; c < CALLS; c++) {
      for (const d of [0, 1] as const) {
        const plain = Buffer.from(buildRtp({ pt: 8, seq: k, ts: k * 160, ssrc: c * 2 + d, payload: PAYLOAD }));
        packets.push({ call: c, dir: d, plain, srtp: senders[c * 2 + d]!.protect(plain), at: T0 + k * 20 + ((c * 7) % 20) });
      }
    }
  }
  const run = (srtp: boolean): number => {
    const receivers = keys.map((k) => new SrtpReceiver(k));
    const calls = Array.from({ length: CALLS }, () => ({
      joiner: new StereoJoiner(() => undefined),
      streams: [new RtpStream({ origin: T0 }), new RtpStream({ origin: T0 })] as const,
    }));
    const t0 = performance.now();
    for (const p of packets) {
      let buf = p.plain;
      if (srtp) {
        const r = receivers[p.call * 2 + p.dir]!.unprotect(p.srtp);
        if (!r.ok) throw new Error(`bench packet failed SRTP: ${r.why}`);
        buf = r.packet;
      }
      ingestPacket(calls[p.call]!, p.dir, buf, p.at);
    }
    for (const call of calls) flushCall(call);
    return packets.length / ((performance.now() - t0) / 1000);
  };
  run(false);
  run(true);
  return { plainPps: run(false), srtpPps: run(true) };
}

export function printSrtpIngest(): void {
  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
    const r = srtpIngest(suite);
    console.log(`  RTP ingest without / with SRTP ${suite} (tag, replay, AES-CM decrypt first): ${(r.plainPps / 1000).toFixed(0)}k / ${(r.srtpPps / 1000).toFixed(0)}k packets/s on one core ≈ ${Math.floor(r.plainPps / 100)} / ${Math.floor(r.srtpPps / 100)} concurrent G.711 calls`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log('SRTP ingest');
  printSrtpIngest();
}
