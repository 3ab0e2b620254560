import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alawEncode, alawDecode } from '../src/audio/g711.ts';
import { buildRtp, buildTelephoneEvent } from '../src/rtp/packet.ts';
import { CapturePipeline } from '../src/pcap/pipeline.ts';
import type { PassiveCall } from '../src/pcap/passive.ts';
import { LINKTYPE } from '../src/pcap/decode.ts';
import { frame, ipv4, pcapFile, udp, type Record as CapRecord } from '../src/pcap/writer.ts';

const T0 = 1_763_900_000_000;
interface Party { ip: string; sip: number; rtp: number; number: string }
const ALICE: Party = { ip: '10.0.0.1', sip: 5060, rtp: 30000, number: '+31201234567' };
const BOB: Party = { ip: '10.0.0.2', sip: 5060, rtp: 40000, number: '0612345678' };
/** A B2BUA/SBC in the capture that anchors the media on one port for both of its legs. */
const SBC: Party = { ip: '10.0.0.9', sip: 5060, rtp: 50000, number: '0612345678' };

const sdp = (p: Party): string => ['v=0', `o=- 1 1 IN IP4 ${p.ip}`, 's=-', `c=IN IP4 ${p.ip}`, 't=0 0', `m=audio ${p.rtp} RTP/AVP 8 101`, 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');
const sip = (start: string, h: { callId: string; from: string; to: string; cseq: string; body?: string }): Buffer => {
  const body = h.body ?? '';
  return Buffer.from([start, 'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1', `From: ${h.from}`, `To: ${h.to}`, `Call-ID: ${h.callId}`, `CSeq: ${h.cseq}`,
    ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
};
const from = (tag: string) => `"Alice" <sip:${ALICE.number}@10.0.0.1>;tag=${tag}`;
const to = (tag?: string) => `<sip:${BOB.number}@10.0.0.2>${tag ? `;tag=${tag}` : ''}`;

class Cap {
  readonly recs: CapRecord[] = [];
  udp(ts: number, a: Party, b: Party, sport: number, dport: number, payload: Buffer): void {
    this.recs.push({ ts, data: frame(LINKTYPE.ETHERNET, ipv4(a.ip, b.ip, 17, udp(sport, dport, payload))) });
  }
  sip(ts: number, a: Party, b: Party, msg: Buffer): void { this.udp(ts, a, b, a.sip, b.sip, msg); }
  /** 20 ms A-law packets; packet k carries the value base+8k in every sample, so each is found by value. */
  rtp(at: number, count: number, a: Party, b: Party, o: { ssrc: number; seq0: number; ts0: number; base: number }): void {
    for (let k = 0; k < count; k++) {
      const payload = Buffer.from(alawEncode(new Int16Array(160).fill(o.base + k * 8)));
      this.udp(at + k * 20, a, b, a.rtp, b.rtp, buildRtp({ pt: 8, seq: o.seq0 + k, ts: o.ts0 + k * 160, ssrc: o.ssrc, payload }));
    }
  }
  /** One RFC 4733 key press as real phones send it: updates every 20 ms, the end packet three times. */
  key(at: number, a: Party, b: Party, o: { ssrc: number; seq0: number; ts: number; event: number }): number {
    let seq = o.seq0;
    for (let i = 1; i <= 5; i++) this.udp(at + i * 20, a, b, a.rtp, b.rtp, buildRtp({ pt: 101, seq: seq++, ts: o.ts, ssrc: o.ssrc, payload: buildTelephoneEvent({ event: o.event, end: false, volume: 10, duration: i * 160 }) }));
    for (let r = 0; r < 3; r++) this.udp(at + 120 + r * 5, a, b, a.rtp, b.rtp, buildRtp({ pt: 101, seq: seq++, ts: o.ts, ssrc: o.ssrc, payload: buildTelephoneEvent({ event: o.event, end: true, volume: 10, duration: 960 }) }));
    return seq;
  }
  file(): Buffer { return pcapFile(LINKTYPE.ETHERNET, [...this.recs].sort((x, y) => x.ts - y.ts)); }
}

function follow(buf: Buffer): { calls: PassiveCall[]; started: PassiveCall[]; stereo: (ref: string) => Int16Array } {
  const calls: PassiveCall[] = [];
  const started: PassiveCall[] = [];
  const audio = new Map<string, Int16Array[]>();
  const p = new CapturePipeline({
    rtpTimeoutMs: 5000,
    onStart: (c) => started.push(c),
    onAudio: (c, _i, pcm) => { const l = audio.get(c.ref) ?? []; l.push(pcm); audio.set(c.ref, l); },
    onEnd: (c) => calls.push(c),
  });
  p.push(buf);
  p.end();
  const stereo = (ref: string) => {
    const parts = audio.get(ref) ?? [];
    const out = new Int16Array(parts.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of parts) { out.set(b, at); at += b.length; }
    return out;
  };
  return { calls, started, stereo };
}

const q = (v: number) => alawDecode(alawEncode(Int16Array.of(v)))[0]!;

test('passive: two streams claiming one direction (a B2BUA in the capture) are kept apart; a key press counts once', () => {
  const c = new Cap();
  const callId = 'b2bua@pbx';
  c.sip(T0, ALICE, SBC, sip(`INVITE sip:${BOB.number}@10.0.0.9 SIP/2.0`, { callId, from: from('a'), to: to(), cseq: '1 INVITE', body: sdp(ALICE) }));
  c.sip(T0 + 500, SBC, ALICE, sip('SIP/2.0 200 OK', { callId, from: from('a'), to: to('b'), cseq: '1 INVITE', body: sdp(SBC) }));
  // The caller talks to the SBC's port and keys "5" after a second; the callee's leg reaches the same
  // SBC port (both resolve to the caller's direction), interleaved 10 ms apart; the SBC sends the caller audio.
  c.rtp(T0 + 520, 50, ALICE, SBC, { ssrc: 0x111, seq0: 100, ts0: 0, base: 1000 });
  const seq = c.key(T0 + 1520, ALICE, SBC, { ssrc: 0x111, seq0: 150, ts: 50 * 160, event: 5 });
  c.rtp(T0 + 1680, 50, ALICE, SBC, { ssrc: 0x111, seq0: seq, ts0: 58 * 160, base: 2000 });
  c.rtp(T0 + 530, 108, BOB, SBC, { ssrc: 0x222, seq0: 7000, ts0: 90000, base: -1000 });
  c.rtp(T0 + 520, 108, SBC, ALICE, { ssrc: 0x333, seq0: 1, ts0: 5, base: 3000 });
  c.sip(T0 + 2800, ALICE, SBC, sip(`BYE sip:${BOB.number}@10.0.0.9 SIP/2.0`, { callId, from: from('a'), to: to('b'), cseq: '2 BYE' }));
  const { calls, stereo } = follow(c.file());
  assert.equal(calls.length, 1);
  const call = calls[0]!;
  assert.deepEqual(call.digits.map((d) => [d.digit, d.channel]), [['5', 0]], 'the key press is one digit, not one per packet');
  assert.ok(call.notes.some((n) => /two RTP streams claimed the caller's direction/.test(n) && n.includes('10.0.0.1:30000') && n.includes('10.0.0.2:40000')), JSON.stringify(call.notes));
  const st = stereo(callId);
  // The caller's channel holds the caller's stream only, sample for sample where it was sent (a packet arriving
  // at t carries the 20 ms before t); none of the callee's leg (negative samples) is mixed in.
  const left = (i: number) => st[i * 2]!;
  for (let k = 0; k < 50; k++) for (const i of [0, 80, 159]) assert.equal(left(k * 160 + i), q(1000 + k * 8), `caller packet ${k}`);
  for (let k = 0; k < 50; k++) assert.equal(left(1160 * 8 + k * 160 + 7), q(2000 + k * 8), `caller packet ${k} after the key`);
  for (let i = 0; i < st.length / 2; i++) if (left(i) < 0) assert.fail(`sample ${i} of the caller's channel is the callee leg's (${left(i)})`);
  assert.equal(call.rtp[0]!.packets, 108, 'the recorded stream is the caller\'s (audio and events)');
  assert.equal(st[5 * 2 + 1], q(3000), 'the callee channel is the SBC\'s stream to the caller');
});

test('passive: the recorded stream gives way when it falls silent and the other one goes on; the report says so', () => {
  const c = new Cap();
  const callId = 'fork@pbx';
  c.sip(T0, ALICE, SBC, sip(`INVITE sip:${BOB.number}@10.0.0.9 SIP/2.0`, { callId, from: from('a'), to: to(), cseq: '1 INVITE', body: sdp(ALICE) }));
  c.sip(T0 + 500, SBC, ALICE, sip('SIP/2.0 200 OK', { callId, from: from('a'), to: to('b'), cseq: '1 INVITE', body: sdp(SBC) }));
  c.rtp(T0 + 520, 25, ALICE, SBC, { ssrc: 0x111, seq0: 100, ts0: 0, base: 1000 });
  c.rtp(T0 + 530, 150, BOB, SBC, { ssrc: 0x222, seq0: 7000, ts0: 90000, base: -3000 });
  c.sip(T0 + 3600, ALICE, SBC, sip(`BYE sip:${BOB.number}@10.0.0.9 SIP/2.0`, { callId, from: from('a'), to: to('b'), cseq: '2 BYE' }));
  const { calls, stereo } = follow(c.file());
  const call = calls[0]!;
  assert.ok(call.notes.some((n) => /direction switched at \d+\.\d s to stream 10\.0\.0\.2:40000/.test(n)), JSON.stringify(call.notes));
  const st = stereo(callId);
  const left = (i: number) => st[i * 2]!;
  assert.equal(left(3), q(1000), 'first the caller\'s stream');
  // After the caller's stream stopped (at 1020 ms) and a second passed, the other stream is recorded, by its own timing.
  for (const k of [100, 110, 149]) assert.equal(left((10 + k * 20) * 8 + 3), q(-3000 + k * 8), `second stream packet ${k}`);
  for (let i = 0; i < 1020 * 8; i++) if (left(i) < 0) assert.fail(`sample ${i}: the second stream mixed into the first`);
});

test('passive: early media after 183 Session Progress is kept when the call is answered, and marked; not when it is not', () => {
  const c = new Cap();
  const callId = 'ivr@pbx';
  c.sip(T0, ALICE, BOB, sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from('a'), to: to(), cseq: '1 INVITE', body: sdp(ALICE) }));
  c.sip(T0 + 100, BOB, ALICE, sip('SIP/2.0 183 Session Progress', { callId, from: from('a'), to: to('b'), cseq: '1 INVITE', body: sdp(BOB) }));
  // An announcement from the callee's side for 1.5 s, then the answer and both talk.
  c.rtp(T0 + 200, 75, BOB, ALICE, { ssrc: 0x5, seq0: 1, ts0: 0, base: 500 });
  c.sip(T0 + 1800, BOB, ALICE, sip('SIP/2.0 200 OK', { callId, from: from('a'), to: to('b'), cseq: '1 INVITE', body: sdp(BOB) }));
  c.rtp(T0 + 1820, 50, BOB, ALICE, { ssrc: 0x6, seq0: 500, ts0: 777, base: -500 });
  c.rtp(T0 + 1820, 50, ALICE, BOB, { ssrc: 0x7, seq0: 1, ts0: 0, base: 1500 });
  c.sip(T0 + 2900, ALICE, BOB, sip(`BYE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from('a'), to: to('b'), cseq: '2 BYE' }));
  // A second call with early media that is never answered (486 after the announcement) is not recorded.
  const other = 'busy@pbx';
  c.sip(T0 + 5000, ALICE, BOB, sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId: other, from: from('c'), to: to(), cseq: '1 INVITE', body: sdp(ALICE) }));
  c.sip(T0 + 5100, BOB, ALICE, sip('SIP/2.0 183 Session Progress', { callId: other, from: from('c'), to: to('d'), cseq: '1 INVITE', body: sdp(BOB) }));
  c.rtp(T0 + 5200, 25, BOB, ALICE, { ssrc: 0x8, seq0: 1, ts0: 0, base: 700 });
  c.sip(T0 + 5800, BOB, ALICE, sip('SIP/2.0 486 Busy Here', { callId: other, from: from('c'), to: to('d'), cseq: '1 INVITE' }));
  const { calls, started, stereo } = follow(c.file());
  assert.deepEqual(started.map((x) => x.ref), [callId], 'only the answered call starts');
  const call = calls.find((x) => x.ref === callId)!;
  assert.equal(call.answeredAt, T0 + 1800);
  assert.equal(call.mediaFrom, T0 + 180, 'the recording starts with the first early-media packet');
  assert.equal(call.earlyMs, 1620);
  assert.ok(call.notes.some((n) => /^early media: the recording starts 1\.6 s before the answer/.test(n)), JSON.stringify(call.notes));
  const st = stereo(callId);
  assert.equal(st.length / 2, (2900 - 180) * 8, 'from the first early packet to the BYE');
  const right = (i: number) => st[i * 2 + 1]!;
  assert.equal(right(3), q(500), 'the announcement is at the start');
  assert.equal(right(74 * 160 + 3), q(500 + 74 * 8));
  assert.equal(right((1820 - 180) * 8 + 3), q(-500), 'the callee\'s voice after the answer, at its time');
  assert.equal(st[((1820 - 180) * 8 + 3) * 2], q(1500));
  assert.equal(calls.find((x) => x.ref === other)?.endReason, 'rejected');
});
