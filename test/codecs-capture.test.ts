// Real encoders through passive capture: ffmpeg's Opus and G.722 RTP and bcg729's G.729 (Annex B), written into
// a capture with the SIP dialog around them, followed by the capture pipeline with the box's decoders; the audio
// kept is compared with the reference decode of the same bits. Also a codec switch by re-INVITE (PCMU → Opus),
// a codec the box cannot decode, and a payload type the SDP never named.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ulawEncode } from '../src/audio/g711.ts';
import { encodeWav } from '../src/audio/wav.ts';
import { Codecs } from '../src/codecs/codecs.ts';
import { buildRtp, type RtpPacket } from '../src/rtp/packet.ts';
import { CapturePipeline } from '../src/pcap/pipeline.ts';
import type { PassiveCall } from '../src/pcap/passive.ts';
import { LINKTYPE } from '../src/pcap/decode.ts';
import { frame, ipv4, pcapFile, udp, type Record as CapRecord } from '../src/pcap/writer.ts';
import { SPEECH, alignedCorrelation, g722Stream, g729Stream, opusStream, rawS16 } from './helpers/codec-streams.ts';

function tmpDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-codecs-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const T0 = 1_764_000_000_000;
const A = { ip: '10.1.0.1', rtp: 30000 };
const B = { ip: '10.1.0.2', rtp: 40000 };
const sdpOf = (ip: string, port: number, pts: string, lines: string[]) =>
  ['v=0', `o=- 1 1 IN IP4 ${ip}`, 's=-', `c=IN IP4 ${ip}`, 't=0 0', `m=audio ${port} RTP/AVP ${pts}`, ...lines, 'a=sendrecv', ''].join('\r\n');
const sip = (start: string, cseq: string, body = '', toTag = true) => Buffer.from([start, 'Via: SIP/2.0/UDP 10.1.0.1:5060;branch=z9hG4bK1', 'From: <sip:+31201234567@10.1.0.1>;tag=a1',
  `To: <sip:0612345678@10.1.0.2>${toTag ? ';tag=b1' : ''}`, 'Call-ID: codec-call', `CSeq: ${cseq}`, ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));

class Cap {
  readonly recs: CapRecord[] = [];
  udp(ts: number, src: string, dst: string, sport: number, dport: number, payload: Buffer): void {
    this.recs.push({ ts, data: frame(LINKTYPE.ETHERNET, ipv4(src, dst, 17, udp(sport, dport, payload))) });
  }
  toB(ts: number, msg: Buffer): void { this.udp(ts, A.ip, B.ip, 5060, 5060, msg); }
  toA(ts: number, msg: Buffer): void { this.udp(ts, B.ip, A.ip, 5060, 5060, msg); }
  /** A's packets to B, each at the time its RTP timestamp says (clock `clock`), from `at`. */
  rtp(at: number, packets: RtpPacket[], clock: number): number {
    const ts0 = packets[0]!.ts;
    let last = at;
    for (const p of packets) {
      last = at + (((p.ts - ts0) >>> 0) * 1000) / clock;
      this.udp(last, A.ip, B.ip, A.rtp, B.rtp, buildRtp(p));
    }
    return last;
  }
  file(): Buffer { return pcapFile(LINKTYPE.ETHERNET, [...this.recs].sort((x, y) => x.ts - y.ts)); }
}

/** Follows a capture with the box's decoders; returns the calls and channel 0 (A's voice) of each. */
function follow(buf: Buffer): { calls: PassiveCall[]; voice: Map<string, Int16Array>; logs: string[] } {
  const calls: PassiveCall[] = [];
  const parts = new Map<string, number[]>();
  const logs: string[] = [];
  const p = new CapturePipeline({
    rtpTimeoutMs: 5000, codecs: Codecs.open(), log: (m) => logs.push(m),
    onAudio: (c, _i, pcm) => { const l = parts.get(c.ref) ?? []; for (let i = 0; i < pcm.length; i += 2) l.push(pcm[i]!); parts.set(c.ref, l); },
    onEnd: (c) => calls.push(c),
  });
  p.push(buf);
  p.end();
  return { calls, voice: new Map([...parts].map(([k, v]) => [k, Int16Array.from(v)])), logs };
}

/** A call from A to B whose offer and answer carry `pts`/`lines`, with A's encoded packets as its audio. */
function codecCall(packets: RtpPacket[], clock: number, pts: string, lines: string[]): Buffer {
  const c = new Cap();
  c.toB(T0, sip('INVITE sip:0612345678@10.1.0.2 SIP/2.0', '1 INVITE', sdpOf(A.ip, A.rtp, pts, lines), false));
  c.toA(T0 + 500, sip('SIP/2.0 200 OK', '1 INVITE', sdpOf(B.ip, B.rtp, pts, lines)));
  c.toB(T0 + 510, sip('ACK sip:0612345678@10.1.0.2 SIP/2.0', '1 ACK'));
  const end = c.rtp(T0 + 520, packets, clock);
  c.toB(end + 100, sip('BYE sip:0612345678@10.1.0.2 SIP/2.0', '2 BYE'));
  return c.file();
}

const CASES = [
  { name: 'Opus wideband', pts: '111 101', lines: ['a=rtpmap:111 opus/48000/2', 'a=fmtp:111 useinbandfec=1', 'a=rtpmap:101 telephone-event/48000'], clock: 48000, rate: 16000, codec: 'OPUS',
    make: (dir: string, w16: string) => opusStream(dir, w16) },
  { name: 'Opus narrowband', pts: '111', lines: ['a=rtpmap:111 opus/48000/2', 'a=fmtp:111 maxplaybackrate=8000'], clock: 48000, rate: 8000, codec: 'OPUS',
    make: (dir: string, w16: string) => opusStream(dir, w16) },
  { name: 'G.722', pts: '9 0', lines: ['a=rtpmap:9 G722/8000', 'a=rtpmap:0 PCMU/8000'], clock: 8000, rate: 16000, codec: 'G722',
    make: (dir: string, w16: string) => g722Stream(dir, w16) },
  { name: 'G.729', pts: '18', lines: ['a=rtpmap:18 G729/8000', 'a=fmtp:18 annexb=no'], clock: 8000, rate: 8000, codec: 'G729',
    make: async (dir: string, _w16: string, w8: string) => g729Stream(dir, w8, false) },
  { name: 'G.729 Annex B (VAD, SID frames, silence not sent)', pts: '18', lines: ['a=rtpmap:18 G729/8000'], clock: 8000, rate: 8000, codec: 'G729',
    make: async (dir: string, _w16: string, w8: string) => g729Stream(dir, w8, true) },
];

test('real Opus, G.722 and G.729 (+Annex B) RTP in a capture: kept at the rate the SDP implies, and equal to the reference decode', async (t) => {
  const dir = tmpDir(t);
  const w8 = path.join(dir, 'speech8.wav');
  const w16 = path.join(dir, 'speech16.wav');
  // speech with pauses, so Annex B's VAD sends SID frames and stops, and comfort noise fills the pauses
  execFileSync('sox', [path.join(SPEECH, 'en-1.wav'), path.join(SPEECH, 'nl-1.wav'), w8, 'pad', '0', '1.5']);
  execFileSync('sox', [w8, '-r', '16000', w16]);
  for (const c of CASES) {
    const s = await c.make(dir, w16, w8);
    assert.ok(s.packets.length > 100, `${c.name}: the encoder made ${s.packets.length} packets`);
    if (c.name.includes('Annex B')) assert.ok(s.packets.some((p) => p.payload.length % 10 === 2), 'Annex B: some packets end in a 2-byte SID frame');
    const { calls, voice, logs } = follow(codecCall(s.packets, c.clock, c.pts, c.lines));
    assert.equal(calls.length, 1, c.name);
    const call = calls[0]!;
    assert.equal(call.rate, c.rate, `${c.name}: call rate`);
    assert.deepEqual(call.rtp[0]?.codecs, [c.codec], c.name);
    assert.deepEqual(call.undecodable, [], `${c.name}: ${logs.join('; ')}`);
    const got = voice.get(call.ref)!;
    // the WAV of the call says its rate
    const wav = path.join(dir, `${c.codec}-${c.rate}.wav`);
    fs.writeFileSync(wav, encodeWav(got, 1, c.rate));
    assert.equal(execFileSync('soxi', ['-r', wav], { encoding: 'utf8' }).trim(), String(c.rate));
    const ref = s.ref;
    // the encoders' delays differ (Opus pre-skip, G.722 QMF), so compare after the best alignment
    const { corr, lag } = alignedCorrelation(s, got, c.rate);
    assert.ok(corr >= 0.99, `${c.name}: correlation ${corr.toFixed(4)} at lag ${lag}`);
    if (c.codec === 'G729') {
      // bcg729 is deterministic: the kept audio is the reference decoder's, sample for sample (Annex B comfort noise too)
      // up to the last packet's end: after it the reference decoder goes on making comfort noise, the call ends
      const last = s.packets.at(-1)!;
      const span = last.ts - s.packets[0]!.ts + (Math.floor(last.payload.length / 10) + (last.payload.length % 10 === 2 ? 1 : 0)) * 80;
      const n = Math.min(ref.length, got.length - lag, span);
      let diff = 0;
      for (let i = 0; i < n; i++) if (ref[i] !== got[i + lag]) diff++;
      assert.equal(diff, 0, `${c.name}: ${diff} of ${n} samples differ from bcg729's decode (lag ${lag})`);
    }
  }
});

test('a re-INVITE from PCMU to Opus mid-call is followed: both parts decoded at the call rate, no burst of noise at the switch', async (t) => {
  const dir = tmpDir(t);
  // a steady 440 Hz tone at -12 dBFS throughout: any click or burst at the switch stands out in the RMS
  const toneWav = path.join(dir, 'tone16.wav');
  execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', toneWav, 'synth', '3', 'sine', '440', 'vol', '0.25']);
  const opus = await opusStream(dir, toneWav, 111);
  const tone8 = rawS16(toneWav, 8000);
  const c = new Cap();
  const offer = sdpOf(A.ip, A.rtp, '0 111', ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:111 opus/48000/2']);
  c.toB(T0, sip('INVITE sip:0612345678@10.1.0.2 SIP/2.0', '1 INVITE', offer, false));
  c.toA(T0 + 500, sip('SIP/2.0 200 OK', '1 INVITE', sdpOf(B.ip, B.rtp, '0', ['a=rtpmap:0 PCMU/8000'])));
  c.toB(T0 + 510, sip('ACK sip:0612345678@10.1.0.2 SIP/2.0', '1 ACK'));
  // 2 s of PCMU, then the re-INVITE, then Opus (new payload type, new timestamp base, same SSRC)
  const ssrc = 0x51;
  const pcmu: RtpPacket[] = [];
  for (let k = 0; k < 100; k++) pcmu.push({ version: 2, pt: 0, seq: 100 + k, ts: 1000 + k * 160, ssrc, marker: false, payload: Buffer.from(ulawEncode(tone8.subarray(k * 160, k * 160 + 160))) });
  const start = T0 + 520;
  c.rtp(start, pcmu, 8000);
  const switchAt = start + 2000;
  c.toB(switchAt - 15, sip('INVITE sip:0612345678@10.1.0.2 SIP/2.0', '2 INVITE', sdpOf(A.ip, A.rtp, '111', ['a=rtpmap:111 opus/48000/2'])));
  c.toA(switchAt - 10, sip('SIP/2.0 200 OK', '2 INVITE', sdpOf(B.ip, B.rtp, '111', ['a=rtpmap:111 opus/48000/2'])));
  // a fresh encoder from its first packet, as a sender switching codec starts one
  const op = opus.packets.slice(0, 100).map((p, k) => ({ ...p, ssrc, seq: 200 + k }));
  const end = c.rtp(switchAt, op, 48000);
  c.toB(end + 100, sip('BYE sip:0612345678@10.1.0.2 SIP/2.0', '3 BYE'));
  const { calls, voice } = follow(c.file());
  const call = calls[0]!;
  assert.equal(call.rate, 16000, 'Opus on offer: the call is kept at 16 kHz from its start, the PCMU part upsampled');
  assert.deepEqual(call.rtp[0]?.codecs, ['PCMU', 'OPUS']);
  const got = voice.get(call.ref)!;
  const wav = path.join(dir, 'switch.wav');
  fs.writeFileSync(wav, encodeWav(got, 1, 16000));
  // RMS of each 10 ms window from 200 ms before the switch to 200 ms after it, measured by sox
  const rmsAt = (from: number): number => {
    const out = execFileSync('sox', [wav, '-n', 'trim', String(from), '0.01', 'stat'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    const err = execFileSync('sh', ['-c', `sox "${wav}" -n trim ${from} 0.01 stat 2>&1 >/dev/null`], { encoding: 'utf8' });
    return Number(/RMS\s+amplitude:\s+([0-9.]+)/.exec(out + err)![1]);
  };
  const sw = (switchAt - start) / 1000;
  const steady = rmsAt(1.0);
  assert.ok(steady > 0.15 && steady < 0.2, `the PCMU tone's RMS is ${steady}`);
  let quiet = 0;
  for (let x = sw - 0.2; x < sw + 0.2; x += 0.01) {
    const r = rmsAt(x);
    assert.ok(r < steady * 1.41, `no burst: RMS ${r.toFixed(3)} at ${x.toFixed(2)} s (steady ${steady.toFixed(3)})`);
    if (r < steady * 0.5) quiet++;
  }
  assert.ok(quiet <= 3, `at most 30 ms quieter than the tone around the switch; ${quiet * 10} ms`);
  assert.ok(rmsAt(sw + 1) > steady * 0.7, 'the Opus part is decoded at the tone\'s level');
});

test('a codec the box cannot decode is kept silent and marked, never decoded as another; an unlisted payload type is dropped and logged', () => {
  const packets: RtpPacket[] = [];
  for (let k = 0; k < 100; k++) packets.push({ version: 2, pt: 96, seq: 10 + k, ts: k * 320, ssrc: 7, marker: false, payload: Buffer.alloc(61, 0x5a + (k % 7)) });
  for (let k = 100; k < 150; k++) packets.push({ version: 2, pt: 97, seq: 10 + k, ts: k * 320, ssrc: 7, marker: false, payload: Buffer.alloc(160, 0x11) });
  const { calls, voice, logs } = follow(codecCall(packets, 16000, '96', ['a=rtpmap:96 AMR-WB/16000']));
  const call = calls[0]!;
  assert.deepEqual(call.undecodable, ['AMR-WB']);
  assert.equal(call.rate, 8000, 'a wideband codec the box cannot decode does not make the call wideband');
  assert.ok(logs.some((l) => /not decodable: AMR-WB/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /payload type 97 is not in the call's SDP/.test(l)), logs.join('\n'));
  assert.equal(call.rtp[0]!.unknownPayload, 50);
  // the packets are kept as sent, to be sealed with the call: a later version or an export can decode them
  const kept = call.undecodedRtp!;
  assert.equal(kept.packets.length, 100);
  assert.equal(kept.truncated, false);
  assert.deepEqual(kept.packets.map((p) => [p.ch, p.pt, p.codec, p.seq, p.ts]), packets.slice(0, 100).map((p) => [0, 96, 'AMR-WB', p.seq, p.ts]));
  assert.ok(kept.packets.every((p, k) => Buffer.from(p.payload, 'base64').equals(packets[k]!.payload)), 'every payload byte for byte');
  const got = voice.get(call.ref) ?? new Int16Array(0);
  assert.ok(got.every((s) => s === 0), 'nothing but silence where the codec could not be decoded');
  assert.ok(got.length >= 8000 * 1.9, `the call keeps its length (${got.length} samples)`);
});
