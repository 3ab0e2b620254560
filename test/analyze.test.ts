import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyze, type Timeline } from '../src/analyze/analyze.ts';
import { callSpans, type Evidence } from '../src/analyze/call-span.ts';
import { channelLevels } from '../src/analyze/levels.ts';
import { loadAudioFile } from '../src/analyze/load.ts';
import { isRvError } from '../src/errors.ts';
import { makeLineRecording, writeWav, type LineRecordingOpts, type CidFormat } from './helpers/line-recording.ts';
import { peakOfDbm0, rng, toInt16 } from './helpers/tones.ts';

const ROOT = path.join(import.meta.dirname, '..');

function tmpDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-analyze-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const near = (got: number | undefined, want: number | undefined, tol: number, what: string): void => {
  assert.ok(got !== undefined && want !== undefined && Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want} ±${tol}`);
};

/** The one call in a timeline, checked against the generator's marks. */
function checkCall(tl: Timeline, o: LineRecordingOpts, rec: ReturnType<typeof makeLineRecording>, label: string): void {
  assert.equal(tl.calls.length, 1, `${label}: ${JSON.stringify(tl.calls)}`);
  const c = tl.calls[0];
  const m = rec.marks;
  assert.equal(c.direction, o.direction, label);
  const start = o.direction === 'in' ? Math.min(m.ringStartMs ?? Infinity, m.cidStartMs ?? Infinity) : m.dialToneStartMs;
  near(c.startMs, start, 60, `${label} start`);
  near(c.answerMs, m.speechStartMs, 100, `${label} answer`);
  near(c.endMs, m.endMs, 150, `${label} end`);
  assert.equal(c.endReason, o.endBy, label);
  assert.ok(!c.open, label);
}

const CID_CASES: Array<{ format: CidFormat; number?: string; name?: string; absent?: 'withheld' | 'unavailable'; when?: 'before-ring' | 'after-first-ring' }> = [
  { format: 'fsk-v23', number: '0612345678', name: 'J JANSEN' },
  { format: 'fsk-v23', number: '+31201234567', when: 'before-ring' },
  { format: 'fsk-v23', absent: 'withheld', when: 'before-ring' },
  { format: 'fsk-bell202', number: '5551234567', name: 'DOE JOHN' },
  { format: 'fsk-bell202', absent: 'unavailable' },
  { format: 'dtmf-clip-a', number: '0612345678' },
  { format: 'dtmf-clip-a', absent: 'withheld', when: 'after-first-ring' },
  { format: 'dtmf-clip-a', absent: 'unavailable' },
  { format: 'dtmf-clip-hash', number: '0201234567' },
  { format: 'dtmf-clip-hash', absent: 'withheld' },
];

test('incoming calls: every caller-ID format, before or after the first ring, mono and split taps', () => {
  CID_CASES.forEach((cid, i) => {
    for (const channels of [1, 2] as const) {
      const o: LineRecordingOpts = {
        seed: 100 + i, direction: 'in', cid, speechSec: 6, endBy: i % 2 ? 'silence' : 'busy', channels,
        levelDbm0: [-8, -15, -25][i % 3], ringCycles: 2 + (i % 2),
      };
      const rec = makeLineRecording(o);
      const tl = analyze(rec.pcm, rec.rate, rec.channels);
      const label = `${cid.format} ${JSON.stringify(cid)} ${channels} ch`;
      checkCall(tl, o, rec, label);
      const c = tl.calls[0];
      assert.equal(c.number, cid.number, label);
      assert.equal(c.absent, cid.absent, label);
      if (cid.format.startsWith('fsk') && cid.name) assert.equal(c.name, cid.name, label);
      assert.equal(tl.callerId.length, 1, `${label}: ${JSON.stringify(tl.callerId)}`);
      const hit = tl.callerId[0];
      assert.equal(hit.format, cid.format, label);
      assert.equal(hit.checksumOk, cid.format.startsWith('fsk') ? true : null, label);
      if (cid.format.startsWith('dtmf')) assert.equal(hit.raw, rec.sentDigits, label);
      assert.ok(hit.startMs >= (rec.marks.cidStartMs ?? NaN) - 30 && hit.startMs <= (rec.marks.cidEndMs ?? NaN), `${label}: caller ID at ${hit.startMs}`);
      assert.equal(tl.rings.length, o.ringCycles, `${label}: rings ${JSON.stringify(tl.rings)}`);
      near(tl.rings[0].startMs, rec.marks.ringStartMs, 60, `${label} first ring`);
      // caller-ID digits are not dialled digits, and nothing else was keyed
      assert.equal(tl.dtmf.map((d) => d.digit).join(''), rec.sentDigits ?? '', label);
      if (o.endBy === 'busy') near(tl.tones.find((t) => t.kind === 'busy')?.startMs, rec.marks.busyStartMs, 40, `${label} busy`);
      assert.ok(tl.voice.every((v) => v.startMs >= rec.marks.answerMs), `${label}: voice before the answer ${JSON.stringify(tl.voice)}`);
    }
  });
});

test('outgoing calls: dial tone, dialled digits on the phone side, ring-back, busy or silence', () => {
  const cases: LineRecordingOpts[] = [
    { seed: 1, direction: 'out', dialled: '0201234567', speechSec: 8, endBy: 'busy', channels: 2 },
    { seed: 2, direction: 'out', dialled: '0031612345678', speechSec: 5, endBy: 'silence', channels: 1, levelDbm0: -25 },
    { seed: 3, direction: 'out', dialled: '112', speechSec: 4, endBy: 'busy', channels: 1, ringCycles: 3, levelDbm0: -6 },
    // looks like DTMF caller ID (<number>#, A…C) but follows dial tone: dialled
    { seed: 4, direction: 'out', dialled: '0612345678#', speechSec: 4, endBy: 'busy', channels: 2 },
    { seed: 5, direction: 'out', dialled: 'A0612345678C', speechSec: 4, endBy: 'silence', channels: 1 },
    { seed: 6, direction: 'out', dialled: '0201234567', speechSec: 4, endBy: 'congestion', channels: 2, levelDbm0: -20 },
  ];
  for (const o of cases) {
    const rec = makeLineRecording(o);
    const tl = analyze(rec.pcm, rec.rate, rec.channels);
    const label = `out ${o.dialled} ${o.channels} ch`;
    checkCall(tl, o, rec, label);
    assert.equal(tl.calls[0].dialled, o.dialled, label);
    assert.equal(tl.calls[0].number, undefined);
    assert.equal(tl.callerId.length, 0, label);
    assert.equal(tl.rings.length, 0, label);
    near(tl.tones.find((t) => t.kind === 'dial')?.startMs, rec.marks.dialToneStartMs, 40, `${label} dial tone`);
    near(tl.tones.find((t) => t.kind === 'ringback')?.startMs, rec.marks.ringbackStartMs, 40, `${label} ring-back`);
    if (o.channels === 2) assert.ok(tl.dtmf.every((d) => d.channels.includes(1)), `${label}: digits come from the phone side`);
    if (o.endBy !== 'silence') near(tl.tones.find((t) => t.kind === o.endBy)?.startMs, rec.marks.busyStartMs, 40, `${label} ${o.endBy}`);
  }
});

test('a long recording with two calls; the second caller ID straddles the FSK decoder window edge (25 s steps)', () => {
  const a = makeLineRecording({ seed: 21, direction: 'in', cid: { format: 'fsk-v23', number: '0612345678' }, speechSec: 5, endBy: 'busy', channels: 2 });
  const b = makeLineRecording({ seed: 22, direction: 'in', cid: { format: 'fsk-v23', number: '0201234567', name: 'GEMEENTE' }, speechSec: 5, endBy: 'silence', channels: 2 });
  // place b so its message (from ≈ 400 ms after cidStartMs, ≈ 200 ms long) runs across 50 s
  const bAt = 50_000 - (b.marks.cidStartMs ?? 0) - 500;
  const total = Math.round(((bAt + b.marks.totalMs) * 8000) / 1000) * 2;
  const pcm = new Int16Array(total);
  pcm.set(a.pcm, 0);
  pcm.set(b.pcm, Math.round((bAt * 8000) / 1000) * 2);
  const r = rng(4);
  for (let i = a.pcm.length; i < Math.round((bAt * 8000) / 1000) * 2; i++) pcm[i] = Math.round((r() - 0.5) * 6);
  const tl = analyze(pcm, 8000, 2);
  assert.equal(tl.calls.length, 2, JSON.stringify(tl.calls));
  assert.equal(tl.calls[0].number, '0612345678');
  near(tl.calls[0].endMs, a.marks.endMs, 150, 'first end');
  assert.equal(tl.calls[1].number, '0201234567');
  assert.equal(tl.calls[1].name, 'GEMEENTE');
  near(tl.calls[1].startMs, bAt + (b.marks.ringStartMs ?? NaN), 60, 'second start');
  near(tl.calls[1].endMs, bAt + b.marks.endMs, 150, 'second end');
  assert.deepEqual(tl.callerId.map((c) => c.checksumOk), [true, true]);
});

test('callSpans: table of evidence → calls', () => {
  const H = { hangoverMs: 4000 };
  const cases: Array<{ name: string; ev: Evidence[]; nowMs: number; want: Array<Record<string, unknown>> }> = [
    {
      name: 'rings nobody answers',
      ev: [{ kind: 'ring', startMs: 0, endMs: 1000 }, { kind: 'ring', startMs: 5000, endMs: 6000 }],
      nowMs: 20_000,
      want: [{ direction: 'in', startMs: 0, endMs: 6000, endReason: 'unanswered' }],
    },
    {
      name: 'voice alone: direction unknown, ends after the hang-over',
      ev: [{ kind: 'voice', startMs: 300, endMs: 9000 }],
      nowMs: 20_000,
      want: [{ direction: 'unknown', startMs: 300, answerMs: 300, endMs: 9000, endReason: 'silence' }],
    },
    {
      name: 'still talking at the end of the evidence: open',
      ev: [{ kind: 'ring', startMs: 0, endMs: 1000 }, { kind: 'voice', startMs: 2000, endMs: 9000 }],
      nowMs: 10_000,
      want: [{ direction: 'in', answerMs: 2000, endMs: 9000, endReason: 'end-of-audio', open: true }],
    },
    {
      name: 'called party busy: outgoing call ends at the busy tone, unanswered',
      ev: [{ kind: 'tone', tone: 'dial', startMs: 0, endMs: 1500 }, { kind: 'digit', startMs: 1600, digit: '1' }, { kind: 'digit', startMs: 1800, digit: '2' }, { kind: 'tone', tone: 'busy', startMs: 4000, endMs: 8000 }],
      nowMs: 9000,
      want: [{ direction: 'out', dialled: '12', endMs: 4000, endReason: 'busy', answerMs: undefined }],
    },
    {
      name: 'two calls: busy ends the first, a ring opens the second; caller ID after the answer is ignored',
      ev: [
        { kind: 'caller-id', startMs: 0, number: '0612345678' }, { kind: 'ring', startMs: 800, endMs: 1800 },
        { kind: 'voice', startMs: 3000, endMs: 7000 }, { kind: 'caller-id', startMs: 5000, number: '999' },
        { kind: 'tone', tone: 'busy', startMs: 7600, endMs: 10_000 },
        { kind: 'ring', startMs: 30_000, endMs: 31_000 }, { kind: 'caller-id', startMs: 31_600, absent: 'withheld' },
        { kind: 'voice', startMs: 33_000, endMs: 40_000 },
      ],
      nowMs: 60_000,
      want: [
        { direction: 'in', number: '0612345678', startMs: 0, answerMs: 3000, endMs: 7600, endReason: 'busy' },
        { direction: 'in', absent: 'withheld', startMs: 30_000, answerMs: 33_000, endMs: 40_000, endReason: 'silence' },
      ],
    },
    {
      name: 'a ring during a call of unknown direction starts a new incoming call',
      ev: [{ kind: 'voice', startMs: 0, endMs: 500 }, { kind: 'ring', startMs: 1500, endMs: 2500 }, { kind: 'voice', startMs: 4000, endMs: 6000 }],
      nowMs: 20_000,
      want: [{ direction: 'unknown', endMs: 500 }, { direction: 'in', startMs: 1500, answerMs: 4000, endMs: 6000 }],
    },
    { name: 'busy tone with no call is the tail of one', ev: [{ kind: 'tone', tone: 'busy', startMs: 0, endMs: 5000 }], nowMs: 9000, want: [] },
  ];
  for (const c of cases) {
    const got = callSpans(c.ev, { ...H, nowMs: c.nowMs });
    assert.equal(got.length, c.want.length, `${c.name}: ${JSON.stringify(got)}`);
    c.want.forEach((w, i) => { for (const [k, v] of Object.entries(w)) assert.equal((got[i] as unknown as Record<string, unknown>)[k], v, `${c.name}: call ${i} ${k}`); });
  }
});

test('levels: verdicts for quiet, loud, noisy, idle and dead inputs; a clipped ring is not "too loud"', () => {
  const base = { seed: 5, direction: 'in', cid: { format: 'fsk-v23', number: '0612345678' }, speechSec: 5, endBy: 'busy', channels: 1 } as const;
  const verdict = (pcm: Int16Array): string => channelLevels(pcm, 1)[0].verdict;
  assert.equal(verdict(makeLineRecording({ ...base, levelDbm0: -12 }).pcm), 'ok');
  const ok = channelLevels(makeLineRecording({ ...base, levelDbm0: -12 }).pcm, 1)[0];
  assert.ok(ok.clipped === 0 && ok.peakDbm0 > 0, 'the ring clips the input but is not counted');
  assert.ok(ok.noiseFloorDbm0 < -55 && ok.activeDbm0 > -20, JSON.stringify(ok));
  assert.equal(verdict(makeLineRecording({ ...base, levelDbm0: -42 }).pcm), 'too-quiet');
  const loud = makeLineRecording({ ...base, levelDbm0: -12 }).pcm.map((v) => Math.max(-32768, Math.min(32767, v * 8)));
  assert.equal(verdict(Int16Array.from(loud)), 'too-loud');
  const r = rng(9);
  const hum = toInt16(Float64Array.from({ length: 80_000 }, (_, i) => peakOfDbm0(-40) * Math.sin((2 * Math.PI * 100 * i) / 8000) + (r() - 0.5) * 50));
  assert.equal(verdict(hum), 'noisy');
  assert.equal(verdict(toInt16(Float64Array.from({ length: 80_000 }, () => (r() - 0.5) * 40))), 'idle');
  assert.equal(verdict(new Int16Array(80_000)), 'no-signal');
});

test('bad input: wrong rate or channel count to analyze(), unreadable or missing files to the loader', async (t) => {
  assert.throws(() => analyze(new Int16Array(16000), 16000, 1), (e) => isRvError(e) && e.code === 'RV_ERR_ANALYZE_RATE' && /8000/.test(e.message));
  assert.throws(() => analyze(new Int16Array(16000), 8000, 3), (e) => isRvError(e) && e.code === 'RV_ERR_ANALYZE_CHANNELS');
  const dir = tmpDir(t);
  const junk = path.join(dir, 'junk.wav');
  fs.writeFileSync(junk, 'not audio at all');
  await assert.rejects(loadAudioFile(junk), (e) => isRvError(e) && e.code === 'RV_ERR_ANALYZE_FILE' && e.message.includes(junk));
  await assert.rejects(loadAudioFile(path.join(dir, 'missing.wav')), (e) => isRvError(e) && e.code === 'RV_ERR_ANALYZE_FILE' && /no such file/.test(e.message));
  await assert.rejects(loadAudioFile(dir), (e) => isRvError(e) && e.code === 'RV_ERR_ANALYZE_FILE');
});

/** Runs the CLI; resolves with exit code and output. */
const cli = (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string; err: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin/ringvault.js'), ...args], { env, maxBuffer: 1 << 26 }, (e, out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }));
  });

test('CLI: ringvault analyze — table, --json, a 44.1 kHz FLAC through sox, and a bad file', async (t) => {
  const dir = tmpDir(t);
  const rec = makeLineRecording({ seed: 7, direction: 'in', cid: { format: 'dtmf-clip-a', number: '0612345678' }, speechSec: 5, endBy: 'busy', channels: 2 });
  const file = path.join(dir, 'call.wav');
  writeWav(file, rec);
  const json = await cli(['analyze', file, '--json']);
  assert.equal(json.code, 0, json.err);
  const tl = JSON.parse(json.out) as Timeline & { converted: boolean };
  assert.equal(tl.converted, false);
  assert.equal(tl.channels, 2);
  assert.equal(tl.calls.length, 1);
  assert.equal(tl.calls[0].number, '0612345678');
  near(tl.calls[0].endMs, rec.marks.endMs, 150, 'CLI end');

  const table = await cli(['analyze', file]);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /^call\.wav: 2 channels, 8000 Hz/m);
  assert.match(table.out, /1 +in +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +busy +0612345678/);
  assert.match(table.out, /caller ID dtmf-clip-a: 0612345678 \(A0612345678C\)/);
  assert.match(table.out, /ring\n/);
  assert.match(table.out, /busy tone/);

  const flac = path.join(dir, 'call.flac');
  execFileSync('sox', [file, '-r', '44100', flac]);
  const conv = await cli(['analyze', flac, '--json']);
  assert.equal(conv.code, 0, conv.err);
  const ctl = JSON.parse(conv.out) as Timeline & { converted: boolean };
  assert.equal(ctl.converted, true);
  assert.equal(ctl.rate, 8000);
  assert.equal(ctl.calls[0]?.number, '0612345678');
  near(ctl.calls[0].endMs, rec.marks.endMs, 200, 'converted end');

  const bad = path.join(dir, 'bad.wav');
  fs.writeFileSync(bad, 'RIFF....WAVEjunk');
  const b = await cli(['analyze', bad]);
  assert.equal(b.code, 1);
  assert.match(b.err, /bad\.wav: not a readable audio file .*give a WAV recording/);
  const none = await cli(['analyze']);
  assert.equal(none.code, 1);
  assert.match(none.err, /analyze takes one recording/);
  const help = await cli(['help']);
  assert.match(help.out, /analyze +what the line detectors hear/);
  assert.match(help.out, /line-check/);
});

/** A temp HOME with an .asoundrc whose PCMs read raw files, as the alsa source tests do. */
function alsaHome(t: TestContext, inputs: Record<string, Int16Array>): { home: string; env: NodeJS.ProcessEnv } {
  const home = tmpDir(t);
  let conf = '';
  for (const [name, pcm] of Object.entries(inputs)) {
    const raw = path.join(home, `${name}.raw`);
    fs.writeFileSync(raw, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    conf += `pcm.${name} { type file; slave.pcm "null"; file "/dev/null"; infile "${raw}"; format "raw" }\n`;
  }
  fs.writeFileSync(path.join(home, '.asoundrc'), conf);
  return { home, env: { ...process.env, HOME: home } };
}

test('CLI: ringvault line-check through arecord and an ALSA file plugin, from the config and with --device', async (t) => {
  // caller ID before the ring, one ring, then the answer: the first 6 s of a call
  const rec = makeLineRecording({ seed: 8, direction: 'in', cid: { format: 'dtmf-clip-a', number: '0612345678' }, ringCycles: 1, speechSec: 6, endBy: 'busy', channels: 2, levelDbm0: -12 });
  // a 4-channel device with the line on channels 2 and 3 (0 and 1 carry something else)
  const frames = rec.pcm.length / 2;
  const dev = new Int16Array(frames * 4);
  const other = new Int16Array(8000 * 3 * 2);
  for (let i = 0; i < frames; i++) {
    dev[i * 4] = Math.round(peakOfDbm0(-20) * Math.sin((2 * Math.PI * 100 * i) / 8000));
    dev[i * 4 + 2] = rec.pcm[i * 2];
    dev[i * 4 + 3] = rec.pcm[i * 2 + 1];
  }
  // a stereo device: loud hum on channel 0, nothing on channel 1
  for (let i = 0; i < other.length / 2; i++) other[i * 2] = Math.round(peakOfDbm0(-20) * Math.sin((2 * Math.PI * 100 * i) / 8000));
  const { home, env } = alsaHome(t, { rvtap: dev, rvhum: other });
  const config = path.join(home, 'ringvault.json');
  fs.writeFileSync(config, JSON.stringify({
    alsa: { devices: [{ id: 'tap', device: 'rvtap', channels: 4 }] },
    lines: [
      { id: 'a1', name: 'Analog 1', source: 'alsa', channels: 2, input: { device: 'tap', channels: [2, 3] }, analog: { callerId: ['dtmf-clip'] } },
      { id: 's1', name: 'Sim', source: 'sim', channels: 2 },
    ],
  }));
  const r = await cli(['line-check', '--config', config, '--line', 'a1', '--seconds', '6', '--json'], env);
  const out = JSON.parse(r.out) as Timeline & { line: string; seconds: number; deviceChannels: number[]; levels: ReturnType<typeof channelLevels> };
  assert.equal(out.line, 'a1');
  assert.deepEqual(out.deviceChannels, [2, 3]);
  assert.equal(out.channels, 2);
  assert.ok(out.durationMs >= 5000 && out.durationMs <= 6100, `captured ${out.durationMs} ms`);
  assert.equal(out.callerId[0]?.number, '0612345678', JSON.stringify(out.callerId));
  assert.equal(out.rings.length, 1);
  assert.equal(out.levels.length, 2);
  assert.equal(out.levels[0].verdict, 'ok', JSON.stringify(out.levels));
  assert.equal(r.code, out.levels.every((l) => l.verdict === 'ok') ? 0 : 6);

  // by device: channel 0 is all hum, channel 1 dead; the table says so
  const d = await cli(['line-check', '--device', 'rvhum', '--channels', '2', '--seconds', '2'], env);
  assert.equal(d.code, 6, d.err);
  assert.match(d.out, /^ {2}0 .* noisy$/m);
  assert.match(d.out, /^ {2}1 .* no-signal$/m);
  assert.match(d.out, /ch 1: Nothing at all on this input/);

  const unknown = await cli(['line-check', '--config', config, '--line', 'nope', '--seconds', '1'], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /No line "nope" .*analog \(alsa\) lines: a1/);
  const sim = await cli(['line-check', '--config', config, '--line', 's1', '--seconds', '1'], env);
  assert.match(sim.err, /source "sim"; line-check listens to analog \(alsa\) lines only/);
  const gone = await cli(['line-check', '--device', 'rvnothere', '--seconds', '1'], env);
  assert.equal(gone.code, 1);
  assert.match(gone.err, /rvnothere/);
});
