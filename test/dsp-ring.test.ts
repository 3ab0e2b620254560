import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RingDetector, detectRings, type RingEvent } from '../src/dsp/ring.ts';
import { readWav } from '../src/audio/wav.ts';
import { isRvError } from '../src/errors.ts';
import { dtmfSignal, peakOfDbm0, rng, toInt16 } from './helpers/tones.ts';
import { fskSignal, mdmf } from './helpers/fsk-gen.ts';
import { makeLineRecording } from './helpers/line-recording.ts';

const SR = 8000;
const N = (ms: number): number => Math.round((ms * SR) / 1000);
const SPEECH_DIR = path.join(import.meta.dirname, '..', 'assets', 'speech');

interface RingSpec {
  /** peak of the ring wave before the input clips, as a multiple of full scale */
  amplitude: number;
  freq?: number;
  /** on/off ms pairs */
  cadence: Array<[number, number]>;
  humDbm0?: number;
}

/** Ring bursts as a tap hears them (harmonics, clipped at full scale), with optional mains hum and a quiet noise floor. */
function rings(spec: RingSpec): { pcm: Int16Array; bursts: Array<[number, number]> } {
  const total = 300 + spec.cadence.reduce((a, [on, off]) => a + on + off, 0);
  const x = new Float64Array(N(total));
  const w = (2 * Math.PI * (spec.freq ?? 25)) / SR;
  const bursts: Array<[number, number]> = [];
  let t = 300;
  for (const [on, off] of spec.cadence) {
    bursts.push([t, t + on]);
    for (let i = 0; i < N(on); i++) {
      const v = Math.sin(w * i) + 0.2 * Math.sin(3 * w * i) + 0.08 * Math.sin(5 * w * i);
      x[N(t) + i] = spec.amplitude * 32767 * v;
    }
    t += on + off;
  }
  const hum = spec.humDbm0 === undefined ? 0 : peakOfDbm0(spec.humDbm0);
  for (let i = 0; i < x.length; i++) x[i] += hum * Math.sin((2 * Math.PI * 50 * i) / SR);
  return { pcm: withFloor(x, 3), bursts };
}

const dutch = (n: number): Array<[number, number]> => Array.from({ length: n }, () => [1000, 4000] as [number, number]);

const CASES: Array<{ name: string; spec: RingSpec }> = [
  { name: 'loud, clipped 25 Hz, Dutch cadence', spec: { amplitude: 4, cadence: dutch(3) } },
  { name: 'just clipping', spec: { amplitude: 1.1, cadence: dutch(2) } },
  { name: 'quiet tap (−20 dBm0)', spec: { amplitude: peakOfDbm0(-20) / 32767, cadence: dutch(2) } },
  { name: 'weak tap (−28 dBm0)', spec: { amplitude: peakOfDbm0(-28) / 32767, cadence: dutch(2) } },
  { name: '16⅔ Hz generator', spec: { amplitude: 2, freq: 16.67, cadence: dutch(2) } },
  { name: '50 Hz generator', spec: { amplitude: 2, freq: 50, cadence: dutch(2) } },
  { name: 'UK double ring (0.4/0.2/0.4/2.0)', spec: { amplitude: 2, cadence: [[400, 200], [400, 2000], [400, 200], [400, 2000]] } },
  { name: 'with −40 dBm0 mains hum', spec: { amplitude: 2, cadence: dutch(2), humDbm0: -40 } },
];

test('rings are found with their start and end at any level, generator frequency and cadence', () => {
  for (const c of CASES) {
    const { pcm, bursts } = rings(c.spec);
    const got = detectRings(pcm);
    assert.equal(got.length, bursts.length, `${c.name}: ${JSON.stringify(got)}`);
    got.forEach((g, i) => {
      assert.ok(Math.abs(g.startMs - bursts[i][0]) <= 60, `${c.name}: burst ${i} starts ${g.startMs}, sent ${bursts[i][0]}`);
      assert.ok(Math.abs(g.endMs - bursts[i][1]) <= 80, `${c.name}: burst ${i} ends ${g.endMs}, sent ${bursts[i][1]}`);
    });
  }
});

/** Float → Int16 with a little white noise so nothing is digital silence. */
const withFloor = (x: Float64Array, seed = 5): Int16Array => {
  const r = rng(seed);
  return toInt16(x.map((v) => v + (r() - 0.5) * 8));
};

function sine(ms: number, freqs: number[], dbm0: number): Float64Array {
  const a = peakOfDbm0(dbm0);
  return Float64Array.from({ length: N(ms) }, (_, i) => freqs.reduce((s, f) => s + a * Math.sin((2 * Math.PI * f * i) / SR), 0));
}

function cadence425(onMs: number, offMs: number, cycles: number, dbm0: number): Float64Array {
  const out = new Float64Array(N((onMs + offMs) * cycles));
  const on = sine(onMs, [425], dbm0);
  for (let c = 0; c < cycles; c++) out.set(on, N(c * (onMs + offMs)));
  return out;
}

/** A DC step through a coupling capacitor: what a polarity reversal or hook switch looks like. */
const click = (dbm0: number): Float64Array => {
  const a = peakOfDbm0(dbm0);
  const x = new Float64Array(N(1000));
  for (let i = 0; i < N(80); i++) x[N(200) + i] = a * Math.exp(-i / N(8));
  return x;
};

test('not rings: speech, busy, ring-back, dial tone, DTMF, FSK caller ID, clicks, hum alone', () => {
  const speech = fs.readdirSync(SPEECH_DIR).filter((f) => f.endsWith('.wav')).map((f) => readWav(fs.readFileSync(path.join(SPEECH_DIR, f))).pcm);
  const loudSpeech = speech.map((p) => Int16Array.from(p, (v) => Math.max(-32768, Math.min(32767, v * 4))));
  const NOT: Array<[string, Int16Array]> = [
    ...speech.map((p, i) => [`speech clip ${i}`, p] as [string, Int16Array]),
    ...loudSpeech.map((p, i) => [`speech clip ${i}, +12 dB and clipping`, p] as [string, Int16Array]),
    ['busy −5 dBm0', withFloor(cadence425(500, 500, 8, -5))],
    ['ring-back −5 dBm0', withFloor(cadence425(1000, 4000, 2, -5))],
    ['dial tone 0 dBm0', withFloor(sine(5000, [425], 0))],
    ['DTMF −3 dBm0', dtmfSignal('0612345678#', { levelDbm0: -3 })],
    ['FSK caller ID −5 dBm0', fskSignal(mdmf({ number: '0612345678', name: 'J JANSEN' }), { levelDbm0: -5 })],
    ['polarity-reversal click −5 dBm0', withFloor(click(-5))],
    ['mains hum −25 dBm0', withFloor(sine(8000, [50], -25))],
    ['low hum + harmonics −30 dBm0', withFloor(sine(8000, [50, 100, 150], -30))],
  ];
  for (const [name, pcm] of NOT) assert.deepEqual(detectRings(pcm), [], name);
});

test('streaming: events and ringing flag, any block size, same answer as one push', () => {
  const { pcm } = rings({ amplitude: 3, cadence: dutch(2) });
  const whole = detectRings(pcm);
  for (const size of [80, 160, 333, 4000]) {
    const events: RingEvent[] = [];
    const starts: number[] = [];
    let ringingBlocks = 0;
    const det = new RingDetector({ onEvent: (e) => events.push(e) });
    for (let i = 0; i < pcm.length; i += size) {
      starts.push(...det.push(pcm.subarray(i, i + size), (i * 1000) / SR));
      if (det.ringing) ringingBlocks++;
    }
    det.flush();
    assert.deepEqual(starts, whole.map((w) => w.startMs), `block ${size}`);
    assert.deepEqual(events.map((e) => e.type), ['ring-start', 'ring-stop', 'ring-start', 'ring-stop'], `block ${size}`);
    assert.deepEqual(events.filter((e) => e.type === 'ring-stop').map((e) => e.at), whole.map((w) => w.endMs));
    // 2 s of ringing in ~10.3 s
    const share = (ringingBlocks * size) / pcm.length;
    assert.ok(share > 0.12 && share < 0.3, `ringing share ${share} at block ${size}`);
  }
});

test('whole line recordings: rings match the marks at every level; an outgoing call has none', () => {
  for (const levelDbm0 of [-5, -12, -25, -35]) {
    const rec = makeLineRecording({ seed: 3, direction: 'in', ringCycles: 3, cid: { format: 'fsk-v23', number: '0612345678' }, speechSec: 4, endBy: 'busy', channels: 2, levelDbm0 });
    const ch0 = rec.pcm.filter((_, i) => i % 2 === 0);
    const got = detectRings(ch0);
    assert.equal(got.length, 3, `${levelDbm0} dBm0: ${JSON.stringify(got)}`);
    assert.ok(Math.abs(got[0].startMs - (rec.marks.ringStartMs ?? NaN)) <= 60);
    assert.ok(got[2].endMs < rec.marks.answerMs);
  }
  const out = makeLineRecording({ seed: 4, direction: 'out', speechSec: 6, endBy: 'busy', channels: 1 });
  assert.deepEqual(detectRings(out.pcm), [], 'an outgoing call (dial tone, digits, ring-back, speech, busy) has no ring');
});

test('bad options are refused with a clear error', () => {
  assert.throws(() => new RingDetector({ minOnMs: 5 }), (e) => isRvError(e) && e.code === 'RV_ERR_RING_TIMING');
  assert.throws(() => new RingDetector({ minShare: 0 }), (e) => isRvError(e) && e.code === 'RV_ERR_RING_SHARE');
});
