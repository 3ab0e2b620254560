import fs from 'node:fs';
import path from 'node:path';
import { readWav, encodeWav } from '../../src/audio/wav.ts';
import { dtmfFloat, peakOfDbm0, rng } from './tones.ts';
import { fskFloat, mdmf } from './fsk-gen.ts';

/**
 * Whole analog-line recordings as a USB audio tap hears them, with the true times of every event.
 *
 * Channel layout: with `channels: 2` channel 0 is the exchange side (ringing, caller ID, dial
 * tone, ring-back, busy, the far party's voice) and channel 1 the local phone (dialled digits, the
 * local party's voice); each leaks into the other at −24 dB, as a tap's hybrid does. With
 * `channels: 1` both directions are mixed on one channel.
 *
 * Incoming: [caller ID before ring] → rings (25 Hz, 1 s on / 4 s off, loud and clipped) with
 * [caller ID after the first ring] → answer (off-hook click) → speech → busy tone or silence.
 * Outgoing: dial tone → dialled DTMF digits → ring-back (425 Hz 1 s / 4 s) → answer → speech →
 * busy tone or silence.
 */

export type CidFormat = 'fsk-v23' | 'fsk-bell202' | 'dtmf-clip-a' | 'dtmf-clip-hash';

export interface LineRecordingOpts {
  /** PRNG seed (noise, clip choice, pauses); default 1 */
  seed?: number;
  direction: 'in' | 'out';
  /** rings (incoming) or ring-back bursts (outgoing) before the answer; default 2 */
  ringCycles?: number;
  cid?: {
    format: CidFormat;
    number?: string;
    name?: string;
    absent?: 'withheld' | 'unavailable';
    /** default: DTMF before the ring (Dutch practice), FSK after the first ring */
    when?: 'before-ring' | 'after-first-ring';
  };
  /** digits dialled on an outgoing call; default '0201234567' */
  dialled?: string;
  /** pause between dialled digits in ms, [min, max]; default [120, 350] (a person); a speed-dial key sends ~[60, 80] */
  dialPauseMs?: [number, number];
  speechSec: number;
  /** busy: 425 Hz 0.5/0.5 s after the far end hangs up; congestion: 0.25/0.25 s (network trouble); silence: the line goes quiet */
  endBy: 'busy' | 'congestion' | 'silence';
  channels: 1 | 2;
  /** level of tones, FSK and each DTMF tone, dBm0; speech sits 4 dB below; the ring signal scales with it; default −12 */
  levelDbm0?: number;
  /** folder of 8 kHz mono 16-bit WAV speech clips; default assets/speech */
  speechDir?: string;
}

export interface LineRecordingMarks {
  /** start of the first ring (incoming) */
  ringStartMs?: number;
  /** start (FSK before ring: of the alerting tone) and end of the caller-ID signal (incoming, when sent) */
  cidStartMs?: number;
  cidEndMs?: number;
  /** outgoing: dial tone start, first digit start, last digit end, first ring-back burst */
  dialToneStartMs?: number;
  digitsStartMs?: number;
  digitsEndMs?: number;
  ringbackStartMs?: number;
  /** off-hook of the called side */
  answerMs: number;
  /** first and last sound of the conversation (20 ms resolution) */
  speechStartMs: number;
  speechEndMs: number;
  /** start of the busy or congestion tone */
  busyStartMs?: number;
  /** when the call ended on the line: the start of the busy tone, or the last speech when it ends in silence */
  endMs: number;
  /** total length of the recording */
  totalMs: number;
}

export interface LineRecording {
  /** interleaved samples */
  pcm: Int16Array;
  rate: 8000;
  channels: 1 | 2;
  marks: LineRecordingMarks;
  /** the digits of the caller-ID signal or the dialled digits, as sent */
  sentDigits?: string;
}

const SR = 8000;
const DEFAULT_SPEECH_DIR = path.join(import.meta.dirname, '..', '..', 'assets', 'speech');
const N = (ms: number): number => Math.round((ms * SR) / 1000);
const MS = (samples: number): number => (samples * 1000) / SR;
const rms = (x: Float64Array): number => Math.sqrt(x.reduce((a, v) => a + v * v, 0) / Math.max(1, x.length));

/** A growable float track. */
class Track {
  x = new Float64Array(N(120_000));
  ensure(end: number): void {
    if (end <= this.x.length) return;
    const y = new Float64Array(Math.max(end, this.x.length * 2));
    y.set(this.x);
    this.x = y;
  }
  add(at: number, sig: ArrayLike<number>, gain = 1): void {
    this.ensure(at + sig.length);
    for (let i = 0; i < sig.length; i++) this.x[at + i] += sig[i] * gain;
  }
}

function sine(ms: number, freq: number, dbm0: number, phase = 0.4): Float64Array {
  const a = peakOfDbm0(dbm0);
  const w = (2 * Math.PI * freq) / SR;
  const n = N(ms);
  // 3 ms ramps: real tone generators do not click
  const ramp = N(3);
  return Float64Array.from({ length: n }, (_, i) => a * Math.sin(w * i + phase) * Math.min(1, (i + 1) / ramp, (n - i) / ramp));
}

/**
 * The ring signal through an audio tap: ~75 V rms at 25 Hz (with the 3rd and 5th harmonics of a
 * trapezoid-ish generator) overdrives the input, so at the default level it arrives clipped.
 */
function ring(ms: number, gain: number): Float64Array {
  const n = N(ms);
  const a = 3 * 32767 * gain;
  const w = (2 * Math.PI * 25) / SR;
  const ramp = N(10);
  return Float64Array.from({ length: n }, (_, i) => {
    const v = Math.sin(w * i) + 0.2 * Math.sin(3 * w * i) + 0.08 * Math.sin(5 * w * i);
    return a * v * Math.min(1, (i + 1) / ramp, (n - i) / ramp);
  });
}

/** A DC step (line polarity reversal, hook switch) as a capacitively coupled input sees it: a decaying spike. */
function click(dbm0: number, tauMs = 8): Float64Array {
  const a = peakOfDbm0(dbm0);
  const n = N(tauMs * 6);
  return Float64Array.from({ length: n }, (_, i) => a * Math.exp(-i / N(tauMs)));
}

/** ETSI EN 300 659-1 dual-tone alerting signal: 2130 + 2750 Hz, 100 ms. */
const dtas = (dbm0: number): Float64Array => {
  const a = sine(100, 2130, dbm0);
  const b = sine(100, 2750, dbm0, 1.1);
  return a.map((v, i) => v + b[i]);
};

/** The DTMF string a caller-ID field is sent as. */
export function clipDigits(format: 'dtmf-clip-a' | 'dtmf-clip-hash', cid: { number?: string; absent?: 'withheld' | 'unavailable' }): string {
  if (format === 'dtmf-clip-a') {
    if (cid.absent) return cid.absent === 'withheld' ? 'B10C' : 'B00C';
    return `A${cid.number ?? ''}C`;
  }
  if (cid.absent) return cid.absent === 'withheld' ? 'D1#' : 'D3#';
  return `${cid.number ?? ''}#`;
}

/** A DTMF string with the given on time and per-gap pause (ms). */
function digitTrain(digits: string, dbm0: number, onMs: number, pause: () => number): { sig: Float64Array; starts: number[] } {
  const parts: Float64Array[] = [];
  const starts: number[] = [];
  let len = 0;
  [...digits].forEach((d, i) => {
    if (i > 0) {
      const p = new Float64Array(N(pause()));
      parts.push(p);
      len += p.length;
    }
    starts.push(len);
    const s = dtmfFloat(d, { levelDbm0: dbm0, toneMs: onMs, leadMs: 0 });
    parts.push(s);
    len += s.length;
  });
  const sig = new Float64Array(len);
  let at = 0;
  for (const p of parts) { sig.set(p, at); at += p.length; }
  return { sig, starts };
}

function loadClips(dir: string): Float64Array[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.wav')).sort();
  if (files.length === 0) throw new Error(`no *.wav speech clips in ${dir}`);
  return files.map((f) => {
    const w = readWav(fs.readFileSync(path.join(dir, f)));
    if (w.sampleRate !== SR || w.channels !== 1) throw new Error(`${f}: speech clips must be 8 kHz mono`);
    return Float64Array.from(w.pcm);
  });
}

/** End (ms) of the last 20 ms block of `x` above −45 dBm0 at or after `from`; `from` when none. */
function lastSound(x: Float64Array, from: number, to: number): number {
  const b = N(20);
  const thr = peakOfDbm0(-45) / Math.SQRT2;
  for (let i = Math.floor(to / b) * b - b; i >= from; i -= b) {
    if (rms(x.subarray(i, i + b)) >= thr) return MS(i + b);
  }
  return MS(from);
}

function firstSound(x: Float64Array, from: number, to: number): number {
  const b = N(20);
  const thr = peakOfDbm0(-45) / Math.SQRT2;
  for (let i = from; i + b <= to; i += b) if (rms(x.subarray(i, i + b)) >= thr) return MS(i);
  return MS(from);
}

export function makeLineRecording(o: LineRecordingOpts): LineRecording {
  const rand = rng(o.seed ?? 1);
  const between = (lo: number, hi: number): number => lo + (hi - lo) * rand();
  const level = o.levelDbm0 ?? -12;
  const gain = 10 ** ((level + 12) / 20);
  const cycles = o.ringCycles ?? 2;
  const far = new Track();
  const near = new Track();
  const marks: Partial<LineRecordingMarks> = {};
  let sentDigits: string | undefined;
  let t = N(500);

  if (o.direction === 'in') {
    const cid = o.cid;
    const fsk = cid && (cid.format === 'fsk-v23' || cid.format === 'fsk-bell202');
    const when = cid?.when ?? (fsk ? 'after-first-ring' : 'before-ring');
    const cidSignal = (): Float64Array => {
      if (!cid) return new Float64Array(0);
      if (cid.format === 'fsk-v23' || cid.format === 'fsk-bell202') {
        const absentCode = cid.absent === 'withheld' ? 'P' : cid.absent === 'unavailable' ? 'O' : undefined;
        const msg = mdmf({
          dateTime: '11231105',
          number: absentCode ? undefined : cid.number,
          numberAbsent: absentCode,
          name: absentCode ? undefined : cid.name,
          nameAbsent: absentCode ?? (cid.name ? undefined : 'O'),
        });
        return fskFloat(msg, { standard: cid.format === 'fsk-v23' ? 'v23' : 'bell202', levelDbm0: level, leadMs: 0 });
      }
      sentDigits = clipDigits(cid.format, cid);
      return digitTrain(sentDigits, level, 70, () => 70).sig;
    };
    if (cid && when === 'before-ring') {
      // EN 300 659-1 §6.1.2: polarity reversal, (FSK: DT-AS 100 ms), signal, first ring ≥ 200 ms later
      far.add(t, click(-20));
      t += N(250);
      marks.cidStartMs = MS(t);
      if (fsk) { far.add(t, dtas(level)); t += N(100 + 150); }
      const s = cidSignal();
      far.add(t, s);
      t += s.length;
      marks.cidEndMs = MS(t);
      t += N(between(400, 800));
    }
    marks.ringStartMs = MS(t);
    for (let c = 0; c < cycles; c++) {
      const r = ring(1000 * between(0.97, 1.03), gain);
      const start = t;
      far.add(t, r);
      t += r.length;
      if (c === 0 && cid && when === 'after-first-ring') {
        // sent ≥ 500 ms after the first ring, ending ≥ 200 ms before the next
        const s = cidSignal();
        const at = t + N(600);
        marks.cidStartMs = MS(at);
        far.add(at, s);
        marks.cidEndMs = MS(at + s.length);
      }
      if (c < cycles - 1) t = start + N(5000);
    }
    t += N(between(800, 1500));
    marks.answerMs = MS(t);
    near.add(t, click(-25));
  } else {
    const digits = o.dialled ?? '0201234567';
    sentDigits = digits;
    marks.dialToneStartMs = MS(t);
    const dialMs = between(1500, 2500);
    far.add(t, sine(dialMs, 425, level));
    t += N(dialMs);
    const [pMin, pMax] = o.dialPauseMs ?? [120, 350];
    const { sig, starts } = digitTrain(digits, level, 90, () => between(pMin, pMax));
    marks.digitsStartMs = MS(t);
    near.add(t, sig);
    const lastStart = t + starts[starts.length - 1];
    t += sig.length;
    marks.digitsEndMs = MS(lastStart + N(90));
    t += N(between(1500, 3000));
    marks.ringbackStartMs = MS(t);
    for (let c = 0; c < cycles; c++) {
      far.add(t, sine(1000, 425, level));
      t += N(c < cycles - 1 ? 5000 : 1000);
    }
    t += N(between(1000, 3000));
    marks.answerMs = MS(t);
    far.add(t, click(-25));
  }

  // conversation: the called side speaks first, turns alternate with short pauses
  const clips = loadClips(o.speechDir ?? DEFAULT_SPEECH_DIR);
  const speechFrom = t + N(300);
  const speechTo = speechFrom + N(o.speechSec * 1000);
  let at = speechFrom;
  let who: Track = o.direction === 'in' ? near : far;
  while (at < speechTo) {
    const clip = clips[Math.floor(rand() * clips.length)];
    const g = peakOfDbm0(level - 4) / Math.SQRT2 / Math.max(1, rms(clip));
    const n = Math.min(clip.length, speechTo - at);
    who.add(at, clip.subarray(0, n), g);
    at += n + N(between(250, 700));
    who = who === near ? far : near;
  }
  const mixed = new Float64Array(speechTo);
  for (let i = speechFrom; i < speechTo; i++) mixed[i] = (far.x[i] ?? 0) + (near.x[i] ?? 0);
  marks.speechStartMs = firstSound(mixed, speechFrom, speechTo);
  marks.speechEndMs = lastSound(mixed, speechFrom, speechTo);
  t = N(marks.speechEndMs);

  if (o.endBy === 'busy' || o.endBy === 'congestion') {
    // the far party hangs up; the exchange answers with busy tone (NL: 425 Hz 0.5 s / 0.5 s) or congestion (0.25 / 0.25)
    const on = o.endBy === 'busy' ? 500 : 250;
    t += N(between(500, 900));
    marks.busyStartMs = MS(t);
    marks.endMs = marks.busyStartMs;
    for (let c = 0; c < 3000 / on; c++) { far.add(t, sine(on, 425, level)); t += N(2 * on); }
    t += N(500);
  } else {
    marks.endMs = marks.speechEndMs;
    t += N(6500);
  }
  marks.totalMs = MS(t);

  // a live line is never digital silence: white noise at −68 dBm0 and a little 50 Hz hum
  const noise = (ch: number): Float64Array => {
    const sigma = peakOfDbm0(-68) / Math.SQRT2;
    const hum = peakOfDbm0(-62);
    const nr = rng((o.seed ?? 1) * 7919 + ch);
    return Float64Array.from({ length: t }, (_, i) =>
      sigma * Math.sqrt(-2 * Math.log(1 - nr())) * Math.cos(2 * Math.PI * nr()) + hum * Math.sin((2 * Math.PI * 50 * i) / SR + ch));
  };
  far.ensure(t);
  near.ensure(t);
  const leak = 10 ** (-24 / 20);
  const chans: Float64Array[] = o.channels === 1
    ? [far.x.subarray(0, t).map((v, i) => v + near.x[i])]
    : [far.x.subarray(0, t).map((v, i) => v + leak * near.x[i]), near.x.subarray(0, t).map((v, i) => v + leak * far.x[i])];
  const noises = chans.map((_, ch) => noise(ch));
  const pcm = new Int16Array(t * o.channels);
  for (let i = 0; i < t; i++) {
    for (let ch = 0; ch < o.channels; ch++) {
      const v = Math.round(chans[ch][i] + noises[ch][i]);
      // the ADC clips; it does not wrap
      pcm[i * o.channels + ch] = Math.max(-32768, Math.min(32767, v));
    }
  }
  return { pcm, rate: 8000, channels: o.channels, marks: marks as LineRecordingMarks, sentDigits };
}

/** A 16-bit PCM WAV of the recording. */
export function writeWav(file: string, rec: Pick<LineRecording, 'pcm' | 'rate' | 'channels'>): void {
  fs.writeFileSync(file, encodeWav(rec.pcm, rec.channels, rec.rate));
}
