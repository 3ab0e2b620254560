import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ROOT } from './helpers/appliance.ts';
import { mulberry32 } from './helpers/prng.ts';
import { isRvError } from '../src/errors.ts';
import { parseNameAddr, parseSip, serializeSip, SipStreamFramer, numberFromUri } from '../src/sip/message.ts';
import { splitMultipart } from '../src/sip/multipart.ts';
import { parseSdpStreams } from '../src/sip/sdp.ts';
import { parseSiprecMetadata, siprecRoles } from '../src/sip/siprec-meta.ts';
import { SiprecSource } from '../src/sources/siprec.ts';
import type { Log } from '../src/log.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = () => { gc(); gc(); return process.memoryUsage().heapUsed / 2 ** 20; };

const crlf = (s: string) => Buffer.from(s.replace(/\n/g, '\r\n'));
const SEEDS: Buffer[] = [
  ...readdirSync(join(ROOT, 'test/fixtures/siprec')).map((f) => readFileSync(join(ROOT, 'test/fixtures/siprec', f))),
  crlf('OPTIONS sip:srs@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKf1\nFrom: <sip:a@x>;tag=1\nTo: <sip:srs@y>\nCall-ID: fz1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n'),
  crlf('BYE sip:srs@127.0.0.1 SIP/2.0\nv: SIP/2.0/TCP h;branch=z9hG4bKf2\nf: <sip:a@x>;tag=1\nt: <sip:srs@y>;tag=2\ni: fz2\nCSeq: 2 BYE\nl: 0\n\n'),
  crlf('CANCEL sip:srs@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKf3\nFrom: "A" <tel:+31201234567>;tag=9\nTo: <sip:srs@y>\nCall-ID: fz3\nCSeq: 1 CANCEL\n\n'),
  crlf('UPDATE sip:srs@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKf4\nFrom: <sip:a@x>;tag=1\nTo: <sip:srs@y>;tag=2\nCall-ID: fz4\nCSeq: 3 UPDATE\nContent-Type: application/sdp\nContent-Length: 60\n\nv=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n'),
  crlf('SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bKf5\nFrom: <sip:a@x>;tag=1\nTo: <sip:srs@y>;tag=2\nCall-ID: fz5\nCSeq: 2 BYE\n\n'),
];

const TOKENS = ['\r\n', '\n', '\r\n\r\n', ':', ';', ',', '<', '>', '"', '\\', ' ', '\t', '=', '--', 'Content-Length: ', 'l: 99999999', 'Content-Length: 4294967296',
  'Content-Type: multipart/mixed;boundary=', 'boundary="', 'm=audio 0 RTP/AVP', 'a=label:', '<!DOCTYPE x [<!ENTITY a "b">]>', '<participant id="', '</recording>',
  'sip:', 'tel:', '%', '%zz', '@', ';tag=', 'SIP/2.0', 'INVITE', '\u0000', '\u00ff', '€', 'a'.repeat(3000), '\r\n '];

/** One mutation of a seed: the kinds of damage a broken SBC, a scanner or the network does. */
function mutate(rand: () => number, seeds: Buffer[]): Buffer {
  const pick = <T>(a: readonly T[]): T => a[rand() % a.length]!;
  let b = Buffer.from(pick(seeds));
  const rounds = 1 + (rand() % 4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length ? rand() % b.length : 0;
    switch (rand() % 10) {
      case 0: { const c = Buffer.from(b); for (let i = 0; i < 1 + (rand() % 8); i++) c[rand() % c.length] = rand() & 0xff; b = c; break; }
      case 1: b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(TOKENS)), b.subarray(at)]); break;
      case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + (rand() % 200)))]); break;
      case 3: b = b.subarray(0, at); break;
      case 4: { const len = 1 + (rand() % 300); const piece = b.subarray(at, at + len); b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: 1 + (rand() % 20) }, () => piece), b.subarray(at)]); break; }
      case 5: { const other = pick(seeds); const o = rand() % other.length; b = Buffer.concat([b.subarray(0, at), other.subarray(o)]); break; }
      case 6: b = Buffer.from(b.toString('latin1').replace(/Content-Length: *\d+|\nl: *\d+/i, `Content-Length: ${pick(['0', '-1', '99999', String(rand() % 5000), ' 12 ', '1e3'])}`), 'latin1'); break;
      case 7: b = Buffer.from(b.toString('latin1').replace(/\r\n/g, rand() % 2 ? '\n' : '\r'), 'latin1'); break;
      case 8: { const s = b.toString('latin1'); const lines = s.split('\r\n'); const i = rand() % lines.length; lines.splice(i, 0, ...Array.from({ length: rand() % 300 }, () => lines[i] ?? 'X: y')); b = Buffer.from(lines.join('\r\n'), 'latin1'); break; }
      default: { const c = Buffer.alloc(rand() % 2000); for (let i = 0; i < c.length; i++) c[i] = rand() & 0xff; b = rand() % 3 ? Buffer.concat([b.subarray(0, at), c]) : c; break; }
    }
  }
  return b.length > 70_000 ? b.subarray(0, 70_000) : b;
}

/** Everything the server does with a message body, run on one input; only RvErrors may come out. */
function digest(buf: Buffer): 'ok' | 'refused' {
  try {
    const m = parseSip(buf);
    for (const h of ['From', 'To', 'Contact']) { const v = m.get(h); if (v) { try { numberFromUri(parseNameAddr(v).uri); } catch (e) { if (!isRvError(e)) throw e; } } }
    const ct = m.get('Content-Type');
    if (ct && m.body.length) {
      const parts = splitMultipart(ct, m.body);
      const sdp = parts.find((p) => p.type === 'application/sdp');
      const xml = parts.find((p) => /rs-metadata/.test(p.type));
      const streams = sdp ? parseSdpStreams(sdp.body).streams : [];
      if (xml) siprecRoles(parseSiprecMetadata(xml.body), streams.map((s) => s.label));
    }
    return 'ok';
  } catch (e) {
    if (!isRvError(e)) throw new Error(`a non-RvError escaped for input ${JSON.stringify(buf.subarray(0, 300).toString('latin1'))}: ${(e as Error).stack}`);
    return 'refused';
  }
}

test('parser fuzz: 100,000 mutated SIP messages; only coded errors, memory bounded', () => {
  const rand = mulberry32(0x5195ec);
  const before = heapMb();
  const counts = { ok: 0, refused: 0 };
  const framer = new SipStreamFramer();
  for (let i = 0; i < 100_000; i++) {
    const buf = mutate(rand, SEEDS);
    counts[digest(buf)]++;
    // The same bytes as a TCP stream, cut at random places: framing errors are coded too.
    if (i % 10 === 0) {
      try { for (let at = 0; at < buf.length;) { const n = 1 + (rand() % 700); framer.push(buf.subarray(at, at + n)); at += n; } } catch (e) {
        assert.ok(isRvError(e), String(e));
        Object.assign(framer, new SipStreamFramer()); // a real connection is closed; start a fresh stream
      }
    }
  }
  const grown = heapMb() - before;
  // Both outcomes happen: the mutations reach past the first checks, and damage is noticed.
  assert.ok(counts.ok > 5000, `${counts.ok} parsed`);
  assert.ok(counts.refused > 5000, `${counts.refused} refused`);
  assert.ok(grown < 40, `heap grew ${grown.toFixed(1)} MB over the run`);
});

/** Counts warnings about bad input (they carry an error code) per second; any error line fails the test. */
const quiet = (): Log & { warnings: number; perSecond: Map<number, number>; codes: Map<string, number> } => {
  const l = {
    warnings: 0, perSecond: new Map<number, number>(), codes: new Map<string, number>(), debug() {}, info() {},
    warn(o: unknown, msg?: string) {
      if (typeof o !== 'object' || !o || !('code' in o)) return;
      l.warnings++;
      const what = `${String((o as { code: unknown }).code)} ${msg ?? ''}`.slice(0, 120);
      l.codes.set(what, (l.codes.get(what) ?? 0) + 1);
      const sec = Math.floor(Date.now() / 1000);
      l.perSecond.set(sec, (l.perSecond.get(sec) ?? 0) + 1);
    },
    error(o: unknown) { throw new Error(`error logged: ${JSON.stringify(o)}`); },
  };
  return l;
};

async function optionsOk(port: number, proto: 'udp' | 'tcp'): Promise<number> {
  const msg = (me: number) => serializeSip({ kind: 'request', method: 'OPTIONS', uri: `sip:srs@127.0.0.1:${port}`, headers: [['Via', `SIP/2.0/${proto.toUpperCase()} 127.0.0.1:${me};branch=z9hG4bKok${Date.now()}`], ['From', '<sip:probe@127.0.0.1>;tag=p'], ['To', '<sip:srs@127.0.0.1>'], ['Call-ID', `ok-${proto}-${Date.now()}`], ['CSeq', '1 OPTIONS']] });
  if (proto === 'udp') {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    s.send(msg(s.address().port), port, '127.0.0.1');
    const [buf] = (await once(s, 'message', { signal: AbortSignal.timeout(10_000) })) as [Buffer];
    s.close();
    return parseSip(buf).status!;
  }
  const c = connect(port, '127.0.0.1');
  await once(c, 'connect');
  c.write(msg(c.localPort!));
  const framer = new SipStreamFramer();
  for await (const chunk of c) {
    const got = framer.push(chunk as Buffer);
    if (got.length) { c.destroy(); return parseSip(got[0]!).status!; }
  }
  throw new Error('TCP connection closed without an answer');
}

test('live server fuzz: mutated SIP over UDP and TCP and garbage RTP; no crash, bounded memory, still answering', async (t) => {
  const log = quiet();
  const lines = Array.from({ length: 4 }, (_, i) => ({ id: `sip${i + 1}`, channels: 2 as const }));
  const base = 41000 + 2 * Math.floor(Math.random() * 2000);
  // The fuzzer is one address opening 200 connections: the per-address limit is raised so they all get read.
  const src = new SiprecSource({ lines, log, server: { host: '127.0.0.1', port: 0, rtpPortMin: base, rtpPortMax: base + 199, rtpTimeoutMs: 300, maxSessions: 8, tcpPerAddress: 1000 } });
  const events = { start: 0, end: 0, audio: 0 };
  src.on('call-start', () => events.start++);
  src.on('call-end', () => events.end++);
  src.on('call-audio', () => events.audio++);
  await src.start();
  t.after(() => src.stop());
  const port = src.server.port;
  const rand = mulberry32(0xf022);
  const before = heapMb();
  const udp = createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  let answers = 0;
  udp.on('message', (b, rinfo) => {
    answers++;
    // A session becomes a call only with its ACK: ACK every 2xx to an INVITE, so garbage RTP and in-dialog requests reach live calls.
    try {
      const m = parseSip(b);
      if (m.status !== 200 || !/INVITE/.test(m.get('CSeq') ?? '')) return;
      udp.send(serializeSip({ kind: 'request', method: 'ACK', uri: 'sip:srs@127.0.0.1', headers: [['Via', `SIP/2.0/UDP 127.0.0.1:${udp.address().port};branch=z9hG4bKfuzzack`], ['From', m.get('From')!], ['To', m.get('To')!], ['Call-ID', m.get('Call-ID')!], ['CSeq', `${m.get('CSeq')!.split(/\s+/)[0]} ACK`], ['Max-Forwards', '70']] }), rinfo.port, rinfo.address);
    } catch { /* a mutated answer */ }
  });
  // Unmutated seeds first, so real sessions exist for garbage RTP and in-dialog requests to hit.
  for (const s of SEEDS) udp.send(s, port, '127.0.0.1');
  for (let i = 0; i < 3000; i++) {
    udp.send(mutate(rand, SEEDS).subarray(0, 65_000), port, '127.0.0.1');
    if (i % 100 === 0) {
      await new Promise((r) => setTimeout(r, 5));
      // Garbage and half-valid RTP at whatever session ports exist.
      for (const s of src.server.liveSessions) for (const st of s.streams) if (st.port) {
        for (let k = 0; k < 20; k++) {
          const junk = Buffer.alloc(rand() % 400);
          for (let j = 0; j < junk.length; j++) junk[j] = rand() & 0xff;
          if (junk.length > 12 && k % 2) { junk[0] = 0x80; junk[1] = k % 4 ? 8 : 101; }
          udp.send(junk, st.port, '127.0.0.1');
        }
      }
    }
  }
  // TCP: many connections, each a few mutated messages cut at random places.
  for (let c = 0; c < 200; c++) {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.on('data', () => { answers++; });
    await once(sock, 'connect');
    for (let m = 0; m < 5; m++) {
      const buf = mutate(rand, SEEDS);
      for (let at = 0; at < buf.length;) { const n = 1 + (rand() % 1500); sock.write(buf.subarray(at, at + n)); at += n; }
    }
    sock.end();
  }
  await new Promise((r) => setTimeout(r, 1500));
  udp.close();
  // About 500 (the 2xx are ACKed, so not resent); well above what a server that stopped answering early would give.
  assert.ok(answers > 350, `${answers} answers came back`);
  // Bad input is logged, but a flood only a few lines a second.
  assert.ok(log.warnings >= 5, `${log.warnings} warnings`);
  assert.ok(Math.max(...log.perSecond.values()) <= 5, `at most 5 bad-input lines a second: ${[...log.perSecond.values()]}; lines by kind: ${JSON.stringify([...log.codes])}`);
  assert.equal(await optionsOk(port, 'udp'), 200);
  assert.equal(await optionsOk(port, 'tcp'), 200);
  assert.ok(src.server.liveSessions.length <= 8, 'sessions stay within the configured maximum');
  const grown = heapMb() - before;
  assert.ok(grown < 40, `heap grew ${grown.toFixed(1)} MB`);
  await src.stop();
  assert.equal(src.server.rtpPortsInUse, 0, 'every RTP port is given back');
  assert.ok(events.start > 0, 'sessions were answered, so in-dialog requests and RTP had something to hit');
  assert.equal(events.start, events.end, 'every started call ended');
});
