import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';
import { BYTES_PER_SAMPLE, SAMPLE_RATE, isCallRate, type CallRate } from '../audio/frame.ts';

/**
 * On-disk layout of one ring slot (all integers little-endian):
 *
 *   [0, 24)          nonce, fresh random bytes for every write
 *   [24, slotBytes)  nacl.secretbox(plaintext, nonce, key) = 16-byte MAC + ciphertext
 *
 * Plaintext (PLAIN_BYTES long, identical for every slot so nothing leaks through size):
 *
 *   0    4    magic "RVR1"
 *   4    4    slot index (u32) — a slot copied to another position no longer matches
 *   8    8    generation: random per open()
 *   16   8    write serial (u64), monotonic per open — a stale copy of the same slot no longer matches
 *   24   4    chunk seq (u32)
 *   28   1    channels (1 | 2)
 *   29   3    reserved, zero
 *   32   8    at, ms since the epoch (f64)
 *   40   4    frames: samples per channel (u32)
 *   44   32   SHA-256 of the call id (UTF-8) — fixed width whatever the id's length
 *   76   4    sample rate (u32): 8000 or 16000 (0, as slots written before calls had a rate, reads as 8000)
 *   80   32000 PCM, interleaved s16le, zero padded
 */
export const MAGIC = Buffer.from('RVR1', 'latin1');
/** 8000 stereo frames, the most one slot carries: 1 s of narrowband audio, 0.5 s of wideband. */
export const MAX_PCM_BYTES = SAMPLE_RATE * 2 * BYTES_PER_SAMPLE;
/** Sanity bound only: the id is hashed, so SIP Call-IDs and the like fit whatever their length. */
export const MAX_CALL_ID_BYTES = 1024;
export const NONCE_BYTES = nacl.secretbox.nonceLength;
export const KEY_BYTES = nacl.secretbox.keyLength;
export const MAC_BYTES = nacl.secretbox.overheadLength;
export const HEADER_BYTES = 80;
export const PLAIN_BYTES = HEADER_BYTES + MAX_PCM_BYTES;
export const SLOT_BYTES = NONCE_BYTES + MAC_BYTES + PLAIN_BYTES;

export interface SlotRecord {
  slot: number;
  generation: Buffer;
  serial: bigint;
  /** SHA-256 of the call id */
  callHash: Buffer;
  seq: number;
  at: number;
  channels: 1 | 2;
  rate: CallRate;
  /** samples per channel */
  frames: number;
  pcm: Buffer;
}

export const callHashOf = (callId: string): Buffer => createHash('sha256').update(callId, 'utf8').digest();

/** Builds the fixed-size plaintext of one slot; the caller has validated every field. */
export function encodePlain(r: SlotRecord): Buffer {
  const p = Buffer.alloc(PLAIN_BYTES);
  MAGIC.copy(p, 0);
  p.writeUInt32LE(r.slot, 4);
  r.generation.copy(p, 8, 0, 8);
  p.writeBigUInt64LE(r.serial, 16);
  p.writeUInt32LE(r.seq, 24);
  p.writeUInt8(r.channels, 28);
  p.writeDoubleLE(r.at, 32);
  p.writeUInt32LE(r.frames, 40);
  r.callHash.copy(p, 44, 0, 32);
  p.writeUInt32LE(r.rate, 76);
  r.pcm.copy(p, HEADER_BYTES);
  return p;
}

/** Parses an authenticated plaintext; returns a reason string when its fields are not self-consistent. */
export function decodePlain(p: Uint8Array): SlotRecord | string {
  if (p.length !== PLAIN_BYTES) return `plaintext is ${p.length} bytes, expected ${PLAIN_BYTES}`;
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  if (!b.subarray(0, 4).equals(MAGIC)) return 'bad magic';
  const channels = b.readUInt8(28);
  if (channels !== 1 && channels !== 2) return `bad channel count ${channels}`;
  const rawRate = b.readUInt32LE(76);
  const rate = rawRate === 0 ? SAMPLE_RATE : rawRate;
  if (!isCallRate(rate)) return `bad sample rate ${rawRate}`;
  const frames = b.readUInt32LE(40);
  const pcmBytes = frames * channels * BYTES_PER_SAMPLE;
  if (pcmBytes > MAX_PCM_BYTES) return `bad sample count ${frames}`;
  return {
    slot: b.readUInt32LE(4),
    generation: Buffer.from(b.subarray(8, 16)),
    serial: b.readBigUInt64LE(16),
    seq: b.readUInt32LE(24),
    channels,
    rate,
    at: b.readDoubleLE(32),
    frames,
    callHash: Buffer.from(b.subarray(44, 76)),
    pcm: Buffer.from(b.subarray(HEADER_BYTES, HEADER_BYTES + pcmBytes)),
  };
}
