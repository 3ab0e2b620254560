import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { AnalogSource } from '../src/sources/analog.ts';
import { SimBoard } from '../src/board/sim.ts';
import type { CallStartEvent, CallEndEvent, CallAudioEvent } from '../src/sources/source.ts';

/**
 * AnalogSource with the real arecord and the control board's line sense: the board's hook events
 * reach the line's tracker, which starts and ends the call on them (not on the audio).
 */

test('line sense from the board starts and ends calls on an analog line captured by arecord', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-asrc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'line.fifo');
  execFileSync('mkfifo', [fifo]);
  await writeFile(join(dir, '.asoundrc'), `pcm.rvsense { type file; slave.pcm "null"; file "/dev/null"; infile "${fifo}"; format "raw" }\n`);
  const board = new SimBoard({ lines: () => ['a1'] });
  await board.start();
  const src = new AnalogSource({
    devices: [{ id: 'usb', device: 'rvsense', rate: 8000, channels: 1, backoffFirstMs: 100, backoffMaxMs: 400, stallMs: 20_000, runSeconds: 60 }],
    lines: [{ id: 'a1', channels: 1, input: { device: 'usb', channels: [0] }, analog: { minCallSeconds: 1, hangoverMs: 3000, callerId: ['v23-fsk'], lineSense: true } }],
    board, env: { ...process.env, HOME: dir },
  });
  const starts: CallStartEvent[] = [];
  const ends: CallEndEvent[] = [];
  const audio: CallAudioEvent[] = [];
  src.on('call-start', (e) => starts.push(e));
  src.on('call-end', (e) => ends.push(e));
  src.on('call-audio', (e) => audio.push(e));
  src.on('fault', (f) => assert.fail(`unexpected fault: ${f.message}`));
  await src.start();
  t.after(() => src.stop());

  const w = createWriteStream(fifo);
  // stopping the source at the end kills arecord under the writer
  w.on('error', () => {});
  t.after(() => w.destroy());
  let tone = false;
  let frames = 0;
  const t0 = Date.now();
  // real-time pacing: quiet line noise, then a 1 kHz tone from the moment of the off-hook
  const timer = setInterval(() => {
    const due = Math.round(((Date.now() - t0) * 8000) / 1000) - frames;
    if (due <= 0) return;
    const b = Buffer.alloc(due * 2);
    for (let i = 0; i < due; i++) b.writeInt16LE(tone ? Math.round(8000 * Math.sin((2 * Math.PI * 1000 * (frames + i)) / 8000)) : ((frames + i) * 7919) % 41 - 20, 2 * i);
    frames += due;
    w.write(b);
  }, 20);
  t.after(() => clearInterval(timer));
  await new Promise((r) => setTimeout(r, 1500));
  tone = true;
  board.sense('a1', 'offhook');
  await new Promise((r) => setTimeout(r, 2500));
  board.sense('a1', 'onhook');
  while (ends.length === 0) await once(src, 'call-end', { signal: AbortSignal.timeout(30_000) });
  clearInterval(timer);

  assert.equal(starts.length, 1);
  assert.equal(starts[0]!.parties.direction, 'out', 'off-hook without a ring is an outgoing call');
  assert.equal(ends[0]!.reason, 'on-hook');
  // the tone written from the off-hook on is in the call's audio (line noise is ~12 rms); the pipe does not pace arecord,
  // so where exactly it starts is not a property of the box but of this rig)
  const pcm = Int16Array.from(audio.flatMap((a) => [...a.block.pcm]));
  let loudest = 0;
  for (let i = 0; i + 800 <= pcm.length; i += 800) loudest = Math.max(loudest, Math.sqrt(pcm.subarray(i, i + 800).reduce((s, v) => s + v * v, 0) / 800));
  t.diagnostic(`call audio ${pcm.length / 8} ms for a ${ends[0]!.at - starts[0]!.at} ms call; loudest 100 ms rms ${loudest.toFixed(0)}`);
  assert.ok(loudest > 1000, `the call holds the tone played after the off-hook (rms ${loudest.toFixed(0)})`);
  assert.ok(Math.abs(pcm.length / 8 - (ends[0]!.at - starts[0]!.at)) < 1, 'the audio fills the call from start to end');
});

test('a capture that runs but delivers nothing is taken for unplugged, restarted, and recovers when audio comes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-asrc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'line.fifo');
  execFileSync('mkfifo', [fifo]);
  await writeFile(join(dir, '.asoundrc'), `pcm.rvstall { type file; slave.pcm "null"; file "/dev/null"; infile "${fifo}"; format "raw" }\n`);
  const src = new AnalogSource({
    devices: [{ id: 'usb', device: 'rvstall', rate: 8000, channels: 1, backoffFirstMs: 100, backoffMaxMs: 400, stallMs: 600, runSeconds: 60 }],
    lines: [{ id: 'a1', channels: 1, input: { device: 'usb', channels: [0] } }],
    env: { ...process.env, HOME: dir },
  });
  const log: string[] = [];
  src.on('fault', (f) => log.push(`fault ${f.line} ${f.code}: ${f.message}`));
  src.on('recovered', (r) => log.push(`recovered ${r.line}`));
  await src.start();
  t.after(() => src.stop());
  // nobody writes: arecord waits on the pipe like on an interface that hangs
  const t0 = Date.now();
  // bounded, so a missing event fails the test instead of hanging the run
  while (!log.length) await once(src, 'fault', { signal: AbortSignal.timeout(30_000) });
  t.diagnostic(`stall reported ${Date.now() - t0} ms after start (stallMs 600)`);
  assert.match(log[0]!, /^fault a1 RV_ERR_ALSA_STALLED: No audio from "rvstall" for [\d.]+ s although arecord runs; .*Check the USB cable/);
  // audio comes: the restarted arecord reads it and the line recovers by itself
  // A restart closes the pipe's reader, which breaks the writer (EPIPE): open a new one then.
  let w: WriteStream | undefined;
  const timer = setInterval(() => {
    if (!w || w.destroyed) {
      const next = createWriteStream(fifo);
      next.on('error', () => next.destroy());
      w = next;
    }
    w.write(Buffer.alloc(1600));
  }, 50);
  t.after(() => { clearInterval(timer); w?.destroy(); });
  while (!log.includes('recovered a1')) await once(src, 'recovered', { signal: AbortSignal.timeout(30_000) });
  assert.equal(log.filter((l) => l.startsWith('fault')).length, 1, `one fault per outage: ${log.join(' | ')}`);
});
