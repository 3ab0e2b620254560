import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TONE_BLOCK, blockDbm0, tone425 } from '../src/dsp/tones.ts';
import { CadenceClassifier, type CadenceEvent, type CadenceKind } from '../src/dsp/cadence.ts';
import { Vad, type VadSegment } from '../src/dsp/vad.ts';
import { readWav } from '../src/audio/wav.ts';
import { isRvError } from '../src/errors.ts';
import { addNoise, peakOfDbm0, rng, toInt16 } from './helpers/tones.ts';

const SR = 8000;
const SPEECH_DIR = path.join(import.meta.dirname, '..', 'assets', 'speech');
const samplesOf = (ms: number): number => Math.round((ms * SR) / 1000);

interface ToneSpec { freq?: number; levelDbm0?: number; freqOffset?: number }

/** A sine burst as float samples (phase continues from `phase` so bursts join cleanly). */
function sine(ms: number, spec: ToneSpec = {}, phase = 0.3): Float64Array {
  const a = peakOfDbm0(spec.levelDbm0 ?? -10);
  const w = (2 * Math.PI * (spec.freq ?? 425) * (1 + (spec.freqOffset ?? 0))) / SR;
  return Float64Array.from({ length: samplesOf(ms) }, (_, i) => a * Math.sin(w * i + phase));
}

const concat = (parts: Float64Array[]): Float64Array => {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

/** On/off cadence: each on and off time is scaled by a random factor within ±jitter. */
function cadence(onMs: number, offMs: number, cycles: number, spec: ToneSpec & { jitter?: number; seed?: number } = {}): Float64Array {
  const rand = rng(spec.seed ?? 7);
  const j = (): number => 1 + (spec.jitter ?? 0) * (2 * rand() - 1);
  const parts: Float64Array[] = [new Float64Array(samplesOf(300))];
  for (let c = 0; c < cycles; c++) parts.push(sine(onMs * j(), spec), new Float64Array(samplesOf(offMs * j())));
  return concat(parts);
}

/** White noise at `dbm0` (mean power), so silence is not digital zero. */
function noise(ms: number, dbm0: number, seed: number): Float64Array {
  const sigma = peakOfDbm0(dbm0) / Math.SQRT2;
  const rand = rng(seed);
  return Float64Array.from({ length: samplesOf(ms) }, () => sigma * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
}

function blocks(pcm: Int16Array, each: (b: Int16Array, at: number) => void, base = 0): void {
  for (let i = 0; i + TONE_BLOCK <= pcm.length; i += TONE_BLOCK) each(pcm.subarray(i, i + TONE_BLOCK), base + (i * 1000) / SR);
}

function classify(pcm: Int16Array, base = 0): CadenceEvent[] {
  const out: CadenceEvent[] = [];
  const c = new CadenceClassifier({ onEvent: (e) => out.push(e) });
  blocks(pcm, (b, at) => c.push(b, at), base);
  return out;
}

const toPcm = (x: Float64Array, snrDb?: number, seed = 1): Int16Array => toInt16(snrDb === undefined ? x : addNoise(x, snrDb, rng(seed)));

/** Speech clips trimmed to their first and last block above −50 dBm0, so where speech sits is known. */
function speech(name: string): Float64Array {
  const { pcm } = readWav(fs.readFileSync(path.join(SPEECH_DIR, name)));
  let first = -1;
  let last = -1;
  blocks(pcm, (b, at) => {
    if (blockDbm0(b) > -50) { if (first < 0) first = at; last = at; }
  });
  return Float64Array.from(pcm.subarray(samplesOf(first), samplesOf(last + 20)));
}

test('tone425: 425 Hz ±2 % from −10 to −40 dBm0 is a tone, with or without noise at 20 dB SNR', () => {
  for (const levelDbm0 of [-5, -10, -20, -30, -40]) {
    for (const freqOffset of [-0.02, -0.01, 0, 0.01, 0.02]) {
      for (const snrDb of [undefined, 20]) {
        const pcm = toPcm(sine(20, { levelDbm0, freqOffset }), snrDb, 3);
        assert.equal(tone425(pcm), true, `${levelDbm0} dBm0, ${freqOffset * 100} %, snr ${snrDb}`);
      }
    }
  }
});

test('tone425: too quiet, other frequencies, noise and silence are not a tone', () => {
  const cases: [string, Float64Array][] = [
    ['425 Hz at −50 dBm0', sine(20, { levelDbm0: -50 })],
    ['1000 Hz', sine(20, { freq: 1000 })],
    ['350 Hz', sine(20, { freq: 350 })],
    ['500 Hz', sine(20, { freq: 500 })],
    ['425 + 1000 Hz at equal level', sine(20).map((v, i) => v + sine(20, { freq: 1000 })[i])],
    ['noise at −20 dBm0', noise(20, -20, 5)],
    ['silence', new Float64Array(160)],
  ];
  for (const [name, x] of cases) assert.equal(tone425(toInt16(x)), false, name);
});

const cadenceCases: { name: string; kind: CadenceKind; x: Float64Array; within: number }[] = [];
for (const [i, spec] of [
  { levelDbm0: -10, freqOffset: 0, jitter: 0 },
  { levelDbm0: -25, freqOffset: 0.02, jitter: 0.1 },
  { levelDbm0: -38, freqOffset: -0.02, jitter: 0.15 },
].entries()) {
  const s = { ...spec, seed: 11 + i };
  cadenceCases.push(
    { name: `ring-back ${JSON.stringify(spec)}`, kind: 'ringback', x: cadence(1000, 4000, 3, s), within: 300 + 2 * 5000 },
    { name: `busy ${JSON.stringify(spec)}`, kind: 'busy', x: cadence(500, 500, 6, s), within: 300 + 3 * 1000 * 1.2 },
    { name: `congestion ${JSON.stringify(spec)}`, kind: 'congestion', x: cadence(250, 250, 10, s), within: 300 + 3 * 500 * 1.2 },
    { name: `dial ${JSON.stringify(spec)}`, kind: 'dial', x: concat([new Float64Array(2400), sine(4000, s)]), within: 300 + 2500 },
  );
}

test('cadence: ring-back, busy, congestion and dial are recognised at several levels, offsets and jitter, with noise at 20 dB SNR', () => {
  for (const c of cadenceCases) {
    for (const snrDb of [undefined, 20]) {
      const events = classify(toPcm(c.x, snrDb, 9));
      assert.deepEqual(events.map((e) => e.kind), [c.kind], `${c.name}, snr ${snrDb}`);
      assert.ok(events[0].at <= c.within, `${c.name} recognised at ${events[0].at} ms, expected by ${c.within}`);
    }
  }
});

test('cadence: wrong frequency or wrong cadence is never busy', () => {
  const cases: [string, Float64Array][] = [
    ['1000 Hz at busy cadence', cadence(500, 500, 8, { freq: 1000 })],
    ['1000 Hz continuous', sine(5000, { freq: 1000 })],
    ['425 Hz 0.5 s on 1.5 s off', cadence(500, 1500, 6)],
    ['425 Hz 0.8 s on 0.8 s off', cadence(800, 800, 6)],
    ['425 Hz 0.5 s on 0.25 s off', cadence(500, 250, 8)],
    ['425 Hz 0.35 s on 0.35 s off', cadence(350, 350, 8)],
    ['425 Hz at −50 dBm0, busy cadence', cadence(500, 500, 8, { levelDbm0: -50 })],
  ];
  for (const [name, x] of cases) {
    const kinds = classify(toPcm(x, 20, 4)).map((e) => e.kind);
    assert.ok(!kinds.includes('busy') && !kinds.includes('congestion'), `${name}: ${kinds.join(',')}`);
  }
});

test('cadence: a busy tone after ring-back is reported as a new event', () => {
  const events = classify(toPcm(concat([cadence(1000, 4000, 2), cadence(500, 500, 4)]), 20));
  assert.deepEqual(events.map((e) => e.kind), ['ringback', 'busy']);
});

test('cadence: event times follow the block timestamps; busy after speech is still busy', () => {
  const base = Date.UTC(2026, 0, 5, 9, 30);
  const s = speech('de-1.wav');
  const events = classify(toPcm(concat([s, cadence(500, 500, 5)]), 20), base);
  assert.deepEqual(events.map((e) => e.kind), ['busy']);
  const busyStart = base + (s.length * 1000) / SR + 300;
  assert.ok(events[0].at > busyStart + 1000 && events[0].at <= busyStart + 3100, `busy at +${events[0].at - busyStart} ms`);
});

test('cadence: looped speech (about 60 s per clip) is never busy, congestion or ring-back', () => {
  const names = fs.readdirSync(SPEECH_DIR).filter((f) => f.endsWith('.wav')).sort();
  assert.ok(names.length > 0);
  for (const name of names) {
    const { pcm } = readWav(fs.readFileSync(path.join(SPEECH_DIR, name)));
    const looped = new Int16Array(60 * SR);
    for (let i = 0; i < looped.length; i++) looped[i] = pcm[i % pcm.length];
    const kinds = classify(looped).map((e) => e.kind);
    assert.deepEqual(kinds, [], name);
  }
});

/** Runs the VAD and records when (stream time) each segment was reported. */
function vad(pcm: Int16Array, hangMs?: number): { seg: VadSegment; reportedAt: number }[] {
  const out: { seg: VadSegment; reportedAt: number }[] = [];
  let now = 0;
  const v = new Vad({ hangMs, onSegment: (seg) => out.push({ seg, reportedAt: now }) });
  blocks(pcm, (b, at) => { now = at + 20; v.push(b, at); });
  now = Infinity;
  v.flush();
  return out;
}

const near = (got: number, want: number, what: string): void =>
  assert.ok(Math.abs(got - want) <= 100, `${what}: ${got} ms, expected ${want} ± 100 ms`);

test('vad: finds two speech clips 6 s apart in noise at −60 dBm0 within ±100 ms, after the hang-over', () => {
  for (const [a, b, hangMs] of [['en-1.wav', 'nl-1.wav', undefined], ['de-2.wav', 'en-us-2.wav', 3000], ['nl-2.wav', 'en-3.wav', 5000]] as const) {
    const s1 = speech(a);
    const s2 = speech(b);
    const lead = noise(1000, -60, 1);
    const gap = noise(6000, -60, 2);
    const tail = noise(6000, -60, 3);
    const x = concat([lead, s1.map((v, i) => v + lead[i % lead.length]), gap, s2, tail]);
    const t1 = 1000;
    const t2 = t1 + (s1.length * 1000) / SR + 6000;
    const got = vad(toInt16(x), hangMs);
    assert.equal(got.length, 2, `${a}+${b}: ${JSON.stringify(got)}`);
    near(got[0].seg.startMs, t1, `${a} start`);
    near(got[0].seg.endMs, t1 + (s1.length * 1000) / SR, `${a} end`);
    near(got[1].seg.startMs, t2, `${b} start`);
    near(got[1].seg.endMs, t2 + (s2.length * 1000) / SR, `${b} end`);
    for (const g of got) {
      const hang = hangMs ?? 4000;
      assert.ok(g.reportedAt >= g.seg.endMs + hang && g.reportedAt <= g.seg.endMs + hang + 40, `reported at ${g.reportedAt} for ${JSON.stringify(g.seg)}`);
    }
  }
});

test('vad: a pause shorter than the hang-over does not split speech; under 60 ms of sound does not start it', () => {
  const s = speech('en-2.wav');
  const x = concat([noise(500, -60, 1), s, noise(2500, -60, 2), s, noise(5000, -60, 3)]);
  const got = vad(toInt16(x));
  assert.equal(got.length, 1);
  near(got[0].seg.startMs, 500, 'start');
  near(got[0].seg.endMs, 500 + (2 * s.length * 1000) / SR + 2500, 'end');

  const click = concat([noise(1000, -60, 4), noise(40, -20, 5), noise(6000, -60, 6)]);
  assert.deepEqual(vad(toInt16(click)), []);
});

test('vad: busy tone after speech does not keep the call alive', () => {
  for (const [name, lineDbm0] of [['nl-3.wav', -60], ['en-us-1.wav', -40]] as const) {
    const s = speech(name);
    const x = concat([new Float64Array(samplesOf(500)), s, cadence(500, 500, 15, { levelDbm0: -10 })]);
    const line = noise((x.length * 1000) / SR, lineDbm0, 2);
    const end = 500 + (s.length * 1000) / SR;
    const got = vad(toInt16(x.map((v, i) => v + line[i])));
    assert.equal(got.length, 1, JSON.stringify(got));
    near(got[0].seg.startMs, 500, `${name} start`);
    near(got[0].seg.endMs, end, `${name} end`);
    assert.ok(got[0].reportedAt <= end + 4000 + 100, `ended at ${got[0].reportedAt}, while busy tone played`);
  }
});

test('vad: a louder line is learnt as noise within about 2 s', () => {
  const x = concat([noise(3000, -60, 1), noise(20000, -35, 2)]);
  const got = vad(toInt16(x));
  assert.ok(got.length <= 1, JSON.stringify(got));
  for (const g of got) assert.ok(g.seg.startMs >= 2900 && g.seg.endMs <= 3000 + 2600, JSON.stringify(g.seg));
});

test('vad and cadence reject bad options', () => {
  for (const hangMs of [2999, 5001, Number.NaN]) assert.throws(() => new Vad({ hangMs, onSegment: () => {} }), isRvError);
  assert.throws(() => new CadenceClassifier({ tolerance: 1, onEvent: () => {} }), isRvError);
  assert.throws(() => new CadenceClassifier({ dialMs: 1000, onEvent: () => {} }), isRvError);
});
