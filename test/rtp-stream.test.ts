import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alawDecode, alawEncode, ulawDecode, ulawEncode } from '../src/audio/g711.ts';
import { buildRtp, buildTelephoneEvent, digitOfEvent, eventOfDigit, parseRtp, parseTelephoneEvent, type RtpPacket } from '../src/rtp/packet.ts';
import { RtpStream, type RtpAudio } from '../src/rtp/stream.ts';
import { StereoJoiner } from '../src/rtp/stereo.ts';

const N = 160; // 20 ms packets
const T0 = 1_700_000_000_000;

/** Packet i carries a ramp unique to it, so any misplaced or missing packet shows in the samples. */
function payloadOf(i: number, law: 'a' | 'u' = 'a'): Buffer {
  const pcm = Int16Array.from({ length: N }, (_, k) => ((i * 397 + k * 31) % 16000) - 8000);
  return Buffer.from((law === 'a' ? alawEncode : ulawEncode)(pcm));
}

interface Sent { p: RtpPacket; at: number }

function call(count: number, o: { seq0?: number; ts0?: number; ssrc?: number; pt?: number; law?: 'a' | 'u' } = {}): Sent[] {
  const { seq0 = 1000, ts0 = 5000, ssrc = 0x1234, pt = 8, law = 'a' } = o;
  return Array.from({ length: count }, (_, i) => ({
    p: parseRtp(buildRtp({ pt, seq: (seq0 + i) & 0xffff, ts: (ts0 + i * N) >>> 0, ssrc, payload: payloadOf(i, law) }))!,
    at: T0 + (i + 1) * 20,
  }));
}

function run(sent: Sent[], s = new RtpStream({ origin: T0 })): { s: RtpStream; pcm: Int16Array; blocks: RtpAudio[] } {
  const blocks: RtpAudio[] = [];
  for (const x of sent) blocks.push(...s.push(x.p, x.at));
  blocks.push(...s.flush());
  let expect = 0;
  for (const b of blocks) {
    assert.equal(b.index, expect, 'blocks are contiguous and in order');
    assert.equal(b.at, T0 + b.index / 8);
    expect += b.pcm.length;
  }
  const pcm = new Int16Array(expect);
  for (const b of blocks) pcm.set(b.pcm, b.index);
  return { s, pcm, blocks };
}

/** What packet i decodes to, placed at sample `at`. */
function expectPacket(pcm: Int16Array, i: number, at: number, law: 'a' | 'u' = 'a'): void {
  const want = (law === 'a' ? alawDecode : ulawDecode)(payloadOf(i, law));
  assert.deepEqual(Array.from(pcm.subarray(at, at + N)), Array.from(want), `packet ${i} at sample ${at}`);
}
const isSilent = (pcm: Int16Array, from: number, to: number): boolean => pcm.subarray(from, to).every((v) => v === 0);

test('parseRtp: well-formed packets with CSRCs, extension and padding; null for garbage', () => {
  const payload = Buffer.from([1, 2, 3, 4, 5]);
  const full = Buffer.concat([
    Buffer.from([0x80 | 0x20 | 0x10 | 2, 0x80 | 8, 0x12, 0x34, 0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef]),
    Buffer.alloc(8, 7), // two CSRCs
    Buffer.from([0xbe, 0xde, 0, 1]), Buffer.alloc(4, 9), // one-word extension
    payload, Buffer.from([0, 0, 3]), // three bytes of padding
  ]);
  const p = parseRtp(full);
  assert.ok(p);
  assert.deepEqual({ ...p, payload: [...p.payload] }, { version: 2, pt: 8, marker: true, seq: 0x1234, ts: 256, ssrc: 0xdeadbeef, payload: [...payload] });

  const base = buildRtp({ pt: 0, seq: 1, ts: 2, ssrc: 3, payload: Buffer.alloc(160, 0xff) });
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['11 bytes', base.subarray(0, 11)],
    ['version 1', Buffer.from([0x40, ...base.subarray(1)])],
    ['version 0 (STUN)', Buffer.from([0x00, ...base.subarray(1)])],
    ['15 CSRCs in a short packet', Buffer.from([0x8f, ...base.subarray(1, 40)])],
    ['extension longer than the packet', Buffer.concat([Buffer.from([0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0xff, 0xff]), Buffer.alloc(8)])],
    ['extension header cut', Buffer.from([0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe])],
    ['padding count 0', Buffer.concat([Buffer.from([0xa0]), base.subarray(1, 20), Buffer.from([0])])],
    ['padding past the header', Buffer.concat([Buffer.from([0xa0]), base.subarray(1, 14), Buffer.from([200])])],
    ['RTCP sender report', Buffer.from([0x80, 200, 0, 6, ...Buffer.alloc(24)])],
    ['RTCP receiver report', Buffer.from([0x81, 201, 0, 7, ...Buffer.alloc(28)])],
  ];
  for (const [what, buf] of bad) assert.equal(parseRtp(buf), null, what);
  assert.equal(parseRtp('x' as unknown as Buffer), null, 'not a buffer');
  assert.equal(parseRtp(base)!.payload.length, 160);
});

test('RFC 4733 payload and digit mapping', () => {
  assert.deepEqual(parseTelephoneEvent(buildTelephoneEvent({ event: 11, end: true, volume: 10, duration: 1200 })), { event: 11, end: true, volume: 10, duration: 1200 });
  assert.equal(parseTelephoneEvent(Buffer.from([1, 2, 3])), null);
  assert.deepEqual([0, 5, 9, 10, 11, 12, 15, 16].map(digitOfEvent), ['0', '5', '9', '*', '#', 'A', 'D', '!']);
  assert.equal(digitOfEvent(17), undefined);
  assert.equal(digitOfEvent(70), undefined);
  assert.equal(eventOfDigit('#'), 11);
  assert.equal(eventOfDigit('b'), 13);
  assert.equal(eventOfDigit('x'), undefined);
});

test('in order: every packet decoded in place, nothing lost (A-law and µ-law)', () => {
  for (const law of ['a', 'u'] as const) {
    const { s, pcm } = run(call(50, { pt: law === 'a' ? 8 : 0, law }));
    assert.equal(pcm.length, 50 * N);
    for (let i = 0; i < 50; i++) expectPacket(pcm, i, i * N, law);
    assert.equal(s.stats.codec, law === 'a' ? 'PCMA' : 'PCMU');
    assert.deepEqual([s.stats.packets, s.stats.lost, s.stats.reordered, s.stats.duplicates, s.stats.late, s.stats.filled], [50, 0, 0, 0, 0, 0]);
    assert.equal(s.stats.jitterMs, 0);
  }
});

test('table: loss, reorder, duplicates, late packets, wrap-around', async (t) => {
  const cases: Array<{ name: string; edit: (x: Sent[]) => Sent[]; silent: number[]; stats: Partial<RtpStream['stats']>; opts?: Parameters<typeof call>[1] }> = [
    { name: 'two lost', edit: (x) => x.filter((_, i) => i !== 10 && i !== 11), silent: [10, 11], stats: { packets: 48, lost: 2, filled: 2 * N } },
    { name: 'first lost', edit: (x) => x.slice(1), silent: [0], stats: { lost: 0, filled: N } },
    {
      name: 'swapped pairs', silent: [], stats: { reordered: 4, lost: 0, late: 0 }, // 33 before 31, 32, 30: three came after a later one
      edit: (x) => { const y = [...x]; [y[5], y[6]] = [y[6]!, y[5]!]; [y[30], y[33]] = [y[33]!, y[30]!]; return y.map((s, i) => ({ p: s.p, at: x[i]!.at })); },
    },
    { name: 'duplicates', edit: (x) => [...x.slice(0, 8), x[7]!, x[7]!, ...x.slice(8), x[3]!], silent: [], stats: { duplicates: 3, packets: 50, lost: 0 } },
    {
      name: 'late beyond the reorder buffer', silent: [10], stats: { late: 1, reordered: 1, lost: 0 },
      edit: (x) => { const y = x.filter((_, i) => i !== 10); y.splice(30, 0, { p: x[10]!.p, at: x[31]!.at }); return y.map((s, i) => ({ p: s.p, at: Math.max(s.at, y[i - 1]?.at ?? 0) })); },
    },
    { name: 'sequence and timestamp wrap', opts: { seq0: 65530, ts0: 2 ** 32 - 5 * N }, edit: (x) => x, silent: [], stats: { lost: 0, reordered: 0 } },
    { name: 'wrap with loss and reorder across it', opts: { seq0: 65530, ts0: 2 ** 32 - 7 * N }, silent: [6],
      edit: (x) => { const y = x.filter((_, i) => i !== 6); [y[4], y[5]] = [y[5]!, y[4]!]; return y.map((s, i) => ({ p: s.p, at: T0 + (i + 1) * 20 })); }, stats: { lost: 1, reordered: 1 } },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const { s, pcm } = run(c.edit(call(50, c.opts)));
      assert.equal(pcm.length, 50 * N, 'timing kept: the output is as long as the call');
      for (let i = 0; i < 50; i++) {
        if (c.silent.includes(i)) assert.ok(isSilent(pcm, i * N, (i + 1) * N), `packet ${i} is silence`);
        else expectPacket(pcm, i, i * N);
      }
      for (const [k, v] of Object.entries(c.stats)) assert.equal(s.stats[k as keyof typeof s.stats], v, k);
    });
  }
});

test('SSRC change mid-call: placed by arrival, no gap or overlap', () => {
  const a = call(25);
  const b = call(25, { seq0: 40000, ts0: 999_999, ssrc: 0xabcdef }).map((x, i) => ({ p: { ...x.p, payload: payloadOf(25 + i) }, at: T0 + (26 + i) * 20 }));
  const { s, pcm } = run([...a, ...b]);
  assert.equal(pcm.length, 50 * N);
  for (let i = 0; i < 50; i++) expectPacket(pcm, i, i * N);
  assert.equal(s.stats.ssrcChanges, 1);
  assert.equal(s.stats.lost, 0);
});

test('hold: a timestamp jump is placed by arrival time; a silence-suppressed gap by timestamps', () => {
  // Hold for 5 s and the sender restarts its timestamps (marker set): the gap comes from arrival times.
  const a = call(25);
  const b = call(25, { seq0: 1025, ts0: 12_345_678 }).map((x, i) => ({ p: { ...x.p, marker: i === 0, payload: payloadOf(25 + i) }, at: T0 + (26 + i) * 20 + 5000 }));
  const held = run([...a, ...b]);
  assert.equal(held.pcm.length, 50 * N + 40000);
  expectPacket(held.pcm, 24, 24 * N);
  assert.ok(isSilent(held.pcm, 25 * N, 25 * N + 40000));
  expectPacket(held.pcm, 25, 25 * N + 40000);
  expectPacket(held.pcm, 49, 49 * N + 40000);
  assert.equal(held.s.stats.lost, 0);

  // A 3 s talk-spurt gap whose timestamps advance by 3 s but arrive 40 ms off: the timestamps win.
  const c = call(25, { seq0: 1025, ts0: 5000 + 25 * N + 24000 }).map((x, i) => ({ p: { ...x.p, marker: i === 0, payload: payloadOf(25 + i) }, at: T0 + (26 + i) * 20 + 3040 }));
  const sup = run([...a, ...c]);
  assert.equal(sup.pcm.length, 50 * N + 24000);
  expectPacket(sup.pcm, 25, 25 * N + 24000);

  // Timestamps that jump by hours within a call (a broken sender) do not blow up the output.
  const d = call(25, { seq0: 1025, ts0: 5000 + 25 * N + 8000 * 3600 }).map((x, i) => ({ p: { ...x.p, payload: payloadOf(25 + i) }, at: T0 + (26 + i) * 20 }));
  const jump = run([...a, ...d]);
  assert.equal(jump.pcm.length, 50 * N);
  expectPacket(jump.pcm, 30, 30 * N);
});

test('sequence restart without an SSRC change is believed after two packets (RFC 3550 A.1)', () => {
  const a = call(25);
  const b = call(25, { seq0: 30000, ts0: 5000 + 25 * N }).map((x, i) => ({ p: { ...x.p, payload: payloadOf(25 + i) }, at: T0 + (26 + i) * 20 }));
  const { s, pcm } = run([...a, ...b]);
  assert.equal(s.stats.ignored, 1, 'the first packet after the jump waits for confirmation');
  assert.ok(isSilent(pcm, 25 * N, 26 * N));
  for (let i = 26; i < 50; i++) expectPacket(pcm, i, i * N);
  assert.equal(pcm.length, 50 * N);
});

test('RFC 4733 digits: one per event, end packets deduplicated, time from the timestamp', () => {
  const audio = call(100);
  const ev = (digit: string, startPkt: number, pkts: number, seqAfter: number): Sent[] => {
    const out: Sent[] = [];
    for (let k = 0; k < pkts + 2; k++) {
      const end = k >= pkts - 1;
      const duration = Math.min(k + 1, pkts) * N;
      out.push({
        p: parseRtp(buildRtp({ pt: 101, seq: seqAfter + k, ts: 5000 + startPkt * N, ssrc: 0x1234, marker: k === 0, payload: buildTelephoneEvent({ event: eventOfDigit(digit)!, end, volume: 10, duration }) }))!,
        at: T0 + (startPkt + k + 1) * 20,
      });
    }
    return out;
  };
  // Renumber: audio packets 20..24 and 60..64 are replaced by events, as a phone does.
  const e5 = ev('5', 20, 5, 1020);
  const eh = ev('#', 60, 5, 1060);
  const sent = [...audio.slice(0, 20), ...e5, ...audio.slice(27, 60).map((x) => x), ...eh, ...audio.slice(67)];
  const seen: string[] = [];
  const s = new RtpStream({ origin: T0, onDigit: (d) => seen.push(d.digit) });
  const { pcm } = run(sent, s);
  assert.deepEqual(seen, ['5', '#']);
  assert.deepEqual(s.digits.map((d) => [d.digit, d.at, d.durationMs, d.ended]), [['5', T0 + 20 * 20, 100, true], ['#', T0 + 60 * 20, 100, true]]);
  assert.equal(pcm.length, 100 * N);
  assert.ok(isSilent(pcm, 20 * N, 27 * N));
  expectPacket(pcm, 27, 27 * N);
  assert.equal(s.stats.lost, 0, 'event packets count in the sequence');
});

test('jitter (RFC 3550 A.8) grows with arrival-time variance', () => {
  const steady = run(call(100));
  assert.equal(steady.s.stats.jitterMs, 0);
  const shaky = run(call(100).map((x, i) => ({ p: x.p, at: x.at + (i % 2 ? 6 : 0) })));
  assert.ok(shaky.s.stats.jitterMs > 3 && shaky.s.stats.jitterMs < 7, `jitter ${shaky.s.stats.jitterMs} ms`);
});

test('drain lets out packets that waited past the reorder delay', () => {
  const s = new RtpStream({ origin: T0, depth: 10, maxDelayMs: 100 });
  const sent = call(3);
  for (const x of sent) assert.deepEqual(s.push(x.p, x.at), []);
  assert.deepEqual(s.drain(T0 + 100), []);
  const out = s.drain(T0 + 20 + 100);
  assert.deepEqual(out.map((b) => [b.index, b.pcm.length]), [[0, N]], 'packet 0, sent at the origin');
  assert.equal(s.drain(T0 + 60 + 100).reduce((n, b) => n + b.pcm.length, 0), 2 * N);
});

test('StereoJoiner: two directions interleaved by index; a silent side waits at most maxLag', () => {
  const frames: Array<[number, Int16Array]> = [];
  const j = new StereoJoiner((i, pcm) => frames.push([i, pcm]), { maxLagMs: 100 });
  j.push(0, { index: 0, pcm: Int16Array.from({ length: 400 }, (_, i) => i + 1) });
  assert.equal(frames.length, 0, 'waits for the other side');
  j.push(1, { index: 0, pcm: Int16Array.from({ length: 160 }, (_, i) => -(i + 1)) });
  assert.equal(j.frames, 160);
  j.push(0, { index: 400, pcm: Int16Array.from({ length: 1000 }, (_, i) => 401 + i) });
  assert.equal(j.frames, 1400 - 800, 'the callee side is 100 ms behind at most');
  j.flush();
  const all = new Int16Array(1400 * 2);
  for (const [i, pcm] of frames) all.set(pcm, i * 2);
  for (let i = 0; i < 1400; i++) {
    assert.equal(all[i * 2], i + 1);
    assert.equal(all[i * 2 + 1], i < 160 ? -(i + 1) : 0);
  }
});
