// Issue 10 item 2, played against the real appliance (src/main.ts with a config file): one SIP packet must
// not silence a recording line. The SBC is 127.0.0.1 (siprec.allowFrom); the stranger is 127.0.0.2.
// The stranger is refused outright (UDP 403, TCP closed at accept). An attacker who spoofs the SBC's address
// over UDP cannot see the 2xx, so cannot ACK: Timer H frees the line. An SRC that ACKs a session whose
// streams are all inactive and then goes silent is asked with OPTIONS and ended when it does not answer.
// After each attack a real sipp call from the SBC is recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setUpBox, startAppliance, ROOT, type Client } from './helpers/appliance.ts';
import { until } from './helpers/until.ts';
import { parseSip, serializeSip, type SipMessage } from '../src/sip/message.ts';

const run = promisify(execFile);
const SBC = '127.0.0.1';
const STRANGER = '127.0.0.2';

const sdp = (dir: string) => `v=0\r\no=- 1 1 IN IP4 ${SBC}\r\ns=-\r\nc=IN IP4 ${SBC}\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8\r\na=label:1\r\na=${dir}\r\nm=audio 7002 RTP/AVP 8\r\na=label:2\r\na=${dir}\r\n`;

/** A bare UDP SIP endpoint that records what the box sends it and answers nothing on its own. */
class UdpPeer {
  readonly got: SipMessage[] = [];
  constructor(readonly sock: UdpSocket, private readonly box: number) {
    sock.on('message', (b) => { try { this.got.push(parseSip(b)); } catch { /* not SIP */ } });
  }
  static async open(address: string, box: number): Promise<UdpPeer> {
    const s = createSocket('udp4');
    s.bind(0, address);
    await once(s, 'listening');
    return new UdpPeer(s, box);
  }
  get port(): number { return this.sock.address().port; }
  send(m: Parameters<typeof serializeSip>[0]): void { this.sock.send(serializeSip(m), this.box, SBC); }
  invite(callId: string, dir: string): void {
    const a = this.sock.address().address;
    this.send({
      kind: 'request', method: 'INVITE', uri: `sip:srs@${SBC}:${this.box}`,
      headers: [['Via', `SIP/2.0/UDP ${a}:${this.port};branch=z9hG4bK${callId}`], ['From', `<sip:src@${a}>;tag=${callId}-t`], ['To', `<sip:srs@${SBC}>`], ['Call-ID', callId], ['CSeq', '1 INVITE'],
        ['Contact', `<sip:src@${a}:${this.port}>`], ['Max-Forwards', '70'], ['Content-Type', 'application/sdp']],
      body: sdp(dir),
    });
  }
  close(): void { try { this.sock.close(); } catch { /* closed */ } }
}

test('attack: un-ACKed and inactive INVITEs, and 300 idle TCP connections, do not keep the SBC\'s calls from being recorded', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-sip-'));
  const rtpMin = 2 * Math.floor((21000 + Math.random() * 18000) / 2);
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({
    http: { host: '127.0.0.1', port: 0 }, board: { driver: 'none' },
    // T1 = 50 ms makes Timer H 3.2 s instead of 32 s (RFC 3261 lets T1 be set); the rest of the timers follow it.
    siprec: { host: SBC, port: 0, rtpPortMin: rtpMin, rtpPortMax: rtpMin + 199, allowFrom: [SBC], timerT1Ms: 50, pausedProbeSec: 1, tcpIdleSec: 1, tcpPerAddress: 8 },
    lines: [{ id: 'sip1', name: 'SIP 1', source: 'siprec', channels: 2, keep: 'all', announced: ['evidence'], keepPurposes: ['evidence'] }],
  }));
  const box = await startAppliance(join(dir, 'data'), ['--config', config], { env: { RINGVAULT_LOG: 'info', RINGVAULT_CLOCK: 'synced' } });
  const peers: UdpPeer[] = [];
  const sockets: Socket[] = [];
  const children = new Set<ReturnType<typeof spawn>>();
  t.after(async () => {
    for (const p of peers) p.close();
    for (const s of sockets) s.destroy();
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await box.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const sipPort = await until(() => Number(/"port":(\d+)[^\n]*SIPREC recording server listening/.exec(box.stderr())?.[1]) || undefined, 'the SIP port in the log');
  const admin = await setUpBox(box.url, 'admin', 'correct horse battery staple');

  let sippPort = 2 * Math.floor((41000 + Math.random() * 16000) / 2);
  const call = async (caller: string, transport: 'u1' | 't1'): Promise<void> => {
    sippPort += 8;
    const cwd = await mkdtemp(join(dir, 'sipp-'));
    await writeFile(join(cwd, 'calls.csv'), `SEQUENTIAL\n${caller};+31309876543\n`);
    const child = spawn('sipp', ['-sf', join(ROOT, 'test/fixtures/sipp/siprec-call.xml'), '-t', transport, '-i', SBC, '-p', String(sippPort), '-mp', String(sippPort + 1000), '-nostdin',
      '-timeout', '60s', '-timeout_error', '-trace_err', '-error_file', join(cwd, 'errors.log'), '-inf', join(cwd, 'calls.csv'), '-m', '1', '-d', '300', `${SBC}:${sipPort}`], { cwd, stdio: 'ignore' });
    children.add(child);
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0, `sipp ${transport} call from the SBC: ${await readFile(join(cwd, 'errors.log'), 'utf8').catch(() => '')}`);
  };
  /** The kept call of `caller`, with its audio checked by sox: several seconds, not silence. */
  const recorded = async (c: Client, caller: string): Promise<void> => {
    const kept = await c.until(async () => (await c.json('GET', '/api/calls')).calls.find((x: any) => x.caller === caller && x.endedAt), `the kept call of ${caller}`, 30_000);
    const res = await c.request('GET', `/api/calls/${kept.id}/audio.wav`);
    assert.equal(res.status, 200);
    const wav = join(dir, `${kept.id}.wav`);
    await writeFile(wav, Buffer.from(await res.arrayBuffer()));
    const secs = Number((await run('soxi', ['-D', wav])).stdout);
    assert.ok(secs > 6, `${caller}: ${secs} s recorded`);
    const stat = await run('sox', [wav, '-n', 'trim', '1', '4', 'stat']);
    const rms = Number(/RMS\s+amplitude:\s+([\d.]+)/.exec(stat.stderr)?.[1]);
    assert.ok(rms > 0.01, `${caller}: the recording holds the call's audio (RMS ${rms})`);
  };
  const liveCall = async () => (await admin.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'sip1')?.call;

  // 1. The stranger's INVITEs, un-ACKed or inactive, are refused before they can take the line.
  const stranger = await UdpPeer.open(STRANGER, sipPort);
  peers.push(stranger);
  stranger.invite('stranger-noack', 'sendonly');
  stranger.invite('stranger-inactive', 'inactive');
  await until(() => stranger.got.filter((m) => m.status === 403).length === 2, 'two 403s to the stranger');
  assert.ok(!stranger.got.some((m) => m.status === 200), 'no INVITE of the stranger answered');

  // 2. An INVITE spoofed from the SBC's address is never ACKed (the spoofer never sees the 2xx):
  //    the box gives up at Timer H, sends BYE, records nothing and frees the line.
  const spoof = await UdpPeer.open(SBC, sipPort);
  peers.push(spoof);
  spoof.invite('spoof-noack', 'sendonly');
  await until(() => spoof.got.some((m) => m.status === 200), 'the 2xx to the un-ACKed INVITE');
  const bye = await until(() => spoof.got.find((m) => m.method === 'BYE'), 'the BYE that ends the un-ACKed session (Timer H)', 60_000);
  assert.equal(bye.get('Call-ID'), 'spoof-noack');
  assert.ok(spoof.got.filter((m) => m.status === 200).length >= 2, 'the 2xx was resent until Timer H');
  assert.equal(await liveCall(), undefined, 'an un-ACKed session never became a call');

  // 3. A session whose streams are all inactive, ACKed, then silent: the box asks with OPTIONS, gets no
  //    answer, and ends it.
  const idle = await UdpPeer.open(SBC, sipPort);
  peers.push(idle);
  idle.invite('inactive-1', 'inactive');
  const ok = await until(() => idle.got.find((m) => m.status === 200), 'the 2xx to the inactive INVITE');
  assert.match(ok.body.toString(), /a=inactive/);
  idle.send({ kind: 'request', method: 'ACK', uri: `sip:srs@${SBC}:${sipPort}`, headers: [['Via', `SIP/2.0/UDP ${SBC}:${idle.port};branch=z9hG4bKack1`], ['From', ok.get('From')!], ['To', ok.get('To')!], ['Call-ID', 'inactive-1'], ['CSeq', '1 ACK'], ['Max-Forwards', '70']] });
  await until(() => liveCall(), 'the inactive session on the line');
  const probe = await until(() => idle.got.find((m) => m.method === 'OPTIONS'), 'the OPTIONS probe of the paused session', 30_000);
  assert.equal(probe.get('Call-ID'), 'inactive-1', 'the probe is in the session\'s dialog');
  await until(() => idle.got.find((m) => m.method === 'BYE'), 'the BYE after the unanswered probe', 60_000);
  await until(async () => !(await liveCall()), 'the line free again');

  // A real call from the SBC is recorded.
  await call('+31201110001', 'u1');
  await recorded(admin, '+31201110001');

  // 4. 300 TCP connections from the stranger are closed at accept; connections from the SBC beyond the
  //    per-address limit are closed at once, the rest when idle.
  const openTcp = async (local: string, n: number): Promise<Array<{ sock: Socket; closed: boolean; got: number }>> => {
    const out: Array<{ sock: Socket; closed: boolean; got: number }> = [];
    for (let i = 0; i < n; i++) {
      const sock = connect({ host: SBC, port: sipPort, localAddress: local });
      const e = { sock, closed: false, got: 0 };
      // A request on every connection: answered (even with 403) only if the box read it instead of closing at accept.
      sock.on('connect', () => sock.write(serializeSip({ kind: 'request', method: 'OPTIONS', uri: `sip:srs@${SBC}`, headers: [['Via', `SIP/2.0/TCP ${local}:5060;branch=z9hG4bKo${i}`], ['From', `<sip:x@${local}>;tag=o${i}`], ['To', `<sip:srs@${SBC}>`], ['Call-ID', `o${i}-${local}`], ['CSeq', '1 OPTIONS'], ['Max-Forwards', '70']] })));
      sock.on('data', (d) => { e.got += d.length; });
      sock.on('error', () => { /* reset by the box */ });
      sock.on('close', () => { e.closed = true; });
      sockets.push(sock);
      out.push(e);
    }
    return out;
  };
  const flood = await openTcp(STRANGER, 300);
  await until(() => flood.every((c) => c.closed), 'all 300 of the stranger\'s connections closed', 60_000);
  assert.equal(flood.reduce((n, c) => n + c.got, 0), 0, 'the stranger\'s connections were closed at accept: not one byte answered');
  const own = await openTcp(SBC, 12);
  await until(() => own.filter((c) => c.closed).length >= 4, 'connections beyond the per-address limit of 8 closed');
  await until(() => own.every((c) => c.closed), 'idle connections closed after siprec.tcpIdleSec', 30_000);
  const flood2 = await openTcp(STRANGER, 300);
  await call('+31201110002', 't1');
  await recorded(admin, '+31201110002');
  await until(() => flood2.every((c) => c.closed), 'the second flood closed too', 60_000);
  assert.match(box.stderr(), /RV_ERR_SIP_FORBIDDEN/, 'refusals are logged with a code');
});
