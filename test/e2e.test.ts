import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, readFile, writeFile, stat } from 'node:fs/promises';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, startAppliance } from './helpers/appliance.ts';
import { readWav } from '../src/audio/wav.ts';

const PASS = 'correct horse battery staple';
const CALLER = '+31612345678';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

test('simulated call → save mid-call → restart → login → unlock → WAV has the whole call; nothing readable at rest', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'rv-e2e-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  let box = await startAppliance(data, ['--sim-speed', '4']);
  t.after(() => box.stop('SIGKILL'));

  const c = new Client(box.url);
  assert.equal((await c.state()).initialized, false);
  const setup = await c.json('POST', '/api/setup', { username: 'admin', passphrase: PASS , claimCode: box.claimCode()});
  assert.match(setup.recoveryKey, /^RV1-/);
  await c.state();

  // An 8-second stereo call; save is pressed about 2 s (sim time) in.
  await c.json('POST', '/api/sim/lines/line1/call', { direction: 'in', caller: CALLER, durationSec: 8 });
  const started = await c.until(async () => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1' && l.state === 'in-call'), 'call to start');
  await new Promise((r) => setTimeout(r, 500));
  const saved = await c.json('POST', '/api/lines/line1/save', {});
  assert.ok(saved.callId);
  const kept = await c.until(async () => (await c.json('GET', '/api/calls')).calls.find((x: any) => x.id === saved.callId), 'kept call to be archived');
  assert.equal(kept.startedAt, started.call.startedAt, 'kept from the first frame, not from the press');
  assert.equal(kept.keptBy, 'user');
  assert.deepEqual(kept.purposes, ['complaint']);

  // A second call that nobody keeps stays in the ring only.
  await c.json('POST', '/api/sim/lines/line1/call', { direction: 'out', called: '0201234567', durationSec: 3 });
  await c.until(async () => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1' && l.state === 'idle' && l.lastEnded), 'second call to end');

  await box.stop('SIGKILL');
  box = await startAppliance(data, ['--sim-speed', '4']);
  const c2 = new Client(box.url);
  let s = await c2.state();
  assert.equal(s.user, null, 'a restart ends sessions');
  assert.equal(s.vault, 'locked');
  const anon = await c2.request('GET', '/api/calls');
  assert.equal(anon.status, 401);
  await c2.json('POST', '/api/login', { username: 'admin', passphrase: PASS });
  s = await c2.state();
  const locked = await c2.request('GET', `/api/calls/${saved.callId}/audio.wav`);
  assert.equal(locked.status, 423, 'playback needs the unlocked vault');
  await c2.json('POST', '/api/unlock', { secret: PASS });

  const res = await c2.request('GET', `/api/calls/${saved.callId}/audio.wav?download=1`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-disposition') ?? '', /attachment/);
  const wavBytes = Buffer.from(await res.arrayBuffer());
  const wavPath = join(data, '..', `${saved.callId}.wav`);
  await writeFile(wavPath, wavBytes);
  t.after(() => rm(wavPath, { force: true }));
  const soxi = (flag: string) => execFileSync('soxi', [flag, wavPath], { encoding: 'utf8' }).trim();
  assert.equal(soxi('-r'), '8000');
  assert.equal(soxi('-b'), '16');
  assert.equal(soxi('-c'), '2');
  assert.ok(Math.abs(Number(soxi('-D')) - 8) <= 0.05, `duration ${soxi('-D')} s`);
  // The first second, before the press, is there: real speech on the caller side, not silence.
  // sox measures it independently: real speech on the caller side, not silence or hiss.
  const sox = spawnSync('sox', [wavPath, '-n', 'trim', '0', '1', 'remix', '1', 'stat'], { encoding: 'utf8' });
  const rms = Number(/RMS\s+amplitude:\s+([\d.]+)/.exec(sox.stderr)?.[1]);
  assert.ok(rms > 0.01, `first second RMS amplitude ${rms} (sox said: ${sox.stderr})`);

  const audit = await c2.json('GET', '/api/audit');
  assert.ok(audit.entries.some((e: any) => e.action === 'call.download' && e.target === saved.callId), 'download audited');

  // Stolen disk: with the process gone, no file holds the number or a stretch of the audio in the clear.
  await box.stop('SIGKILL');
  const pcm = Buffer.from(readWav(wavBytes).pcm.buffer);
  const stretches = [1, 3, 5, 7].map((sec) => pcm.subarray(sec * 32000, sec * 32000 + 512));
  for (const st of stretches) assert.ok(st.some((b) => b !== 0), 'a known stretch is not silence');
  const needles = [Buffer.from(CALLER), Buffer.from('612345678'), Buffer.from(CALLER, 'utf16le'), Buffer.from('0201234567'), Buffer.from('201234567'), ...stretches];
  const files = await filesUnder(data);
  assert.ok(files.some((f) => f.endsWith('ring.bin')) && files.length > 4, 'the data folder was searched');
  for (const f of files) {
    if ((await stat(f)).size === 0) continue;
    const bytes = await readFile(f);
    for (const n of needles) assert.equal(bytes.indexOf(n), -1, `${f} contains a known secret in the clear`);
  }
});
