import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimSource, type SimSourceOptions } from '../src/sources/sim.ts';
import type { CallAudioEvent, CallEndEvent, CallStartEvent } from '../src/sources/source.ts';
import { msOf } from '../src/audio/frame.ts';
import { rmsDbfs } from '../src/audio/level.ts';
import { RvError } from '../src/errors.ts';

const SPEECH_DIR = path.join(import.meta.dirname, '..', 'assets', 'speech');
const SPEED = 20;

type Ev =
  | { type: 'call-start'; e: CallStartEvent }
  | { type: 'call-audio'; e: CallAudioEvent }
  | { type: 'call-end'; e: CallEndEvent }
  | { type: 'fault'; e: { line: string; code: string } }
  | { type: 'recovered'; e: { line: string } };

/** A started source plus every event it emits, in order; stopped when the test ends. */
async function simWith(t: TestContext, opts: Partial<SimSourceOptions> = {}) {
  const sim = new SimSource({
    lines: [{ id: 'L1', channels: 2 }, { id: 'L2', channels: 1 }],
    speechDir: SPEECH_DIR,
    speed: SPEED,
    ...opts,
  });
  const events: Ev[] = [];
  sim.on('call-start', (e) => events.push({ type: 'call-start', e }));
  sim.on('call-audio', (e) => events.push({ type: 'call-audio', e }));
  sim.on('call-end', (e) => events.push({ type: 'call-end', e }));
  sim.on('fault', (e) => events.push({ type: 'fault', e }));
  sim.on('recovered', (e) => events.push({ type: 'recovered', e }));
  t.after(() => sim.stop());
  await sim.start();
  return { sim, events };
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const ofCall = (events: Ev[], ref: string) => {
  const start = events.find((x): x is Extract<Ev, { type: 'call-start' }> => x.type === 'call-start' && x.e.ref === ref)?.e;
  const end = events.find((x): x is Extract<Ev, { type: 'call-end' }> => x.type === 'call-end' && x.e.ref === ref)?.e;
  const audio = events.flatMap((x) => (x.type === 'call-audio' && x.e.ref === ref ? [x.e.block] : []));
  return { start, end, audio };
};

const framesOf = (blocks: { channels: number; pcm: Int16Array }[]): number =>
  blocks.reduce((n, b) => n + b.pcm.length / b.channels, 0);

/** Blocks follow each other without gaps: each starts exactly where the previous one's samples end. */
function assertContiguous(start: CallStartEvent, blocks: CallAudioEvent['block'][], endAt: number): void {
  let at = start.at;
  for (const b of blocks) {
    assert.equal(b.at, at);
    assert.equal(b.channels, start.channels);
    at += msOf(b.pcm.length / b.channels);
  }
  assert.equal(at, endAt);
}

const rvCode = (code: string) => (e: unknown): boolean => {
  assert.ok(e instanceof RvError, String(e));
  assert.equal(e.code, code);
  return true;
};

const DUTCH_NUMBER = /^(\+31[1-9]\d{8}|0[1-9]\d{8}|withheld)$/;

test('placeCall: call-start, 20 ms blocks, call-end, in order; audio totals the duration exactly', async (t) => {
  const { sim, events } = await simWith(t);
  const began = Date.now();
  const stereo = sim.placeCall('L1', { direction: 'in', durationSec: 2.5, extension: '201' });
  const mono = sim.placeCall('L2', { direction: 'out', durationSec: 1.005 });
  assert.ok(sim.busy('L1') && sim.busy('L2'));
  await until('both calls to end', () => events.filter((x) => x.type === 'call-end').length === 2);
  assert.ok(Date.now() - began < 2000, `speed ${SPEED} should play 2.5 s in ~125 ms`);

  for (const [ref, seconds, channels] of [[stereo, 2.5, 2], [mono, 1.005, 1]] as const) {
    const mine = events.filter((x) => 'ref' in x.e && x.e.ref === ref);
    assert.equal(mine[0].type, 'call-start');
    assert.equal(mine.at(-1)!.type, 'call-end');
    assert.ok(mine.slice(1, -1).every((x) => x.type === 'call-audio'));
    const { start, end, audio } = ofCall(events, ref);
    assert.equal(start!.channels, channels);
    assert.equal(end!.reason, 'hangup');
    assert.equal(framesOf(audio), Math.round(seconds * 8000));
    assert.equal(end!.at - start!.at, msOf(Math.round(seconds * 8000)));
    assertContiguous(start!, audio, end!.at);
    // all 20 ms blocks (160 frames) except a shorter last one
    assert.ok(audio.slice(0, -1).every((b) => b.pcm.length === 160 * channels));
    assert.equal(audio.at(-1)!.pcm.length / channels, seconds === 2.5 ? 160 : 40);
  }

  const inbound = ofCall(events, stereo).start!.parties;
  assert.equal(inbound.direction, 'in');
  assert.equal(inbound.extension, '201');
  assert.match(inbound.caller!, DUTCH_NUMBER);
  assert.match(inbound.called!, DUTCH_NUMBER);
  const outbound = ofCall(events, mono).start!.parties;
  assert.equal(outbound.direction, 'out');
  assert.match(outbound.called!, /^0[1-9]\d{8}$/, 'dialled out in national format');
  assert.match(outbound.extension!, /^2\d\d$/);
  assert.ok(!sim.busy('L1') && !sim.busy('L2'));
});

test('stereo line: the caller speaks on channel 0 first while channel 1 is quiet, then they take turns', async (t) => {
  const { sim, events } = await simWith(t);
  const ref = sim.placeCall('L1', { durationSec: 12 });
  await until('the call to end', () => events.some((x) => x.type === 'call-end'));
  const { audio } = ofCall(events, ref);
  const pcm = new Int16Array(framesOf(audio) * 2);
  let o = 0;
  for (const b of audio) pcm.set(b.pcm, (o += b.pcm.length) - b.pcm.length);
  const window = (fromSec: number, sec: number) => pcm.subarray(fromSec * 16000, (fromSec + sec) * 16000);

  const first = window(0, 1.5);
  const ch0 = rmsDbfs(first, { channels: 2, channel: 0 });
  const ch1 = rmsDbfs(first, { channels: 2, channel: 1 });
  assert.ok(ch0 > -40, `caller speaks: channel 0 at ${ch0.toFixed(1)} dBFS`);
  assert.ok(ch1 < -60 && ch1 > -90, `called side is quiet line noise: channel 1 at ${ch1.toFixed(1)} dBFS`);

  // somewhere later the called side answers while the caller is quiet
  const answers = Array.from({ length: 22 }, (_, i) => window(1 + i * 0.5, 0.5)).some(
    (w) => rmsDbfs(w, { channels: 2, channel: 1 }) > rmsDbfs(w, { channels: 2, channel: 0 }) + 30,
  );
  assert.ok(answers, 'channel 1 never spoke alone');
});

test('mono line: the mix carries speech', async (t) => {
  const { sim, events } = await simWith(t);
  const ref = sim.placeCall('L2', { durationSec: 1 });
  await until('the call to end', () => events.some((x) => x.type === 'call-end'));
  const pcm = Int16Array.from(ofCall(events, ref).audio.flatMap((b) => [...b.pcm]));
  assert.equal(pcm.length, 8000);
  assert.ok(rmsDbfs(pcm) > -40);
});

test('placeCall refuses a busy line, an unknown line, a bad duration and a stopped source', async (t) => {
  const { sim } = await simWith(t);
  sim.placeCall('L1', { durationSec: 30 });
  assert.throws(() => sim.placeCall('L1'), rvCode('RV_ERR_LINE_BUSY'));
  assert.throws(() => sim.placeCall('nope'), rvCode('RV_ERR_UNKNOWN_LINE'));
  assert.throws(() => sim.busy('nope'), rvCode('RV_ERR_UNKNOWN_LINE'));
  assert.throws(() => sim.placeCall('L2', { durationSec: 0 }), rvCode('RV_ERR_SIM_DURATION'));
  assert.throws(() => sim.placeCall('L2', { durationSec: Number.NaN }), rvCode('RV_ERR_SIM_DURATION'));
  await sim.stop();
  assert.throws(() => sim.placeCall('L2'), rvCode('RV_ERR_SOURCE_STOPPED'));
});

test('hangup early: the call ends then, and its audio covers exactly start to end', async (t) => {
  const { sim, events } = await simWith(t);
  const ref = sim.placeCall('L1', { durationSec: 60 });
  await until('a second of audio', () => framesOf(ofCall(events, ref).audio) >= 8000);
  sim.hangup('L1');
  assert.equal(sim.busy('L1'), false);
  sim.hangup('L1'); // idle: nothing happens
  const { start, end, audio } = ofCall(events, ref);
  assert.equal(end!.reason, 'hangup');
  const frames = framesOf(audio);
  assert.ok(frames < 60 * 8000);
  assert.equal(frames, (end!.at - start!.at) * 8);
  assertContiguous(start!, audio, end!.at);
  const count = events.length;
  await sleep(100);
  assert.equal(events.length, count, 'nothing after the hangup');
  assert.equal(events.filter((x) => x.type === 'call-end').length, 1);
  sim.placeCall('L1', { durationSec: 1 }); // the line is free again
});

test('setFault: the live call ends, fault is reported, no audio or calls until recovered', async (t) => {
  const { sim, events } = await simWith(t);
  const ref = sim.placeCall('L1', { durationSec: 60 });
  await until('some audio', () => ofCall(events, ref).audio.length >= 5);
  sim.setFault('L1', true);
  sim.setFault('L1', true); // already faulted: no second event
  const { start, end, audio } = ofCall(events, ref);
  assert.equal(end!.reason, 'fault');
  assert.equal(framesOf(audio), (end!.at - start!.at) * 8);
  assert.deepEqual(events.filter((x) => x.type === 'fault').map((x) => x.e.line), ['L1']);
  assert.equal(sim.busy('L1'), false);
  assert.throws(() => sim.placeCall('L1'), rvCode('RV_ERR_LINE_FAULT'));
  const count = events.length;
  await sleep(100);
  assert.equal(events.length, count, 'a faulted line is silent');

  sim.setFault('L1', false);
  assert.deepEqual(events.at(-1), { type: 'recovered', e: { line: 'L1' } });
  const again = sim.placeCall('L1', { durationSec: 0.5 });
  await until('the new call to end', () => ofCall(events, again).end !== undefined);
  assert.equal(framesOf(ofCall(events, again).audio), 4000);
});

test('a fake clock paces the calls: whole blocks only as its time passes, timestamps from it', async (t) => {
  const t0 = 1_700_000_000_000;
  let now = t0;
  const { sim, events } = await simWith(t, { speed: 1, clock: () => now });
  const ref = sim.placeCall('L1', { durationSec: 1 });
  assert.equal(ofCall(events, ref).start!.at, t0);
  now += 100;
  await until('5 blocks', () => ofCall(events, ref).audio.length === 5);
  now += 10; // half a block: nothing yet
  await sleep(80);
  assert.deepEqual(ofCall(events, ref).audio.map((b) => b.at), [0, 20, 40, 60, 80].map((d) => t0 + d));
  now += 10_000;
  await until('the end', () => ofCall(events, ref).end !== undefined);
  const { audio, end } = ofCall(events, ref);
  assert.equal(audio.length, 50);
  assert.equal(end!.at, t0 + 1000);
});

test('random calls on every line; stop ends live calls with "shutdown" and leaves no timers behind', async (t) => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const { sim, events } = await simWith(t, { random: { meanGapSec: 0.5, minSec: 2, maxSec: 4 } });
  await until('finished calls on both lines and one in progress', () => {
    const ended = events.filter((x): x is Extract<Ev, { type: 'call-end' }> => x.type === 'call-end');
    return ['L1', 'L2'].every((l) => ended.some((x) => x.e.line === l)) && (sim.busy('L1') || sim.busy('L2'));
  });
  const live = ['L1', 'L2'].filter((l) => sim.busy(l));
  await sim.stop();
  await sim.stop(); // twice is fine
  assert.ok(!sim.busy('L1') && !sim.busy('L2'));

  const starts = events.flatMap((x) => (x.type === 'call-start' ? [x.e] : []));
  for (const s of starts) {
    const { end, audio } = ofCall(events, s.ref);
    assert.ok(end, `call ${s.ref} has an end`);
    assert.equal(events.filter((x) => x.type === 'call-end' && x.e.ref === s.ref).length, 1);
    assert.equal(framesOf(audio), (end.at - s.at) * 8);
    assertContiguous(s, audio, end.at);
    assert.match(s.parties.caller!, /^(\+31[1-9]\d{8}|0[1-9]\d{8}|withheld)$/);
    if (end.reason === 'hangup') assert.ok(end.at - s.at >= 2000 && end.at - s.at <= 4000);
  }
  const shutdown = events.flatMap((x) => (x.type === 'call-end' && x.e.reason === 'shutdown' ? [x.e.line] : []));
  assert.deepEqual(shutdown.sort(), live.sort());
  // calls on one line never overlap in time
  for (const line of ['L1', 'L2']) {
    const spans = starts.filter((s) => s.line === line).map((s) => [s.at, ofCall(events, s.ref).end!.at]);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i][0] >= spans[i - 1][1]);
  }

  assert.equal(timers(), before, 'stop() cleared its interval');
  const count = events.length;
  await sleep(150);
  assert.equal(events.length, count, 'nothing happens after stop');
});

test('start fails clearly when the speech folder is missing or empty', async () => {
  const sim = new SimSource({ lines: [{ id: 'L1', channels: 2 }], speechDir: path.join(SPEECH_DIR, 'nope') });
  await assert.rejects(sim.start(), rvCode('RV_ERR_SIM_SPEECH'));
  const empty = new SimSource({ lines: [{ id: 'L1', channels: 2 }], speechDir: import.meta.dirname });
  await assert.rejects(empty.start(), rvCode('RV_ERR_SIM_SPEECH'));
  assert.throws(() => new SimSource({ lines: [], speechDir: SPEECH_DIR }), rvCode('RV_ERR_SIM_CONFIG'));
  assert.throws(
    () => new SimSource({ lines: [{ id: 'a', channels: 1 }, { id: 'a', channels: 2 }], speechDir: SPEECH_DIR }),
    rvCode('RV_ERR_SIM_CONFIG'),
  );
});
