import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';
import { BYTES_PER_SAMPLE, CALL_RATES, SAMPLE_RATE } from '../audio/frame.ts';
import { SORTABLE_ID } from './ids.ts';
import { secretbox, secretboxOpen } from '../crypto/secretbox.ts';

export type KeptBy = 'all' | 'sample' | 'button' | 'user' | 'import';
export const KEPT_BY: readonly KeptBy[] = ['all', 'sample', 'button', 'user', 'import'];
/** Personal call data (direction, caller, called, extension, digits, notes[]); only ever stored sealed. */
export type CallMeta = Record<string, unknown>;

/** Why a stretch of a kept call's audio is not in the archive. */
export type MissingReason = 'archive-write-failed' | 'ring-full' | 'box-stopped';
export const MISSING_REASONS: readonly MissingReason[] = ['archive-write-failed', 'ring-full', 'box-stopped'];
/**
 * A stretch of a kept call whose audio is not stored: `from`–`to` in ms (call time), `to` null when the
 * end is not known (the box stopped, so nobody knows how long the call went on). Signed with the header.
 */
export interface Missing { from: number; to: number | null; reason: MissingReason }

/** What is known when a keep starts; written durably as `<id>.open.json` before the first chunk. */
export interface OpenHeader {
  v: 1;
  id: string;
  line: string;
  startedAt: number;
  channels: 1 | 2;
  sampleRate: number;
  purposes: string[];
  keptBy: KeptBy;
  keptAt: number;
  clockSynced: boolean;
  holds: string[];
  restricted: boolean;
  /** vault key epoch whose shared key wraps the data key */
  epoch: string;
  /** base64 secretbox of the call's 32-byte data key under the epoch key */
  wrappedKey: string;
  wrapNonce: string;
  /** base64 nonce ‖ secretbox(JSON CallMeta) under the data key */
  metaSealed: string;
  /** stretches of the call that are not stored, and why; absent when the call is whole */
  missing?: Missing[];
}

/** A finished call as stored in `<id>.json`; everything but `signature` is covered by the signature. */
export interface CallHeader extends OpenHeader {
  endedAt: number;
  durationMs: number;
  /** samples per channel */
  samples: number;
  chunks: number;
  /** hex SHA-256 of the audio file bytes */
  audioSha256: string;
  /** base64 Ed25519 over headerDigest() */
  signature: string;
}

/**
 * Audio file: records appended one per chunk, all integers little-endian:
 *   u32  n   length of the ciphertext
 *   f64  at  ms of the first sample, in the clear so a call can be finished after a power cut while locked
 *   n    secretbox(at f64 ‖ pcm, nonce = chunkNonce(index), dataKey) — authenticates `at` and the position
 */
export const RECORD_PREFIX = 12;
const AT_BYTES = 8;
export const MAX_CHUNK_PCM = SAMPLE_RATE * 2 * BYTES_PER_SAMPLE;
export const MIN_CIPHERTEXT = nacl.secretbox.overheadLength + AT_BYTES + BYTES_PER_SAMPLE;
export const MAX_CIPHERTEXT = nacl.secretbox.overheadLength + AT_BYTES + MAX_CHUNK_PCM;
export const DATA_KEY_BYTES = nacl.secretbox.keyLength;

/** Nonce from the chunk index: unique per data key, and a record moved to another position fails to open. */
export function chunkNonce(index: number): Uint8Array {
  const n = Buffer.alloc(nacl.secretbox.nonceLength);
  n.write('RVA1', 0, 'latin1');
  n.writeUInt32LE(index, 4);
  return n;
}

export function sealRecord(dataKey: Uint8Array, index: number, at: number, pcm: Uint8Array): Buffer {
  const plain = Buffer.allocUnsafe(AT_BYTES + pcm.length);
  plain.writeDoubleLE(at, 0);
  plain.set(pcm, AT_BYTES);
  const ct = secretbox(plain, chunkNonce(index), dataKey);
  plain.fill(0);
  const rec = Buffer.allocUnsafe(RECORD_PREFIX + ct.length);
  rec.writeUInt32LE(ct.length, 0);
  rec.writeDoubleLE(at, 4);
  rec.set(ct, RECORD_PREFIX);
  return rec;
}

/** Opens one whole record; null when it was altered, moved, or sealed under another key. */
export function openRecord(dataKey: Uint8Array, index: number, record: Buffer): { at: number; pcm: Buffer } | null {
  const plain = secretboxOpen(record.subarray(RECORD_PREFIX), chunkNonce(index), dataKey);
  if (!plain || plain.length < AT_BYTES) return null;
  const buf = Buffer.from(plain.buffer, plain.byteOffset, plain.length);
  const at = buf.readDoubleLE(0);
  if (at !== record.readDoubleLE(4)) return null;
  return { at, pcm: buf.subarray(AT_BYTES) };
}

/** Samples per channel carried by a record whose ciphertext is `ctLength` bytes. */
export const framesOf = (ctLength: number, channels: 1 | 2): number =>
  (ctLength - nacl.secretbox.overheadLength - AT_BYTES) / (BYTES_PER_SAMPLE * channels);

const SIGNED: readonly (keyof Omit<CallHeader, 'signature' | 'missing'>)[] = [
  'v', 'id', 'line', 'startedAt', 'endedAt', 'durationMs', 'samples', 'channels', 'sampleRate', 'chunks', 'purposes', 'keptBy', 'keptAt',
  'clockSynced', 'holds', 'restricted', 'epoch', 'wrappedKey', 'wrapNonce', 'metaSealed', 'audioSha256',
];

/**
 * Canonical digest of a header: a fixed field order, so key order or extra fields in the file do not matter.
 * `missing` is appended only when present, so headers written before it existed keep their digest.
 */
export function headerDigest(h: Omit<CallHeader, 'signature'>): Uint8Array {
  const fields: unknown[] = SIGNED.map((k) => h[k]);
  if (h.missing !== undefined) fields.push(['missing', h.missing.map((m) => [m.from, m.to, m.reason])]);
  return createHash('sha256').update('ringvault-call-header/1\n').update(JSON.stringify(fields)).digest();
}

/** Latest ms whose ISO form has a 4-digit year (9999-12-31T23:59:59.999Z). */
const MAX_TIME = 253402300799999;
export const isTime = (t: unknown): t is number => typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= MAX_TIME;

type Check = (v: unknown) => boolean;
const text = (min: number, max: number, re?: RegExp): Check => (v) => typeof v === 'string' && v.length >= min && v.length <= max && (!re || re.test(v));
const b64 = (bytes?: number): Check => bytes === undefined
  ? text(0, 1 << 20, /^[A-Za-z0-9+/]*={0,2}$/)
  : text(Math.ceil(bytes / 3) * 4, Math.ceil(bytes / 3) * 4, /^[A-Za-z0-9+/]*={0,2}$/);
const count: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
const names = (max: number): Check => (v) => Array.isArray(v) && v.length <= 32 && v.every(text(1, max));
const oneOf = (...xs: unknown[]): Check => (v) => xs.includes(v);
const bool: Check = (v) => typeof v === 'boolean';

const missingList: Check = (v) => v === undefined || (Array.isArray(v) && v.length <= 10_000 && v.every((m) =>
  typeof m === 'object' && m !== null && isTime(m.from) && (m.to === null || (isTime(m.to) && m.to >= m.from)) && MISSING_REASONS.includes(m.reason)));

/** One rule per field; the Record type makes the compiler insist that every header field has one. */
const OPEN_RULES: Record<keyof OpenHeader, Check> = {
  v: oneOf(1),
  id: text(1, 64, SORTABLE_ID),
  line: text(1, 128),
  startedAt: isTime,
  channels: oneOf(1, 2),
  // 8000 for every call kept before calls had a rate of their own; 16000 for wideband calls
  sampleRate: oneOf(...CALL_RATES),
  purposes: names(64),
  keptBy: oneOf(...KEPT_BY),
  keptAt: isTime,
  clockSynced: bool,
  holds: names(128),
  restricted: bool,
  epoch: text(1, 64, SORTABLE_ID),
  wrappedKey: b64(DATA_KEY_BYTES + nacl.secretbox.overheadLength),
  wrapNonce: b64(nacl.secretbox.nonceLength),
  metaSealed: b64(),
  missing: missingList,
};
const FINAL_RULES: Record<keyof CallHeader, Check> = {
  ...OPEN_RULES,
  endedAt: isTime,
  durationMs: count,
  samples: count,
  chunks: count,
  audioSha256: text(64, 64, /^[0-9a-f]{64}$/),
  signature: b64(nacl.sign.signatureLength),
};

function check<T>(rules: Record<string, Check>, json: string, id: string): { ok: true; value: T } | { ok: false; reason: string } {
  let x: unknown;
  try {
    x = JSON.parse(json);
  } catch (e) {
    return { ok: false, reason: `not JSON (${(e as Error).message})` };
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return { ok: false, reason: 'not a JSON object' };
  for (const [field, ok] of Object.entries(rules)) {
    if (!ok((x as Record<string, unknown>)[field])) return { ok: false, reason: `field "${field}" is missing or invalid` };
  }
  if ((x as { id: string }).id !== id) return { ok: false, reason: `its id does not match the file name ${id}` };
  return { ok: true, value: x as T };
}

export const parseOpenHeader = (json: string, id: string) => check<OpenHeader>(OPEN_RULES, json, id);
export const parseCallHeader = (json: string, id: string) => check<CallHeader>(FINAL_RULES, json, id);

/** A copy holding exactly the known fields, so nothing unsigned from a file rides along. */
export function pickHeader(h: CallHeader): CallHeader {
  return {
    v: 1, id: h.id, line: h.line, startedAt: h.startedAt, endedAt: h.endedAt, durationMs: h.durationMs, samples: h.samples,
    channels: h.channels, sampleRate: h.sampleRate, chunks: h.chunks, purposes: [...h.purposes], keptBy: h.keptBy, keptAt: h.keptAt,
    clockSynced: h.clockSynced, holds: [...h.holds], restricted: h.restricted, epoch: h.epoch, wrappedKey: h.wrappedKey,
    wrapNonce: h.wrapNonce, metaSealed: h.metaSealed, audioSha256: h.audioSha256, signature: h.signature,
    ...(h.missing ? { missing: h.missing.map((m) => ({ from: m.from, to: m.to, reason: m.reason })) } : {}),
  };
}

/** Headers are stored compact so the wrapped key sits at a findable byte offset for in-place scrubbing. */
export const headerJson = (h: OpenHeader | CallHeader): string => JSON.stringify(h) + '\n';
