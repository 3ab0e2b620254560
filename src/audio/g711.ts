/**
 * ITU-T G.711 A-law and µ-law companding between 16-bit PCM and transmitted bytes.
 * G.711 codes 13-bit (A-law) / 14-bit (µ-law) linear samples; a 16-bit sample is first rounded
 * to that grid, as sox does, so our bytes match `sox -D … -e a-law|u-law` for every input.
 * (Truncating instead, as Sun's g711.c does, moves 1.6% (A-law) / 0.8% (µ-law) of inputs to a neighbouring code.)
 */

const SIGN_BIT = 0x80;
const QUANT_MASK = 0x0f;
const SEG_SHIFT = 4;
const SEG_MASK = 0x70;
/** µ-law bias and clip, in the 14-bit domain the encoder works in */
const ULAW_BIAS = 0x84;
const ULAW_CLIP = 8159;

/** upper bounds of the 8 segments: A-law on 13-bit magnitudes, µ-law on biased 14-bit ones */
const ALAW_SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff] as const;
const ULAW_SEG_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff] as const;

const segment = (v: number, ends: readonly number[]): number => {
  let seg = 0;
  while (seg < ends.length && v > ends[seg]) seg++;
  return seg;
};

/** One 16-bit sample to an A-law byte (even bits inverted, as transmitted). */
function alawByte(pcm16: number): number {
  let v = Math.min((pcm16 + 4) >> 3, 0xfff);
  let mask = 0xd5;
  if (v < 0) {
    mask = 0x55;
    v = -v - 1;
  }
  const seg = segment(v, ALAW_SEG_END);
  if (seg >= 8) return 0x7f ^ mask;
  const mant = (seg < 2 ? v >> 1 : v >> seg) & QUANT_MASK;
  return ((seg << SEG_SHIFT) | mant) ^ mask;
}

/** One 16-bit sample to a µ-law byte (all bits inverted, as transmitted). */
function ulawByte(pcm16: number): number {
  let v = Math.min((pcm16 + 2) >> 2, 0x1fff);
  let mask = 0xff;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  }
  v = Math.min(v, ULAW_CLIP) + (ULAW_BIAS >> 2);
  const seg = segment(v, ULAW_SEG_END);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << SEG_SHIFT) | ((v >> (seg + 1)) & QUANT_MASK)) ^ mask;
}

function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const seg = (a & SEG_MASK) >> SEG_SHIFT;
  let t = (a & QUANT_MASK) << 4;
  if (seg === 0) t += 8;
  else t = (t + 0x108) << (seg - 1);
  return a & SIGN_BIT ? t : -t;
}

function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const t = (((u & QUANT_MASK) << 3) + ULAW_BIAS) << ((u & SEG_MASK) >> SEG_SHIFT);
  return u & SIGN_BIT ? ULAW_BIAS - t : t - ULAW_BIAS;
}

/** 256-entry decode tables, computed once; never written after this. */
const ALAW_TABLE = Int16Array.from({ length: 256 }, (_, b) => alawToLinear(b));
const ULAW_TABLE = Int16Array.from({ length: 256 }, (_, b) => ulawToLinear(b));

const decode = (buf: Uint8Array, table: Int16Array): Int16Array => {
  const out = new Int16Array(buf.length);
  for (let i = 0; i < buf.length; i++) out[i] = table[buf[i]];
  return out;
};

const encode = (pcm: Int16Array, byte: (s: number) => number): Uint8Array => {
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = byte(pcm[i]);
  return out;
};

export const alawDecode = (buf: Uint8Array): Int16Array => decode(buf, ALAW_TABLE);
export const ulawDecode = (buf: Uint8Array): Int16Array => decode(buf, ULAW_TABLE);
export const alawEncode = (pcm: Int16Array): Uint8Array => encode(pcm, alawByte);
export const ulawEncode = (pcm: Int16Array): Uint8Array => encode(pcm, ulawByte);
