import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { Box } from '../src/box.ts';
import { parseConfig } from '../src/config/load.ts';
import { silentLog, type Log } from '../src/log.ts';
import { SimBoard } from '../src/board/sim.ts';
import { SerialBoard } from '../src/board/serial.ts';
import { GpioBoard } from '../src/board/gpio.ts';
import type { PressOutcome } from '../src/board/controller.ts';
import { BoardSim, PtyPair } from './helpers/board-sim.ts';
import { Client, ROOT, startAppliance } from './helpers/appliance.ts';
import { until } from './helpers/until.ts';

const PASS = 'correct horse battery staple';

/** A log that remembers warnings, to check that bad lines are logged. */
function memoryLog(): Log & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLog, warn: (o: object | string, m?: string) => { warnings.push(`${m ?? ''} ${JSON.stringify(o)}`); } , warnings };
}

/** What the suite needs from a board: the physical side (buttons, LEDs) and the plug. */
interface Rig {
  box: Box;
  log: ReturnType<typeof memoryLog>;
  press(n: number, kind: 'short' | 'long'): void;
  sense(n: number, state: 'offhook' | 'onhook' | 'ring'): void;
  /** the lasting LED state the board shows, lower case */
  led(n: number): string | undefined;
  acks(n: number): number;
  /** sends the board something outside the protocol */
  garbage(): void;
  unplug(): Promise<void>;
  replug(): Promise<void>;
}

const lines = [
  { id: 'line1', name: 'Front desk', keep: 'on-demand' },
  { id: 'line2', name: 'Back office', keep: 'on-demand' },
];

async function openBox(t: { after(fn: () => Promise<void>): void }, board: Record<string, unknown>, log: Log, extra: Record<string, unknown> = {}): Promise<Box> {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-board-'));
  const config = parseConfig({ dataDir, lines, graceSeconds: 60, board, ...extra }, 'test');
  const box = await Box.open({ config, log, clock: { now: () => Date.now(), synced: () => true }, speechDir: join(ROOT, 'assets/speech') });
  t.after(async () => { await box.close(); await rm(dataDir, { recursive: true, force: true }); });
  return box;
}

async function simRig(t: { after(fn: () => Promise<void>): void }, extra: Record<string, unknown> = {}): Promise<Rig> {
  const log = memoryLog();
  const box = await openBox(t, { driver: 'sim' }, log, extra);
  const board = box.board as SimBoard;
  const acks = new Map<string, number>();
  board.watchLeds((c) => { if (c.state === 'ack') acks.set(c.line, (acks.get(c.line) ?? 0) + 1); });
  const id = (n: number) => lines[n - 1]!.id;
  return {
    box, log,
    press: (n, kind) => board.press(id(n), kind),
    sense: (n, state) => board.sense(id(n), state),
    led: (n) => board.led(id(n)),
    acks: (n) => acks.get(id(n)) ?? 0,
    garbage: () => assert.throws(() => board.press('line9', 'short'), /There is no line "line9"/),
    unplug: async () => board.unplug(),
    replug: async () => board.plug(),
  };
}

async function serialRig(t: { after(fn: () => Promise<void>): void }, extra: Record<string, unknown> = {}): Promise<Rig & { sim: () => BoardSim }> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-pty-'));
  const pty = new PtyPair(dir);
  await pty.start();
  let sim = await BoardSim.open(pty.board);
  const log = memoryLog();
  const box = await openBox(t, { driver: 'serial', serialPath: pty.box }, log, extra);
  t.after(async () => { await sim.close(); await pty.stop(); await rm(dir, { recursive: true, force: true }); });
  await until(() => box.board!.connected, 'serial board to connect');
  return {
    box, log, sim: () => sim,
    press: (n, kind) => sim.press(n, kind === 'short' ? 'SHORT' : 'LONG'),
    sense: (n, state) => sim.sense(n, state.toUpperCase() as 'OFFHOOK' | 'ONHOOK' | 'RING'),
    led: (n) => sim.leds.get(n)?.toLowerCase(),
    acks: (n) => sim.acks.get(n) ?? 0,
    garbage: () => { for (const g of ['BTN 1 MEDIUM', 'HELLO?', '\u00ff\u00fe', 'SENSE 9 OFFHOOK', 'x'.repeat(300), 'BTN 1']) sim.write(g); },
    unplug: async () => { await sim.close(); await pty.stop(); },
    replug: async () => { await pty.start(); sim = await BoardSim.open(pty.board); },
  };
}

const outcome = (box: Box, pred: (o: PressOutcome) => boolean) =>
  new Promise<PressOutcome>((res) => { const f = (o: PressOutcome) => { if (pred(o)) { box.boardController!.off('handled', f); res(o); } }; box.boardController!.on('handled', f); });

for (const [name, make] of [['sim', simRig], ['serial', serialRig]] as const) {
  test(`${name} board: LEDs show fault until the vault is set up, then idle and buffering during a call`, async (t) => {
    const r = await make(t);
    await until(() => r.led(1) === 'fault' && r.led(2) === 'fault', 'fault LEDs before setup');
    assert.ok(r.box.health!.report().issues.some((i) => i.code === 'RV_ERR_NOT_SET_UP'));
    await r.box.setup('admin', PASS);
    await until(() => r.led(1) === 'idle' && r.led(2) === 'idle', 'idle LEDs after setup');
    r.box.sim!.placeCall('line2', { durationSec: 60 });
    await until(() => r.led(2) === 'buffering', 'line 2 buffering');
    assert.equal(r.led(1), 'idle');
    r.box.sim!.hangup('line2');
    await until(() => r.led(2) === 'idle', 'line 2 idle after hang-up');
  });

  test(`${name} board: a short press keeps the live call on its line, acknowledged on the LED`, async (t) => {
    const r = await make(t);
    await r.box.setup('admin', PASS);
    r.box.sim!.placeCall('line1', { durationSec: 60 });
    r.box.sim!.placeCall('line2', { durationSec: 60 });
    await until(() => r.led(1) === 'buffering' && r.led(2) === 'buffering', 'both lines buffering');
    const handled = outcome(r.box, (o) => o.kind === 'short');
    r.press(1, 'short');
    const o = await handled;
    assert.equal(o.ok, true, o.error);
    assert.equal(o.line, 'line1');
    await until(() => r.acks(1) === 1, 'ack flash on LED 1');
    await until(() => r.led(1) === 'keeping', 'LED 1 keeping');
    assert.equal(r.led(2), 'buffering', 'the other line is not kept');
    assert.equal(r.acks(2), 0);
    r.box.sim!.hangup('line1');
    r.box.sim!.hangup('line2');
    await r.box.recorder.settle();
    const kept = await until(() => r.box.archive.list().find((h) => h.id === o.callId), 'kept call in the archive');
    assert.equal(kept.keptBy, 'button');
    assert.equal(kept.line, 'line1');
    assert.equal(r.box.archive.list().length, 1);
  });

  test(`${name} board: a long press makes the call private (wiped, never kept)`, async (t) => {
    const r = await make(t);
    await r.box.setup('admin', PASS);
    r.box.sim!.placeCall('line1', { durationSec: 60 });
    await until(() => r.led(1) === 'buffering', 'line 1 buffering');
    // Keep it first: private must also undo a keep.
    r.press(1, 'short');
    await until(() => r.led(1) === 'keeping', 'LED 1 keeping');
    const handled = outcome(r.box, (o) => o.kind === 'long');
    r.press(1, 'long');
    assert.equal((await handled).ok, true);
    await until(() => r.led(1) === 'private', 'LED 1 private');
    assert.equal(r.acks(1), 2);
    assert.equal(r.box.recorder.status()[0]!.call?.private, true);
    r.box.sim!.hangup('line1');
    await until(() => r.led(1) === 'idle', 'LED 1 idle after hang-up');
    await r.box.recorder.settle();
    assert.equal(r.box.archive.list().length, 0, 'nothing kept');
    // A short press now finds nothing to keep: the private call is gone from the ring too.
    const again = outcome(r.box, (o) => o.kind === 'short');
    r.press(1, 'short');
    assert.match((await again).error ?? '', /no call on line line1|no live or just-ended call/);
    assert.equal(r.box.archive.list().length, 0);
  });

  test(`${name} board: a press shortly after hang-up keeps the call just ended`, async (t) => {
    const r = await make(t);
    await r.box.setup('admin', PASS);
    const ref = r.box.sim!.placeCall('line2', { durationSec: 60 });
    await until(() => r.led(2) === 'buffering', 'line 2 buffering');
    // Let a second of audio reach the ring before hanging up.
    await new Promise((res) => setTimeout(res, 1200));
    r.box.sim!.hangup('line2');
    await until(() => r.led(2) === 'idle' && r.box.recorder.status()[1]!.lastEnded?.ref === ref, 'call ended, within grace');
    const handled = outcome(r.box, (o) => o.kind === 'short');
    r.press(2, 'short');
    const o = await handled;
    assert.equal(o.ok, true, o.error);
    const h = r.box.archive.list().find((x) => x.id === o.callId);
    assert.ok(h, 'archived');
    assert.equal(h.keptBy, 'button');
    assert.ok(h.durationMs > 0);
    assert.equal(r.acks(2), 1);
  });

  test(`${name} board: line sense reaches the box as sense events for the right line`, async (t) => {
    const r = await make(t);
    const seen: string[] = [];
    r.box.board!.on('sense', (e) => seen.push(`${e.line} ${e.state}`));
    r.sense(2, 'ring');
    r.sense(2, 'offhook');
    r.sense(1, 'offhook');
    r.sense(2, 'onhook');
    await until(() => seen.length === 4, 'four sense events');
    assert.deepEqual(seen, ['line2 ring', 'line2 offhook', 'line1 offhook', 'line2 onhook']);
  });

  test(`${name} board: bad input from the board is ignored and logged; the board keeps working`, async (t) => {
    const r = await make(t);
    await r.box.setup('admin', PASS);
    r.garbage();
    r.box.sim!.placeCall('line1', { durationSec: 60 });
    await until(() => r.led(1) === 'buffering', 'line 1 buffering');
    r.press(1, 'short');
    await until(() => r.led(1) === 'keeping', 'LED 1 keeping after the garbage');
    assert.equal(r.box.board!.connected, true);
    if (r.box.board instanceof SerialBoard) {
      const board = r.box.board;
      await until(() => board.malformed === 6, 'six bad lines counted');
      assert.ok(r.log.warnings.filter((w) => /not in the protocol/.test(w)).length >= 5, r.log.warnings.join('\n'));
      assert.ok(r.log.warnings.some((w) => /over-long line/.test(w)));
    }
  });

  test(`${name} board: unplugged during a call, recording goes on, the fault shows, and it comes back on its own`, async (t) => {
    const r = await make(t);
    await r.box.setup('admin', PASS);
    r.box.sim!.placeCall('line1', { durationSec: 120 });
    await until(() => r.led(1) === 'buffering', 'line 1 buffering');
    r.press(1, 'short');
    await until(() => r.led(1) === 'keeping', 'LED 1 keeping');
    await r.unplug();
    const unpluggedAt = Date.now();
    const issue = await until(() => r.box.health!.report().issues.find((i) => i.code === 'RV_ERR_BOARD_DISCONNECTED'), 'board fault in health');
    assert.match(issue.message, /not connected/);
    assert.equal(r.box.health!.report().board?.connected, false);
    // The call is still being kept while the board is gone.
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(r.box.recorder.status()[0]!.state, 'keeping');
    await r.replug();
    await until(() => r.box.board!.connected && r.box.health!.report().ok, 'board back, health ok', 30_000);
    await until(() => r.led(1) === 'keeping' && r.led(2) === 'idle', 'LED states shown again after reconnect');
    r.box.sim!.hangup('line1');
    await r.box.recorder.settle();
    const [h] = r.box.archive.list();
    assert.ok(h, 'the kept call is archived');
    let last = 0;
    for await (const c of r.box.archive.readPcm(h.id)) last = c.at;
    // A chunk that starts after the unplug proves the audio went on.
    assert.ok(last > unpluggedAt, `audio recorded after the unplug (last chunk starts ${last - unpluggedAt} ms after it)`);
  });
}

test('one-button mode: a press keeps every live call', async (t) => {
  const box = await openBox(t, { driver: 'sim', buttonMode: 'all' }, silentLog);
  await box.setup('admin', PASS);
  box.sim!.placeCall('line1', { durationSec: 60 });
  box.sim!.placeCall('line2', { durationSec: 60 });
  await until(() => box.recorder.status().every((l) => l.call), 'both calls live');
  const board = box.board as SimBoard;
  const done: PressOutcome[] = [];
  box.boardController!.on('handled', (o) => done.push(o));
  board.press(undefined, 'short');
  await until(() => done.length === 2, 'two outcomes');
  assert.deepEqual(done.map((o) => [o.line, o.ok]).sort(), [['line1', true], ['line2', true]]);
  await until(() => board.led('line1') === 'keeping' && board.led('line2') === 'keeping', 'both LEDs keeping');
});

test('appliance end to end: serial board over socat, unplugged during a kept call, /api/state shows it, it reconnects', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-board-e2e-'));
  const pty = new PtyPair(dir);
  await pty.start();
  let sim = await BoardSim.open(pty.board);
  const cfgFile = join(dir, 'config.json');
  await writeFile(cfgFile, JSON.stringify({ lines, board: { driver: 'serial', serialPath: pty.box } }));
  const app = await startAppliance(join(dir, 'data'), ['--config', cfgFile]);
  t.after(async () => { await app.stop(); await sim.close(); await pty.stop(); await rm(dir, { recursive: true, force: true }); });
  const c = new Client(app.url);
  await c.state();
  await c.json('POST', '/api/setup', { username: 'admin', passphrase: PASS , claimCode: app.claimCode()});
  await c.until(async () => { const s = await c.state(); return s.health?.ok && s.health.board?.kind === 'serial' && s.health.board.connected; }, 'board connected, health ok');
  // The sim-board routes refuse on a box with a real board.
  const refused = await c.request('POST', '/api/sim/board/press', { kind: 'short' });
  assert.equal(refused.status, 404);
  assert.equal((await refused.json()).error.code, 'RV_ERR_NOT_SIMULATED');

  await c.json('POST', '/api/sim/lines/line1/call', { durationSec: 300 });
  await c.until(async () => sim.leds.get(1) === 'BUFFERING', 'LED 1 BUFFERING on the board');
  sim.press(1, 'SHORT');
  await c.until(async () => sim.leds.get(1) === 'KEEPING', 'LED 1 KEEPING on the board');
  assert.equal(sim.acks.get(1), 1);
  const live = (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1');
  assert.equal(live.state, 'keeping');
  assert.equal(live.led, 'keeping');

  await sim.close();
  await pty.stop();
  const faulted = await c.until(async () => { const s = await c.state(); return s.health?.issues?.find((i: any) => i.code === 'RV_ERR_BOARD_DISCONNECTED') && s; }, 'board fault in /api/state');
  assert.equal(faulted.health.ok, false);
  assert.equal(faulted.health.board.connected, false);
  const stranger = await new Client(app.url).state();
  assert.deepEqual(stranger.health, { ok: false }, 'strangers learn only that something is wrong');
  // Recording goes on without the board.
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal((await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1').state, 'keeping');

  await pty.start();
  sim = await BoardSim.open(pty.board);
  await c.until(async () => { const s = await c.state(); return s.health?.ok && s.health.board.connected; }, 'board reconnected on its own', 30_000);
  await c.until(async () => sim.leds.get(1) === 'KEEPING' && sim.leds.get(2) === 'IDLE', 'LED states sent again after reconnect');
  await c.json('POST', '/api/sim/lines/line1/hangup', {});
  const kept = await c.until(async () => (await c.json('GET', '/api/calls')).calls.find((x: any) => x.line === 'line1'), 'kept call listed');
  assert.equal(kept.keptBy, 'button');
});

test('appliance end to end: the dashboard simulation panel presses the sim board (auth and CSRF required)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-board-sim-'));
  const app = await startAppliance(join(dir, 'data'));
  t.after(async () => { await app.stop(); await rm(dir, { recursive: true, force: true }); });
  const stranger = new Client(app.url);
  await stranger.state();
  assert.equal((await stranger.request('POST', '/api/sim/board/press', { line: 'line1', kind: 'short' })).status, 401);
  const c = new Client(app.url);
  const s0 = await c.state();
  assert.equal(s0.simBoard, true);
  await c.json('POST', '/api/setup', { username: 'admin', passphrase: PASS , claimCode: app.claimCode()});
  await c.state();
  // A forged request: the session cookie without the page's CSRF token.
  const token = (c as unknown as { csrf: string }).csrf;
  (c as unknown as { csrf: string }).csrf = 'forged';
  const noCsrf = await c.request('POST', '/api/sim/board/press', { line: 'line1', kind: 'short' });
  (c as unknown as { csrf: string }).csrf = token;
  assert.equal(noCsrf.status, 403);
  const bad = await c.request('POST', '/api/sim/board/press', { line: 'line1', kind: 'medium' });
  assert.equal(bad.status, 400);
  const unknown = await c.request('POST', '/api/sim/board/press', { line: 'line9', kind: 'short' });
  assert.equal(unknown.status, 404);
  assert.match((await unknown.json()).error.message, /no line "line9"/);

  await c.json('POST', '/api/sim/lines/line1/call', { durationSec: 300 });
  await c.until(async () => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1' && l.led === 'buffering'), 'LED buffering');
  await c.json('POST', '/api/sim/board/press', { line: 'line1', kind: 'short' });
  await c.until(async () => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1' && l.led === 'keeping' && l.state === 'keeping'), 'LED keeping');
  await c.json('POST', '/api/sim/board/press', { line: 'line1', kind: 'long' });
  await c.until(async () => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1' && l.led === 'private'), 'LED private');
  await c.json('POST', '/api/sim/board/plug', { plugged: false });
  await c.until(async () => (await c.state()).health.issues.find((i: any) => i.code === 'RV_ERR_BOARD_DISCONNECTED'), 'unplugged sim board shows as a fault');
  const off = await c.request('POST', '/api/sim/board/press', { line: 'line1', kind: 'short' });
  assert.equal(off.status, 409);
  await c.json('POST', '/api/sim/board/plug', { plugged: true });
  await c.until(async () => (await c.state()).health.ok, 'health ok after plugging back in');
  const entry = await c.until(async () => (await c.json('GET', '/api/audit')).entries.find((e: any) => e.action === 'call.private'), 'the private press audited');
  assert.equal(entry.actor, 'button');
  assert.deepEqual(entry.detail, { line: 'line1' });
});

test('serial driver: a board that stops answering PING is a fault; it recovers when it answers again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-pty-'));
  const pty = new PtyPair(dir);
  await pty.start();
  const sim = await BoardSim.open(pty.board, { senseAtHello: ['ONHOOK', 'OFFHOOK'] });
  const log = memoryLog();
  const board = new SerialBoard({ path: pty.box, lines: () => ['line1', 'line2'], longPressMs: () => 1800, log, heartbeatMs: 100, silenceMs: 500, backoff: { minMs: 100, maxMs: 400 } });
  const events: string[] = [];
  const senses: string[] = [];
  board.on('sense', (e) => senses.push(`${e.line} ${e.state}`));
  board.on('fault', (f) => events.push(`fault ${f.code}`));
  board.on('recovered', () => events.push('recovered'));
  t.after(async () => { await board.stop(); await sim.close(); await pty.stop(); await rm(dir, { recursive: true, force: true }); });
  await board.start();
  await until(() => board.connected, 'connected');
  assert.equal(events.length, 0, 'a board that answers at once is no fault');
  await until(() => sim.longMs === 1800, 'LONGMS sent after HELLO');
  assert.equal(board.hello?.fields.fw, 'test');
  // Every HELLO is followed by where each line stands.
  await until(() => senses.length >= 2, 'line sense after HELLO');
  assert.deepEqual(senses.slice(0, 2), ['line1 onhook', 'line2 offhook']);
  board.setLed('line2', 'keeping');
  await until(() => sim.leds.get(2) === 'KEEPING', 'LED 2 set');
  const before = sim.rx.length;
  board.setLed('line2', 'keeping');
  board.setLed('line9', 'fault');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(!sim.rx.slice(before).some((x) => x.line.startsWith('LED')), 'only changes are sent; unknown lines are not');
  sim.mute = true;
  await until(() => events.includes('fault RV_ERR_BOARD_SILENT'), 'silence fault');
  assert.equal(board.connected, false);
  assert.ok(log.warnings.some((w) => /stopped answering/.test(w)));
  sim.mute = false;
  await until(() => events.at(-1) === 'recovered', 'recovered after the board answers again', 10_000);
  await until(() => sim.leds.get(2) === 'KEEPING', 'LED state resent after the new HELLO');
});

test('serial driver: a board with another protocol version is refused with a clear fault', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-pty-'));
  const pty = new PtyPair(dir);
  await pty.start();
  const sim = await BoardSim.open(pty.board, { version: 2 });
  const board = new SerialBoard({ path: pty.box, lines: () => ['line1'], longPressMs: () => 1000, log: silentLog, backoff: { minMs: 100, maxMs: 200 } });
  const faults: { code: string; message: string }[] = [];
  board.on('fault', (f) => faults.push(f));
  board.on('press', () => assert.fail('a refused board must not press'));
  t.after(async () => { await board.stop(); await sim.close(); await pty.stop(); await rm(dir, { recursive: true, force: true }); });
  await board.start();
  await until(() => faults.length > 0, 'version fault');
  assert.equal(faults[0]!.code, 'RV_ERR_BOARD_VERSION');
  assert.match(faults[0]!.message, /version 2, this box version 1; update the board firmware/);
  sim.press(1, 'SHORT');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(board.connected, false);
});

test('serial driver: no board plugged in is a fault that says what to do, never a crash', async (t) => {
  for (const [path, code, text] of [
    ['', 'RV_ERR_BOARD_NOT_FOUND', /No ringvault control board found .*set board.serialPath/],
    ['/dev/serial/by-id/usb-nothing-here', 'RV_ERR_BOARD_GONE', /There is no control board at \/dev\/serial\/by-id\/usb-nothing-here/],
  ] as const) {
    const board = new SerialBoard({ path, lines: () => ['line1'], longPressMs: () => 1000, log: silentLog, backoff: { minMs: 50, maxMs: 100 } });
    t.after(() => board.stop());
    const fault = new Promise<{ code: string; message: string }>((res) => board.once('fault', res));
    await board.start();
    const f = await fault;
    assert.equal(f.code, code);
    assert.match(f.message, text);
    assert.equal(board.connected, false);
  }
});

test('gpio driver against the real libgpiod tools: this sandbox has no GPIO chip (and no gpio-sim), so it reports a fault and retries', async (t) => {
  // gpio-sim needs configfs and the kernel module; neither exists here, so edges cannot be injected.
  // The gpiomon line parsing and the debouncer are table-tested in board-protocol.test.ts.
  const pins = { chip: 'gpiochip0', buttons: [17, 27], leds: [22, 23], sense: [24], activeLow: true, debounceMs: 30 };
  const board = new GpioBoard({ pins, lines: () => ['line1', 'line2'], longPressMs: () => 1000, log: silentLog, backoff: { minMs: 50, maxMs: 100 } });
  t.after(() => board.stop());
  const fault = new Promise<{ code: string; message: string }>((res) => board.once('fault', res));
  await board.start();
  const f = await fault;
  assert.equal(f.code, 'RV_ERR_BOARD_GPIO');
  assert.match(f.message, /Cannot read GPIO gpiochip0 \(gpioget: error reading GPIO values: No such file or directory\); check board.gpio.chip/);
  board.setLed('line1', 'keeping');
  board.setLed('line1', 'ack');
  assert.equal(board.connected, false);

  const missing = new GpioBoard({ pins, lines: () => ['line1'], longPressMs: () => 1000, log: silentLog, tools: { gpiomon: '/nonexistent/gpiomon', gpioget: '/nonexistent/gpioget', gpioset: '/nonexistent/gpioset' } });
  t.after(() => missing.stop());
  const f2 = await new Promise<{ code: string; message: string }>((res) => { missing.once('fault', res); void missing.start(); });
  assert.match(f2.message, /install the Debian package gpiod/);
});

test('beep: a call starting to be kept plays a 1 kHz beep through aplay (ALSA file plugin, measured with sox)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-beep-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'beep.raw');
  const box = await openBox(t, { driver: 'sim', beep: true, beepDevice: `file:'${out}',raw` }, silentLog);
  await box.setup('admin', PASS);
  const beeped = new Promise<{ ok: boolean }>((res) => box.boardController!.once('beep', res));
  box.sim!.placeCall('line1', { durationSec: 60 });
  await until(() => box.recorder.status()[0]!.call, 'call live');
  (box.board as SimBoard).press('line1', 'short');
  assert.equal((await beeped).ok, true);
  // sox prints `stat` on stderr.
  const sox = spawnSync('sox', ['-t', 'raw', '-r', '8000', '-e', 'signed', '-b', '16', '-c', '1', out, '-n', 'stat'], { encoding: 'utf8' });
  const freq = Number(/Rough\s+frequency:\s+(\d+)/.exec(sox.stderr)?.[1]);
  const len = Number(/Length \(seconds\):\s+([\d.]+)/.exec(sox.stderr)?.[1]);
  assert.ok(Math.abs(freq - 1000) < 60, `beep frequency ${freq} Hz: ${sox.stderr}`);
  // ALSA pads the last period with silence.
  assert.ok(len >= 0.32 && len < 0.5, `beep length ${len} s`);

  // A device that does not exist: the keep still works, the beep reports failure.
  const box2 = await openBox(t, { driver: 'sim', beep: true, beepDevice: 'hw:CARD=NoSuchCard' }, silentLog);
  await box2.setup('admin', PASS);
  const failed = new Promise<{ ok: boolean }>((res) => box2.boardController!.once('beep', res));
  box2.sim!.placeCall('line1', { durationSec: 60 });
  await until(() => box2.recorder.status()[0]!.call, 'call live');
  (box2.board as SimBoard).press('line1', 'short');
  assert.equal((await failed).ok, false);
  await until(() => box2.recorder.status()[0]!.state === 'keeping', 'kept without a beep');
});

test('dashboard (headless Chromium): the simulation panel presses the board; the LED hint and the health panel follow', async (t) => {
  const { launchBrowser, watchConsole } = await import('./helpers/browser.ts');
  const en = ((await import(pathToFileURL(join(ROOT, 'web', 'i18n', 'en.js')).href)) as { default: Record<string, string> }).default;
  const dir = await mkdtemp(join(tmpdir(), 'rv-board-ui-'));
  const app = await startAppliance(join(dir, 'data'));
  const browser = await launchBrowser();
  t.after(async () => { await browser.close(); await app.stop(); await rm(dir, { recursive: true, force: true }); });
  const c = new Client(app.url);
  await c.state();
  await c.json('POST', '/api/setup', { username: 'admin', passphrase: PASS, claimCode: app.claimCode(), language: 'en' });
  const page = await (await browser.newContext({ locale: 'en-GB' })).newPage();
  page.setDefaultTimeout(15_000);
  const consoleLog = watchConsole(page);
  await page.goto(app.url);
  await page.getByTestId('login-username').fill('admin');
  await page.getByTestId('login-passphrase').fill(PASS);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(/#\/dashboard$/);
  const ledText = (state: string) => en['led.label']!.replace('{state}', en[`led.${state}`]!);
  await page.getByTestId('sim-duration-line1').fill('300');
  await page.getByTestId('sim-in-line1').click();
  await page.getByTestId('led-line1').filter({ hasText: ledText('buffering') }).waitFor();
  await page.getByTestId('sim-board-short-line1').click();
  await page.getByTestId('led-line1').filter({ hasText: ledText('keeping') }).waitFor();
  assert.equal(await page.getByTestId('line-line1').getAttribute('data-led'), 'keeping');
  assert.equal(await page.getByTestId('health').isHidden(), true, 'no health panel while all is well');
  await page.getByTestId('sim-board-plug').click();
  await page.locator('[data-testid="health"] li[data-code="RV_ERR_BOARD_DISCONNECTED"]').filter({ hasText: en['health.RV_ERR_BOARD_DISCONNECTED']! }).waitFor();
  assert.equal(await page.getByTestId('sim-board-plug').textContent(), en['sim.boardPlug']);
  await page.getByTestId('sim-board-plug').click();
  await page.getByTestId('health').waitFor({ state: 'hidden' });
  await page.getByTestId('sim-board-long-line1').click();
  await page.getByTestId('led-line1').filter({ hasText: ledText('private') }).waitFor();
  assert.deepEqual(consoleLog.errors, []);
});

test('gpio driver: gpiomon 1.6 output with contact bounce becomes one short press, a long press, and line sense', async (t) => {
  // The edges are gpiomon's own line formats (custom -F '%o %e %s %n' and its default), fed as the
  // driver reads them from gpiomon's stdout; no GPIO chip exists in this sandbox to produce them.
  const log = memoryLog();
  const pins = { chip: 'gpiochip0', buttons: [17, 27], leds: [22, 23], sense: [24, 25], activeLow: true, debounceMs: 20 };
  const board = new GpioBoard({ pins, lines: () => ['line1', 'line2'], longPressMs: () => 300, log });
  t.after(() => board.stop());
  board.useLevels([false, false, false, false]);
  const events: string[] = [];
  board.on('press', (p) => events.push(`press ${p.line} ${p.kind}`));
  board.on('sense', (s) => events.push(`sense ${s.line} ${s.state}`));
  const edge = (off: number, rising: boolean, ms: number) => `${off} ${rising ? 1 : 0} ${Math.floor(ms / 1000)} ${String(Math.round((ms % 1000) * 1e6)).padStart(9, '0')}`;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  // Button 1: pressed with three bounces, released 100 ms later with two.
  for (const [rising, ms] of [[true, 5000], [false, 5003], [true, 5007]] as const) board.feed(edge(17, rising, ms));
  await sleep(60);
  for (const [rising, ms] of [[false, 5100], [true, 5102], [false, 5105]] as const) board.feed(edge(17, rising, ms));
  await until(() => events.length === 1, 'one short press');
  assert.deepEqual(events, ['press line1 short']);

  // Button 2 held: LONG comes while it is still down, and the release adds nothing.
  board.feed('event:  RISING EDGE offset: 27 timestamp: [    6000.000000000]');
  await until(() => events.length === 2, 'long press while held');
  assert.equal(events[1], 'press line2 long');
  board.feed('event: FALLING EDGE offset: 27 timestamp: [    6002.500000000]');
  // A 5 ms glitch on the line-2 opto input is no line change; a steady level is.
  board.feed(edge(25, true, 7000));
  board.feed(edge(25, false, 7005));
  await sleep(60);
  board.feed(edge(25, true, 8000));
  await until(() => events.length === 3, 'off-hook');
  board.feed(edge(25, false, 9000));
  await until(() => events.length === 4, 'on-hook');
  board.feed('gpiomon: error reading line events');
  assert.deepEqual(events, ['press line1 short', 'press line2 long', 'sense line2 offhook', 'sense line2 onhook']);
  assert.ok(log.warnings.some((w) => /not an event; ignored/.test(w)));
});

test('serial driver: a board spewing noise is counted in full but logged only ten times a minute', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-pty-'));
  const pty = new PtyPair(dir);
  await pty.start();
  const sim = await BoardSim.open(pty.board);
  const log = memoryLog();
  const board = new SerialBoard({ path: pty.box, lines: () => ['line1'], longPressMs: () => 1000, log });
  t.after(async () => { await board.stop(); await sim.close(); await pty.stop(); await rm(dir, { recursive: true, force: true }); });
  const presses: string[] = [];
  board.on('press', (p) => presses.push(`${p.line} ${p.kind}`));
  await board.start();
  await until(() => board.connected, 'connected');
  for (let i = 0; i < 50; i++) sim.write(`NOISE ${i}`);
  sim.press(1, 'LONG');
  await until(() => board.malformed === 50 && presses.length === 1, 'all noise counted, the press still through');
  assert.equal(log.warnings.filter((w) => /not in the protocol/.test(w)).length, 10);
  assert.deepEqual(presses, ['line1 long']);
  assert.equal(board.connected, true);
});
