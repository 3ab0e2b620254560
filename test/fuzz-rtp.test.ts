import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alawEncode } from '../src/audio/g711.ts';
import { buildRtp, buildTelephoneEvent, parseRtp, parseTelephoneEvent } from '../src/rtp/packet.ts';
import { RtpStream } from '../src/rtp/stream.ts';
import { CapturePipeline } from '../src/pcap/pipeline.ts';
import { LINKTYPE } from '../src/pcap/decode.ts';
import { frame, ipv4, ipv4Fragments, pcapFile, pcapngFile, tcp, udp } from '../src/pcap/writer.ts';
import { isRvError } from '../src/errors.ts';
import { mulberry32 } from './helpers/prng.ts';

const T0 = 1_763_900_000_000;

/** Flips, overwrites, cuts or grows a packet the way a broken or hostile sender would. */
function mutate(buf: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(buf);
  switch (rnd() % 7) {
    case 0: for (let k = 1 + (rnd() % 4); k > 0; k--) b[rnd() % b.length] ^= 1 << (rnd() % 8); return b;
    case 1: return b.subarray(0, rnd() % (b.length + 1));
    case 2: b.writeUInt32BE(rnd() >>> 0, 4); b.writeUInt16BE(rnd() & 0xffff, 2); return b; // timestamp and sequence anywhere
    case 3: b[0] = rnd() & 0xff; return b; // version, padding, extension, CSRC count
    case 4: b.writeUInt32BE(rnd() >>> 0, 8); return b; // a new SSRC
    case 5: return Buffer.concat([b, Buffer.from(Array.from({ length: rnd() % 64 }, () => rnd() & 0xff))]);
    default: b[1] = rnd() & 0xff; return b; // payload type and marker
  }
}

test('fuzz: 120,000 mutated RTP packets through the parser and RtpStream — no throw, bounded output and state', () => {
  const rnd = mulberry32(4733);
  const streams = Array.from({ length: 4 }, () => new RtpStream({ origin: T0 }));
  const payload = Buffer.from(alawEncode(Int16Array.from({ length: 160 }, (_, i) => Math.round(3000 * Math.sin(i / 5)))));
  let parsed = 0;
  let lastArrival = T0;
  const heapBefore = process.memoryUsage().heapUsed;
  let produced = [0, 0, 0, 0];
  for (let i = 0; i < 120_000; i++) {
    const s = i % 4;
    const k = Math.floor(i / 4);
    const good = (k % 10) === 9
      ? buildRtp({ pt: 101, seq: k, ts: Math.floor(k / 10) * 1600, ssrc: 42 + s, payload: buildTelephoneEvent({ event: k % 17, end: k % 20 === 19, volume: 10, duration: 160 * (k % 10) }) })
      : buildRtp({ pt: s === 3 ? 0 : 8, seq: k, ts: k * 160, ssrc: 42 + s, payload });
    const pkt = rnd() % 3 === 0 ? good : mutate(good, rnd);
    const p = parseRtp(pkt);
    lastArrival = T0 + k * 20 + (rnd() % 40);
    if (p) {
      parsed++;
      parseTelephoneEvent(p.payload);
      for (const b of streams[s]!.push(p, lastArrival)) {
        assert.equal(b.index, produced[s], 'blocks stay contiguous');
        produced[s] += b.pcm.length;
      }
    }
  }
  for (let s = 0; s < 4; s++) for (const b of streams[s]!.flush()) produced[s] += b.pcm.length;
  assert.ok(parsed > 60_000, `${parsed} parsed`);
  for (let s = 0; s < 4; s++) {
    const st = streams[s]!;
    // The output never runs far ahead of the arrivals, however the timestamps lie.
    assert.ok(produced[s]! <= (lastArrival - T0 + 2000) * 8, `stream ${s}: ${produced[s]} samples for ${lastArrival - T0} ms`);
    assert.ok(produced[s]! >= (lastArrival - T0 - 5000) * 8 * 0.5, `stream ${s} kept most of the audio: ${produced[s]}`);
    assert.ok(st.digits.length <= 512);
    assert.ok(st.stats.ssrcChanges > 100 && st.stats.duplicates >= 0 && st.stats.late >= 0);
  }
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 256 * 1024 * 1024, 'memory stays bounded');
  produced = [];
});

/** A capture with SIP over UDP and TCP, RTP both ways and a fragmented INVITE: the seed for mutation. */
function seedCapture(): Array<{ ts: number; data: Buffer }> {
  const recs: Array<{ ts: number; data: Buffer }> = [];
  const sdpOf = (ip: string, port: number) => `v=0\r\no=- 1 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n`;
  const msg = (start: string, callId: string, cseq: string, tags: [string, string?], body = '', pad = 0) => Buffer.from(
    `${start}\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK${callId}\r\nFrom: <sip:+3120555${callId.length}@a>;tag=${tags[0]}\r\nTo: <sip:0612@b>${tags[1] ? `;tag=${tags[1]}` : ''}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq}\r\n${pad ? `X-Pad: ${'x'.repeat(pad)}\r\n` : ''}${body ? 'Content-Type: application/sdp\r\n' : ''}Content-Length: ${body.length}\r\n\r\n${body}`);
  const eth = (ip: Buffer) => frame(LINKTYPE.ETHERNET, ip);
  for (let c = 0; c < 6; c++) {
    const t = T0 + c * 3000;
    const id = `fz${c}`;
    const a = `10.0.${c}.1`;
    const b = `10.0.${c}.2`;
    const invite = msg('INVITE sip:0612@b SIP/2.0', id, '1 INVITE', ['x'], sdpOf(a, 30000 + c * 2), c === 2 ? 3000 : 0);
    if (c === 2) ipv4Fragments(a, b, 17, udp(5060, 5060, invite), 99).forEach((f, i) => recs.push({ ts: t + i, data: eth(f) }));
    else if (c === 3) recs.push({ ts: t, data: eth(ipv4(a, b, 6, tcp(40000, 5060, 1, { psh: true }, invite))) });
    else recs.push({ ts: t, data: eth(ipv4(a, b, 17, udp(5060, 5060, invite))) });
    recs.push({ ts: t + 100, data: eth(ipv4(b, a, 17, udp(5060, 5060, msg('SIP/2.0 200 OK', id, '1 INVITE', ['x', 'y'], sdpOf(b, 40000 + c * 2))))) });
    for (let k = 0; k < 100; k++) {
      const pl = Buffer.alloc(160, 0xd5 ^ k);
      recs.push({ ts: t + 120 + k * 20, data: eth(ipv4(a, b, 17, udp(30000 + c * 2, 40000 + c * 2, buildRtp({ pt: 8, seq: k, ts: k * 160, ssrc: c, payload: pl })))) });
      recs.push({ ts: t + 121 + k * 20, data: eth(ipv4(b, a, 17, udp(40000 + c * 2, 30000 + c * 2, buildRtp({ pt: 8, seq: k, ts: k * 160, ssrc: 100 + c, payload: pl })))) });
    }
    if (c % 2 === 0) recs.push({ ts: t + 2200, data: eth(ipv4(a, b, 17, udp(5060, 5060, msg('BYE sip:0612@b SIP/2.0', id, '2 BYE', ['x', 'y'])))) });
  }
  return recs;
}

test('fuzz: mutated, cut and garbled capture files — either read or a clear RV_ERR_PCAP error, never a crash or a hang', () => {
  const rnd = mulberry32(2026);
  const recs = seedCapture();
  const seeds = [pcapFile(LINKTYPE.ETHERNET, recs), pcapngFile(LINKTYPE.ETHERNET, recs), pcapFile(LINKTYPE.ETHERNET, recs, { bigEndian: true, nanos: true })];
  // The unmutated capture is read whole: six calls, all answered.
  const clean = new CapturePipeline({});
  clean.push(seeds[0]!);
  clean.end();
  assert.equal(clean.tracker.stats.calls, 6);

  const outcomes = { read: 0, damaged: 0, format: 0 };
  let frames = 0;
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 400; i++) {
    const seed = seeds[i % seeds.length]!;
    let buf = Buffer.from(seed);
    const kind = rnd() % 4;
    if (kind === 0) for (let k = 0; k < 1 + (rnd() % 40); k++) buf[rnd() % buf.length] ^= 1 << (rnd() % 8); // bit rot
    else if (kind === 1) buf = buf.subarray(0, rnd() % buf.length); // cut anywhere
    else if (kind === 2) { const at = 24 + (rnd() % (buf.length - 24)); for (let k = 0; k < 64 && at + k < buf.length; k++) buf[at + k] = rnd() & 0xff; } // a garbled stretch
    else { for (let k = 0; k < 200; k++) { const at = 60 + (rnd() % (buf.length - 60)); buf[at] = rnd() & 0xff; } } // inside frames (SIP, SDP, RTP)
    const p = new CapturePipeline({ rtpTimeoutMs: 1000, maxCalls: 4 });
    try {
      for (let at = 0; at < buf.length;) {
        const n = 1 + (rnd() % 9000);
        p.push(buf.subarray(at, at + n));
        at += n;
      }
      p.end();
      outcomes.read++;
    } catch (e) {
      assert.ok(isRvError(e) && /^RV_ERR_PCAP_(DAMAGED|FORMAT)$/.test(e.code), `unexpected ${String((e as Error).stack)}`);
      assert.ok(e.message.length > 40);
      if (e.code === 'RV_ERR_PCAP_DAMAGED') outcomes.damaged++; else outcomes.format++;
      p.tracker.finish();
    }
    frames += p.reader.stats.frames;
    assert.ok(p.tracker.active === 0, 'every call ended');
  }
  assert.ok(outcomes.read > 100 && outcomes.damaged > 10, JSON.stringify(outcomes));
  assert.ok(frames > 400 * 100, `${frames} frames read`);
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 256 * 1024 * 1024, 'memory stays bounded');
});
