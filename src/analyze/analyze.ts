import { RvError } from '../errors.ts';
import { SAMPLE_RATE } from '../audio/frame.ts';
import { ZERO_DBM0_PEAK } from '../audio/level.ts';
import { DtmfDetector } from '../dsp/dtmf.ts';
import { decodeFskCallerId, type AbsentReason, type DecodedCallerId } from '../dsp/callerid.ts';
import { parseClip, type ClipFormat } from '../dsp/clip-dtmf.ts';
import { CadenceClassifier, type CadenceEvent } from '../dsp/cadence.ts';
import { TONE_BLOCK, blockDbm0, tone425 } from '../dsp/tones.ts';
import { Vad } from '../dsp/vad.ts';
import { RingDetector } from '../dsp/ring.ts';
import { Goertzel } from '../dsp/goertzel.ts';
import { callSpans, type CallSpan, type Evidence, type ToneKind } from './call-span.ts';

/** Runs every line detector over a recording and lays out what they heard on one timeline (ms from the start). */

export type FskStandard = 'v23' | 'bell202';
export type CallerIdFormat = 'fsk-v23' | 'fsk-bell202' | ClipFormat;

export interface AnalyzeOptions {
  /** VAD hang-over, 3000–5000 ms; default 4000 */
  hangoverMs?: number;
  /** FSK standards to look for; default both (they are told apart by their mark tone) */
  fsk?: readonly FskStandard[];
  /** look for DTMF caller ID; default true */
  dtmfClip?: boolean;
}

export interface RingSeg { startMs: number; endMs: number; channels: number[] }
export interface DigitHit { digit: string; startMs: number; durationMs: number; channels: number[] }
export interface ToneSeg { kind: ToneKind | 'alerting'; startMs: number; endMs: number; channels: number[] }
export interface VoiceSeg { startMs: number; endMs: number; channels: number[] }
export interface CallerIdHit {
  format: CallerIdFormat;
  startMs: number;
  channels: number[];
  number?: string;
  name?: string;
  dateTime?: string;
  absent?: AbsentReason;
  nameAbsent?: AbsentReason;
  /** FSK: MDMF or SDMF */
  message?: 'MDMF' | 'SDMF';
  /** FSK: the message checksum verified; DTMF carries no checksum (null) */
  checksumOk: boolean | null;
  /** DTMF: the digits as sent; information code when the number is absent */
  raw?: string;
  code?: string;
}

export interface Timeline {
  rate: number;
  channels: number;
  durationMs: number;
  rings: RingSeg[];
  callerId: CallerIdHit[];
  dtmf: DigitHit[];
  tones: ToneSeg[];
  voice: VoiceSeg[];
  calls: CallSpan[];
}

const BLOCK_MS = (TONE_BLOCK * 1000) / SAMPLE_RATE;
/** digits this soon after dial tone belong to the number being dialled, ms */
const DIALLING_MS = 20_000;
const ZERO_DBM0_POWER = ZERO_DBM0_PEAK ** 2 / 2;

/** One channel of interleaved audio. */
export function channelOf(pcm: Int16Array, channels: number, ch: number): Int16Array {
  if (channels === 1) return pcm;
  const out = new Int16Array(Math.floor(pcm.length / channels));
  for (let i = 0; i < out.length; i++) out[i] = pcm[i * channels + ch];
  return out;
}

const rmsOf = (x: Int16Array, from: number, to: number): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return s / Math.max(1, to - from);
};

/** Merges per-channel hits of one kind that overlap in time into one, keeping every channel that heard it. */
function mergeSegs<T extends { startMs: number; endMs: number; channels: number[] }>(items: T[], same: (a: T, b: T) => boolean, slackMs = 0): T[] {
  const sorted = [...items].sort((a, b) => a.startMs - b.startMs);
  const out: T[] = [];
  for (const it of sorted) {
    const hit = out.find((o) => same(o, it) && it.startMs <= o.endMs + slackMs && o.startMs <= it.endMs + slackMs);
    if (!hit) { out.push({ ...it, channels: [...it.channels] }); continue; }
    hit.startMs = Math.min(hit.startMs, it.startMs);
    hit.endMs = Math.max(hit.endMs, it.endMs);
    for (const c of it.channels) if (!hit.channels.includes(c)) hit.channels.push(c);
    hit.channels.sort();
  }
  return out;
}

/** ETSI EN 300 659-1 dual-tone alerting signal (2130 + 2750 Hz) per 20 ms block. */
const DTAS = [new Goertzel(2130, SAMPLE_RATE, TONE_BLOCK), new Goertzel(2750, SAMPLE_RATE, TONE_BLOCK)];
function alerting(block: Int16Array): boolean {
  if (blockDbm0(block) < -45) return false;
  let e = 0;
  for (const v of block) e += v * v;
  const share = DTAS.map((g) => g.power(block) / (e * (block.length / 2)));
  return share[0] > 0.25 && share[1] > 0.25 && share[0] + share[1] > 0.7;
}

/** The mark tone before a burst tells V.23 (1300 Hz) from Bell 202 (1200 Hz); both share the 1700 Hz centre. */
function fskStandardAt(x: Int16Array, startMs: number): FskStandard {
  const end = Math.round((startMs * SAMPLE_RATE) / 1000);
  const len = Math.min(end, 640);
  const from = end - len;
  const p = (f: number): number => new Goertzel(f, SAMPLE_RATE, len).power(x, from, len);
  return p(1200) > p(1300) ? 'bell202' : 'v23';
}

/** Bytes of an FSK message, from what it carried (for masking its span from the voice detector). */
function fskBytes(m: DecodedCallerId): number {
  const fields = [m.dateTime, m.number, m.name, m.numberAbsent && 'P', m.nameAbsent && 'P'].filter((f): f is string => !!f);
  return 3 + fields.reduce((n, f) => n + 2 + f.length, 0);
}

/** FSK is decoded in overlapping windows (the demodulator keeps several buffers as long as its input), longer than any burst. */
const FSK_WINDOW = 30 * SAMPLE_RATE;
const FSK_STEP = 25 * SAMPLE_RATE;

/** Every FSK message in a channel, once: where windows or standards find the same burst, a verified checksum wins. */
function fskMessages(x: Int16Array, standards: readonly FskStandard[]): DecodedCallerId[] {
  const found: DecodedCallerId[] = [];
  for (const standard of standards) {
    for (let from = 0; from < x.length; from += FSK_STEP) {
      const to = Math.min(x.length, from + FSK_WINDOW);
      for (const m of decodeFskCallerId(x.subarray(from, to), { standard })) found.push({ ...m, startMs: m.startMs + (from * 1000) / SAMPLE_RATE });
      if (to === x.length) break;
    }
  }
  found.sort((a, b) => a.startMs - b.startMs);
  const out: DecodedCallerId[] = [];
  for (const m of found) {
    const twin = out.findIndex((o) => Math.abs(o.startMs - m.startMs) < 50);
    if (twin < 0) out.push(m);
    else if (!out[twin].checksumOk && m.checksumOk) out[twin] = m;
  }
  return out;
}

interface ChannelResult {
  rings: RingSeg[];
  digits: (DigitHit & { power: number })[];
  fsk: CallerIdHit[];
  tones: ToneSeg[];
  voice: VoiceSeg[];
}

/** Signalling (rings, digits, caller ID, alerting and 425 Hz tones) on one channel, and the 20 ms blocks it covers. */
function signalling(x: Int16Array, ch: number, opts: Required<AnalyzeOptions>): Omit<ChannelResult, 'voice'> & { masked: Uint8Array } {
  const blocks = Math.floor(x.length / TONE_BLOCK);
  // rings and their per-block flag
  const rings: RingSeg[] = [];
  const ring = new RingDetector({ onEvent: (e) => { if (e.type === 'ring-stop') rings.push({ startMs: e.at - (e.durationMs ?? 0), endMs: e.at, channels: [ch] }); } });
  const masked = new Uint8Array(blocks);
  for (let b = 0; b < blocks; b++) {
    ring.push(x.subarray(b * TONE_BLOCK, (b + 1) * TONE_BLOCK), b * BLOCK_MS);
    if (ring.ringing) masked[b] = 1;
  }
  ring.flush();
  const mask = (fromMs: number, toMs: number): void => {
    for (let b = Math.max(0, Math.floor(fromMs / BLOCK_MS)); b < Math.min(blocks, Math.ceil(toMs / BLOCK_MS)); b++) masked[b] = 1;
  };

  const digits: ChannelResult['digits'] = [];
  const dtmf = new DtmfDetector({
    onDigit: (d) => {
      const from = Math.round((d.at * SAMPLE_RATE) / 1000);
      const to = Math.round(((d.at + d.durationMs) * SAMPLE_RATE) / 1000);
      digits.push({ digit: d.digit, startMs: d.at, durationMs: d.durationMs, channels: [ch], power: rmsOf(x, from, to) });
    },
  });
  dtmf.push(x, 0);
  dtmf.flush();
  for (const d of digits) mask(d.startMs - BLOCK_MS, d.startMs + d.durationMs + BLOCK_MS);

  const fsk: CallerIdHit[] = [];
  for (const m of fskMessages(x, opts.fsk)) {
    // noise can frame a "message" whose checksum fails; one that carries no readable number is not worth showing
    if (!m.checksumOk && !(m.numberAbsent || /^\+?[0-9*#]{2,20}$/.test(m.number ?? ''))) continue;
    const real = fskStandardAt(x, m.startMs);
    if (!opts.fsk.includes(real)) continue;
    fsk.push({
      format: real === 'v23' ? 'fsk-v23' : 'fsk-bell202',
      startMs: m.startMs,
      channels: [ch],
      message: m.format,
      checksumOk: m.checksumOk,
      ...(m.number !== undefined && { number: m.number }),
      ...(m.name !== undefined && { name: m.name }),
      ...(m.dateTime !== undefined && { dateTime: m.dateTime }),
      ...(m.numberAbsent !== undefined && { absent: m.numberAbsent }),
      ...(m.nameAbsent !== undefined && { nameAbsent: m.nameAbsent }),
    });
    // channel seizure and mark (≈ 400 ms) come before the message type byte
    mask(m.startMs - 450, m.startMs + (fskBytes(m) * 10 * 1000) / 1200 + 60);
  }

  // the alerting tone, with its ramps
  const tones: ToneSeg[] = [];
  let alertFrom: number | null = null;
  for (let b = 0; b <= blocks; b++) {
    const at = b * BLOCK_MS;
    if (b < blocks && alerting(x.subarray(b * TONE_BLOCK, (b + 1) * TONE_BLOCK))) { alertFrom ??= at; continue; }
    if (alertFrom === null) continue;
    if (at - alertFrom >= 60) tones.push({ kind: 'alerting', startMs: alertFrom, endMs: at, channels: [ch] });
    // its ramps fall outside the blocks that pass the test
    mask(alertFrom - BLOCK_MS, at + BLOCK_MS);
    alertFrom = null;
  }
  // 425 Hz runs and their cadence
  const runs: { startMs: number; endMs: number }[] = [];
  const events: CadenceEvent[] = [];
  const cadence = new CadenceClassifier({ dialMs: 1300, onEvent: (e) => events.push(e) });
  for (let b = 0; b < blocks; b++) {
    const at = b * BLOCK_MS;
    const block = x.subarray(b * TONE_BLOCK, (b + 1) * TONE_BLOCK);
    const on = tone425(block);
    cadence.pushState(on, at, BLOCK_MS);
    if (on) {
      // a tone's leak into the other channel is below the tone detector's level but not the VAD's
      masked[b] = 1;
      const last = runs[runs.length - 1];
      if (last && last.endMs === at) last.endMs = at + BLOCK_MS;
      else runs.push({ startMs: at, endMs: at + BLOCK_MS });
    }
  }
  tones.push(...cadenceSegments(events, runs, ch));
  return { rings, digits, fsk, tones, masked };
}

/** Voice on one channel: the VAD hears every block no channel carries signalling in (a tap's hybrid leaks each direction into the other). */
function voiceOf(x: Int16Array, ch: number, masked: Uint8Array, hangMs: number): VoiceSeg[] {
  const voice: VoiceSeg[] = [];
  const vad = new Vad({ hangMs, onSegment: (s) => voice.push({ ...s, channels: [ch] }) });
  // a masked block is replaced by the latest quiet one: it breaks a run of activity, keeps the hang-over
  // clock going and leaves the noise floor where it was
  let quiet: Int16Array | null = null;
  for (let b = 0; b < masked.length; b++) {
    const at = b * BLOCK_MS;
    const block = x.subarray(b * TONE_BLOCK, (b + 1) * TONE_BLOCK);
    if (masked[b]) {
      if (quiet) vad.push(quiet, at);
      continue;
    }
    vad.push(block, at);
    if (blockDbm0(block) <= vad.floor + 3) quiet = block;
  }
  vad.flush();
  return voice;
}

const PATTERN: Record<Exclude<ToneKind, 'dial'>, { on: number; off: number; cycles: number }> = {
  ringback: { on: 1000, off: 4000, cycles: 1 },
  busy: { on: 500, off: 500, cycles: 2 },
  congestion: { on: 250, off: 250, cycles: 2 },
};
const fits = (measured: number, nominal: number): boolean => measured >= nominal * 0.8 - 40 && measured <= nominal * 1.2 + 40;

/** The extent of each reported cadence: from its first burst to the last burst that keeps the pattern. */
function cadenceSegments(events: CadenceEvent[], runs: { startMs: number; endMs: number }[], ch: number): ToneSeg[] {
  const out: ToneSeg[] = [];
  for (const e of events) {
    if (e.kind === 'dial') {
      const r = runs.find((r) => r.startMs <= e.at && e.at <= r.endMs + BLOCK_MS);
      if (r && !out.some((o) => o.kind === 'dial' && o.startMs === r.startMs)) out.push({ kind: 'dial', startMs: r.startMs, endMs: r.endMs, channels: [ch] });
      continue;
    }
    const p = PATTERN[e.kind];
    let k = -1;
    runs.forEach((r, i) => { if (r.endMs <= e.at) k = i; });
    const first = k - p.cycles + 1;
    if (first < 0) continue;
    let j = k;
    while (j + 1 < runs.length && fits(runs[j + 1].endMs - runs[j + 1].startMs, p.on) && fits(runs[j + 1].startMs - runs[j].endMs, p.off)) j++;
    const seg = { kind: e.kind, startMs: runs[first].startMs, endMs: runs[j].endMs, channels: [ch] };
    if (!out.some((o) => o.kind === seg.kind && o.startMs <= seg.endMs && seg.startMs <= o.endMs)) out.push(seg);
  }
  return out;
}

/** Analyzes interleaved 8 kHz 16-bit PCM. */
export function analyze(pcm: Int16Array, rate: number, channels: number, options: AnalyzeOptions = {}): Timeline {
  if (rate !== SAMPLE_RATE) {
    throw new RvError('RV_ERR_ANALYZE_RATE', `Audio is at ${rate} Hz; the detectors need ${SAMPLE_RATE} Hz. Resample it first (loadAudioFile does this with sox).`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 2) {
    throw new RvError('RV_ERR_ANALYZE_CHANNELS', `Audio has ${channels} channels; expected 1 (both directions mixed) or 2 (far end, our phone).`);
  }
  const opts: Required<AnalyzeOptions> = {
    hangoverMs: options.hangoverMs ?? 4000,
    fsk: options.fsk ?? ['v23', 'bell202'],
    dtmfClip: options.dtmfClip ?? true,
  };
  const xs = Array.from({ length: channels }, (_, ch) => channelOf(pcm, channels, ch));
  const sig = xs.map((x, ch) => signalling(x, ch, opts));
  const masked = sig[0].masked.map((m, b) => (sig.some((s) => s.masked[b]) ? 1 : m));
  const per: ChannelResult[] = sig.map((s, ch) => ({ ...s, voice: voiceOf(xs[ch], ch, masked, opts.hangoverMs) }));
  const durationMs = (Math.floor(pcm.length / channels) * 1000) / rate;

  // a digit heard on both channels (through the tap's hybrid) is one digit, on the louder channel
  const allDigits = per.flatMap((p) => p.digits).sort((a, b) => a.startMs - b.startMs);
  const digits: typeof allDigits = [];
  for (const d of allDigits) {
    const twin = digits.find((o) => o.digit === d.digit && d.startMs < o.startMs + o.durationMs && o.startMs < d.startMs + d.durationMs);
    if (!twin) digits.push(d);
    else if (d.power > twin.power) Object.assign(twin, d);
  }
  const dtmf: DigitHit[] = digits.map(({ power: _p, ...d }) => d);

  const callerId: CallerIdHit[] = [];
  for (const f of per.flatMap((p) => p.fsk).sort((a, b) => a.startMs - b.startMs)) {
    const twin = callerId.find((o) => Math.abs(o.startMs - f.startMs) < 50);
    if (!twin) callerId.push(f);
    else if (!twin.checksumOk && f.checksumOk) Object.assign(twin, f);
    else if (!twin.channels.includes(f.channels[0])) twin.channels.push(f.channels[0]);
  }
  const rings = mergeSegs(per.flatMap((p) => p.rings), () => true);
  const tones = mergeSegs(per.flatMap((p) => p.tones), (a, b) => a.kind === b.kind, 100);
  const voice = mergeSegs(per.flatMap((p) => p.voice), () => true);

  const clipDigits = new Set<DigitHit>();
  if (opts.dtmfClip) {
    for (const c of parseClip(dtmf.map((d) => ({ digit: d.digit, at: d.startMs, durationMs: d.durationMs })))) {
      // digits after dial tone are dialled, however fast a phone's memory sends them and however they end
      if (tones.some((t) => t.kind === 'dial' && t.startMs <= c.startMs && c.startMs - t.endMs <= DIALLING_MS)) continue;
      const used = dtmf.filter((d) => d.startMs >= c.startMs && d.startMs < c.endMs);
      used.forEach((d) => clipDigits.add(d));
      callerId.push({
        format: c.format,
        startMs: c.startMs,
        channels: [...new Set(used.flatMap((d) => d.channels))].sort(),
        checksumOk: null,
        raw: c.raw,
        ...(c.number !== undefined && { number: c.number }),
        ...(c.absent !== undefined && { absent: c.absent, code: c.code }),
      });
    }
    callerId.sort((a, b) => a.startMs - b.startMs);
  }

  const evidence: Evidence[] = [
    ...rings.map((r): Evidence => ({ kind: 'ring', startMs: r.startMs, endMs: r.endMs })),
    // a failed checksum leaves the number in the timeline, but it is not the call's number
    ...callerId.filter((c) => c.checksumOk !== false).map((c): Evidence => ({ kind: 'caller-id', startMs: c.startMs, number: c.number, name: c.name, absent: c.absent })),
    ...dtmf.filter((d) => !clipDigits.has(d)).map((d): Evidence => ({ kind: 'digit', startMs: d.startMs, digit: d.digit })),
    ...tones.map((t): Evidence => (t.kind === 'alerting' ? { kind: 'alerting', startMs: t.startMs, endMs: t.endMs } : { kind: 'tone', tone: t.kind, startMs: t.startMs, endMs: t.endMs })),
    ...voice.map((v): Evidence => ({ kind: 'voice', startMs: v.startMs, endMs: v.endMs })),
  ];
  const calls = callSpans(evidence, { hangoverMs: opts.hangoverMs, nowMs: durationMs });
  return { rate, channels, durationMs, rings, callerId, dtmf, tones, voice, calls };
}

/** dBm0 of a mean-square power; −Infinity for silence. */
export const powerDbm0 = (meanSquare: number): number => (meanSquare > 0 ? 10 * Math.log10(meanSquare / ZERO_DBM0_POWER) : -Infinity);
