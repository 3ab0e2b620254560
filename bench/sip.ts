import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRtp } from '../src/rtp/packet.ts';
import { RtpStream } from '../src/rtp/stream.ts';
import { StereoJoiner } from '../src/rtp/stereo.ts';
import { Chunker } from '../src/calls/chunker.ts';
import { Ring } from '../src/ring/ring.ts';
import { CapturePipeline } from '../src/pcap/pipeline.ts';
import { LINKTYPE } from '../src/pcap/decode.ts';
import { frame, ipv4, pcapFile, udp } from '../src/pcap/writer.ts';
import { printSrtpIngest } from './srtp.ts';
import { TONE_PCMA, flushCall, ingestPacket } from './rtp-workload.ts';

const T0 = 1_763_900_000_000;
const SECONDS = 60;

const PAYLOAD = TONE_PCMA;

/** RTP ingest: parse → RtpStream (reorder, decode, fill) → stereo join → 1 s chunks → encrypted ring write. */
async function ingestCapacity(dir: string): Promise<{ pps: number; calls: number; ringPps: number; ringCalls: number }> {
  const CALLS = 50;
  // Every packet of CALLS calls × 2 directions for SECONDS, interleaved as they would arrive; a few swapped.
  const packets: Array<{ call: number; dir: 0 | 1; buf: Buffer; at: number }> = [];
  for (let k = 0; k < SECONDS * 50; k++) {
    for (let c = 0; c < CALLS; c++) {
      for (const d of [0, 1] as const) {
        const seq = k % 97 === 5 ? k + 1 : k % 97 === 6 ? k - 1 : k;
        packets.push({ call: c, dir: d, at: T0 + k * 20 + ((c * 7) % 20), buf: buildRtp({ pt: 8, seq, ts: seq * 160, ssrc: c * 2 + d, payload: PAYLOAD }) });
      }
    }
  }
  const run = async (ring?: Ring): Promise<number> => {
    const calls = Array.from({ length: CALLS }, (_, c) => {
      const chunker = new Chunker(2, (chunk) => ring?.write(`bench-${c}`, chunk));
      const joiner = new StereoJoiner((index, pcm) => chunker.push({ at: T0 + index / 8, channels: 2, pcm }));
      return { joiner, chunker, streams: [new RtpStream({ origin: T0 }), new RtpStream({ origin: T0 })] as const };
    });
    const t0 = performance.now();
    for (const p of packets) ingestPacket(calls[p.call]!, p.dir, p.buf, p.at);
    for (const call of calls) {
      flushCall(call);
      call.chunker.flush();
    }
    return packets.length / ((performance.now() - t0) / 1000);
  };
  await run(); // warm-up
  const pps = await run();
  const ring = await Ring.open({ path: join(dir, 'ring.bin'), slots: CALLS * SECONDS + 64 });
  let ringPps: number;
  try {
    ringPps = await run(ring);
  } finally {
    await ring.close();
  }
  // A G.711 call is 2 directions × 50 packets/s.
  return { pps, calls: Math.floor(pps / 100), ringPps, ringCalls: Math.floor(ringPps / 100) };
}

/** A capture of `calls` SIP calls (INVITE/200/ACK/BYE with SDP on 5060) with SECONDS of G.711 both ways. */
function generatedCapture(calls: number): Buffer {
  const recs: Array<{ ts: number; data: Buffer }> = [];
  const eth = (ip: Buffer) => frame(LINKTYPE.ETHERNET, ip);
  for (let c = 0; c < calls; c++) {
    const a = `10.1.${c >> 8}.${(c & 255) + 1}`;
    const b = `10.2.${c >> 8}.${(c & 255) + 1}`;
    const [pa, pb] = [20000 + c * 2, 30000 + c * 2];
    const sdp = (ip: string, port: number) => `v=0\r\no=- ${c} 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n`;
    const sip = (start: string, cseq: string, toTag: string, body = '') => Buffer.from(
      `${start}\r\nVia: SIP/2.0/UDP ${a}:5060;branch=z9hG4bK${c}\r\nFrom: <sip:+3120${1000000 + c}@${a}>;tag=f${c}\r\nTo: <sip:06${10000000 + c}@${b}>${toTag}\r\nCall-ID: bench-${c}@${a}\r\nCSeq: ${cseq}\r\n${body ? 'Content-Type: application/sdp\r\n' : ''}Content-Length: ${body.length}\r\n\r\n${body}`);
    const t = T0 + c * 150;
    recs.push({ ts: t, data: eth(ipv4(a, b, 17, udp(5060, 5060, sip(`INVITE sip:06${10000000 + c}@${b} SIP/2.0`, '1 INVITE', '', sdp(a, pa))))) });
    recs.push({ ts: t + 500, data: eth(ipv4(b, a, 17, udp(5060, 5060, sip('SIP/2.0 200 OK', '1 INVITE', `;tag=t${c}`, sdp(b, pb))))) });
    recs.push({ ts: t + 510, data: eth(ipv4(a, b, 17, udp(5060, 5060, sip(`ACK sip:06${10000000 + c}@${b} SIP/2.0`, '1 ACK', `;tag=t${c}`)))) });
    for (let k = 0; k < SECONDS * 50; k++) {
      recs.push({ ts: t + 520 + k * 20, data: eth(ipv4(a, b, 17, udp(pa, pb, buildRtp({ pt: 8, seq: k, ts: k * 160, ssrc: c * 2, payload: PAYLOAD })))) });
      recs.push({ ts: t + 521 + k * 20, data: eth(ipv4(b, a, 17, udp(pb, pa, buildRtp({ pt: 8, seq: k, ts: k * 160, ssrc: c * 2 + 1, payload: PAYLOAD })))) });
    }
    recs.push({ ts: t + 600 + SECONDS * 1000, data: eth(ipv4(a, b, 17, udp(5060, 5060, sip(`BYE sip:06${10000000 + c}@${b} SIP/2.0`, '2 BYE', `;tag=t${c}`)))) });
  }
  recs.sort((x, y) => x.ts - y.ts);
  return pcapFile(LINKTYPE.ETHERNET, recs);
}

export async function benchSip(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-bench-sip-'));
  try {
    console.log('\nSIP trunk: RTP ingest and capture import');
    const ing = await ingestCapacity(dir);
    console.log(`  RTP ingest (parse, reorder, G.711 decode, stereo join): ${(ing.pps / 1000).toFixed(0)}k packets/s on one core ≈ ${ing.calls} concurrent G.711 calls (100 packets/s each)`);
    console.log(`  … with 1 s chunks written to the encrypted ring:        ${(ing.ringPps / 1000).toFixed(0)}k packets/s ≈ ${ing.ringCalls} concurrent calls`);
    printSrtpIngest();

    const CALLS = 24;
    const file = join(dir, 'trunk.pcap');
    await writeFile(file, generatedCapture(CALLS));
    const size = (await stat(file)).size;
    const readOnce = (): { ms: number; calls: number; frames: number } => {
      const t0 = performance.now();
      const buf = readFileSync(file);
      let calls = 0;
      let frames = 0;
      const p = new CapturePipeline({ onEnd: (c) => { if (c.answeredAt !== undefined) calls++; }, onAudio: (_c, _i, pcm) => { frames += pcm.length / 2; } });
      for (let at = 0; at < buf.length; at += 256 * 1024) p.push(buf.subarray(at, at + 256 * 1024));
      p.end();
      return { ms: performance.now() - t0, calls, frames };
    };
    readOnce();
    const ours = readOnce();
    let tsharkMs = NaN;
    let tsharkStreams = NaN;
    try {
      const t1 = performance.now();
      const out = execFileSync('tshark', ['-r', file, '-q', '-z', 'rtp,streams'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
      tsharkMs = performance.now() - t1;
      tsharkStreams = out.split('\n').filter((l) => /\bg711A\b/.test(l)).length;
    } catch {
      console.log('  (tshark not installed: run .ci/run to install it)');
    }
    const mbps = (ms: number) => size / 1e6 / (ms / 1000);
    console.log(`  capture import, ${(size / 1e6).toFixed(1)} MB, ${CALLS} calls × ${SECONDS} s both ways (${ours.calls} calls, ${(ours.frames / 8000).toFixed(0)} s of stereo found):`);
    console.log(`    ringvault CapturePipeline (SIP dialogs + RTP decode): ${mbps(ours.ms).toFixed(1)} MB/s (${ours.ms.toFixed(0)} ms)`);
    console.log(`    tshark -q -z rtp,streams (${tsharkStreams} streams):            ${mbps(tsharkMs).toFixed(1)} MB/s (${tsharkMs.toFixed(0)} ms)`);
    console.log(`    ratio ringvault / tshark: ${(tsharkMs / ours.ms).toFixed(1)}×`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
