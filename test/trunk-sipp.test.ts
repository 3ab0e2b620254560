import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimBoard } from '../src/board/sim.ts';
import { captureRtp, checkAudio, feeder, keptCalls, rtpPackets, siprecHarness, sipp } from './helpers/siprec-harness.ts';
import { until } from './helpers/until.ts';

test('one SIPREC trunk line, 8 calls at once: buttons by extension and for the whole trunk, each call kept whole and matched to its RTP', async (t) => {
  const N = 8;
  const pairs = Array.from({ length: N }, (_, i) => [`+3120${String(1000000 + i * 7919).slice(-7)}`, `+3130${String(2000000 + i * 104729).slice(-7)}`] as const);
  const [ext3, ext4] = [pairs[2]![1], pairs[3]![1]];
  const h = await siprecHarness(t, {
    lines: 1, maxCalls: N, minutesPerLine: 2, keep: 'on-demand', keepDigits: true,
    board: { driver: 'sim', units: [{ line: 'sip1', extension: ext3 }, { line: 'sip1', extension: ext4 }, { line: 'sip1' }] },
  });
  const board = h.box.board as SimBoard;
  const feed = await feeder(h);
  const cap = await captureRtp(h);
  const src = sipp(h, 'siprec-call.xml', `127.0.0.1:${h.sipPort}`, ['-m', String(N), '-l', String(N), '-r', String(N), '-rp', '1000', '-d', '10500'], `SEQUENTIAL\n${pairs.map((p) => p.join(';')).join('\n')}\n`);
  await until(() => h.sessions.length >= N, `${N} sessions`, 30_000);
  assert.deepEqual(new Set(h.sessions.map((s) => s.line)), new Set(['sip1']), 'every session on the one trunk line');
  const fed = feed.feed(h.sessions.map((s) => s.ports[1]!));
  await until(() => h.box.recorder.status()[0]!.calls.length === N, `${N} live calls on the trunk`, 30_000);
  const lines = (await h.get('/api/lines')).json.lines;
  assert.equal(lines[0].calls.length, N, 'the dashboard API lists every live call on the trunk');
  assert.equal(lines[0].maxCalls, N);
  await until(() => board.led(`sip1:${ext3}`) === 'buffering' && board.led('sip1') === 'buffering', 'LEDs show buffering');
  // The button of extension 3 keeps only its call; its LED shows keeping, extension 4's still buffering.
  board.press(`sip1:${ext3}`, 'short');
  await until(() => board.led(`sip1:${ext3}`) === 'keeping', 'extension 3 LED keeping');
  assert.equal(board.led(`sip1:${ext4}`), 'buffering');
  assert.equal(h.box.recorder.status()[0]!.calls.filter((c) => c.keeping).length, 1, 'one call kept by the extension button');
  // The trunk's own button keeps every live call on the line.
  board.press('sip1', 'short');
  await until(() => h.box.recorder.status()[0]!.calls.every((c) => c.keeping), 'every live call kept by the trunk button');
  await until(() => board.led(`sip1:${ext4}`) === 'keeping', 'extension 4 LED keeping');
  const f = await fed;
  assert.equal(f.code, 0, f.errors);
  const r = await src;
  assert.equal(r.code, 0, r.errors);
  const kept = await keptCalls(h, N, 60_000);
  await cap.stop();
  assert.equal(kept.length, N);
  const caps = await rtpPackets(h, cap.file);
  const wanted = new Map(pairs.map(([a, b]) => [a, b]));
  for (const c of kept) {
    assert.equal(c.line, 'sip1');
    assert.equal(wanted.get(c.caller), c.called, `call ${c.id}: ${c.caller} → ${c.called}`);
    wanted.delete(c.caller);
    assert.equal(c.digits, '159', 'each call has its own digits, once');
    const s = h.sessions.find((x) => x.session.metadataXml.some((m) => m.includes(`tel:${c.caller}`)))!;
    await checkAudio(h, c.id, s.ports, caps);
  }
  assert.equal(wanted.size, 0, 'every caller kept once');
  assert.equal(h.box.siprec!.server.rtpPortsInUse, 0);
});

test('a trunk full of calls answers the next session 486 and takes calls again when one ends', async (t) => {
  const h = await siprecHarness(t, { lines: 1, maxCalls: 2, minutesPerLine: 1 });
  const feed = await feeder(h);
  const pairs = ['+31201000001;+31301000001', '+31201000002;+31301000002'];
  const src = sipp(h, 'siprec-call.xml', `127.0.0.1:${h.sipPort}`, ['-m', '2', '-l', '2', '-r', '2', '-rp', '1000', '-d', '6000'], `SEQUENTIAL\n${pairs.join('\n')}\n`);
  await until(() => h.box.recorder.status()[0]!.calls.length === 2, 'two live calls');
  // A third session while the trunk carries its maxCalls is refused (sipp sees 486 as an unexpected answer).
  const third = await sipp(h, 'siprec-call.xml', `127.0.0.1:${h.sipPort}`, ['-m', '1'], 'SEQUENTIAL\n+31201000003;+31301000003\n');
  assert.notEqual(third.code, 0);
  assert.match(third.errors, /486/);
  const fed = await feed.feed(h.sessions.slice(0, 2).map((s) => s.ports[1]!));
  assert.equal(fed.code, 0, fed.errors);
  const r = await src;
  assert.equal(r.code, 0, r.errors);
  await keptCalls(h, 2);
  const again = sipp(h, 'siprec-call.xml', `127.0.0.1:${h.sipPort}`, ['-m', '1', '-d', '500'], 'SEQUENTIAL\n+31201000004;+31301000004\n');
  await until(() => h.sessions.length >= 3, 'the next session after the trunk freed up');
  const fed2 = await feed.feed([h.sessions[2]!.ports[1]!]);
  assert.equal(fed2.code, 0, fed2.errors);
  assert.equal((await again).code, 0);
  const kept = await keptCalls(h, 3);
  assert.ok(kept.some((c: any) => c.caller === '+31201000004'));
});
