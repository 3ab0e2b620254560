// Real encoders through the SIPREC recorder of a running box: ffmpeg's Opus and G.722 RTP and bcg729's G.729 sent
// to the ports a SIPREC INVITE got, kept by rule, and played back through the web API: the WAV says 16 kHz for the
// wideband calls and its samples match the reference decode of the same bits. A re-INVITE then switches codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { createWriteStream } from 'node:fs';
import { writeBundle } from '../src/export/bundle.ts';
import { readWav } from '../src/audio/wav.ts';
import { buildRtp, type RtpPacket } from '../src/rtp/packet.ts';
import { parseSip, type SipMessage } from '../src/sip/message.ts';
import { parseSdpStreams } from '../src/sip/sdp.ts';
import { keptCalls, siprecHarness, type SiprecHarness } from './helpers/siprec-harness.ts';
import { until } from './helpers/until.ts';
import { SPEECH, alignedCorrelation, g722Stream, g729Stream, opusStream, type EncodedStream } from './helpers/codec-streams.ts';

interface Offer { pts: string; lines: string[]; clock: number }

const sdp = (o: Offer, version = 1) => ['v=0', `o=- 7 ${version} IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  ...[1, 2].flatMap((label) => [`m=audio ${7000 + 2 * label} RTP/AVP ${o.pts}`, ...o.lines, `a=label:${label}`, 'a=sendonly']), ''].join('\r\n');

/** A SIPREC client on UDP: INVITE (or re-INVITE) with one SDP, BYE; collects what the recorder answers. */
class Src {
  readonly got: SipMessage[] = [];
  private sock!: Socket;
  private toTag = '';
  constructor(private readonly h: SiprecHarness, readonly callId: string) {}
  async open(): Promise<this> {
    this.sock = createSocket('udp4');
    this.sock.on('message', (b) => this.got.push(parseSip(b)));
    this.sock.bind(0, '127.0.0.1');
    await once(this.sock, 'listening');
    return this;
  }
  private send(method: string, cseq: number, body?: string): void {
    const port = this.sock.address().port;
    const lines = [`${method} sip:srs@127.0.0.1 SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${method}${cseq}${this.callId}`,
      'From: <sip:src@127.0.0.1>;tag=src1', `To: <sip:srs@127.0.0.1>${this.toTag ? `;tag=${this.toTag}` : ''}`, `Call-ID: ${this.callId}`, `CSeq: ${cseq} ${method}`,
      `Contact: <sip:src@127.0.0.1:${port}>`, 'Max-Forwards: 70', ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body ?? '')}`, '', body ?? ''];
    this.sock.send(Buffer.from(lines.join('\r\n')), this.h.sipPort, '127.0.0.1');
  }
  /** Sends an INVITE, waits for its 200, ACKs it; returns the RTP ports of the answer. */
  async invite(cseq: number, body: string): Promise<number[]> {
    this.send('INVITE', cseq, body);
    const ok = await until(() => this.got.find((m) => m.status === 200 && m.get('CSeq') === `${cseq} INVITE`), `200 to INVITE ${cseq}`);
    this.toTag = /;\s*tag=([^;\s]+)/.exec(ok.get('To')!)![1]!;
    this.send('ACK', cseq);
    return parseSdpStreams(ok.body).streams.map((s) => s.port);
  }
  async bye(cseq: number): Promise<void> {
    this.send('BYE', cseq);
    await until(() => this.got.find((m) => m.status === 200 && m.get('CSeq') === `${cseq} BYE`), 'BYE answered');
  }
  /** Sends the packets to `port`, each when its RTP timestamp says (the pace a real sender keeps). */
  async play(port: number, packets: RtpPacket[], clock: number): Promise<void> {
    const t0 = Date.now();
    const ts0 = packets[0]!.ts;
    for (const p of packets) {
      const due = t0 + (((p.ts - ts0) >>> 0) * 1000) / clock;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.sock.send(buildRtp(p), port, '127.0.0.1');
    }
  }
  close(): void { this.sock.close(); }
}

async function keptWav(h: SiprecHarness, line: string): Promise<{ sampleRate: number; left: Int16Array }> {
  const calls = await keptCalls(h, 1);
  const c = calls.find((x: { line: string }) => x.line === line);
  assert.ok(c, `a kept call on ${line}`);
  const res = await h.get(`/api/calls/${c.id}/audio.wav`);
  assert.equal(res.status, 200);
  const w = readWav(res.raw);
  const left = new Int16Array(w.pcm.length / 2);
  for (let i = 0; i < left.length; i++) left[i] = w.pcm[2 * i]!;
  return { sampleRate: w.sampleRate, left };
}

test('SIPREC: real Opus, G.722 and G.729 calls at once are kept at 16 / 16 / 8 kHz and match the reference decode', async (t) => {
  const h = await siprecHarness(t, { lines: 3 });
  const dir = h.dir;
  const w16 = path.join(dir, 'speech16.wav');
  const w8 = path.join(SPEECH, 'en-1.wav');
  execFileSync('sox', [w8, '-r', '16000', w16]);
  const cases: Array<{ name: string; offer: Offer; rate: number; s: EncodedStream }> = [
    { name: 'Opus', offer: { pts: '111 0 101', lines: ['a=rtpmap:111 opus/48000/2', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/48000'], clock: 48000 }, rate: 16000, s: await opusStream(dir, w16) },
    { name: 'G.722', offer: { pts: '9 8', lines: ['a=rtpmap:9 G722/8000', 'a=rtpmap:8 PCMA/8000'], clock: 8000 }, rate: 16000, s: await g722Stream(dir, w16) },
    { name: 'G.729', offer: { pts: '18', lines: ['a=rtpmap:18 G729/8000', 'a=fmtp:18 annexb=no'], clock: 8000 }, rate: 8000, s: g729Stream(dir, w8, false) },
  ];
  const srcs: Src[] = [];
  t.after(() => { for (const s of srcs) s.close(); });
  const ports: number[][] = [];
  for (const [i, c] of cases.entries()) {
    const src = await new Src(h, `codec-${i}`).open();
    srcs.push(src);
    ports.push(await src.invite(1, sdp(c.offer)));
  }
  await Promise.all(cases.map((c, i) => srcs[i]!.play(ports[i]![0]!, c.s.packets, c.offer.clock)));
  for (const s of srcs) await s.bye(2);
  await keptCalls(h, 3);
  for (const [i, c] of cases.entries()) {
    const { sampleRate, left } = await keptWav(h, `sip${i + 1}`);
    assert.equal(sampleRate, c.rate, `${c.name}: the WAV says ${sampleRate} Hz`);
    const { corr, lag } = alignedCorrelation(c.s, left, c.rate);
    assert.ok(corr >= 0.99, `${c.name}: correlation ${corr.toFixed(4)} at lag ${lag}`);
  }
});

test('SIPREC: a re-INVITE that switches PCMA -> G.722 mid-call is followed; both parts are in the 16 kHz WAV', async (t) => {
  const h = await siprecHarness(t, { lines: 1 });
  const dir = h.dir;
  const w16 = path.join(dir, 'speech16.wav');
  execFileSync('sox', [path.join(SPEECH, 'en-1.wav'), '-r', '16000', w16]);
  const g722 = await g722Stream(dir, w16);
  const src = await new Src(h, 'switch').open();
  t.after(() => src.close());
  const offer: Offer = { pts: '8 9', lines: ['a=rtpmap:8 PCMA/8000', 'a=rtpmap:9 G722/8000'], clock: 8000 };
  const [port] = await src.invite(1, sdp(offer));
  // 1 s of a PCMA tone first (the payload type the SRC used first), then G.722 speech under a new SDP version
  const tone = Buffer.alloc(160);
  for (let i = 0; i < 160; i++) tone[i] = Math.round(Math.sin((2 * Math.PI * 500 * i) / 8000) * 40) + 0x55;
  const pcma: RtpPacket[] = Array.from({ length: 50 }, (_, k) => ({ version: 2, pt: 8, seq: 1000 + k, ts: 5000 + 160 * k, ssrc: 99, marker: false, payload: tone }));
  await src.play(port!, pcma, 8000);
  const paused = Date.now();
  await src.invite(3, sdp({ ...offer, pts: '9', lines: ['a=rtpmap:9 G722/8000'] }, 2));
  // the G.722 audio starts where its first packet arrives: 1 s of PCMA plus the re-INVITE's round trip
  const g722At = 16000 + Math.round((Date.now() - paused) * 16);
  await src.play(port!, g722.packets.map((p, k) => ({ ...p, ssrc: 99, seq: 1050 + k })), 8000);
  await src.bye(4);
  const { sampleRate, left } = await keptWav(h, 'sip1');
  assert.equal(sampleRate, 16000, 'G.722 on offer: the call is 16 kHz from its start');
  const pcmaPart = left.subarray(1600, 12000);
  assert.ok(pcmaPart.some((x) => Math.abs(x) > 100), 'the PCMA part is decoded (upsampled), not silent');
  const speech = left.subarray(Math.max(0, g722At - 400));
  const { corr } = alignedCorrelation(g722, speech, 16000);
  assert.ok(corr >= 0.99, `the G.722 part after the switch matches the reference decode: ${corr.toFixed(4)}`);
});

test('SIPREC: a call in a codec the box cannot decode is answered, kept, marked "not decodable", and its RTP sealed with it as sent', async (t) => {
  const h = await siprecHarness(t, { lines: 1 });
  const src = await new Src(h, 'amr').open();
  t.after(() => src.close());
  const ports = await src.invite(1, sdp({ pts: '96 101', lines: ['a=rtpmap:96 AMR-WB/16000', 'a=fmtp:96 octet-align=1', 'a=rtpmap:101 telephone-event/16000'], clock: 16000 }));
  assert.ok(ports[0]! > 0, 'the stream is accepted, not refused with 488');
  const packets: RtpPacket[] = Array.from({ length: 60 }, (_, k) => ({ version: 2, pt: 96, seq: 7 + k, ts: 320 * k, ssrc: 5, marker: false, payload: Buffer.alloc(33, k) }));
  await src.play(ports[0]!, packets, 16000);
  await src.bye(2);
  const [c] = await keptCalls(h, 1);
  const meta = await h.box.archive.meta(c.id);
  assert.deepEqual(meta.undecodable, ['AMR-WB']);
  // the mark people see: the call's page shows "not decodable: AMR-WB" from this
  const detail = await h.get(`/api/calls/${c.id}`);
  assert.deepEqual([detail.json.call.undecodable, detail.json.call.sampleRate], [['AMR-WB'], 8000]);
  const rtp = meta.undecodedRtp as { packets: Array<{ seq: number; payload: string; codec: string }> };
  assert.equal(rtp.packets.length, 60);
  assert.ok(rtp.packets.every((p, k) => p.codec === 'AMR-WB' && p.seq === 7 + k && Buffer.from(p.payload, 'base64').equals(packets[k]!.payload)));
  // an export carries the packets as sent, signed in its manifest like every other file
  const zipFile = path.join(h.dir, 'export.zip');
  await writeBundle(createWriteStream(zipFile), { source: h.box.archive, signer: h.box.vault, callIds: [c.id], lang: 'en', createdAt: Date.now() });
  const exported = JSON.parse(execFileSync('unzip', ['-p', zipFile, `rtp/${c.id}.json`], { encoding: 'utf8' }));
  assert.deepEqual(exported.codecs, ['AMR-WB']);
  assert.ok(exported.packets.every((p: { payload: string }, k: number) => Buffer.from(p.payload, 'base64').equals(packets[k]!.payload)) && exported.packets.length === 60);
  assert.match(execFileSync('unzip', ['-p', zipFile, 'manifest.json'], { encoding: 'utf8' }), new RegExp(`rtp/${c.id}\\.json`));
  const { sampleRate, left } = await keptWav(h, 'sip1');
  assert.equal(sampleRate, 8000, 'no decodable wideband codec: 8 kHz');
  assert.ok(left.every((x) => x === 0), 'the undecodable part is silence, never noise decoded as another codec');
});
