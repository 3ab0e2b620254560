import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alawEncode } from '../src/audio/g711.ts';
import { buildRtp, parseRtp } from '../src/rtp/packet.ts';
import { RtpStream } from '../src/rtp/stream.ts';
import { StereoJoiner } from '../src/rtp/stereo.ts';
import { MediaLatch } from '../src/rtp/latch.ts';
import { Chunker } from '../src/calls/chunker.ts';
import { Ring } from '../src/ring/ring.ts';

/**
 * Concurrent calls per core on a trunk line: for each call, two G.711 directions at 50 packets a second
 * are parsed, latched, put in order, decoded, joined to stereo, gathered into 1 s chunks and sealed into
 * the encrypted ring — the whole live path of a recorded SIPREC call after the socket. The figure is how
 * many such calls one core keeps up with (1 s of audio per call per second), beside the 64 maxCalls allows.
 */
export async function benchTrunk(): Promise<void> {
  const CALLS = 16;
  const SECONDS = 20;
  const dir = await mkdtemp(join(tmpdir(), 'rv-bench-trunk-'));
  const ring = await Ring.open({ path: join(dir, 'ring.bin'), slots: CALLS * 30 });
  try {
    const payload = Buffer.from(alawEncode(Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin(i / 3)))));
    const calls = Array.from({ length: CALLS }, (_, c) => {
      const chunker = new Chunker(2, (chunk) => ring.write(`call${c}`, chunk));
      const joiner = new StereoJoiner((index, pcm) => chunker.push({ at: index / 8, channels: 2, pcm }));
      const dirs = [0, 1].map((ch) => ({ ch: ch as 0 | 1, stream: new RtpStream({ origin: 0 }), latch: new MediaLatch(() => true), ssrc: c * 2 + ch + 1 }));
      return { joiner, chunker, dirs };
    });
    const start = process.cpuUsage();
    const t0 = performance.now();
    for (let k = 0; k < SECONDS * 50; k++) {
      for (const call of calls) {
        for (const d of call.dirs) {
          const buf = buildRtp({ pt: 8, seq: k, ts: k * 160, ssrc: d.ssrc, payload });
          const p = parseRtp(buf)!;
          if (!d.latch.check('10.0.0.1', 40000 + d.ssrc, true).ok) continue;
          for (const a of d.stream.push(p, 20 + k * 20)) call.joiner.push(d.ch, a);
        }
      }
    }
    for (const call of calls) { for (const d of call.dirs) for (const a of d.stream.flush()) call.joiner.push(d.ch, a); call.joiner.flush(); call.chunker.flush(); }
    const cpu = process.cpuUsage(start);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const wallMs = performance.now() - t0;
    const perCallSecond = cpuMs / (CALLS * SECONDS);
    console.log(`trunk: ${CALLS} G.711 calls × ${SECONDS} s (RTP parse, latch, reorder, decode, stereo, 1 s chunks, sealed ring) in ${wallMs.toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms CPU`);
    console.log(`trunk: ${perCallSecond.toFixed(3)} ms CPU per call-second → ${Math.floor(1000 / perCallSecond)} concurrent calls per core (maxCalls allows 64 per line)`);
  } finally {
    await ring.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchTrunk();
