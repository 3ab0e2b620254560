import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { parseSip, serializeSip } from '../src/sip/message.ts';
import {
  audioSegments, captureRtp, checkAudio, feeder, keptCalls, rtpPackets, siprecHarness, sipp, type RtpSeen,
} from './helpers/siprec-harness.ts';
import { until } from './helpers/until.ts';

test('SIPREC call with metadata: both streams recorded as caller left / callee right, numbers, digits, metadata sealed', async (t) => {
  const h = await siprecHarness(t, { lines: 1 });
  const feed = await feeder(h);
  const cap = await captureRtp(h);
  const caller = '+31201234567';
  const called = '+31309876543';
  const src = sipp(h, 'siprec-call.xml', `127.0.0.1:${h.sipPort}`, ['-m', '1', '-d', '9500'], `SEQUENTIAL\n${caller};${called}\n`);
  const seen = await until(() => h.sessions[0], 'the recording session');
  assert.equal(seen.ports.length, 2);
  assert.ok(seen.ports.every((p) => p >= h.rtpMin && p <= h.rtpMax && p % 2 === 0), `RTP ports ${seen.ports} in the configured range`);
  const fed = await feed.feed([seen.ports[1]!]);
  const r = await src;
  assert.equal(r.code, 0, r.errors);
  assert.equal(fed.code, 0, fed.errors);
  // The catalog indexes a kept call's sealed numbers just after the call is listed (catalog.refresh on 'archived').
  const kept = await until(async () => { const [c] = await keptCalls(h, 1); return c?.caller ? c : undefined; }, 'the kept call with its numbers indexed');
  await cap.stop();
  assert.equal(kept.caller, caller);
  assert.equal(kept.called, called);
  assert.equal(kept.direction, 'in');
  // The line does not keep digits (the default): the sealed metadata says how many were keyed and when, not which.
  assert.equal(kept.digits, undefined, 'RFC 4733 key presses are not stored by default');
  assert.equal(kept.keyed?.count, 3, 'three key presses counted');
  assert.ok(!JSON.stringify(await h.box.archive.meta(kept.id)).includes('159'), 'the digits are not in the sealed metadata');
  assert.equal(kept.channels, 2);
  const caps = await rtpPackets(h, cap.file);
  const call = await checkAudio(h, kept.id, seen.ports, caps);
  assert.ok(call.seconds > 7, `${call.seconds} s recorded`);
  // The metadata XML is kept with the call, sealed: readable through the unlocked vault, not on disk in the clear.
  const meta = await h.box.archive.meta(kept.id);
  const xml = (meta.siprecMetadata as string[])[0]!;
  assert.match(xml, /participantstreamassoc/);
  assert.ok(xml.includes(`tel:${caller}`));
  const files = await readdir(join(h.dir, 'data', 'archive'), { recursive: true });
  for (const f of files) {
    const b = await readFile(join(h.dir, 'data', 'archive', f)).catch(() => undefined);
    if (b) assert.ok(!b.includes(caller) && !b.includes('participantstreamassoc'), `${f} holds no number or metadata in the clear`);
  }
  assert.equal(h.box.siprec!.server.rtpPortsInUse, 0, 'RTP ports are given back');
});

test('hold and resume: re-INVITE a=inactive, UPDATE sendonly, participants arriving in the re-INVITE; the rest of the call kept', async (t) => {
  const h = await siprecHarness(t, { lines: 1, rtpTimeoutSec: 2 });
  const feed = await feeder(h);
  const cap = await captureRtp(h);
  // From/To carry one pair of numbers; the metadata in the re-INVITE names the real parties.
  const src = sipp(h, 'siprec-hold.xml', `127.0.0.1:${h.sipPort}`, ['-m', '1'], 'SEQUENTIAL\n0201111111;0202222222;+31612345678;+31103334444\n');
  const seen = await until(() => h.sessions[0], 'the recording session');
  const fed = await feed.feed([seen.ports[1]!]);
  assert.equal(fed.code, 0, fed.errors);
  const r = await src;
  assert.equal(r.code, 0, r.errors);
  const [kept] = await keptCalls(h, 1);
  await cap.stop();
  // The hold lasted more than the 2 s RTP timeout: a paused call is not a dead one.
  assert.equal((await h.get('/api/calls')).json.calls.length, 1, 'one call, not split by the hold');
  assert.equal(kept.caller, '+31612345678', 'the participants from the re-INVITE replace the From/To fallback');
  assert.equal(kept.called, '+31103334444');
  const caps = await rtpPackets(h, cap.file);
  const first = audioSegments(caps.get(seen.ports[0]!) ?? []);
  assert.ok(first.length >= 2 && first.flat().length > 400, 'the capture played twice on the first stream, before and after the hold');
  const call = await checkAudio(h, kept.id, seen.ports, caps);
  assert.ok(call.seconds > 15, `${call.seconds} s: both halves and the hold between them`);
  const meta = await h.box.archive.meta(kept.id);
  assert.equal((meta.siprecMetadata as string[]).length, 2, 'both metadata documents kept');
});

test('CANCEL before the answer: 487, nothing recorded, ports released', async (t) => {
  const h = await siprecHarness(t, { lines: 1, answerDelayMs: 3000 });
  let starts = 0;
  h.box.siprec!.on('call-start', () => { starts++; });
  const cancelled = once(h.box.siprec!.server, 'cancelled');
  const r = await sipp(h, 'siprec-cancel.xml', `127.0.0.1:${h.sipPort}`, ['-m', '1'], 'SEQUENTIAL\n+31201234567;+31309876543\n');
  assert.equal(r.code, 0, r.errors);
  await cancelled;
  await new Promise((res) => setTimeout(res, 3500)); // past the answer delay: no late answer may start a call
  assert.equal(starts, 0);
  assert.equal((await h.get('/api/calls')).json.calls.length, 0);
  assert.equal(h.box.siprec!.server.rtpPortsInUse, 0);
  assert.equal(h.box.siprec!.server.liveSessions.length, 0);
  // The line is free again: a normal call is answered.
  const opt = await options(h.sipPort);
  assert.equal(opt.status, 200);
});

test('no BYE: the RTP timeout ends and keeps the call', async (t) => {
  const h = await siprecHarness(t, { lines: 1, rtpTimeoutSec: 1.5 });
  const feed = await feeder(h);
  const cap = await captureRtp(h);
  const ended = new Promise<string>((res) => h.box.siprec!.on('call-end', (e) => res(e.reason)));
  // sipp leaves right after its last packet; the recorder's BYE after the timeout finds nobody.
  const src = sipp(h, 'siprec-nobye.xml', `127.0.0.1:${h.sipPort}`, ['-m', '1', '-d', '100'], 'SEQUENTIAL\n+31201234567;+31309876543\n');
  const seen = await until(() => h.sessions[0], 'the recording session');
  const fed = await feed.feed([seen.ports[1]!]);
  assert.equal(fed.code, 0, fed.errors);
  const r = await src;
  assert.equal(r.code, 0, r.errors);
  assert.equal(await ended, 'rtp-timeout');
  const [kept] = await keptCalls(h, 1);
  await cap.stop();
  assert.equal(kept.caller, '+31201234567');
  // The wait for the timeout is not recorded: the WAV ends with the last audio.
  await checkAudio(h, kept.id, seen.ports, await rtpPackets(h, cap.file));
  assert.equal(h.box.siprec!.server.rtpPortsInUse, 0);
});

test('20 SIPREC calls at once, over TCP, each on its own line with its own numbers and audio', async (t) => {
  const N = 20;
  // These lines keep their digits (order entry), so the values recognised from RFC 4733 are checked too.
  const h = await siprecHarness(t, { lines: N, keepDigits: true });
  const feed = await feeder(h);
  const cap = await captureRtp(h);
  const pairs = Array.from({ length: N }, (_, i) => [`+3120${String(1000000 + i * 7919).slice(-7)}`, `+3130${String(2000000 + i * 104729).slice(-7)}`] as const);
  const src = sipp(h, 'siprec-call.xml', `127.0.0.1:${h.sipPort}`, ['-t', 't1', '-m', String(N), '-l', String(N), '-r', String(N), '-rp', '1000', '-d', '10500'], `SEQUENTIAL\n${pairs.map((p) => p.join(';')).join('\n')}\n`);
  await until(() => h.sessions.length >= N, `${N} sessions`, 30_000);
  assert.equal(new Set(h.sessions.map((s) => s.line)).size, N, 'every session on its own line');
  const fed = await feed.feed(h.sessions.map((s) => s.ports[1]!));
  assert.equal(fed.code, 0, fed.errors);
  const r = await src;
  assert.equal(r.code, 0, r.errors);
  const kept = await keptCalls(h, N, 60_000);
  await cap.stop();
  assert.equal(kept.length, N);
  const caps = await rtpPackets(h, cap.file);
  const wanted = new Map(pairs.map(([a, b]) => [a, b]));
  for (const c of kept) {
    assert.equal(wanted.get(c.caller), c.called, `call ${c.id}: ${c.caller} → ${c.called}`);
    wanted.delete(c.caller);
    assert.equal(c.digits, '159');
    const s = h.sessions.find((x) => x.line === c.line)!;
    await checkAudio(h, c.id, s.ports, caps);
  }
  assert.equal(wanted.size, 0, 'every caller kept once');
  assert.equal(h.box.siprec!.server.rtpPortsInUse, 0);
});

/** Sends one OPTIONS over UDP and returns the parsed answer. */
async function options(port: number): Promise<{ status: number }> {
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const me = sock.address().port;
  sock.send(serializeSip({ kind: 'request', method: 'OPTIONS', uri: `sip:srs@127.0.0.1:${port}`, headers: [['Via', `SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bKopt${Date.now()}`], ['From', '<sip:probe@127.0.0.1>;tag=p1'], ['To', '<sip:srs@127.0.0.1>'], ['Call-ID', `opt-${Date.now()}`], ['CSeq', '1 OPTIONS'], ['Max-Forwards', '70']] }), port, '127.0.0.1');
  const timer = setTimeout(() => sock.close(), 5000);
  const [buf] = (await once(sock, 'message')) as [Buffer];
  clearTimeout(timer);
  sock.close();
  return { status: parseSip(buf).status! };
}
