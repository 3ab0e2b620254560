import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSocket } from 'node:dgram';
import { alawEncode, alawDecode } from '../src/audio/g711.ts';
import { encodeWav } from '../src/audio/wav.ts';
import { buildRtp, buildTelephoneEvent } from '../src/rtp/packet.ts';
import { CapturePipeline } from '../src/pcap/pipeline.ts';
import type { PassiveCall } from '../src/pcap/passive.ts';
import { LINKTYPE } from '../src/pcap/decode.ts';
import { frame, ipv4, pcapFile, tcp, udp, type Record as CapRecord } from '../src/pcap/writer.ts';
import { PcapSource } from '../src/sources/pcap.ts';
import { Vault } from '../src/vault/vault.ts';
import { Archive } from '../src/archive/archive.ts';
import { ROOT } from './helpers/appliance.ts';
import pino from 'pino';

const PASS = 'correct horse battery staple';
const T0 = 1_763_900_000_000;
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'passive');

function tmpDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-passive-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------- synthetic captures: SIP and RTP written frame by frame ----------

interface Party { ip: string; sip: number; rtp: number; number: string }
const ALICE: Party = { ip: '10.0.0.1', sip: 5060, rtp: 30000, number: '+31201234567' };
const BOB: Party = { ip: '10.0.0.2', sip: 5060, rtp: 40000, number: '0612345678' };

function sdp(p: Party, o: { port?: number; dir?: string } = {}): string {
  return ['v=0', `o=- 1 1 IN IP4 ${p.ip}`, 's=-', `c=IN IP4 ${p.ip}`, 't=0 0', `m=audio ${o.port ?? p.rtp} RTP/AVP 8 101`, 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', `a=${o.dir ?? 'sendrecv'}`, ''].join('\r\n');
}

function sip(start: string, h: { callId: string; from: string; to: string; cseq: string; body?: string; extra?: string[] }): Buffer {
  const body = h.body ?? '';
  return Buffer.from([start, 'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1', `From: ${h.from}`, `To: ${h.to}`, `Call-ID: ${h.callId}`, `CSeq: ${h.cseq}`,
    ...(h.extra ?? []), ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
}

class Cap {
  readonly recs: CapRecord[] = [];
  udp(ts: number, a: Party, b: Party, sport: number, dport: number, payload: Buffer): void {
    this.recs.push({ ts, data: frame(LINKTYPE.ETHERNET, ipv4(a.ip, b.ip, 17, udp(sport, dport, payload))) });
  }
  sip(ts: number, a: Party, b: Party, msg: Buffer): void { this.udp(ts, a, b, a.sip, b.sip, msg); }
  /** 20 ms A-law packets from `a` to `b`'s RTP port; packet k carries value base+k so its place can be found. */
  rtp(from: number, count: number, a: Party, b: Party, o: { ssrc: number; seq0: number; ts0: number; base: number; dport?: number; skip?: number[] }): void {
    for (let k = 0; k < count; k++) {
      if (o.skip?.includes(k)) continue;
      const payload = Buffer.from(alawEncode(new Int16Array(160).fill(o.base + k * 8)));
      this.udp(from + k * 20, a, b, a.rtp, o.dport ?? b.rtp, buildRtp({ pt: 8, seq: o.seq0 + k, ts: o.ts0 + k * 160, ssrc: o.ssrc, payload }));
    }
  }
  file(): Buffer { return pcapFile(LINKTYPE.ETHERNET, [...this.recs].sort((x, y) => x.ts - y.ts)); }
}

const from = (tag: string) => `"Alice" <sip:${ALICE.number}@10.0.0.1>;tag=${tag}`;
const to = (tag?: string) => `<sip:${BOB.number}@10.0.0.2>${tag ? `;tag=${tag}` : ''}`;

function basicCall(c: Cap, at: number, callId: string, fTag: string, tTag: string, o: { bye?: boolean; seconds?: number; ssrc?: number } = {}): void {
  const secs = o.seconds ?? 2;
  c.sip(at, ALICE, BOB, sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from(fTag), to: to(), cseq: '1 INVITE', body: sdp(ALICE) }));
  c.sip(at + 50, BOB, ALICE, sip('SIP/2.0 180 Ringing', { callId, from: from(fTag), to: to(tTag), cseq: '1 INVITE' }));
  c.sip(at + 1000, BOB, ALICE, sip('SIP/2.0 200 OK', { callId, from: from(fTag), to: to(tTag), cseq: '1 INVITE', body: sdp(BOB) }));
  c.sip(at + 1010, ALICE, BOB, sip(`ACK sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from(fTag), to: to(tTag), cseq: '1 ACK' }));
  c.rtp(at + 1020, secs * 50, ALICE, BOB, { ssrc: o.ssrc ?? 1, seq0: 100, ts0: 1000, base: 100 });
  c.rtp(at + 1020, secs * 50, BOB, ALICE, { ssrc: (o.ssrc ?? 1) + 1, seq0: 500, ts0: 9000, base: -100 });
  if (o.bye !== false) c.sip(at + 1040 + secs * 1000, ALICE, BOB, sip(`BYE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from(fTag), to: to(tTag), cseq: '2 BYE' }));
}

function follow(buf: Buffer, rtpTimeoutMs = 5000): { calls: PassiveCall[]; audio: Map<string, Int16Array[]>; p: CapturePipeline } {
  const calls: PassiveCall[] = [];
  const audio = new Map<string, Int16Array[]>();
  const p = new CapturePipeline({
    rtpTimeoutMs,
    onAudio: (c, _i, pcm) => { const l = audio.get(c.ref) ?? []; l.push(pcm); audio.set(c.ref, l); },
    onEnd: (c) => calls.push(c),
  });
  p.push(buf);
  p.end();
  return { calls, audio, p };
}

const frames = (l: Int16Array[] | undefined): number => (l ?? []).reduce((n, b) => n + b.length / 2, 0);

test('passive: a reused Call-ID makes a second call, not one merged call', () => {
  const c = new Cap();
  basicCall(c, T0, 'same-id@pbx', 'a1', 'b1');
  basicCall(c, T0 + 10_000, 'same-id@pbx', 'a1', 'b2', { ssrc: 7 });
  const { calls, audio } = follow(c.file());
  assert.deepEqual(calls.map((x) => [x.ref, x.callId, x.endReason, x.caller, x.called]), [
    ['same-id@pbx', 'same-id@pbx', 'bye', ALICE.number, BOB.number],
    ['same-id@pbx#2', 'same-id@pbx', 'bye', ALICE.number, BOB.number],
  ]);
  for (const x of calls) {
    assert.equal(x.endedAt! - x.answeredAt!, 2040);
    assert.equal(frames(audio.get(x.ref)), 2040 * 8);
    assert.deepEqual([x.rtp[0]!.packets, x.rtp[1]!.packets, x.rtp[0]!.lost], [100, 100, 0]);
  }
});

test('passive: caller on the left, callee on the right, silence for lost packets, timing kept', () => {
  const c = new Cap();
  const callId = 'lr@pbx';
  c.sip(T0, ALICE, BOB, sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from('x'), to: to(), cseq: '1 INVITE', body: sdp(ALICE) }));
  c.sip(T0 + 500, BOB, ALICE, sip('SIP/2.0 200 OK', { callId, from: from('x'), to: to('y'), cseq: '1 INVITE', body: sdp(BOB) }));
  c.rtp(T0 + 520, 50, ALICE, BOB, { ssrc: 1, seq0: 10, ts0: 0, base: 1000, skip: [10, 11, 12] });
  c.rtp(T0 + 1020, 25, BOB, ALICE, { ssrc: 2, seq0: 10, ts0: 0, base: -1000 });
  c.sip(T0 + 1600, BOB, ALICE, sip(`BYE sip:${ALICE.number}@10.0.0.1 SIP/2.0`, { callId, from: to('y'), to: from('x'), cseq: '1 BYE' }));
  const { calls, audio } = follow(c.file());
  assert.equal(calls.length, 1);
  const st = new Int16Array(frames(audio.get('lr@pbx')) * 2);
  let at = 0;
  for (const b of audio.get('lr@pbx')!) { st.set(b, at); at += b.length; }
  assert.equal(st.length / 2, 1100 * 8, 'the call lasts from the 200 OK to the BYE seen from the callee');
  const left = (i: number) => st[i * 2]!;
  const right = (i: number) => st[i * 2 + 1]!;
  const q = (v: number) => alawDecode(alawEncode(Int16Array.of(v)))[0]!;
  // Packet k of the caller is sent at 520 + 20k ms, the answer is at 500: its first sample is at (k * 20) ms after the answer.
  assert.equal(left(0), q(1000));
  assert.equal(left(9 * 160 + 5), q(1000 + 9 * 8));
  assert.equal(left(10 * 160 + 5), 0, 'lost packet is silence');
  assert.equal(left(13 * 160), q(1000 + 13 * 8));
  assert.equal(right(0), 0, 'callee silent before its first packet');
  assert.equal(right(500 * 8 + 3), q(-1000));
  assert.equal(calls[0]!.rtp[0]!.lost, 3);
  assert.equal(calls[0]!.endReason, 'bye');
});

test('passive: SIP over TCP, INVITE in segments out of order with a retransmission', () => {
  const c = new Cap();
  const callId = 'tcp@pbx';
  const invite = sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from('t1'), to: to(), cseq: '1 INVITE', body: sdp(ALICE) });
  const ok = sip('SIP/2.0 200 OK', { callId, from: from('t1'), to: to('t2'), cseq: '1 INVITE', body: sdp(BOB) });
  const bye = sip(`BYE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from('t1'), to: to('t2'), cseq: '2 BYE' });
  const seg = (ts: number, a: Party, b: Party, seq: number, data: Buffer, flags = {}) =>
    c.recs.push({ ts, data: frame(LINKTYPE.ETHERNET, ipv4(a.ip, b.ip, 6, tcp(50000, 5060, seq, { psh: true, ...flags }, data))) });
  const segB = (ts: number, seq: number, data: Buffer) =>
    c.recs.push({ ts, data: frame(LINKTYPE.ETHERNET, ipv4(BOB.ip, ALICE.ip, 6, tcp(5060, 50000, seq, { psh: true }, data))) });
  seg(T0, ALICE, BOB, 999, Buffer.alloc(0), { syn: true, ack: false });
  seg(T0 + 1, ALICE, BOB, 1000 + 200, invite.subarray(200, 400));
  seg(T0 + 2, ALICE, BOB, 1000, invite.subarray(0, 200));
  seg(T0 + 3, ALICE, BOB, 1000 + 400, invite.subarray(400));
  seg(T0 + 4, ALICE, BOB, 1000 + 200, invite.subarray(200, 400));
  segB(T0 + 100, 7000, ok);
  c.rtp(T0 + 120, 50, ALICE, BOB, { ssrc: 1, seq0: 1, ts0: 0, base: 0 });
  seg(T0 + 1200, ALICE, BOB, 1000 + invite.length, bye);
  const { calls } = follow(c.file());
  assert.deepEqual(calls.map((x) => [x.ref, x.transport, x.endReason, x.answeredAt, x.endedAt]), [[callId, 'tcp', 'bye', T0 + 100, T0 + 1200]]);
  assert.equal(calls[0]!.rtp[0]!.packets, 50);
});

test('passive: no BYE → ended by RTP timeout at the last packet; CANCEL and 486 are not answered calls; 401 retry is one call', () => {
  const c = new Cap();
  basicCall(c, T0, 'nobye@pbx', 'n1', 'n2', { bye: false, seconds: 3 });
  // cancelled while ringing
  c.sip(T0 + 100, ALICE, BOB, sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId: 'cancel@pbx', from: from('c1'), to: to(), cseq: '1 INVITE', body: sdp(ALICE, { port: 31000 }) }));
  c.sip(T0 + 900, ALICE, BOB, sip(`CANCEL sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId: 'cancel@pbx', from: from('c1'), to: to(), cseq: '1 CANCEL' }));
  // busy
  c.sip(T0 + 200, ALICE, BOB, sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId: 'busy@pbx', from: from('d1'), to: to(), cseq: '1 INVITE', body: sdp(ALICE, { port: 32000 }) }));
  c.sip(T0 + 300, BOB, ALICE, sip('SIP/2.0 486 Busy Here', { callId: 'busy@pbx', from: from('d1'), to: to('d2'), cseq: '1 INVITE' }));
  // challenged, then sent again with credentials and answered
  const auth = { callId: 'auth@pbx', from: from('e1') };
  c.sip(T0 + 20_000, ALICE, BOB, sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { ...auth, to: to(), cseq: '1 INVITE', body: sdp(ALICE, { port: 33000 }) }));
  c.sip(T0 + 20_010, BOB, ALICE, sip('SIP/2.0 407 Proxy Authentication Required', { ...auth, to: to('e0'), cseq: '1 INVITE' }));
  c.sip(T0 + 20_020, ALICE, BOB, sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { ...auth, to: to(), cseq: '2 INVITE', body: sdp(ALICE, { port: 33000 }), extra: ['Proxy-Authorization: Digest username="a"'] }));
  c.sip(T0 + 20_500, BOB, ALICE, sip('SIP/2.0 200 OK', { ...auth, to: to('e2'), cseq: '2 INVITE', body: sdp(BOB, { port: 43000 }) }));
  c.sip(T0 + 21_500, BOB, ALICE, sip(`BYE sip:${ALICE.number}@10.0.0.1 SIP/2.0`, { callId: 'auth@pbx', from: to('e2'), to: from('e1'), cseq: '1 BYE' }));
  const { calls } = follow(c.file(), 4000);
  const by = new Map(calls.map((x) => [x.ref, x]));
  assert.equal(calls.length, 4, calls.map((x) => x.ref).join());
  const nb = by.get('nobye@pbx')!;
  assert.equal(nb.endReason, 'rtp-timeout');
  assert.equal(Math.round(nb.endedAt!), T0 + 1020 + 149 * 20);
  assert.deepEqual([by.get('cancel@pbx')!.endReason, by.get('cancel@pbx')!.answeredAt], ['cancel', undefined]);
  assert.deepEqual([by.get('busy@pbx')!.endReason, by.get('busy@pbx')!.status], ['rejected', 486]);
  assert.deepEqual([by.get('auth@pbx')!.endReason, by.get('auth@pbx')!.answeredAt, by.get('auth@pbx')!.endedAt], ['bye', T0 + 20_500, T0 + 21_500]);
});

test('passive: hold by re-INVITE to a new port keeps the call and its timing', () => {
  const c = new Cap();
  const callId = 'hold@pbx';
  c.sip(T0, ALICE, BOB, sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from('h1'), to: to(), cseq: '1 INVITE', body: sdp(ALICE) }));
  c.sip(T0 + 100, BOB, ALICE, sip('SIP/2.0 200 OK', { callId, from: from('h1'), to: to('h2'), cseq: '1 INVITE', body: sdp(BOB) }));
  c.rtp(T0 + 120, 50, ALICE, BOB, { ssrc: 1, seq0: 1, ts0: 0, base: 500 });
  c.sip(T0 + 1200, ALICE, BOB, sip(`INVITE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from('h1'), to: to('h2'), cseq: '2 INVITE', body: sdp(ALICE, { dir: 'sendonly' }) }));
  c.sip(T0 + 1210, BOB, ALICE, sip('SIP/2.0 200 OK', { callId, from: from('h1'), to: to('h2'), cseq: '2 INVITE', body: sdp(BOB, { port: 41000, dir: 'recvonly' }) }));
  // After 3 s on hold the caller talks again to the callee's new port, with a new SSRC and timestamps.
  c.rtp(T0 + 4120, 50, ALICE, BOB, { ssrc: 9, seq0: 7000, ts0: 123456, base: 900, dport: 41000 });
  c.sip(T0 + 5200, ALICE, BOB, sip(`BYE sip:${BOB.number}@10.0.0.2 SIP/2.0`, { callId, from: from('h1'), to: to('h2'), cseq: '3 BYE' }));
  const { calls, audio } = follow(c.file());
  assert.equal(calls.length, 1);
  const st = new Int16Array(frames(audio.get(callId)) * 2);
  let at = 0;
  for (const b of audio.get(callId)!) { st.set(b, at); at += b.length; }
  const q = (v: number) => alawDecode(alawEncode(Int16Array.of(v)))[0]!;
  assert.equal(st.length / 2, 5100 * 8);
  assert.equal(st[(4000 * 8 + 10) * 2], q(900), 'talk after hold lands 4 s after the answer');
  assert.equal(st[(2000 * 8) * 2], 0, 'silence on hold');
  assert.equal(calls[0]!.rtp[0]!.packets, 100);
});

// ---------- real tools: sipp calls on loopback captured by tcpdump, imported by the CLI ----------

function waitFor(p: ChildProcess, re: RegExp, what: string): Promise<void> {
  let err = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${what} did not start: ${err}`)), 10_000);
    p.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; if (re.test(err)) { clearTimeout(timer); res(); } });
    p.once('exit', (code) => { clearTimeout(timer); rej(new Error(`${what} exited with ${code}: ${err}`)); });
  });
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  s.close();
  return port;
}

interface SippRun { sipPort: number; uasMedia: number; uacMedia: number }

/** Runs `calls` sipp calls one after another: the UAS answers and talks, the UAC talks and presses 1 and #. */
async function sippCalls(dir: string, calls: number, onListening?: (r: SippRun) => Promise<void>): Promise<SippRun> {
  const base = 20000 + Math.floor(Math.random() * 20000) * 2;
  const r: SippRun = { sipPort: await freeUdpPort(), uasMedia: base, uacMedia: base + 1000 };
  await onListening?.(r);
  const uas = spawn('sipp', ['-sf', path.join(FIXTURES, 'uas.xml'), '-i', '127.0.0.1', '-p', String(r.sipPort), '-mi', '127.0.0.1', '-mp', String(r.uasMedia), '-m', String(calls), '-nostdin', '-trace_err'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const uasExit = once(uas, 'exit');
  await new Promise((res) => setTimeout(res, 500));
  const uac = spawn('sipp', ['-sf', path.join(FIXTURES, 'uac.xml'), '-i', '127.0.0.1', '-p', '0', '-mi', '127.0.0.1', '-mp', String(r.uacMedia), '-s', '0612345678', '-m', String(calls), '-l', '1', '-nostdin', '-trace_err', `127.0.0.1:${r.sipPort}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let uacErr = '';
  uac.stderr!.setEncoding('utf8').on('data', (d: string) => { uacErr += d; });
  const [code] = await once(uac, 'exit');
  // The callee may be gone before the caller: its exit was listened for from the start.
  const uasDone = await Promise.race([uasExit, new Promise((res) => setTimeout(() => res(undefined), 5000))]) as [number] | undefined;
  if (!uasDone) uas.kill('SIGKILL');
  const uasCode = uasDone?.[0];
  assert.equal(code, 0, `sipp UAC failed: ${uacErr}`);
  assert.equal(uasCode, 0, 'sipp UAS failed');
  return r;
}

async function captureSippCalls(dir: string, file: string, calls: number): Promise<SippRun> {
  let td: ChildProcess | undefined;
  const run = await sippCalls(dir, calls, async (r) => {
    // Only this test's ports: other tests may use sipp on loopback at the same time.
    const filter = `udp and (port ${r.sipPort} or port ${r.uasMedia} or port ${r.uacMedia})`;
    td = spawn('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-n', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
    await waitFor(td, /listening on/, 'tcpdump (it needs root or CAP_NET_RAW)');
    await new Promise((res) => setTimeout(res, 300));
  });
  await new Promise((res) => setTimeout(res, 300));
  td!.kill('SIGINT');
  await once(td!, 'exit');
  return run;
}

function cli(args: string[]): { code: number; out: string; err: string } {
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/index.ts'), ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RINGVAULT_LOG: 'warn' } });
    return { code: 0, out, err: '' };
  } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    return { code: x.status, out: x.stdout, err: x.stderr };
  }
}

/** Per Call-ID: when the 200 OK to the INVITE and the BYE were sent, as tshark reads the capture. */
function tsharkSip(file: string): Map<string, { ok: number; bye: number }> {
  const out = execFileSync('tshark', ['-r', file, '-Y', 'sip', '-T', 'fields', '-E', 'separator=/t', '-e', 'frame.time_epoch', '-e', 'sip.Call-ID', '-e', 'sip.Method', '-e', 'sip.Status-Code', '-e', 'sip.CSeq.method'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = new Map<string, { ok: number; bye: number }>();
  for (const l of out.trim().split('\n')) {
    const [ts, id, method, status, cseqMethod] = l.split('\t');
    const e = m.get(id!) ?? { ok: NaN, bye: NaN };
    if (status === '200' && cseqMethod === 'INVITE') e.ok = Number(ts) * 1000;
    if (method === 'BYE') e.bye = Number(ts) * 1000;
    m.set(id!, e);
  }
  return m;
}

/** The A-law payloads tshark finds in packets to `dport`, decoded by sox alone: the independent decode. */
function tsharkSoxDecode(file: string, dport: number, dir: string, callId: string): { pcm: Int16Array; packets: number } {
  const out = execFileSync('tshark', ['-r', file, '-d', `udp.port==${dport},rtp`, '-Y', `udp.dstport==${dport} && rtp.p_type==8`, '-T', 'fields', '-e', 'rtp.payload'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  const rows = out.trim().split('\n').filter(Boolean);
  const al = path.join(dir, `${callId.replace(/\W/g, '_')}-${dport}.al`);
  fs.writeFileSync(al, Buffer.from(rows.join('').replace(/:/g, ''), 'hex'));
  const raw = execFileSync('sox', ['-t', 'al', '-r', '8000', '-c', '1', al, '-t', 's16', '-e', 'signed-integer', '-L', '-'], { maxBuffer: 64 << 20 });
  return { pcm: new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2), packets: rows.length };
}

/**
 * Where `needle` starts inside channel `ch` of interleaved `hay` (may be < 0 when its first samples fell
 * before the answer), found from its first stretch that is not constant; undefined when absent.
 */
function findRun(hay: Int16Array, ch: number, needle: Int16Array): number | undefined {
  const frames = hay.length / 2;
  let i0 = 0;
  while (i0 < needle.length && needle[i0] === needle[0]) i0++;
  const probe = needle.subarray(i0, i0 + 480);
  outer: for (let s = 0; s + probe.length <= frames; s++) {
    for (let i = 0; i < probe.length; i++) if (hay[(s + i) * 2 + ch] !== probe[i]) continue outer;
    return s - i0;
  }
  return undefined;
}

test('import-pcap: sipp calls captured with tcpdump on loopback are kept with the right numbers, digits, duration and samples', async (t) => {
  const dir = tmpDir(t);
  const data = path.join(dir, 'data');
  const cap = path.join(dir, 'calls.pcap');
  const cfgFile = path.join(dir, 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify({
    dataDir: data,
    lines: [{ id: 'trunk', name: 'SIP trunk', source: 'pcap', channels: 2, keep: 'on-demand', announced: ['evidence', 'complaint'], keepPurposes: ['complaint'] }],
  }));
  const vault = new Vault(path.join(data, 'vault'));
  await vault.init('admin', PASS);
  vault.lock();

  const run = await captureSippCalls(dir, cap, 2);
  assert.equal(execFileSync('capinfos', ['-t', cap], { encoding: 'utf8' }).includes('pcap'), true);

  // Dry run: the report, nothing kept.
  const dry = cli(['import-pcap', cap, '--config', cfgFile, '--dry-run']);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /2 calls found; dry run, nothing kept/);
  assert.match(dry.out, /Call-ID 1-\d+@127\.0\.0\.1/);
  assert.match(dry.out, /from \+31201234567 "Alice Caller" to 0612345678 over UDP/);
  assert.match(dry.out, /digits: caller 1#, callee 5/);
  assert.ok(!fs.existsSync(path.join(data, 'archive')) || fs.readdirSync(path.join(data, 'archive'), { recursive: true }).filter((f) => String(f).endsWith('.json')).length === 0, 'dry run kept nothing');

  // A purpose the line does not announce is refused, and keeps nothing.
  const bad = cli(['import-pcap', cap, '--config', cfgFile, '--purpose', 'training']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /does not announce training/);

  const res = cli(['import-pcap', cap, '--config', cfgFile, '--purpose', 'evidence', '--json']);
  assert.equal(res.code, 0, res.err + res.out);
  const report = JSON.parse(res.out);
  assert.equal(report.calls.length, 2);
  assert.deepEqual([report.line, report.purposes, report.dryRun], ['trunk', ['evidence'], false]);

  // A number on the exclusion list (a private call) is never kept, imported or not.
  const privCfg = path.join(dir, 'private.json');
  fs.writeFileSync(privCfg, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgFile, 'utf8')), exclusions: ['0031201234567'] }));
  const priv = cli(['import-pcap', cap, '--config', privCfg, '--purpose', 'evidence', '--json']);
  assert.equal(priv.code, 0, priv.err);
  assert.deepEqual(JSON.parse(priv.out).calls.map((c: { keptAs: string | null; notKept?: string }) => [c.keptAs, c.notKept]), [[null, 'excluded'], [null, 'excluded']]);

  // Read what was kept: only now is the vault unlocked, by the test.
  await vault.unlock(PASS);
  const archive = new Archive({ dir: path.join(data, 'archive'), vault });
  await archive.open();
  assert.equal(archive.list().length, 2, 'the two calls of the first import, nothing from the private one');
  const sipTimes = tsharkSip(cap);
  for (const c of report.calls) {
    await t.test(`call ${c.callId}`, async () => {
      assert.deepEqual([c.caller, c.callerName, c.called, c.transport, c.answered, c.endReason], ['+31201234567', 'Alice Caller', '0612345678', 'udp', true, 'bye']);
      assert.deepEqual([c.digits.caller, c.digits.callee], ['1#', '5']);
      assert.deepEqual([c.directions.caller.codec, c.directions.callee.codec], ['PCMA', 'PCMA']);
      assert.equal(c.directions.callee.lost, 0);
      assert.equal(c.directions.callee.reordered, 0);
      const sipT = sipTimes.get(c.callId)!;
      assert.ok(Math.abs(c.durationMs - (sipT.bye - sipT.ok)) <= 100, `duration ${c.durationMs} vs tshark ${sipT.bye - sipT.ok}`);

      const h = archive.get(c.keptAs)!;
      assert.deepEqual([h.keptBy, h.purposes, h.line, h.channels], ['import', ['evidence'], 'trunk', 2]);
      const meta = await archive.meta(c.keptAs);
      assert.deepEqual([meta.caller, meta.called, meta.digits, meta.callId], ['+31201234567', '0612345678', '51#', c.callId]);
      const parts: Buffer[] = [];
      for await (const ch of archive.readPcm(c.keptAs)) parts.push(ch.pcm);
      const raw = Buffer.concat(parts);
      const pcm = new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2);
      const wav = path.join(dir, `${c.keptAs}.wav`);
      fs.writeFileSync(wav, encodeWav(pcm, 2, 8000));
      const soxi = (flag: string) => execFileSync('soxi', [flag, wav], { encoding: 'utf8' }).trim();
      assert.deepEqual([soxi('-c'), soxi('-r'), soxi('-e')], ['2', '8000', 'Signed Integer PCM']);
      assert.ok(Math.abs(Number(soxi('-D')) * 1000 - (sipT.bye - sipT.ok)) <= 100, `WAV lasts ${soxi('-D')} s`);

      // Each direction's samples equal tshark's payload bytes decoded by sox, in one unbroken run.
      for (const [ch, dport, who] of [[0, run.uasMedia, 'caller'], [1, run.uacMedia, 'callee']] as const) {
        const oracle = tsharkSoxDecode(cap, dport, dir, c.callId);
        // Both calls play the same g711a.pcap (236 packets of 240 samples), so tshark sees it twice on the port.
        const perCall = 236 * 240;
        assert.equal(oracle.pcm.length, 2 * perCall);
        const expect = oracle.pcm.subarray(0, perCall);
        const s = findRun(pcm, ch, expect);
        assert.ok(s !== undefined, `${who}'s audio found in channel ${ch}`);
        // The first packet may start a few ms before the 200 OK; what fell before the answer is not recorded.
        assert.ok(s > -240, `${who}'s audio starts at ${s}`);
        for (let i = Math.max(0, -s); i < expect.length; i++) if (pcm[(s + i) * 2 + ch] !== expect[i]) assert.fail(`${who} sample ${i} differs`);
        assert.equal(c.directions[who].packets - (who === 'caller' ? 16 : 8), 236, 'packets: the audio plus the event packets');
      }
      assert.deepEqual(await archive.verify(c.keptAs), { ok: true });
    });
  }
  vault.lock();
});

test('PcapSource: tcpdump on loopback turns a sipp call into line events; a bad interface is a fault, retried', async (t) => {
  const dir = tmpDir(t);
  const log = pino({ level: 'silent' });
  let src: PcapSource | undefined;
  const events: string[] = [];
  let audioFrames = 0;
  let startAt = 0;
  let endAt = 0;
  let digits = '';
  await sippCalls(dir, 1, async (r) => {
    src = new PcapSource({
      lines: [{ id: 'trunk', channels: 2, match: [] }], interface: 'lo', rtpTimeoutMs: 5000, log,
      filter: `udp and (port ${r.sipPort} or port ${r.uasMedia} or port ${r.uacMedia})`,
    });
    src.on('call-start', (e) => { events.push(`start ${e.line} ${e.parties.caller} ${e.parties.called} ${e.parties.direction}`); startAt = e.at; });
    src.on('call-audio', (e) => { audioFrames += e.block.pcm.length / 2; assert.equal(e.block.channels, 2); });
    src.on('call-info', (e) => { digits = e.parties.digits ?? digits; });
    src.on('call-end', (e) => { events.push(`end ${e.reason}`); endAt = e.at; });
    src.on('fault', (e) => events.push(`fault ${e.message}`));
    await src.start();
    await new Promise((res) => setTimeout(res, 1500));
  });
  for (let i = 0; i < 50 && !events.some((e) => e.startsWith('end')); i++) await new Promise((res) => setTimeout(res, 100));
  await src!.stop();
  assert.deepEqual(events, ['start trunk +31201234567 0612345678 in', 'end bye']);
  assert.equal([...digits].sort().join(''), '#15');
  assert.ok(Math.abs(audioFrames / 8 - (endAt - startAt)) <= 100, `${audioFrames / 8} ms of audio for a ${endAt - startAt} ms call`);

  const faults: string[] = [];
  const bad = new PcapSource({ lines: [{ id: 'trunk', channels: 2 }], interface: 'rvnosuch0', filter: 'udp', rtpTimeoutMs: 5000, log, backoffMs: 100, maxBackoffMs: 200 });
  bad.on('fault', (e) => faults.push(`${e.line} ${e.code} ${e.message}`));
  await bad.start();
  for (let i = 0; i < 100 && faults.length < 2; i++) await new Promise((res) => setTimeout(res, 50));
  await bad.stop();
  assert.ok(faults.length >= 2, 'restarted after the first failure');
  assert.match(faults[0]!, /^trunk RV_ERR_PCAP_CAPTURE tcpdump on rvnosuch0 stopped \(exit 1: rvnosuch0: No such device exists\).*Retrying in 0\.1 s/);
});

test('appliance with a pcap line on loopback keeps a sipp call by rule (keep: all), end to end', async (t) => {
  const { startAppliance } = await import('./helpers/appliance.ts');
  const dir = tmpDir(t);
  const data = path.join(dir, 'data');
  const vault = new Vault(path.join(data, 'vault'));
  await vault.init('admin', PASS);
  vault.lock();
  const cfgFile = path.join(dir, 'config.json');
  let app: Awaited<ReturnType<typeof startAppliance>> | undefined;
  t.after(() => app?.stop());
  await sippCalls(dir, 1, async (r) => {
    fs.writeFileSync(cfgFile, JSON.stringify({
      pcap: { interface: 'lo', filter: `udp and (port ${r.sipPort} or port ${r.uasMedia} or port ${r.uacMedia})`, rtpTimeoutSec: 5 },
      lines: [{ id: 'trunk', name: 'SIP trunk', source: 'pcap', channels: 2, keep: 'all', announced: ['legal-obligation'], keepPurposes: ['legal-obligation'] }],
    }));
    app = await startAppliance(data, ['--config', cfgFile]);
    await new Promise((res) => setTimeout(res, 1500));
  });
  const finals = () => fs.existsSync(path.join(data, 'archive')) ? (fs.readdirSync(path.join(data, 'archive'), { recursive: true }) as string[]).filter((f) => /\d{8}T\d{6}-[0-9a-f]+\.json$/.test(f) && !f.endsWith('.open.json')) : [];
  for (let i = 0; i < 100 && finals().length === 0; i++) await new Promise((res) => setTimeout(res, 100));
  await app!.stop();
  assert.equal(finals().length, 1, `one kept call; appliance log:\n${app!.stderr()}`);
  await vault.unlock(PASS);
  const archive = new Archive({ dir: path.join(data, 'archive'), vault });
  await archive.open();
  const [h] = archive.list();
  assert.deepEqual([h!.line, h!.keptBy, h!.purposes, h!.channels], ['trunk', 'all', ['legal-obligation'], 2]);
  assert.ok(Math.abs(h!.durationMs - 8100) < 400, `kept ${h!.durationMs} ms of a call of about 8.1 s`);
  const meta = await archive.meta(h!.id);
  assert.deepEqual([meta.caller, meta.called], ['+31201234567', '0612345678']);
  // the line does not keep digits (the default): how many were keyed is sealed, not which
  assert.equal(meta.digits, undefined);
  assert.equal((meta.keyed as { count: number }).count, 3);
  vault.lock();
});

test('passive: a call over IPv6 whose SDP writes the address uncompressed in capitals', async () => {
  const { ipv6 } = await import('../src/pcap/writer.ts');
  const A = '2001:db8::a';
  const B = '2001:db8::b';
  const sdp6 = (written: string, port: number) => ['v=0', `o=- 1 1 IN IP6 ${written}`, 's=-', `c=IN IP6 ${written}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, ''].join('\r\n');
  const recs: CapRecord[] = [];
  const put = (ts: number, src: string, dst: string, sp: number, dp: number, payload: Buffer) => recs.push({ ts, data: frame(LINKTYPE.ETHERNET, ipv6(src, dst, 17, udp(sp, dp, payload))) });
  const h = { callId: 'v6@pbx', from: '<sip:+31301112222@[2001:db8::a]>;tag=6a', to: '<sip:+31303334444@[2001:db8::b]>' };
  put(T0, A, B, 5060, 5060, sip('INVITE sip:+31303334444@[2001:db8::b] SIP/2.0', { ...h, cseq: '1 INVITE', body: sdp6('2001:DB8:0:0:0:0:0:A', 30000) }));
  put(T0 + 100, B, A, 5060, 5060, sip('SIP/2.0 200 OK', { ...h, to: `${h.to};tag=6b`, cseq: '1 INVITE', body: sdp6('2001:0db8::000b', 40000) }));
  for (let k = 0; k < 50; k++) {
    put(T0 + 120 + k * 20, A, B, 30000, 40000, buildRtp({ pt: 0, seq: k, ts: k * 160, ssrc: 1, payload: Buffer.alloc(160, 0x7f) }));
    put(T0 + 121 + k * 20, B, A, 40000, 30000, buildRtp({ pt: 0, seq: k, ts: k * 160, ssrc: 2, payload: Buffer.alloc(160, 0x7f) }));
  }
  put(T0 + 1200, A, B, 5060, 5060, sip('BYE sip:+31303334444@[2001:db8::b] SIP/2.0', { ...h, to: `${h.to};tag=6b`, cseq: '2 BYE' }));
  const { calls } = follow(pcapFile(LINKTYPE.ETHERNET, recs));
  assert.deepEqual(calls.map((c) => [c.caller, c.called, c.endReason, c.rtp[0]?.packets, c.rtp[1]?.packets, c.rtp[0]?.codec]), [['+31301112222', '+31303334444', 'bye', 50, 50, 'PCMU']]);
});
