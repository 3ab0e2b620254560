import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createSocket } from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PcapReader, type CapturedFrame } from '../src/pcap/reader.ts';
import { FrameDecoder, LINKTYPE, type Segment } from '../src/pcap/decode.ts';
import { TcpReassembler } from '../src/pcap/tcp.ts';
import { frame, ipv4, ipv4Fragments, ipv6, pcapFile, pcapngFile, tcp, udp } from '../src/pcap/writer.ts';
import { isRvError } from '../src/errors.ts';
import { mulberry32 } from './helpers/prng.ts';

function tmpDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-pcap-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Reads a whole capture in pieces of random size, as a pipe delivers it. */
function readAll(buf: Buffer, seed = 1): { frames: CapturedFrame[]; reader: PcapReader } {
  const rnd = mulberry32(seed);
  const reader = new PcapReader();
  const frames: CapturedFrame[] = [];
  for (let at = 0; at < buf.length;) {
    const n = 1 + (rnd() % 700);
    frames.push(...reader.push(buf.subarray(at, at + n)).map((f) => ({ ...f, data: Buffer.from(f.data) })));
    at += n;
  }
  reader.end();
  return { frames, reader };
}

interface Row { ts: string; src: string; sport: number; dport: number; payload: string }

/** What tshark makes of the file: the independent decode every case is held against. */
function tsharkRows(file: string): Row[] {
  const out = execFileSync('tshark', ['-r', file, '-Y', 'udp', '-T', 'fields', '-E', 'separator=/t', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'udp.payload'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trim().split('\n').filter(Boolean).map((l) => {
    const [ts, s4, s6, sp, dp, pl] = l.split('\t');
    return { ts: Number(ts).toFixed(3), src: (s4 || s6)!.split(',').pop()!, sport: Number(sp), dport: Number(dp), payload: pl ?? '' };
  });
}

function ourRows(buf: Buffer, seed?: number): Row[] {
  const dec = new FrameDecoder();
  return readAll(buf, seed).frames.map((f) => dec.decode(f)).filter((s): s is Segment => s?.proto === 'udp')
    .map((s) => ({ ts: (s.ts / 1000).toFixed(3), src: s.src, sport: s.sport, dport: s.dport, payload: s.payload.toString('hex') }));
}

const T0 = 1_763_900_000_123.456;

/** A few datagrams over IPv4 and IPv6 with payloads of assorted sizes, one of them fragmented. */
function datagrams(link: number, vlans?: number[]): Array<{ ts: number; data: Buffer }> {
  const rnd = mulberry32(link + 7);
  const out: Array<{ ts: number; data: Buffer }> = [];
  for (let i = 0; i < 12; i++) {
    const payload = Buffer.from(Array.from({ length: 1 + (rnd() % 300) }, () => rnd() & 0xff));
    const ip = i % 3 === 2
      ? ipv6('2001:db8::10', '2001:db8:0:1::20', 17, udp(40000 + i, 5060, payload))
      : ipv4('192.0.2.10', '198.51.100.20', 17, udp(40000 + i, 20000 + i, payload), { id: i });
    out.push({ ts: T0 + i * 20.25, data: frame(link, ip, vlans ? { vlans } : {}) });
  }
  if (link !== LINKTYPE.IPV6) {
    const big = Buffer.from(Array.from({ length: 3500 }, (_, k) => k & 0xff));
    ipv4Fragments('192.0.2.10', '198.51.100.20', 17, udp(5060, 5060, big), 777).forEach((f, k) => out.push({ ts: T0 + 1000 + k, data: frame(link, f, vlans ? { vlans } : {}) }));
  }
  return out;
}

test('every link type and file format reads as tshark reads it', async (t) => {
  const dir = tmpDir(t);
  const links: Array<[string, number, number[]?]> = [
    ['Ethernet', LINKTYPE.ETHERNET], ['Ethernet 802.1Q', LINKTYPE.ETHERNET, [42]], ['Ethernet QinQ', LINKTYPE.ETHERNET, [100, 42]],
    ['Linux cooked (SLL)', LINKTYPE.LINUX_SLL], ['Linux cooked v2 (SLL2)', LINKTYPE.LINUX_SLL2], ['raw IP', LINKTYPE.RAW],
    ['BSD NULL loopback', LINKTYPE.NULL], ['OpenBSD LOOP', LINKTYPE.LOOP],
  ];
  const formats: Array<[string, (l: number, r: ReturnType<typeof datagrams>) => Buffer]> = [
    ['pcap little-endian µs', (l, r) => pcapFile(l, r)],
    ['pcap big-endian µs', (l, r) => pcapFile(l, r, { bigEndian: true })],
    ['pcap little-endian ns', (l, r) => pcapFile(l, r, { nanos: true })],
    ['pcap big-endian ns', (l, r) => pcapFile(l, r, { bigEndian: true, nanos: true })],
    ['pcapng little-endian', (l, r) => pcapngFile(l, r)],
    ['pcapng big-endian ns', (l, r) => pcapngFile(l, r, { bigEndian: true, nanos: true })],
  ];
  for (const [lname, link, vlans] of links) {
    for (const [fname, make] of formats) {
      await t.test(`${lname}, ${fname}`, () => {
        const file = path.join(dir, 'x.cap');
        const buf = make(link, datagrams(link, vlans));
        fs.writeFileSync(file, buf);
        const theirs = tsharkRows(file);
        assert.equal(theirs.length, 13, 'tshark sees 12 datagrams and one reassembled');
        assert.deepEqual(ourRows(buf, link * 31 + fname.length), theirs);
      });
    }
  }
  await t.test('pcapng written by editcap from a pcap', () => {
    const a = path.join(dir, 'a.pcap');
    const b = path.join(dir, 'b.pcapng');
    fs.writeFileSync(a, pcapFile(LINKTYPE.ETHERNET, datagrams(LINKTYPE.ETHERNET)));
    execFileSync('editcap', ['-F', 'pcapng', a, b]);
    const buf = fs.readFileSync(b);
    assert.equal(buf.readUInt32BE(0), 0x0a0d0d0a);
    assert.deepEqual(ourRows(buf), tsharkRows(b));
  });
});

/** Captures UDP datagrams sent on loopback with the real tcpdump, in the given mode. */
async function tcpdumpCapture(file: string, args: string[]): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
  const port = sock.address().port;
  const td = spawn('tcpdump', ['-U', '--immediate-mode', '-n', '-w', file, ...args, `udp and port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  td.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  // tcpdump says "listening on" once its filter is in place.
  for (let i = 0; i < 100 && !/listening on/.test(err); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(err, /listening on/, `tcpdump did not start (it needs root or CAP_NET_RAW): ${err}`);
  // The kernel filter may be attached a moment after the message; send at a steady pace so most are seen.
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 20; i++) {
    sock.send(Buffer.from(`datagram ${i} `.repeat(i + 1)), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 300));
  td.kill('SIGINT');
  await once(td, 'exit');
  sock.close();
  return port;
}

test('captures written by the real tcpdump: -i lo (Ethernet), -i any (SLL and SLL2), ns precision', async (t) => {
  const dir = tmpDir(t);
  const modes: Array<[string, string[], number]> = [
    ['lo', ['-i', 'lo'], LINKTYPE.ETHERNET],
    ['any SLL', ['-i', 'any', '-y', 'LINUX_SLL'], LINKTYPE.LINUX_SLL],
    ['any SLL2', ['-i', 'any', '-y', 'LINUX_SLL2'], LINKTYPE.LINUX_SLL2],
    ['lo, nanoseconds', ['-i', 'lo', '--time-stamp-precision=nano'], LINKTYPE.ETHERNET],
  ];
  for (const [name, args, link] of modes) {
    await t.test(name, async () => {
      const file = path.join(dir, `${name.replace(/\W/g, '')}.pcap`);
      await tcpdumpCapture(file, args);
      const buf = fs.readFileSync(file);
      const { frames } = readAll(buf);
      assert.ok(frames.every((f) => f.linkType === link), `link type ${frames[0]?.linkType}`);
      const theirs = tsharkRows(file);
      assert.ok(theirs.length >= 10, `tshark found ${theirs.length} datagrams`);
      assert.deepEqual(ourRows(buf), theirs);
    });
  }
});

test('truncated captures: whole records are read, the cut one is counted, nothing throws', () => {
  const recs = datagrams(LINKTYPE.ETHERNET);
  for (const [name, buf] of [['pcap', pcapFile(LINKTYPE.ETHERNET, recs)], ['pcapng', pcapngFile(LINKTYPE.ETHERNET, recs)]] as const) {
    const whole = readAll(buf).frames.length;
    assert.equal(whole, recs.length);
    let ends = 0;
    for (let cut = 30; cut < buf.length; cut += 37) {
      const { frames, reader } = readAll(buf.subarray(0, cut), cut);
      assert.ok(frames.length < whole, `${name} cut at ${cut}`);
      assert.deepEqual(frames.map((f) => f.data), readAll(buf).frames.slice(0, frames.length).map((f) => f.data));
      if (reader.stats.truncated) ends++;
    }
    assert.ok(ends > 10, `${name}: cut records were counted as truncated`);
  }
  // A header cut short is an error that says so.
  assert.throws(() => readAll(pcapFile(LINKTYPE.ETHERNET, []).subarray(0, 10)), (e) => isRvError(e) && e.code === 'RV_ERR_PCAP_FORMAT' && /too short/.test(e.message));
  assert.throws(() => readAll(Buffer.alloc(0)), (e) => isRvError(e) && /empty/.test(e.message));
});

test('garbage: not a capture, a damaged length, junk frames — clear errors and counts', () => {
  const rnd = mulberry32(99);
  const junk = Buffer.from(Array.from({ length: 5000 }, () => rnd() & 0xff));
  assert.throws(() => readAll(junk), (e) => isRvError(e) && e.code === 'RV_ERR_PCAP_FORMAT' && /not a capture file/.test(e.message));
  assert.throws(() => readAll(Buffer.from('GET / HTTP/1.1\r\n\r\n')), (e) => isRvError(e) && e.code === 'RV_ERR_PCAP_FORMAT');

  const buf = pcapFile(LINKTYPE.ETHERNET, datagrams(LINKTYPE.ETHERNET));
  const firstLen = buf.readUInt32LE(24 + 8);
  const bad = Buffer.from(buf);
  bad.writeUInt32LE(0x7fffffff, 24 + 16 + firstLen + 8); // the second record claims 2 GB
  const reader = new PcapReader();
  let frames = 0;
  assert.throws(() => { frames += reader.push(bad).length; }, (e) => isRvError(e) && e.code === 'RV_ERR_PCAP_DAMAGED' && /byte \d+/.test(e.message));
  assert.throws(() => reader.push(Buffer.alloc(10)), (e) => isRvError(e) && e.code === 'RV_ERR_PCAP_DAMAGED', 'stays failed');

  const ng = pcapngFile(LINKTYPE.ETHERNET, datagrams(LINKTYPE.ETHERNET));
  const badNg = Buffer.from(ng);
  badNg.writeUInt32LE(13, 28 + 20 + 4); // a block length that is not a multiple of 4 (SHB 28 bytes, IDB 20)
  assert.throws(() => readAll(badNg), (e) => isRvError(e) && e.code === 'RV_ERR_PCAP_DAMAGED');

  // Frames that are garbage inside a sound file are counted and skipped.
  const dec = new FrameDecoder();
  const frames2 = readAll(pcapFile(LINKTYPE.ETHERNET, Array.from({ length: 200 }, (_, i) => ({ ts: T0 + i, data: Buffer.from(Array.from({ length: rnd() % 80 }, () => rnd() & 0xff)) })))).frames;
  for (const f of frames2) dec.decode(f);
  assert.equal(frames2.length, 200);
  assert.ok(dec.stats.undecodable + dec.stats.otherProtocols >= 150, JSON.stringify(dec.stats));
  assert.equal(frames, 0);
});

test('pcapng: unknown blocks skipped, interfaces with their own time unit, second section in the other byte order', () => {
  const le = pcapngFile(LINKTYPE.RAW, [{ ts: T0, data: ipv4('10.0.0.1', '10.0.0.2', 17, udp(1, 2, Buffer.from('one'))) }]);
  const be = pcapngFile(LINKTYPE.ETHERNET, [{ ts: T0 + 5, data: frame(LINKTYPE.ETHERNET, ipv4('10.0.0.1', '10.0.0.2', 17, udp(1, 2, Buffer.from('two')))) }], { bigEndian: true, nanos: true });
  const custom = Buffer.alloc(16);
  custom.writeUInt32LE(0x00000bad, 0);
  custom.writeUInt32LE(16, 4);
  custom.writeUInt32LE(16, 12);
  const { frames, reader } = readAll(Buffer.concat([le.subarray(0, le.length), custom, be]), 3);
  const dec = new FrameDecoder();
  assert.deepEqual(frames.map((f) => dec.decode(f)!.payload.toString()), ['one', 'two']);
  assert.deepEqual(frames.map((f) => Math.round(f.ts * 1000) / 1000), [Math.round(T0 * 1000) / 1000, Math.round((T0 + 5) * 1000) / 1000]);
  assert.equal(reader.stats.skipped, 1);
});

test('TCP reassembly: out of order, retransmitted and overlapping segments come out once, in order', () => {
  const text = Buffer.from('INVITE sip:x@y SIP/2.0\r\n'.repeat(40));
  const isn = 0xfffffff0; // wraps within the stream
  const seg = (off: number, len: number): Segment => ({ ts: T0, proto: 'tcp', src: 'a', sport: 1, dst: 'b', dport: 2, payload: text.subarray(off, off + len), tcp: { seq: (isn + 1 + off) >>> 0, syn: false, fin: false, rst: false } });
  const r = new TcpReassembler();
  const got: Buffer[] = [];
  const syn: Segment = { ts: T0, proto: 'tcp', src: 'a', sport: 1, dst: 'b', dport: 2, payload: Buffer.alloc(0), tcp: { seq: isn, syn: true, fin: false, rst: false } };
  r.push(syn);
  for (const s of [seg(0, 100), seg(300, 200), seg(100, 100), seg(100, 100), seg(150, 200), seg(500, 460), seg(0, 50)]) got.push(...r.push(s).data);
  assert.equal(Buffer.concat(got).toString(), text.toString());
  assert.ok(r.stats.retransmits >= 2);
});

test('TCP reassembly: a hole that never fills is skipped after enough bytes wait, and said so', () => {
  const r = new TcpReassembler();
  const seg = (seq: number, len: number): Segment => ({ ts: T0, proto: 'tcp', src: 'a', sport: 1, dst: 'b', dport: 2, payload: Buffer.alloc(len, 0x41), tcp: { seq, syn: false, fin: false, rst: false } });
  r.push(seg(1000, 10));
  let gapAt: number | undefined;
  let after = 0;
  for (let i = 0; i < 300 && gapAt === undefined; i++) {
    const res = r.push(seg(1010 + 500 + i * 1000, 1000));
    gapAt = res.gapAt;
    after = res.data.reduce((n, b) => n + b.length, 0);
  }
  assert.equal(gapAt, 0);
  assert.ok(after > 64 * 1024, 'everything held behind the hole comes out');
  assert.equal(r.stats.gaps, 1);
});
