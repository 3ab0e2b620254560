import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { ROOT } from './helpers/appliance.ts';
import { parseSip, serializeSip, SipStreamFramer, type SipMessage } from '../src/sip/message.ts';
import { parseSdpStreams } from '../src/sip/sdp.ts';
import { SiprecSource, type SiprecLine } from '../src/sources/siprec.ts';
import type { CallInfoEvent, CallStartEvent } from '../src/sources/source.ts';
import { silentLog } from '../src/log.ts';
import { buildRtp } from '../src/rtp/packet.ts';
import { alawDecode } from '../src/audio/g711.ts';

const FIX = join(ROOT, 'test/fixtures/siprec');

/** A SIP peer on UDP or TCP that collects every message the recorder sends it. */
const peers = new Set<Peer>();
test.afterEach(() => { for (const p of peers) p.close(); peers.clear(); });

class Peer {
  readonly got: SipMessage[] = [];
  private udp?: UdpSocket;
  private tcp?: Socket;
  private waiters: Array<() => void> = [];
  constructor(readonly proto: 'udp' | 'tcp', private readonly port: number) {}
  async open(): Promise<this> {
    peers.add(this);
    const take = (b: Buffer) => { this.got.push(parseSip(b)); for (const w of this.waiters.splice(0)) w(); };
    if (this.proto === 'udp') {
      this.udp = createSocket('udp4');
      this.udp.on('message', take);
      this.udp.bind(0, '127.0.0.1');
      await once(this.udp, 'listening');
    } else {
      this.tcp = connect(this.port, '127.0.0.1');
      await once(this.tcp, 'connect');
      const framer = new SipStreamFramer();
      this.tcp.on('data', (d) => { for (const m of framer.push(d)) take(m); });
    }
    return this;
  }
  send(b: Buffer | string): void {
    const buf = typeof b === 'string' ? Buffer.from(b) : b;
    if (this.udp) this.udp.send(buf, this.port, '127.0.0.1'); else this.tcp!.write(buf);
  }
  /** Waits for the first message after index `from` that matches. */
  async wait(pred: (m: SipMessage) => boolean, from = 0, ms = 5000): Promise<SipMessage> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this.got.slice(from).find(pred);
      if (m) return m;
      if (Date.now() > end) throw new Error(`no matching message; got ${this.got.map((x) => x.status ?? x.method).join(', ')}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }
  close(): void { try { this.udp?.close(); } catch { /* closed */ } this.tcp?.destroy(); }
}

async function source(t: { after(fn: () => Promise<void>): void }, lines: SiprecLine[], extra: { answerDelayMs?: number; maxSessions?: number; allowFrom?: string[] } = {}) {
  const base = 2 * Math.floor((42000 + Math.random() * 16000) / 2);
  const src = new SiprecSource({ lines, log: silentLog, server: { host: '127.0.0.1', port: 0, mediaAddr: '127.0.0.9', rtpPortMin: base, rtpPortMax: base + 99, rtpTimeoutMs: 60_000, maxSessions: extra.maxSessions ?? 16, answerDelayMs: extra.answerDelayMs ?? 0, ...(extra.allowFrom ? { allowFrom: extra.allowFrom } : {}) } });
  const starts: CallStartEvent[] = [];
  const infos: CallInfoEvent[] = [];
  src.on('call-start', (e) => starts.push(e));
  src.on('call-info', (e) => infos.push(e));
  await src.start();
  t.after(() => src.stop());
  return { src, port: src.server.port, base, starts, infos };
}

const req = (method: string, o: { callId: string; cseq: number; fromTag?: string; toTag?: string; extra?: string[]; body?: string; ct?: string; branch?: string }) => serializeSip({
  kind: 'request', method, uri: 'sip:srs@127.0.0.1',
  headers: [
    ['Via', `SIP/2.0/UDP 127.0.0.1:5999;branch=${o.branch ?? `z9hG4bK${method}${o.cseq}${o.callId}`}`], ['From', `<sip:src@127.0.0.1>;tag=${o.fromTag ?? 'src1'}`],
    ['To', `<sip:srs@127.0.0.1>${o.toTag ? `;tag=${o.toTag}` : ''}`], ['Call-ID', o.callId], ['CSeq', `${o.cseq} ${method}`], ['Max-Forwards', '70'],
    ...(o.extra ?? []).map((h): [string, string] => [h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1).trim()]),
    ...(o.body !== undefined ? [['Content-Type', o.ct ?? 'application/sdp'] as [string, string]] : []),
  ],
  ...(o.body !== undefined ? { body: o.body } : {}),
});
const SDP = (dir = 'sendonly', codecs = '8') => `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP ${codecs}\r\na=label:1\r\na=${dir}\r\nm=audio 7002 RTP/AVP ${codecs}\r\na=label:2\r\na=${dir}\r\n`;
const toTag = (m: SipMessage) => /;\s*tag=([^;\s]+)/.exec(m.get('To')!)![1]!;
/** The ACK for a 2xx to `invite` (a session becomes a call only with it). */
const ackFor = (invite: SipMessage, ok: SipMessage) => serializeSip({ kind: 'request', method: 'ACK', uri: 'sip:srs@127.0.0.1', headers: [['Via', `${invite.get('Via')!.split(';')[0]};branch=z9hG4bKack${invite.get('Call-ID')}`], ['From', invite.get('From')!], ['To', ok.get('To')!], ['Call-ID', invite.get('Call-ID')!], ['CSeq', `${invite.get('CSeq')!.split(/\s+/)[0]} ACK`], ['Max-Forwards', '70']] });
const until = async (what: string, fn: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!fn()) { if (Date.now() > end) throw new Error(`timed out waiting for ${what}`); await new Promise((r) => setTimeout(r, 20)); }
};

test('vendor INVITEs over their transports are answered with a recvonly SDP per stream; parties and channels as the metadata says', async (t) => {
  const { port, base, starts } = await source(t, [{ id: 'sip1', channels: 2 }]);
  const cases: Array<[string, 'udp' | 'tcp', string, string, Array<number | 'rejected'>]> = [
    ['acme-oracle.sip', 'udp', '+31201234567', '0612345678', [8, 8]],
    ['cisco-cube.sip', 'tcp', '0201234567', '+31301112233', [0, 0]],
    ['broadworks.sip', 'tcp', '+31207654321', '+31201112222', [8, 8]],
    ['ribbon-sonus.sip', 'udp', '0031104445566', '0031208889900', [8, 8]],
    // the G.729 stream is accepted even where G.729 is not decoded: it is then kept sealed and marked, never refused
    ['avaya-sbce.sip', 'tcp', '+31624895902', '4021', [0, 18, 0]],
    ['audiocodes.sip', 'udp', '+31853030000', '0107778899', [8, 8]],
  ];
  for (const [file, proto, caller, called, pts] of cases) {
    const peer = await new Peer(proto, port).open();
    const invite = parseSip(readFileSync(join(FIX, file)));
    peer.send(readFileSync(join(FIX, file)));
    assert.equal((await peer.wait((m) => m.status === 100)).get('Call-ID'), invite.get('Call-ID'));
    const ok = await peer.wait((m) => m.status === 200);
    assert.deepEqual(ok.getAll('Via'), invite.getAll('Via'), `${file}: every Via copied back in order`);
    assert.match(ok.get('Contact')!, proto === 'tcp' ? /;transport=tcp>/ : /^<sip:srs@127\.0\.0\.9:\d+>$/);
    const ans = parseSdpStreams(ok.body);
    assert.equal(ans.sessionAddr, '127.0.0.9', 'the configured media address');
    const offer = parseSdpStreams(/v=0[\s\S]*?(?=\r?\n--)/.exec(invite.body.toString())![0]);
    assert.equal(ans.streams.length, offer.streams.length, `${file}: one answer m-line per offered one`);
    ans.streams.forEach((s, i) => {
      assert.equal(s.label, offer.streams[i]!.label);
      if (pts[i] === 'rejected') { assert.equal(s.port, 0, `${file}: a G.729-only stream is refused`); return; }
      assert.ok(s.port >= base && s.port < base + 100, `${file}: port ${s.port} in range`);
      assert.equal(s.direction, 'recvonly');
      assert.equal(s.payloads[0]!.pt, pts[i]);
    });
    const before = starts.length;
    peer.send(ackFor(invite, ok));
    await until('the call to start with the ACK', () => starts.length === before + 1);
    const start = starts.at(-1)!;
    assert.equal(start.parties.caller, caller, file);
    assert.equal(start.parties.called, called, file);
    assert.equal(start.channels, 2);
    assert.ok(start.parties.siprecMetadata?.[0]?.includes('participant'), `${file}: metadata XML travels with the call`);
    const tag = toTag(ok);
    peer.send(serializeSip({ kind: 'request', method: 'BYE', uri: 'sip:srs@127.0.0.1', headers: [['Via', `${invite.get('Via')!.split(';')[0]};branch=z9hG4bKbye`], ['From', invite.get('From')!], ['To', `${invite.get('To')!};tag=${tag}`], ['Call-ID', invite.get('Call-ID')!], ['CSeq', '999 BYE']] }));
    await peer.wait((m) => m.status === 200 && /BYE/.test(m.get('CSeq')!));
    peer.close();
  }
  assert.equal(starts.length, cases.length);
});

test('refusals: malformed 400, unknown method 405, unknown Require 420, no audio 488, no offer 488, unknown dialog 481, all lines busy 486', async (t) => {
  const { src, port } = await source(t, [{ id: 'sip1', channels: 2 }]);
  const peer = await new Peer('udp', port).open();
  const expect = async (buf: Buffer | string, status: number, check?: (m: SipMessage) => void) => {
    const n = peer.got.length;
    peer.send(buf);
    const m = await peer.wait((x) => (x.status ?? 0) >= 200, n);
    assert.equal(m.status, status, `${String(buf).split('\r\n')[0]} → ${m.status} ${m.reason}`);
    check?.(m);
  };
  await expect('INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKm1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:srs@c>\r\nCall-ID: bad1\r\nCSeq: 1 INVITE\r\nContent-Length: 900\r\n\r\nv=0\r\n', 400, (m) => assert.match(m.reason!, /Content-Length says 900/));
  await expect(req('REGISTER', { callId: 'r1', cseq: 1 }), 405, (m) => assert.match(m.get('Allow')!, /INVITE/));
  await expect(req('INVITE', { callId: 'x1', cseq: 1, extra: ['Require: siprec, 100rel'], body: SDP() }), 420, (m) => assert.equal(m.get('Unsupported'), '100rel'));
  const videoOnly = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 7000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=sendonly\r\n';
  await expect(req('INVITE', { callId: 'x2', cseq: 1, body: videoOnly }), 488, (m) => assert.match(m.get('Warning')!, /no audio stream/));
  await expect(req('INVITE', { callId: 'x3', cseq: 1 }), 488);
  await expect(req('INVITE', { callId: 'x4', cseq: 1, body: 'hello', ct: 'text/plain' }), 415);
  await expect(req('INVITE', { callId: 'x5', cseq: 1, body: 'v=0\r\nnonsense' }), 488);
  await expect(req('BYE', { callId: 'nope', cseq: 2, toTag: 'zz' }), 481);
  await expect(req('INFO', { callId: 'nope', cseq: 2, toTag: 'zz' }), 481);
  await expect(req('OPTIONS', { callId: 'o1', cseq: 1 }), 200, (m) => assert.match(m.get('Accept')!, /rs-metadata/));
  // One line: the second call at once is refused, and the first is unharmed.
  await expect(req('INVITE', { callId: 'c1', cseq: 1, body: SDP() }), 200);
  await expect(req('INVITE', { callId: 'c2', cseq: 1, fromTag: 'other', body: SDP() }), 486);
  assert.equal(src.server.liveSessions.length, 1);
  assert.equal(src.server.rtpPortsInUse, 2);
});

test('UDP: the 200 is resent until the ACK; a retransmitted INVITE gets the same answer and no second call', async (t) => {
  const { src, port, starts } = await source(t, [{ id: 'sip1', channels: 2 }, { id: 'sip2', channels: 2 }]);
  const peer = await new Peer('udp', port).open();
  const invite = req('INVITE', { callId: 'rt1', cseq: 1, body: SDP() });
  peer.send(invite);
  const first = await peer.wait((m) => m.status === 200);
  const again = await peer.wait((m) => m.status === 200, peer.got.indexOf(first) + 1, 3000);
  assert.equal(again.body.toString(), first.body.toString(), 'the same 200, resent');
  peer.send(invite);
  const n = peer.got.length;
  await peer.wait((m) => m.status === 200, n);
  assert.equal(starts.length, 0, 'no call before the ACK');
  assert.equal(src.server.liveSessions.length, 1);
  peer.send(req('ACK', { callId: 'rt1', cseq: 1, toTag: toTag(first) }));
  await until('the call to start with the ACK', () => starts.length === 1);
  await new Promise((r) => setTimeout(r, 200));
  const afterAck = peer.got.length;
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(peer.got.length, afterAck, 'no more 200s after the ACK');
});

test('re-INVITE and UPDATE: hold answered inactive, metadata sent later updates the parties, sessions map to lines by match numbers', async (t) => {
  const { src, port, starts, infos } = await source(t, [{ id: 'any', channels: 2 }, { id: 'sales', channels: 1, match: ['+31851234567'] }]);
  const peer = await new Peer('udp', port).open();
  // From/To name the sales number: the session goes to the "sales" line, as an outgoing call.
  peer.send(serializeSip({ kind: 'request', method: 'INVITE', uri: 'sip:srs@127.0.0.1', headers: [['Via', 'SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKu1'], ['From', '<sip:+31851234567@pbx>;tag=u1'], ['To', '<tel:0612345678>'], ['Call-ID', 'upd1'], ['CSeq', '1 INVITE'], ['Content-Type', 'application/sdp']], body: SDP() }));
  const ok = await peer.wait((m) => m.status === 200);
  const tag = toTag(ok);
  peer.send(req('ACK', { callId: 'upd1', cseq: 1, fromTag: 'u1', toTag: tag }));
  await until('the call to start with the ACK', () => starts.length === 1);
  assert.equal(starts[0]!.line, 'sales');
  assert.equal(starts[0]!.channels, 1);
  assert.deepEqual({ caller: starts[0]!.parties.caller, called: starts[0]!.parties.called, direction: starts[0]!.parties.direction }, { caller: '+31851234567', called: '0612345678', direction: 'out' });
  const inDialog = (method: string, cseq: number, body: string, ct = 'application/sdp') => serializeSip({ kind: 'request', method, uri: 'sip:srs@127.0.0.1', headers: [['Via', `SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKu${cseq}`], ['From', '<sip:+31851234567@pbx>;tag=u1'], ['To', `<tel:0612345678>;tag=${tag}`], ['Call-ID', 'upd1'], ['CSeq', `${cseq} ${method}`], ['Content-Type', ct]], body });
  let n = peer.got.length;
  peer.send(inDialog('INVITE', 2, SDP('inactive')));
  const held = await peer.wait((m) => m.status === 200, n);
  const hs = parseSdpStreams(held.body);
  assert.deepEqual(hs.streams.map((s) => s.direction), ['inactive', 'inactive']);
  assert.deepEqual(hs.streams.map((s) => s.port), parseSdpStreams(ok.body).streams.map((s) => s.port), 'the same ports through the hold');
  assert.ok(hs.origin!.version > parseSdpStreams(ok.body).origin!.version, 'the SDP version goes up');
  peer.send(req('ACK', { callId: 'upd1', cseq: 2, fromTag: 'u1', toTag: tag }));
  const xml = '<recording xmlns="urn:ietf:params:xml:ns:recording:1"><participant participant_id="a"><nameID aor="sip:+31851234567@pbx"/></participant><participant participant_id="b"><nameID aor="tel:+31 6 9999 0000"/></participant></recording>';
  n = peer.got.length;
  peer.send(inDialog('UPDATE', 3, `--b\r\nContent-Type: application/sdp\r\n\r\n${SDP()}\r\n--b\r\nContent-Type: application/rs-metadata+xml\r\n\r\n${xml}\r\n--b--\r\n`, 'multipart/mixed;boundary=b'));
  const upd = await peer.wait((m) => m.status === 200, n);
  assert.deepEqual(parseSdpStreams(upd.body).streams.map((s) => s.direction), ['recvonly', 'recvonly']);
  const info = infos.find((i) => i.parties.called);
  assert.equal(info?.parties.called, '+31699990000', 'the callee named by the later metadata');
  assert.equal(info?.parties.siprecMetadata?.length, 1);
  assert.equal(src.server.liveSessions.length, 1);
});

test('CANCEL while ringing: 200 to the CANCEL, 487 to the INVITE; a late retransmission gets the 487 again', async (t) => {
  const { src, port, starts } = await source(t, [{ id: 'sip1', channels: 2 }], { answerDelayMs: 2000 });
  const peer = await new Peer('udp', port).open();
  const invite = req('INVITE', { callId: 'cx1', cseq: 1, body: SDP(), branch: 'z9hG4bKcx1' });
  peer.send(invite);
  await peer.wait((m) => m.status === 180);
  peer.send(req('CANCEL', { callId: 'cx1', cseq: 1, branch: 'z9hG4bKcx1' }));
  await peer.wait((m) => m.status === 200 && /CANCEL/.test(m.get('CSeq')!));
  await peer.wait((m) => m.status === 487);
  assert.equal(src.server.rtpPortsInUse, 0);
  const n = peer.got.length;
  peer.send(invite);
  assert.equal((await peer.wait((m) => (m.status ?? 0) >= 200, n)).status, 487);
  await new Promise((r) => setTimeout(r, 2300));
  assert.equal(starts.length, 0, 'a cancelled session never starts a call');
});

test('allowFrom: SIP from other addresses is refused with 403 and starts nothing', async (t) => {
  for (const [allow, want] of [[['10.0.0.0/8', '192.0.2.7'], 403], [['127.0.0.0/8'], 200], [['127.0.0.1'], 200], [['127.0.0.2'], 403]] as const) {
    const { src, port, starts } = await source(t, [{ id: 'sip1', channels: 2 }], { allowFrom: [...allow] });
    const peer = await new Peer('udp', port).open();
    peer.send(req('INVITE', { callId: `al-${want}`, cseq: 1, body: SDP() }));
    const m = await peer.wait((x) => (x.status ?? 0) >= 200);
    assert.equal(m.status, want, allow.join());
    peer.send(req('ACK', { callId: `al-${want}`, cseq: 1, toTag: toTag(m) }));
    if (want === 200) await until('the call to start with the ACK', () => starts.length === 1);
    else await new Promise((r) => setTimeout(r, 200));
    assert.equal(starts.length, want === 200 ? 1 : 0);
    await src.stop();
  }
});

test('a mono SIPREC line mixes both directions; garbage on the RTP port is ignored', async (t) => {
  const { src, port } = await source(t, [{ id: 'mono', channels: 1 }]);
  const audio: Int16Array[] = [];
  let channels = 0;
  src.on('call-audio', (e) => { audio.push(e.block.pcm); channels = e.block.channels; });
  const ended = once(src, 'call-end');
  const peer = await new Peer('udp', port).open();
  peer.send(req('INVITE', { callId: 'mono1', cseq: 1, body: SDP() }));
  const ok = await peer.wait((m) => m.status === 200);
  peer.send(req('ACK', { callId: 'mono1', cseq: 1, toTag: toTag(ok) }));
  const ports = parseSdpStreams(ok.body).streams.map((s) => s.port);
  const rtp = createSocket('udp4');
  t.after(() => rtp.close());
  // Caller and callee send two different constant A-law values; the mix and each one alone are all distinct and not silence.
  const [a, b] = [alawDecode(new Uint8Array([0xaa]))[0]!, alawDecode(new Uint8Array([0x80]))[0]!];
  assert.equal(new Set([0, (a + b) >> 1, a >> 1, b >> 1]).size, 4);
  for (let i = 0; i < 25; i++) {
    rtp.send(buildRtp({ pt: 8, seq: 100 + i, ts: 160 * i, ssrc: 11, payload: new Uint8Array(160).fill(0xaa) }), ports[0]!, '127.0.0.1');
    if (i < 15) rtp.send(buildRtp({ pt: 8, seq: 500 + i, ts: 8000 + 160 * i, ssrc: 22, payload: new Uint8Array(160).fill(0x80) }), ports[1]!, '127.0.0.1');
    if (i === 3) rtp.send(Buffer.from('not rtp at all'), ports[0]!, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 300));
  peer.send(req('BYE', { callId: 'mono1', cseq: 2, toTag: toTag(ok) }));
  await ended;
  assert.equal(channels, 1);
  const all = Int16Array.from(audio.flatMap((x) => [...x]));
  const count = (v: number) => all.reduce((n, x) => n + (x === v ? 1 : 0), 0);
  assert.ok(Math.abs(all.length - 25 * 160) <= 160 * 3, `${all.length} samples for 25 packets of 20 ms`);
  assert.ok(count((a + b) >> 1) >= 12 * 160, 'while both speak, the mix of the two');
  assert.ok(count(a >> 1) >= 8 * 160, 'the caller alone, at half level in the mono mix');
  assert.equal(count(b >> 1) <= 2 * 160, true, 'the callee never alone beyond the edges');
});
