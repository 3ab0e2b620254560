import { addNoise, alawRoundTrip, peakOfDbm0, rng, toInt16 } from './tones.ts';

/** Caller-ID burst generator: phase-continuous FSK, channel seizure + mark + 8N1 message. */

export interface FskGenOpts {
  standard?: 'v23' | 'bell202';
  sampleRate?: number;
  levelDbm0?: number;
  snrDb?: number;
  alaw?: boolean;
  seed?: number;
  seizureBits?: number;
  markBits?: number;
  /** relative error of both tone frequencies (0.01 = +1 %) */
  freqOffset?: number;
  /** relative error of the bit rate */
  baudOffset?: number;
  /** silence before and after the burst */
  leadMs?: number;
}

const FREQS = { v23: { mark: 1300, space: 2100 }, bell202: { mark: 1200, space: 2200 } } as const;

/** Appends type, length and the two's-complement checksum around the parameter bytes. */
export function frameMessage(type: number, body: number[]): Uint8Array {
  const out = [type, body.length, ...body];
  const sum = out.reduce((a, b) => a + b, 0);
  out.push((256 - (sum & 0xff)) & 0xff);
  return Uint8Array.from(out);
}

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/** MDMF (0x80) message from the given fields; `number: 'P'|'O'` sends parameter 0x04 instead. */
export function mdmf(f: { dateTime?: string; number?: string; name?: string; numberAbsent?: 'P' | 'O'; nameAbsent?: 'P' | 'O' }): Uint8Array {
  const body: number[] = [];
  const param = (id: number, s: string): void => { body.push(id, s.length, ...ascii(s)); };
  if (f.dateTime) param(0x01, f.dateTime);
  if (f.number) param(0x02, f.number);
  if (f.numberAbsent) param(0x04, f.numberAbsent);
  if (f.name) param(0x07, f.name);
  if (f.nameAbsent) param(0x08, f.nameAbsent);
  return frameMessage(0x80, body);
}

/** The bit stream: seizure (0101…), mark, then each byte as start(0), 8 data LSB first, stop(1). */
export function burstBits(msg: Uint8Array, seizureBits = 300, markBits = 180): number[] {
  const bits: number[] = [];
  for (let i = 0; i < seizureBits; i++) bits.push(i & 1);
  for (let i = 0; i < markBits; i++) bits.push(1);
  for (const b of msg) {
    bits.push(0);
    for (let k = 0; k < 8; k++) bits.push((b >> k) & 1);
    bits.push(1);
  }
  for (let i = 0; i < 4; i++) bits.push(1);
  return bits;
}

/** Float samples of a burst (noise is added before rounding). */
export function fskFloat(msg: Uint8Array, opts: FskGenOpts = {}): Float64Array {
  const sr = opts.sampleRate ?? 8000;
  const { mark, space } = FREQS[opts.standard ?? 'v23'];
  const bits = burstBits(msg, opts.seizureBits, opts.markBits);
  const lead = Math.round(((opts.leadMs ?? 200) * sr) / 1000);
  const baud = 1200 * (1 + (opts.baudOffset ?? 0));
  const off = 1 + (opts.freqOffset ?? 0);
  const n = Math.round((bits.length * sr) / baud);
  const out = new Float64Array(2 * lead + n);
  const a = peakOfDbm0(opts.levelDbm0 ?? -10);
  let ph = 0;
  for (let i = 0; i < n; i++) {
    const bit = bits[Math.min(bits.length - 1, Math.floor((i * baud) / sr))];
    // phase accumulates so frequency changes never jump the waveform
    ph += (2 * Math.PI * (bit ? mark : space) * off) / sr;
    out[lead + i] = a * Math.sin(ph);
  }
  return out;
}

/** A burst as line samples with optional noise (SNR over the burst) and A-law round trip. */
export function fskSignal(msg: Uint8Array, opts: FskGenOpts = {}): Int16Array {
  let x = fskFloat(msg, opts);
  if (opts.snrDb !== undefined) x = addNoise(x, opts.snrDb, rng(opts.seed ?? 1));
  const pcm = toInt16(x);
  return opts.alaw ? alawRoundTrip(pcm) : pcm;
}
