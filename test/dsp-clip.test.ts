import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClipDtmfParser, parseClip, parseClipString, type ClipDigit, type ClipResult } from '../src/dsp/clip-dtmf.ts';
import { detectDtmf } from '../src/dsp/dtmf.ts';
import { isRvError } from '../src/errors.ts';
import { encodeWav } from '../src/audio/wav.ts';
import { dtmfSignal } from './helpers/tones.ts';
import { clipDigits, makeLineRecording, writeWav } from './helpers/line-recording.ts';

function tmpDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-clip-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const STRINGS: Array<[string, Omit<ClipResult, 'startMs' | 'endMs' | 'raw'> | null]> = [
  ['A0612345678C', { format: 'dtmf-clip-a', number: '0612345678' }],
  ['D0201234567C', { format: 'dtmf-clip-a', number: '0201234567' }],
  ['B00C', { format: 'dtmf-clip-a', absent: 'unavailable', code: 'B00' }],
  ['B10C', { format: 'dtmf-clip-a', absent: 'withheld', code: 'B10' }],
  ['B37C', { format: 'dtmf-clip-a', absent: 'unavailable', code: 'B37' }],
  ['D1C', { format: 'dtmf-clip-a', absent: 'withheld', code: 'D1' }],
  ['D3C', { format: 'dtmf-clip-a', absent: 'unavailable', code: 'D3' }],
  ['0612345678#', { format: 'dtmf-clip-hash', number: '0612345678' }],
  ['A31201234567#', { format: 'dtmf-clip-hash', number: '31201234567' }],
  ['D1#', { format: 'dtmf-clip-hash', absent: 'withheld', code: 'D1' }],
  ['D2#', { format: 'dtmf-clip-hash', absent: 'unavailable', code: 'D2' }],
  ['D3#', { format: 'dtmf-clip-hash', absent: 'unavailable', code: 'D3' }],
  // not caller ID: no end code, bare number with C, lone keys, letters inside, service codes
  ['A0612345678', null],
  ['0612345678C', null],
  ['#', null],
  ['5#', null],
  ['A06B2345678C', null],
  ['*21*0612345678#', null],
  ['', null],
];

test('parseClipString: both framings, information codes, and what is not caller ID', () => {
  for (const [raw, want] of STRINGS) {
    const got = parseClipString(raw);
    assert.deepEqual(got, want && { ...want, raw }, raw);
  }
});

/** Digits as a detector reports them: 70 ms tones, `pause` ms apart. */
const digitsOf = (s: string, at = 0, pause = 70, on = 70): ClipDigit[] =>
  [...s].map((digit, i) => ({ digit, at: at + i * (on + pause), durationMs: on }));

test('parser: timing splits bursts; an end code closes at once; tick closes a stalled burst', () => {
  const cases: Array<{ name: string; digits: ClipDigit[]; want: Array<Partial<ClipResult>> }> = [
    { name: 'one burst', digits: digitsOf('A0612345678C', 100), want: [{ number: '0612345678', startMs: 100, endMs: 100 + 11 * 140 + 70 }] },
    {
      name: 'two bursts a second apart',
      digits: [...digitsOf('B10C'), ...digitsOf('0201234567#', 2000)],
      want: [{ absent: 'withheld', endMs: 3 * 140 + 70 }, { number: '0201234567', startMs: 2000 }],
    },
    { name: 'a pause above 300 ms breaks the field', digits: [...digitsOf('A0612'), ...digitsOf('345678C', 5 * 140 + 400)], want: [] },
    { name: 'slow hand dialling is not caller ID', digits: digitsOf('0612345678#', 0, 600), want: [] },
    { name: 'stray digit before a field', digits: [...digitsOf('5'), ...digitsOf('A0612345678C', 900)], want: [{ number: '0612345678' }] },
  ];
  for (const c of cases) {
    const got = parseClip(c.digits);
    assert.equal(got.length, c.want.length, c.name);
    c.want.forEach((w, i) => { for (const [k, v] of Object.entries(w)) assert.equal(got[i][k as keyof ClipResult], v, `${c.name}: ${k}`); });
  }
  const p = new ClipDtmfParser();
  for (const d of digitsOf('A0612')) assert.equal(p.push(d), null);
  // a field cut short (no end code) yields nothing, and the next one still parses
  assert.equal(p.tick(5000), null);
  const fresh = digitsOf('A0612C', 6000);
  const got = fresh.map((d) => p.push(d)).filter(Boolean);
  assert.equal(got.length, 1);
  assert.equal(got[0]?.number, '0612');
  assert.throws(() => new ClipDtmfParser({ maxPauseMs: 0 }), (e) => isRvError(e) && e.code === 'RV_ERR_CLIP_PAUSE');
});

const FIELDS: Array<{ cid: { number?: string; absent?: 'withheld' | 'unavailable' }; format: 'dtmf-clip-a' | 'dtmf-clip-hash' }> = [
  { format: 'dtmf-clip-a', cid: { number: '0612345678' } },
  { format: 'dtmf-clip-a', cid: { absent: 'withheld' } },
  { format: 'dtmf-clip-a', cid: { absent: 'unavailable' } },
  { format: 'dtmf-clip-hash', cid: { number: '0201234567' } },
  { format: 'dtmf-clip-hash', cid: { absent: 'withheld' } },
  { format: 'dtmf-clip-hash', cid: { absent: 'unavailable' } },
];

test('from tones: detector + parser read every framing at line levels, with noise and A-law', () => {
  for (const f of FIELDS) {
    const raw = clipDigits(f.format, f.cid);
    for (const [levelDbm0, snrDb, alaw] of [[-5, undefined, false], [-20, 25, true], [-30, 20, true]] as const) {
      const pcm = dtmfSignal(raw, { levelDbm0, snrDb, alaw, toneMs: 60, pauseMs: 60 });
      const got = parseClip(detectDtmf(pcm).map((d) => ({ digit: d.digit, at: d.startMs, durationMs: d.durationMs })));
      assert.equal(got.length, 1, `${raw} at ${levelDbm0} dBm0`);
      assert.equal(got[0].format, f.format);
      assert.equal(got[0].number, f.cid.number);
      assert.equal(got[0].absent, f.cid.absent);
    }
  }
});

/** multimon-ng's digits for a WAV (one `DTMF: d` line per digit). */
const multimon = (file: string): string =>
  execFileSync('multimon-ng', ['-q', '-a', 'DTMF', '-t', 'wav', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .split('\n').filter((l) => l.startsWith('DTMF: ')).map((l) => l.slice(6).trim()).join('');

test('oracle: multimon-ng hears the same caller-ID digits in whole line recordings', (t) => {
  const dir = tmpDir(t);
  FIELDS.forEach((f, i) => {
    const rec = makeLineRecording({ seed: 10 + i, direction: 'in', cid: { format: f.format, ...f.cid }, speechSec: 3, endBy: 'busy', channels: 1, ringCycles: 1 });
    const file = path.join(dir, `clip-${i}.wav`);
    writeWav(file, rec);
    const ours = detectDtmf(rec.pcm).map((d) => d.digit).join('');
    const theirs = multimon(file);
    assert.equal(ours, rec.sentDigits, `ours on ${f.format} ${JSON.stringify(f.cid)}`);
    assert.equal(theirs, rec.sentDigits, `multimon-ng on ${f.format} ${JSON.stringify(f.cid)}`);
    const clip = parseClip(detectDtmf(rec.pcm).map((d) => ({ digit: d.digit, at: d.startMs, durationMs: d.durationMs })));
    assert.equal(clip.length, 1);
    assert.ok(Math.abs(clip[0].startMs - (rec.marks.cidStartMs ?? NaN)) <= 30, `CLIP start ${clip[0].startMs} vs ${rec.marks.cidStartMs}`);
  });
  // and a plain tone file: both decoders agree digit for digit
  const file = path.join(dir, 'tones.wav');
  const raw = 'A0612345678CB10CD3#0201234567#';
  fs.writeFileSync(file, encodeWav(dtmfSignal(raw, { levelDbm0: -15, toneMs: 60, pauseMs: 60 }), 1, 8000));
  assert.equal(multimon(file), raw);
});
