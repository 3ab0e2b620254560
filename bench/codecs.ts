import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ulawEncode } from '../src/audio/g711.ts';
import { Codecs } from '../src/codecs/codecs.ts';
import type { RtpMap } from '../src/codecs/types.ts';
import { Chunker } from '../src/calls/chunker.ts';
import { Ring } from '../src/ring/ring.ts';
import type { RtpPacket } from '../src/rtp/packet.ts';
import { RtpStream } from '../src/rtp/stream.ts';
import { StereoJoiner } from '../src/rtp/stereo.ts';
import { SPEECH, g722Stream, g729Stream, opusStream, rawS16 } from '../test/helpers/codec-streams.ts';

/**
 * Concurrent calls one core carries per codec: both directions of a call decoded (RtpStream: reorder, decode,
 * timeline), joined to stereo, cut into chunks and written to the encrypted ring, as the SIPREC and pcap lines do.
 * The packets come from real encoders (ffmpeg's Opus and G.722, bcg729's G.729); figures are call-seconds
 * processed per CPU-second, which is how many calls of that codec a core keeps up with.
 */
const REPEAT = 4;

interface Case { name: string; map: RtpMap; pt: number; clock: number; packets: RtpPacket[] }

function callSecondsPerSecond(codecs: Codecs, ring: Ring, c: Case): { callsPerCore: number; rate: number } {
  const rate = codecs.callRate([c.map]);
  const ts0 = c.packets[0]!.ts;
  const span = ((c.packets.at(-1)!.ts - ts0) >>> 0) / c.clock + 0.02;
  let done = 0;
  let chunkN = 0;
  // CPU time of this process, not wall time: a loaded machine then slows the figure less
  const t0 = process.cpuUsage();
  for (let r = 0; r < REPEAT; r++) {
    const id = `bench-${c.name}-${r}`;
    const chunker = new Chunker(2, (ch) => { ring.write(id, ch); chunkN++; }, rate);
    const joiner = new StereoJoiner((index, pcm) => chunker.push({ at: index, channels: 2, pcm }), { rate });
    const streams = [0, 1].map(() => new RtpStream({ payloads: { [c.pt]: c.map }, codecs, rate, origin: 0 }));
    for (const p of c.packets) {
      const at = (((p.ts - ts0) >>> 0) * 1000) / c.clock + 20;
      for (const d of [0, 1] as const) for (const b of streams[d]!.push(p, at)) joiner.push(d, b);
    }
    for (const d of [0, 1] as const) { for (const b of streams[d]!.flush()) joiner.push(d, b); streams[d]!.close(); }
    joiner.flush();
    chunker.flush();
    ring.forget(id);
    done += span;
  }
  const used = process.cpuUsage(t0);
  const cpu = (used.user + used.system) / 1e6;
  if (chunkN === 0) throw new Error('bench wrote nothing');
  return { callsPerCore: done / cpu, rate };
}

export async function benchCodecs(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-bench-codecs-'));
  try {
    const w8 = path.join(dir, 's8.wav');
    const w16 = path.join(dir, 's16.wav');
    // 20 s of speech, so JIT warm-up and per-call set-up weigh little
    const list = fs.readdirSync(SPEECH).filter((f) => f.endsWith('.wav')).map((f) => path.join(SPEECH, f));
    execFileSync('sox', [...list, ...list, w8, 'trim', '0', '20']);
    execFileSync('sox', [w8, '-r', '16000', w16]);
    const pcm8 = rawS16(w8, 8000);
    const g711: RtpPacket[] = [];
    for (let k = 0; (k + 1) * 160 <= pcm8.length; k++) g711.push({ version: 2, pt: 0, seq: k, ts: k * 160, ssrc: 1, marker: false, payload: Buffer.from(ulawEncode(pcm8.subarray(k * 160, k * 160 + 160))) });
    const cases: Case[] = [
      { name: 'G.711 µ-law', map: { encoding: 'PCMU', clockRate: 8000 }, pt: 0, clock: 8000, packets: g711 },
      { name: 'G.722', map: { encoding: 'G722', clockRate: 8000 }, pt: 9, clock: 8000, packets: (await g722Stream(dir, w16)).packets },
      { name: 'G.729', map: { encoding: 'G729', clockRate: 8000 }, pt: 18, clock: 8000, packets: g729Stream(dir, w8, false).packets },
      { name: 'Opus', map: { encoding: 'opus', clockRate: 48000 }, pt: 111, clock: 48000, packets: (await opusStream(dir, w16)).packets },
    ];
    const codecs = Codecs.open();
    const ring = await Ring.open({ path: path.join(dir, 'ring.bin'), slots: 256 });
    try {
      console.log('Codecs: concurrent calls per core (both directions decoded, joined, chunked, sealed into the ring)');
      for (const c of cases) {
        callSecondsPerSecond(codecs, ring, c); // warm-up
        // the best of three runs: the least disturbed by other work on the machine
        const runs = [0, 1, 2].map(() => callSecondsPerSecond(codecs, ring, c));
        const r = runs.reduce((a, b) => (b.callsPerCore > a.callsPerCore ? b : a));
        console.log(`  ${c.name.padEnd(12)} kept at ${r.rate / 1000} kHz: ${Math.floor(r.callsPerCore)} calls per core`);
      }
    } finally {
      await ring.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchCodecs();
