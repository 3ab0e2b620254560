// Passive capture cannot decrypt SRTP (the keys travel in the SDP of a TLS-protected SIP leg, or are not
// for us to take): a call whose SDP asks for RTP/SAVP or carries a=crypto is reported as encrypted, and its
// packets are not decoded as G.711 (which would be loud noise). The same call in plain RTP is heard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alawEncode } from '../src/audio/g711.ts';
import { buildRtp } from '../src/rtp/packet.ts';
import { parseInlineKey, SrtpSender } from '../src/rtp/srtp.ts';
import { CapturePipeline } from '../src/pcap/pipeline.ts';
import type { PassiveCall } from '../src/pcap/passive.ts';
import { LINKTYPE } from '../src/pcap/decode.ts';
import { frame, ipv4, pcapFile, udp, type Record as CapRecord } from '../src/pcap/writer.ts';

const A = { ip: '10.0.0.1', rtp: 30000 };
const B = { ip: '10.0.0.2', rtp: 40000 };

function capture(srtp: boolean): Buffer {
  const key = `inline:${randomBytes(30).toString('base64')}`;
  const sdp = (p: typeof A) => ['v=0', `o=- 1 1 IN IP4 ${p.ip}`, 's=-', `c=IN IP4 ${p.ip}`, 't=0 0', `m=audio ${p.rtp} ${srtp ? 'RTP/SAVP' : 'RTP/AVP'} 8`, 'a=rtpmap:8 PCMA/8000', ...(srtp ? [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 ${key}`] : []), 'a=sendrecv', ''].join('\r\n');
  const sip = (start: string, cseq: string, body = '', toTag = '') => Buffer.from([start, 'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1', 'From: <sip:+31201234567@x>;tag=a', `To: <sip:0612345678@x>${toTag}`, 'Call-ID: srtp-call', `CSeq: ${cseq}`,
    ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
  const recs: CapRecord[] = [];
  const t0 = 1_763_900_000_000;
  const put = (ts: number, from: typeof A, to: typeof A, sport: number, dport: number, payload: Buffer) => recs.push({ ts, data: frame(LINKTYPE.ETHERNET, ipv4(from.ip, to.ip, 17, udp(sport, dport, payload))) });
  put(t0, A, B, 5060, 5060, sip('INVITE sip:0612345678@x SIP/2.0', '1 INVITE', sdp(A)));
  put(t0 + 100, B, A, 5060, 5060, sip('SIP/2.0 200 OK', '1 INVITE', sdp(B), ';tag=b'));
  put(t0 + 110, A, B, 5060, 5060, sip('ACK sip:0612345678@x SIP/2.0', '1 ACK', '', ';tag=b'));
  const sender = new SrtpSender(parseInlineKey('AES_CM_128_HMAC_SHA1_80', key)!);
  for (let k = 0; k < 100; k++) {
    // A loud 1 kHz tone in A-law, plain or encrypted.
    const pcm = Int16Array.from({ length: 160 }, (_, i) => Math.round(12000 * Math.sin((2 * Math.PI * 1000 * (k * 160 + i)) / 8000)));
    const rtp = Buffer.from(buildRtp({ pt: 8, seq: 1000 + k, ts: k * 160, ssrc: 77, payload: alawEncode(pcm) }));
    put(t0 + 120 + 20 * k, A, B, A.rtp, B.rtp, srtp ? sender.protect(rtp) : rtp);
  }
  put(t0 + 2200, A, B, 5060, 5060, sip('BYE sip:0612345678@x SIP/2.0', '2 BYE', '', ';tag=b'));
  return pcapFile(LINKTYPE.ETHERNET, recs);
}

function replay(cap: Buffer): { call: PassiveCall; peak: number; samples: number; logs: string[] } {
  let call: PassiveCall | undefined;
  let peak = 0;
  let samples = 0;
  const logs: string[] = [];
  const pipe = new CapturePipeline({ onEnd: (c) => { call = c; }, onAudio: (_c, _i, pcm) => { samples += pcm.length; for (const v of pcm) peak = Math.max(peak, Math.abs(v)); }, log: (m) => logs.push(m) });
  pipe.push(cap);
  pipe.end();
  assert.ok(call, 'the call was followed');
  return { call, peak, samples, logs };
}

test('passive capture: an SRTP call is reported as encrypted and kept silent, not decoded as noise; the same call in plain RTP is heard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rv-pcap-srtp-'));
  try {
    const enc = capture(true);
    const file = join(dir, 'srtp.pcap');
    writeFileSync(file, enc);
    // tshark reads the capture as the SIP call it is, with the SAVP offer (an independent reader of the file).
    const seen = execFileSync('tshark', ['-r', file, '-Y', 'sdp', '-T', 'fields', '-e', 'sdp.media.proto'], { encoding: 'utf8' });
    assert.match(seen, /RTP\/SAVP/);

    const plain = replay(capture(false));
    assert.equal(plain.call.encrypted, undefined);
    assert.ok(plain.peak > 8000, `the plain call is heard (peak ${plain.peak})`);

    const r = replay(enc);
    assert.equal(r.call.encrypted, true);
    assert.deepEqual(r.call.undecodable, ['SRTP'], 'marked "not decodable: SRTP" in the call\'s report');
    assert.equal(r.peak, 0, 'no noise: the encrypted packets are not decoded');
    assert.ok(r.logs.some((l) => /SRTP .*cannot decrypt it, so the call is reported as encrypted/.test(l)), 'a log line says why');
    assert.ok(Math.abs(r.samples - plain.samples) <= 2 * 160 * 2, `the call keeps its length (${r.samples} vs ${plain.samples} samples)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
