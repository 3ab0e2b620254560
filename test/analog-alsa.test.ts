import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, startAppliance, type Appliance } from './helpers/appliance.ts';
import { makeLineRecording } from './helpers/line-recording.ts';
import { readWav } from '../src/audio/wav.ts';

/**
 * The real appliance on an analog line: arecord captures through an ALSA `file` plugin whose
 * infile is a named pipe the test writes the line audio into, so the test decides what the
 * "interface" hears and when. Every capture is bounded (runSeconds → arecord -d).
 */

const PASS = 'correct horse battery staple';

interface Rig { dir: string; home: string; fifo: string; asoundrc: string }

async function rig(t: TestContext, pcmName: string): Promise<Rig> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-analog-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const home = join(dir, 'home');
  const fifo = join(dir, 'line.fifo');
  execFileSync('mkdir', ['-p', home]);
  execFileSync('mkfifo', [fifo]);
  const asoundrc = join(home, '.asoundrc');
  await writeFile(asoundrc, `pcm.${pcmName} { type file; slave.pcm "null"; file "/dev/null"; infile "${fifo}"; format "raw" }\n`);
  return { dir, home, fifo, asoundrc };
}

async function boot(t: TestContext, r: Rig, config: object): Promise<{ box: Appliance; c: Client }> {
  const cfgFile = join(r.dir, 'config.json');
  await writeFile(cfgFile, JSON.stringify(config));
  const box = await startAppliance(join(r.dir, 'data'), ['--config', cfgFile], { env: { HOME: r.home } });
  t.after(() => box.stop('SIGKILL'));
  const c = new Client(box.url);
  await c.state();
  await c.json('POST', '/api/setup', { username: 'admin', passphrase: PASS , claimCode: box.claimCode()});
  await c.state();
  return { box, c };
}

const line = (l: object) => ({
  id: 'a1', name: 'Analoog 1', source: 'alsa', keep: 'all', announced: ['legal-obligation'], keepPurposes: ['legal-obligation'], ...l,
});

/** Frames of `rec` (interleaved, `ch` channels) where `wav` starts, matching 64 frames exactly; -1 when nowhere. */
function locate(rec: Int16Array, wav: Int16Array, ch: number): number {
  const n = 64 * ch;
  for (let k = 0; k + n <= rec.length; k += ch) {
    let i = 0;
    while (i < n && rec[k + i] === wav[i]) i++;
    if (i === n) return k / ch;
  }
  return -1;
}

test('analog line through the real arecord: the call is found with its number, kept, and its WAV downloads', async (t) => {
  const r = await rig(t, 'rvline');
  const rec = makeLineRecording({ seed: 21, direction: 'in', speechSec: 7, endBy: 'busy', channels: 2, cid: { format: 'fsk-v23', number: '0201234567', name: 'Jansen' } });
  // the interface is "plugged in" only after setup, so the box can keep the call: until then arecord
  // finds no such PCM and is retried
  await writeFile(r.asoundrc, '# no interface yet\n');
  const { box, c } = await boot(t, r, {
    dataDir: join(r.dir, 'data'), ring: { minutesPerLine: 1 }, board: { driver: 'none' },
    alsa: { devices: [{ id: 'tap', device: 'rvline', channels: 2, runSeconds: Math.ceil(rec.marks.totalMs / 1000) + 3, backoffFirstMs: 100, backoffMaxMs: 400 }] },
    lines: [line({ channels: 2, input: { device: 'tap', channels: [0, 1] }, analog: { minCallSeconds: 2 } })],
  });
  // a plain file, not the pipe: the file plugin reads it whole (from a pipe a short read leaves stale
  // samples in the period); the null slave does not pace arecord, and times come from sample counts
  const raw = join(r.dir, 'line.raw');
  await writeFile(raw, rec.pcm);
  await writeFile(r.asoundrc, `pcm.rvline { type file; slave.pcm "null"; file "/dev/null"; infile "${raw}"; format "raw" }\n`);

  const call = await c.until(async () => (await c.json('GET', '/api/calls')).calls.find((x: any) => x.line === 'a1'), 'the analog call to be archived', 60_000);
  assert.equal(call.direction, 'in');
  assert.equal(call.caller, '0201234567');
  assert.equal(call.keptBy, 'all', 'kept by the line rule');

  const res = await c.request('GET', `/api/calls/${call.id}/audio.wav?download=1`);
  assert.equal(res.status, 200);
  const wavBytes = Buffer.from(await res.arrayBuffer());
  const wavPath = join(r.dir, 'call.wav');
  await writeFile(wavPath, wavBytes);
  const soxi = (flag: string) => execFileSync('soxi', [flag, wavPath], { encoding: 'utf8' }).trim();
  assert.equal(soxi('-r'), '8000');
  assert.equal(soxi('-c'), '2');
  assert.equal(soxi('-b'), '16');
  const seconds = Number(soxi('-D'));
  assert.ok(Math.abs(seconds * 1000 - call.durationMs) <= 50, `WAV ${seconds} s, call ${call.durationMs} ms`);

  // where in the line recording the kept audio starts tells the detected start; its length the end
  const wav = readWav(wavBytes);
  const startFrame = locate(rec.pcm, wav.pcm, 2);
  assert.ok(startFrame >= 0, 'the WAV is the line audio, sample for sample');
  const startMs = startFrame / 8;
  const endMs = startMs + seconds * 1000;
  assert.ok(Math.abs(startMs - rec.marks.answerMs) <= 500, `start ${startMs} ms, answered at ${rec.marks.answerMs} ms`);
  assert.ok(Math.abs(endMs - rec.marks.endMs) <= 500, `end ${endMs} ms, busy tone from ${rec.marks.endMs} ms`);
  t.diagnostic(`start off by ${Math.round(startMs - rec.marks.answerMs)} ms, end by ${Math.round(endMs - rec.marks.endMs)} ms`);
  assert.equal(box.child.exitCode, null, 'the box keeps running');
});

/** Writes 100 ms of quiet line noise every 100 ms into the pipe, reopening it whenever the reader goes. */
class PacedWriter {
  private w: WriteStream | null = null;
  private timer: NodeJS.Timeout;
  private stopped = false;
  written = 0;
  constructor(private readonly fifo: string) {
    this.open();
    const block = Buffer.alloc(1600);
    for (let i = 0; i < 800; i++) block.writeInt16LE(((i * 7919) % 61) - 30, 2 * i);
    this.timer = setInterval(() => {
      if (this.w?.writable && this.w.writableLength < 64_000) { this.w.write(block); this.written++; }
    }, 100);
  }
  private open(): void {
    if (this.stopped) return;
    const w = createWriteStream(this.fifo);
    this.w = w;
    // the reader (arecord) went away: wait for the next one
    w.on('error', () => { if (this.w === w) { this.w = null; setTimeout(() => this.open(), 50); } });
  }
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.w?.destroy();
  }
}

function arecordPid(box: Appliance): number | undefined {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(box.child.pid)], { encoding: 'utf8' });
  const hit = out.split('\n').map((l) => l.trim().split(/\s+/)).find(([, comm]) => comm === 'arecord');
  return hit ? Number(hit[0]) : undefined;
}

test('analog line: arecord killed, then the device gone, shows a fault and recovers by itself', async (t) => {
  const r = await rig(t, 'rvunplug');
  const { box, c } = await boot(t, r, {
    dataDir: join(r.dir, 'data'), ring: { minutesPerLine: 1 }, board: { driver: 'none' },
    alsa: { devices: [{ id: 'usb', device: 'rvunplug', channels: 1, runSeconds: 300, backoffFirstMs: 100, backoffMaxMs: 400 }] },
    lines: [line({ channels: 1, input: { device: 'usb', channels: [0] } })],
  });
  const writer = new PacedWriter(r.fifo);
  t.after(() => writer.stop());
  const lineState = async () => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'a1');
  const healthy = async () => {
    const before = writer.written;
    // audio must be flowing (the writer got rid of some) and the line clear of faults
    return c.until(async () => { const l = await lineState(); return l.state !== 'fault' && writer.written > before + 3 && arecordPid(box) ? l : undefined; }, 'the line to be healthy', 30_000);
  };
  const faultAfter = async (what: string): Promise<{ ms: number; fault: string }> => {
    const t0 = Date.now();
    const l = await c.until(async () => { const s = await lineState(); return s.state === 'fault' ? s : undefined; }, `a fault after ${what}`, 15_000);
    return { ms: Date.now() - t0, fault: l.fault };
  };

  await healthy();
  const pid1 = arecordPid(box)!;
  process.kill(pid1, 'SIGKILL');
  const killed = await faultAfter('arecord was killed');
  assert.match(killed.fault, /capture process .*killed/i);
  t.diagnostic(`fault shown ${killed.ms} ms after arecord was killed`);
  const back1 = await healthy();
  assert.equal(back1.fault, undefined);
  assert.notEqual(arecordPid(box), pid1, 'a new arecord runs');

  // unplug: the PCM disappears from the ALSA config and the running capture dies with it
  await rename(r.asoundrc, `${r.asoundrc}.unplugged`);
  process.kill(arecordPid(box)!, 'SIGKILL');
  const gone = await faultAfter('the device vanished');
  t.diagnostic(`fault shown ${gone.ms} ms after the device vanished`);
  // while it is gone the retries keep failing and the line stays in fault, saying what to check
  await c.until(async () => { const s = await lineState(); return s.state === 'fault' && /rvunplug/.test(s.fault) ? s : undefined; }, 'the fault to name the device', 10_000);
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal((await lineState()).state, 'fault', 'no recovery while the device is missing');

  await rename(`${r.asoundrc}.unplugged`, r.asoundrc);
  const t0 = Date.now();
  const back2 = await healthy();
  assert.equal(back2.state, 'idle');
  t.diagnostic(`recovered ${Date.now() - t0} ms after the device came back`);
  assert.equal(box.child.exitCode, null, 'the box keeps running');
});
