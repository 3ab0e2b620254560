import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { AlsaCapture, type AlsaCaptureOptions, type CaptureBlock } from '../src/sources/alsa.ts';

/** a ramp that does not repeat for 65536 samples, so any offset is unambiguous */
const ramp = (i: number): number => ((i * 37 + 11) % 65536) - 32768;

interface Rig { home: string; capture(opts: Partial<AlsaCaptureOptions>): AlsaCapture }

/** A temp HOME whose .asoundrc defines file-plugin PCMs reading raw inputs; captures are stopped at test end. */
async function rig(t: TestContext, inputs: Record<string, Int16Array>): Promise<Rig> {
  const home = await mkdtemp(path.join(tmpdir(), 'rv-alsa-'));
  let conf = '';
  for (const [name, pcm] of Object.entries(inputs)) {
    const file = path.join(home, `${name}.raw`);
    await writeFile(file, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    conf += `pcm.${name} { type file; slave.pcm "null"; file "/dev/null"; infile "${file}"; format "raw" }\n`;
  }
  await writeFile(path.join(home, '.asoundrc'), conf);
  const caps: AlsaCapture[] = [];
  t.after(async () => {
    for (const c of caps) await c.stop();
    await rm(home, { recursive: true, force: true });
  });
  return {
    home,
    capture(opts) {
      const c = new AlsaCapture({ device: 'rvmono', rate: 8000, channels: 1, durationSec: 1, env: { ...process.env, HOME: home }, ...opts });
      caps.push(c);
      return c;
    },
  };
}

/** Runs one bounded capture to its end and returns every block. */
async function captureAll(c: AlsaCapture): Promise<CaptureBlock[]> {
  const blocks: CaptureBlock[] = [];
  c.on('audio', (b) => blocks.push(b));
  c.on('fault', (f) => assert.fail(`unexpected fault: ${f.message}`));
  const ended = once(c, 'ended');
  await c.start();
  await ended;
  return blocks;
}

const concat = (blocks: CaptureBlock[]): Int16Array => {
  const out = new Int16Array(blocks.reduce((n, b) => n + b.pcm.length, 0));
  let o = 0;
  for (const b of blocks) { out.set(b.pcm, o); o += b.pcm.length; }
  return out;
};

/** Offset into the ramp where `got` starts; the file plugin may skip or repeat a little at the start. */
const rampOffset = (first: number): number => {
  for (let i = 0; i < 65536; i++) if (ramp(i) === first) return i;
  return -1;
};

test('mono capture matches the input and blocks advance 20 ms', async (t) => {
  const input = Int16Array.from({ length: 16000 }, (_, i) => ramp(i));
  const r = await rig(t, { rvmono: input });
  const c = r.capture({ clock: () => 1_000_000 });
  const blocks = await captureAll(c);
  assert.equal(blocks.length, 50, '1 s of 20 ms blocks');
  blocks.forEach((b, i) => {
    assert.equal(b.channels, 1);
    assert.equal(b.pcm.length, 160);
    assert.equal(b.at, 1_000_000 + i * 20);
  });
  const got = concat(blocks);
  const off = rampOffset(got[0]);
  assert.ok(off >= 0 && off < 8000, `offset ${off}`);
  for (let k = 0; k < got.length; k++) if (got[k] !== ramp(off + k)) assert.fail(`sample ${k}: ${got[k]} != ${ramp(off + k)}`);
});

test('stereo capture keeps both channels interleaved', async (t) => {
  const input = new Int16Array(2 * 16000);
  for (let i = 0; i < 16000; i++) { input[2 * i] = ramp(i); input[2 * i + 1] = ramp(i + 30000); }
  const r = await rig(t, { rvstereo: input });
  const blocks = await captureAll(r.capture({ device: 'rvstereo', channels: 2 }));
  assert.equal(blocks.length, 50);
  assert.ok(blocks.every((b) => b.channels === 2 && b.pcm.length === 320));
  const got = concat(blocks);
  const off = rampOffset(got[0]);
  assert.ok(off >= 0 && off < 8000, `offset ${off}`);
  for (let k = 0; k < got.length / 2; k++) {
    if (got[2 * k] !== ramp(off + k) || got[2 * k + 1] !== ramp(off + k + 30000)) assert.fail(`frame ${k} differs`);
  }
});

test('16 kHz input is low-passed and decimated to 8 kHz', async (t) => {
  const tone = (hz: number, amp: number) => (i: number) => Math.round(amp * Math.sin((2 * Math.PI * hz * i) / 16000));
  const low = tone(500, 8000);
  const high = tone(6000, 8000);
  const input = Int16Array.from({ length: 32000 }, (_, i) => low(i) + high(i));
  const r = await rig(t, { rv16k: input });
  const blocks = await captureAll(r.capture({ device: 'rv16k', rate: 16000 }));
  assert.equal(blocks.length, 50, '1 s of input gives 1 s of 8 kHz blocks');
  const got = concat(blocks).subarray(800); // skip the filter's start-up
  // a 6 kHz tone would alias to 2 kHz: compare the 500 Hz and 2 kHz content by correlation
  const power = (hz: number) => {
    let re = 0, im = 0;
    for (let k = 0; k < got.length; k++) { re += got[k] * Math.cos((2 * Math.PI * hz * k) / 8000); im += got[k] * Math.sin((2 * Math.PI * hz * k) / 8000); }
    return (2 * Math.hypot(re, im)) / got.length;
  };
  assert.ok(Math.abs(power(500) - 8000) < 800, `500 Hz amplitude ${power(500)}`);
  assert.ok(power(2000) < 200, `alias amplitude ${power(2000)}`);
});

test('a missing device faults once with an actionable message and keeps retrying', async (t) => {
  const r = await rig(t, {});
  const c = r.capture({ device: 'rvnosuch', backoff: { firstMs: 10, maxMs: 40 } });
  const faults: { code: string; message: string }[] = [];
  c.on('fault', (f) => faults.push(f));
  const t0 = Date.now();
  await c.start();
  while (c.attempts < 5 && Date.now() - t0 < 5000) await sleep(10);
  assert.ok(c.attempts >= 5, `retried ${c.attempts - 1} times`);
  assert.equal(faults.length, 1, 'one fault per outage');
  assert.equal(faults[0].code, 'RV_ERR_ALSA_DEVICE');
  assert.match(faults[0].message, /rvnosuch/);
  assert.match(faults[0].message, /arecord -l/);
  assert.match(faults[0].message, /cable/);
  await c.stop();
  const n = c.attempts;
  await sleep(100);
  assert.equal(c.attempts, n, 'no retries after stop');
});

test('arecord killed mid-capture faults, restarts and recovers', async (t) => {
  const input = Int16Array.from({ length: 16000 }, (_, i) => ramp(i));
  const r = await rig(t, { rvmono: input });
  // 20 s of output is far more than a pipe buffer, so the first block arrives while arecord still runs
  const c = r.capture({ durationSec: 20, backoff: { firstMs: 20, maxMs: 100 } });
  const seen: string[] = [];
  let killed = 0;
  c.on('audio', () => {
    if (killed === 0 && c.pid) { killed = c.pid; process.kill(killed, 'SIGKILL'); }
  });
  c.on('fault', (f) => seen.push(`fault:${f.code}`));
  c.on('recovered', () => seen.push('recovered'));
  const ended = once(c, 'ended');
  const faultAt = once(c, 'fault').then(() => Date.now());
  const t0 = Date.now();
  await c.start();
  await ended;
  assert.ok(killed > 0);
  assert.ok((await faultAt) - t0 < 1000, 'fault within a second');
  assert.deepEqual(seen, ['fault:RV_ERR_ALSA_KILLED', 'recovered']);
  assert.equal(c.attempts, 2);
  assert.throws(() => process.kill(killed, 0), /ESRCH/);
});

test('stop() during back-off leaves no timer and no child', async (t) => {
  const r = await rig(t, {});
  const c = r.capture({ device: 'rvnosuch', backoff: { firstMs: 60_000, maxMs: 60_000 } });
  const fault = once(c, 'fault');
  await c.start();
  await fault;
  assert.equal(c.waiting, true);
  assert.equal(c.pid, undefined);
  await c.stop();
  assert.equal(c.waiting, false);
  assert.equal(c.pid, undefined);
  assert.equal(c.attempts, 1);
});

test('stop() while arecord runs kills it', async (t) => {
  const r = await rig(t, {});
  const script = path.join(r.home, 'fake-arecord');
  // stands in for a live device: writes a little audio, then blocks like a real capture would
  await writeFile(script, '#!/bin/sh\nhead -c 3200 /dev/zero\nexec sleep 30\n');
  await chmod(script, 0o755);
  const c = r.capture({ arecord: script });
  const audio = once(c, 'audio');
  await c.start();
  await audio;
  const pid = c.pid!;
  await c.stop();
  assert.equal(c.pid, undefined);
  assert.throws(() => process.kill(pid, 0), /ESRCH/);
});

test('overrun lines are reported and the timeline skips the lost audio', async (t) => {
  const r = await rig(t, {});
  const script = path.join(r.home, 'fake-arecord');
  await writeFile(script, '#!/bin/sh\nhead -c 3200 /dev/zero\nsleep 0.2\necho "overrun!!! (at least 40.000 ms long)" >&2\nsleep 0.2\nhead -c 3200 /dev/zero\n');
  await chmod(script, 0o755);
  let now = 5000;
  const c = r.capture({ arecord: script, clock: () => now });
  const overruns: string[] = [];
  c.on('overrun', (o) => overruns.push(o.message));
  c.on('audio', () => { now = 10_000; }); // wall time runs ahead of sample time once audio flows
  const blocks = await captureAll(c);
  assert.equal(overruns.length, 1);
  assert.match(overruns[0], /overrun/);
  assert.equal(blocks.length, 20);
  assert.equal(blocks[9].at, 5000 + 9 * 20);
  assert.equal(blocks[10].at, 5000 + 10 * 20 + 40);
});

test('48 kHz input is decimated to 8 kHz with unity gain', async (t) => {
  const input = new Int16Array(48000).fill(1000);
  const r = await rig(t, { rv48k: input });
  const blocks = await captureAll(r.capture({ device: 'rv48k', rate: 48000 }));
  assert.equal(blocks.length, 50);
  const got = concat(blocks).subarray(100);
  assert.ok(got.every((v) => Math.abs(v - 1000) <= 1), 'unity gain at DC');
});

test('a missing arecord binary faults with an install hint', async (t) => {
  const r = await rig(t, {});
  const c = r.capture({ arecord: path.join(r.home, 'no-arecord'), backoff: { firstMs: 60_000, maxMs: 60_000 } });
  const fault = once(c, 'fault');
  await c.start();
  const [f] = await fault;
  assert.equal(f.code, 'RV_ERR_ALSA_SPAWN');
  assert.match(f.message, /alsa-utils/);
  await c.stop();
  assert.equal(c.waiting, false);
});
