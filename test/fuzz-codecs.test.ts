// Fuzzing the decoders' inputs: 100,000 mutated payloads per codec, seeded by real encoders' packets (bit flips,
// cut and grown payloads, random bytes, empty ones), and then through an RtpStream with payload types, lengths and
// timestamps scrambled. No throw, no hang (each decode is bounded), output lengths as announced, memory bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Codecs } from '../src/codecs/codecs.ts';
import { isDecoder, type Decoder, type RtpMap } from '../src/codecs/types.ts';
import { RtpStream } from '../src/rtp/stream.ts';
import { SPEECH, g722Stream, g729Stream, opusStream } from './helpers/codec-streams.ts';
import { mulberry32 } from './helpers/prng.ts';

const N = 100_000;

function mutate(seed: Uint8Array, rnd: () => number): Uint8Array {
  const r = rnd() % 10;
  if (r === 0) return new Uint8Array(0);
  if (r === 1) return Uint8Array.from({ length: rnd() % 400 }, () => rnd() & 0xff);
  if (r === 2) return seed.subarray(0, rnd() % (seed.length + 1));
  if (r === 3) { const g = new Uint8Array(seed.length + 1 + (rnd() % 64)); g.set(seed); for (let i = seed.length; i < g.length; i++) g[i] = rnd() & 0xff; return g; }
  const m = Uint8Array.from(seed);
  const flips = 1 + (rnd() % 8);
  for (let i = 0; i < flips && m.length; i++) m[rnd() % m.length]! ^= 1 << (rnd() % 8);
  return m;
}

test('each decoder takes 100,000 mutated payloads: no crash, no hang, lengths as announced, bounded memory', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-fuzz-codecs-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const w8 = path.join(SPEECH, 'en-1.wav');
  const w16 = path.join(dir, 's16.wav');
  execFileSync('sox', [w8, '-r', '16000', w16]);
  const codecs = Codecs.open();
  assert.deepEqual(codecs.available(), { PCMU: true, PCMA: true, G722: true, G729: true, OPUS: true }, 'the test machine has every codec library');
  const seeds: Array<{ map: RtpMap; rate: 8000 | 16000; payloads: Uint8Array[]; max: number }> = [
    { map: { encoding: 'opus', clockRate: 48000 }, rate: 16000, payloads: (await opusStream(dir, w16)).packets.map((p) => p.payload), max: 1920 },
    { map: { encoding: 'opus', clockRate: 48000, fmtp: 'maxplaybackrate=8000' }, rate: 8000, payloads: (await opusStream(dir, w16)).packets.map((p) => p.payload), max: 960 },
    { map: { encoding: 'G722', clockRate: 8000 }, rate: 16000, payloads: (await g722Stream(dir, w16)).packets.map((p) => p.payload), max: 16000 },
    { map: { encoding: 'G729', clockRate: 8000 }, rate: 8000, payloads: g729Stream(dir, w8, true).packets.map((p) => p.payload), max: 1600 },
    { map: { encoding: 'PCMU', clockRate: 8000 }, rate: 16000, payloads: [Uint8Array.from({ length: 160 }, (_, i) => i)], max: 2 * 400 + 64 * 2 + 320 },
  ];
  const rnd = mulberry32(0xc0dec);
  const rss0 = process.memoryUsage().rss;
  for (const s of seeds) {
    let d = codecs.createDecoder(s.map, s.rate) as Decoder;
    assert.ok(isDecoder(d), s.map.encoding);
    let samples = 0;
    for (let i = 0; i < N; i++) {
      // a fresh decoder now and then, as calls come and go: native state is made and freed
      if (i % 5000 === 4999) { d.close(); d = codecs.createDecoder(s.map, s.rate) as Decoder; }
      const p = mutate(s.payloads[rnd() % s.payloads.length]!, rnd);
      const want = d.samplesOf?.(p);
      const out = d.decode(p);
      assert.ok(out instanceof Int16Array && out.length <= s.max, `${s.map.encoding}: ${out.length} samples from ${p.length} bytes`);
      if (want !== undefined) assert.ok(Math.abs(out.length - want) <= 1, `${s.map.encoding}: said ${want} samples, gave ${out.length}`);
      if (i % 97 === 0) d.plc?.(rnd() % 2000);
      if (i % 89 === 0) d.comfortNoise?.(rnd() % 2000);
      samples += out.length;
    }
    d.close();
    d.close();
    assert.ok(samples > 0, `${s.map.encoding}: some payloads decoded`);
  }
  const grown = (process.memoryUsage().rss - rss0) / 2 ** 20;
  assert.ok(grown < 96, `memory grew ${grown.toFixed(1)} MB over ${seeds.length * N} payloads`);
});

test('an RtpStream fed scrambled packets of every codec, switching payload maps on the way, never throws and stays in time', () => {
  const codecs = Codecs.open();
  const rnd = mulberry32(0x5eed);
  const maps = { 0: 'PCMU', 9: { encoding: 'G722', clockRate: 8000 }, 18: { encoding: 'G729', clockRate: 8000 }, 111: { encoding: 'opus', clockRate: 48000 }, 101: { encoding: 'telephone-event', clockRate: 48000 }, 96: { encoding: 'AMR', clockRate: 8000 } } as const;
  const st = new RtpStream({ payloads: maps, codecs, rate: 16000, origin: 0 });
  const pts = [0, 9, 18, 111, 101, 96, 13, 127];
  let out = 0;
  for (let i = 0; i < 30_000; i++) {
    if (i % 3000 === 2999) st.setPayloads(rnd() % 2 ? maps : { 0: 'PCMU', 9: { encoding: 'G722', clockRate: 8000 } });
    const payload = Uint8Array.from({ length: rnd() % 200 }, () => rnd() & 0xff);
    const p = { version: 2 as const, pt: pts[rnd() % pts.length]!, seq: (i + (rnd() % 5)) & 0xffff, ts: (i * 160 + (rnd() % 3 === 0 ? rnd() : 0)) >>> 0, ssrc: rnd() % 50 === 0 ? rnd() : 1, marker: false, payload: Buffer.from(payload) };
    for (const a of st.push(p, i * 20)) out += a.pcm.length;
  }
  for (const a of st.flush()) out += a.pcm.length;
  st.close();
  // 600 s of packets at 16 kHz: the timeline never runs far ahead of the arrival times
  assert.ok(out <= 16000 * 602, `${out} samples for 600 s of packets`);
  assert.ok(out > 0);
});
