import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, setUpBox, startAppliance, type Client } from './helpers/appliance.ts';
import { Goertzel } from '../src/dsp/goertzel.ts';

const run = promisify(execFile);

/** A free UDP port on 127.0.0.1 (the box's SIP port; SIP over TCP is off in this test). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const port = s.address().port;
  s.close();
  return port;
}

/** A free TCP port, used as the base of an RTP range nobody else in this run picked. */
async function freeBase(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  return 2 * Math.floor(Math.min(port, 60000) / 2);
}

/** 1 s of 1 kHz at −6 dBFS as A-law made by sox, cut in 20 ms packets: what the attacker plays into the call. */
async function toneAlaw(file: string): Promise<Buffer[]> {
  await run('sox', ['-n', '-r', '8000', '-c', '1', '-t', 'al', file, 'synth', '1', 'sine', '1000', 'vol', '0.5']);
  const b = await readFile(file);
  return Array.from({ length: b.length / 160 }, (_, i) => b.subarray(i * 160, i * 160 + 160));
}

/** Frames (20 ms) of one channel where a 1 kHz tone dominates: the attacker's audio, if it got in. */
function toneFrames(pcm: Int16Array): number {
  const g = new Goertzel(1000, 8000, 160);
  let hits = 0;
  for (let off = 0; off + 160 <= pcm.length; off += 160) {
    const frame = Float32Array.from(pcm.subarray(off, off + 160), (x) => x / 32768);
    let energy = 0;
    for (const x of frame) energy += x * x;
    if (energy / 160 < 1e-4) continue;
    // For a pure sine of amplitude A the Goertzel power is (A·N/2)² and the energy N·A²/2: a ratio of 1.
    const ratio = g.power(frame) / ((energy * 160) / 2);
    if (ratio > 0.6) hits++;
  }
  return hits;
}

test('attack: a second host sends a 1 kHz tone and digits to the live call\'s RTP ports; the kept WAV holds none of it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-rtp-'));
  const sipPort = await freeUdpPort();
  const rtpMin = await freeBase();
  const rtpMax = rtpMin + 39;
  const cfg = join(dir, 'config.json');
  await writeFile(cfg, JSON.stringify({
    board: { driver: 'none' }, ring: { minutesPerLine: 1 },
    siprec: { host: '127.0.0.1', port: sipPort, tcp: false, rtpPortMin: rtpMin, rtpPortMax: rtpMax, allowFrom: ['127.0.0.1'] },
    lines: [{ id: 'trunk', name: 'SBC trunk', source: 'siprec', maxCalls: 2, keep: 'all', keepDigits: true, announced: ['evidence'], keepPurposes: ['evidence'] }],
  }));
  const box = await startAppliance(join(dir, 'data'), ['--config', cfg]);
  const children = new Set<ReturnType<typeof spawn>>();
  let attacker: Socket | undefined;
  t.after(async () => {
    attacker?.close();
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await box.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const admin: Client = await setUpBox(box.url, 'admin', 'correct horse battery staple');

  await writeFile(join(dir, 'calls.csv'), 'SEQUENTIAL\n+31201234567;+31309876543\n');
  // The SBC (127.0.0.1) places a recorded call with sipp: speech and the keys 1, 5, 9 on the first stream.
  const sipp = spawn('sipp', ['-sf', join(ROOT, 'test/fixtures/sipp/siprec-call.xml'), '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-mp', String(await freeBase()),
    '-nostdin', '-m', '1', '-d', '1500', '-timeout', '60s', '-timeout_error', '-inf', join(dir, 'calls.csv'), `127.0.0.1:${sipPort}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(sipp);
  let sippErr = '';
  sipp.stderr!.setEncoding('utf8').on('data', (d: string) => { sippErr += d; });
  const sippDone = once(sipp, 'exit');
  await admin.until(async () => (await admin.json('GET', '/api/lines')).lines[0].calls.length === 1, 'the recorded call is live', 30_000);

  // The attacker (127.0.0.2) does not know the ports, so it sprays every even port of the range:
  // a loud 1 kHz tone (new SSRC, A-law) and a key press "7" (RFC 4733), 50 packets a second each.
  attacker = createSocket('udp4');
  attacker.bind(0, '127.0.0.2');
  await once(attacker, 'listening');
  const toneFile = join(dir, 'tone.al');
  const tone = await toneAlaw(toneFile);
  let seq = 0;
  let sent = 0;
  const ssrc = 0x0badc0de;
  const spray = setInterval(() => {
    const n = seq++;
    for (let port = rtpMin; port <= rtpMax; port += 2) {
      const audio = Buffer.alloc(12);
      audio.writeUInt8(0x80, 0); audio.writeUInt8(8, 1); audio.writeUInt16BE(n & 0xffff, 2); audio.writeUInt32BE((n * 160) >>> 0, 4); audio.writeUInt32BE(ssrc, 8);
      attacker!.send(Buffer.concat([audio, tone[n % tone.length]!]), port, '127.0.0.1');
      const ev = Buffer.alloc(16);
      ev.writeUInt8(0x80, 0); ev.writeUInt8(101, 1); ev.writeUInt16BE((n + 30000) & 0xffff, 2); ev.writeUInt32BE(((n >> 4) * 2560) >>> 0, 4); ev.writeUInt32BE(ssrc + 1, 8);
      ev.writeUInt8(7, 12); ev.writeUInt8((n & 15) === 15 ? 0x8a : 0x0a, 13); ev.writeUInt16BE(((n & 15) + 1) * 160, 14);
      attacker!.send(ev, port, '127.0.0.1');
      sent += 2;
    }
  }, 20);
  await sippDone;
  clearInterval(spray);
  assert.equal(sipp.exitCode, 0, sippErr);
  assert.ok(sent > 1000, `the attacker sent ${sent} packets`);

  const call = await admin.until(async () => (await admin.json('GET', '/api/calls')).calls.find((c: any) => c.endedAt), 'the kept call', 30_000);
  const summary = await admin.json('GET', `/api/calls/${call.id}`);
  // The keys the attacker sent are not the call's: only the SBC's 1, 5, 9.
  const digits = summary.digits ?? summary.call?.digits;
  assert.equal(digits, '159', `the call's digits are ${JSON.stringify(digits)}, expected the SBC's 159 and none of the attacker's 7s`);
  const notes: string[] = summary.notes ?? summary.call?.notes ?? [];
  assert.ok(notes.some((n) => n.includes('127.0.0.2') && /dropped/.test(n)), `the call's report says the stranger's packets were dropped: ${JSON.stringify(notes)}`);

  const res = await admin.request('GET', `/api/calls/${call.id}/audio.wav`);
  assert.equal(res.status, 200);
  const wav = join(dir, 'kept.wav');
  await writeFile(wav, Buffer.from(await res.arrayBuffer()));
  const { stdout } = await run('sox', [wav, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', '-'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  const all = new Int16Array(stdout.buffer, stdout.byteOffset, stdout.length / 2);
  const channels = Number((await run('soxi', ['-c', wav])).stdout.trim());
  assert.equal(channels, 2);
  const chan = (c: number) => Int16Array.from({ length: all.length / 2 }, (_, i) => all[2 * i + c]!);
  // The check can fail: the attacker's own tone, decoded by sox, is found in nearly every frame.
  const ref = (await run('sox', ['-t', 'al', '-r', '8000', '-c', '1', toneFile, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-L', '-'], { encoding: 'buffer' })).stdout;
  assert.ok(toneFrames(new Int16Array(ref.buffer, ref.byteOffset, ref.length / 2)) >= 45, 'the detector finds the attacker\'s tone');
  assert.equal(toneFrames(chan(0)), 0, 'no 1 kHz tone on the caller\'s channel');
  assert.equal(toneFrames(chan(1)), 0, 'no 1 kHz tone on the callee\'s channel');
  // Per second with sox's own statistics: the callee's stream got no audio from the SBC, so it stays silent.
  const seconds = Math.floor(all.length / 2 / 8000);
  for (let s = 0; s < seconds; s++) {
    const { stderr } = await run('sox', [wav, '-n', 'remix', '2', 'trim', String(s), '1', 'stat']);
    const max = Number(/Maximum amplitude:\s+([-0-9.e]+)/.exec(stderr)?.[1]);
    assert.ok(max < 0.01, `second ${s} of the callee's channel holds audio (max ${max}): injected`);
  }
});
