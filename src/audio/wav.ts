import wav from 'node-wav';
import { RvError } from '../errors.ts';

/** RIFF/WAVE reading and writing, PCM 16-bit little-endian only (what every line produces). */

const HEADER_BYTES = 44;
const FORMAT_PCM = 0x0001;
const FORMAT_EXTENSIBLE = 0xfffe;
/** the largest data size a RIFF header can state (its own size field is data + 36) */
const MAX_DATA_BYTES = 0xffffffff - (HEADER_BYTES - 8);

const bad = (message: string): RvError => new RvError('RV_ERR_WAV_FORMAT', message);

/**
 * The canonical 44-byte header of a PCM 16-bit WAV holding `dataBytes` of samples,
 * for streaming a file whose length is known before the samples are.
 */
export function wavHeader(opts: { sampleRate: number; channels: 1 | 2; dataBytes: number }): Buffer {
  const { sampleRate, channels, dataBytes } = opts;
  const blockAlign = channels * 2;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw bad(`WAV sample rate must be a positive whole number of Hz; got ${sampleRate}.`);
  }
  if (channels !== 1 && channels !== 2) throw bad(`WAV channels must be 1 or 2; got ${channels}.`);
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > MAX_DATA_BYTES || dataBytes % blockAlign !== 0) {
    throw bad(
      `WAV data size must be a whole number of ${blockAlign}-byte frames up to ${MAX_DATA_BYTES} bytes; got ${dataBytes}.`,
    );
  }
  const h = Buffer.alloc(HEADER_BYTES);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(dataBytes + HEADER_BYTES - 8, 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(FORMAT_PCM, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

interface Fmt { format: number; channels: number; sampleRate: number; blockAlign: number; bits: number }

function parseFmt(buf: Buffer, at: number, size: number): Fmt {
  if (size < 16) throw bad(`WAV "fmt " chunk is ${size} bytes; expected at least 16.`);
  let format = buf.readUInt16LE(at);
  // WAVE_FORMAT_EXTENSIBLE keeps the real format in the first two bytes of its sub-format GUID
  if (format === FORMAT_EXTENSIBLE && size >= 40) format = buf.readUInt16LE(at + 24);
  return {
    format,
    channels: buf.readUInt16LE(at + 2),
    sampleRate: buf.readUInt32LE(at + 4),
    blockAlign: buf.readUInt16LE(at + 12),
    bits: buf.readUInt16LE(at + 14),
  };
}

/** Parses a PCM 16-bit WAV, walking its chunks (LIST, fact, … are skipped); samples stay interleaved. */
export function readWav(buf: Buffer): { sampleRate: number; channels: number; pcm: Int16Array } {
  if (buf.length < 12) throw bad(`WAV file is ${buf.length} bytes; expected at least a 12-byte RIFF header.`);
  const riff = buf.toString('latin1', 0, 4);
  const wave = buf.toString('latin1', 8, 12);
  if (riff !== 'RIFF' || wave !== 'WAVE') {
    throw bad(`Not a RIFF/WAVE file: it starts with "${riff}…${wave}"; expected "RIFF…WAVE".`);
  }
  let fmt: Fmt | undefined;
  let at = 12;
  while (at + 8 <= buf.length) {
    const id = buf.toString('latin1', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') {
      if (body + size > buf.length) throw bad(`WAV "fmt " chunk runs past the end of the file.`);
      fmt = parseFmt(buf, body, size);
    } else if (id === 'data') {
      if (!fmt) throw bad('WAV "data" chunk comes before any "fmt " chunk; expected "fmt " first.');
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, pcm: samples(buf, body, size, fmt) };
    }
    // chunks are padded to an even length
    at = body + size + (size & 1);
  }
  throw bad(fmt ? 'WAV file has no "data" chunk.' : 'WAV file has no "fmt " chunk.');
}

function samples(buf: Buffer, at: number, size: number, fmt: Fmt): Int16Array {
  if (fmt.format !== FORMAT_PCM || fmt.bits !== 16) {
    throw bad(
      `WAV is format 0x${fmt.format.toString(16).padStart(4, '0')} with ${fmt.bits}-bit samples; expected PCM (0x0001) 16-bit.`,
    );
  }
  if (fmt.channels < 1 || fmt.blockAlign !== fmt.channels * 2 || fmt.sampleRate <= 0) {
    throw bad(
      `WAV says ${fmt.channels} channel(s), ${fmt.blockAlign}-byte frames at ${fmt.sampleRate} Hz; expected frames of 2 bytes per channel at a positive rate.`,
    );
  }
  if (at + size > buf.length) {
    throw bad(`WAV "data" chunk says ${size} bytes but only ${buf.length - at} follow; the file is truncated.`);
  }
  if (size % fmt.blockAlign !== 0) {
    throw bad(`WAV "data" chunk is ${size} bytes, not a whole number of ${fmt.blockAlign}-byte frames.`);
  }
  const pcm = new Int16Array(size / 2);
  // read element-wise: the data may start at an odd offset and WAV is little-endian on any host
  for (let i = 0; i < pcm.length; i++) pcm[i] = buf.readInt16LE(at + i * 2);
  return pcm;
}

/** Int16 → the float node-wav turns back into exactly this Int16 (it scales by 32768 below zero, 32767 above, then truncates). */
const toFloat = (s: number): number => (s < 0 ? s / 32768 : (s + 0.5) / 32767);

/** A complete PCM 16-bit WAV of interleaved `pcm`. */
export function encodeWav(pcm: Int16Array, channels: 1 | 2, sampleRate: number): Buffer {
  if (channels !== 1 && channels !== 2) throw bad(`WAV channels must be 1 or 2; got ${channels}.`);
  if (pcm.length % channels !== 0) {
    throw bad(`${pcm.length} samples cannot be split evenly over ${channels} channels.`);
  }
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw bad(`WAV sample rate must be a positive whole number of Hz; got ${sampleRate}.`);
  }
  const frames = pcm.length / channels;
  const data = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) data[c][i] = toFloat(pcm[i * channels + c]);
  }
  return wav.encode(data, { sampleRate, bitDepth: 16 });
}
