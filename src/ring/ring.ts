import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { secretbox, secretboxOpen } from '../crypto/secretbox.ts';
import { RvError } from '../errors.ts';
import { BYTES_PER_SAMPLE, SAMPLE_RATE, isCallRate, type CallRate } from '../audio/frame.ts';
import {
  KEY_BYTES,
  MAX_CALL_ID_BYTES,
  MAX_PCM_BYTES,
  NONCE_BYTES,
  SLOT_BYTES,
  callHashOf,
  decodePlain,
  encodePlain,
} from './layout.ts';

export { MAX_PCM_BYTES, SLOT_BYTES } from './layout.ts';

export interface RingOptions {
  path: string;
  slots: number;
  log?: (msg: string, extra?: object) => void;
}

export interface RingChunk {
  seq: number;
  at: number;
  channels: 1 | 2;
  /** samples per second per channel (default 8000): a call's rate is fixed at its start */
  rate?: CallRate;
  /** interleaved s16le, at most MAX_PCM_BYTES (8000 stereo frames) */
  pcm: Buffer;
}

/** Zero-filled block used to preallocate; 4 MiB keeps the number of writes low without a big buffer. */
const PREALLOC_BLOCK = 4 * 1024 * 1024;
/** Slot indexes are stored as u32 inside the plaintext. */
const MAX_SLOTS = 0xffffffff;
const MAX_SEQ = 0xffffffff;

/** Number of 1-second slots needed to hold `minutes` of audio on each of `lines` lines at once. */
export const slotsForMinutes = (minutes: number, lines: number): number => {
  if (!Number.isFinite(minutes) || minutes <= 0) {
    throw new RvError('RV_ERR_RING_CONFIG', `The ring length must be a positive number of minutes, got ${minutes}; set ring minutes to e.g. 5.`);
  }
  if (!Number.isInteger(lines) || lines < 1) {
    throw new RvError('RV_ERR_RING_CONFIG', `The number of lines must be a whole number of at least 1, got ${lines}; check the configured lines.`);
  }
  return Math.ceil(minutes * 60 * lines);
};

/**
 * Encrypted, preallocated ring of fixed-size slots holding the last seconds of every live call.
 * The key exists only in this object's memory, so whatever is not kept is unreadable after close or a crash.
 */
export class Ring {
  readonly slotCount: number;
  readonly slotBytes = SLOT_BYTES;
  readonly path: string;

  private fd: number | null;
  private readonly key: Uint8Array;
  /** random per open(), inside every plaintext, so slots from another open never verify */
  private readonly generation: Buffer;
  private readonly log: (msg: string, extra?: object) => void;
  /** call id owning each slot, or null when free */
  private readonly owner: (string | null)[];
  /** write serial each slot is expected to carry; catches a stale copy of the same slot put back */
  private readonly serialOf: number[];
  /** call id → its slots in write order */
  private readonly index = new Map<string, number[]>();
  private readonly pinned = new Set<string>();
  private pinnedSlots = 0;
  private usedSlots = 0;
  private cursor = 0;
  private serial = 0;

  private constructor(opts: RingOptions, fd: number) {
    this.path = opts.path;
    this.slotCount = opts.slots;
    this.fd = fd;
    this.log = opts.log ?? (() => {});
    this.key = new Uint8Array(randomBytes(KEY_BYTES));
    this.generation = randomBytes(8);
    this.owner = new Array<string | null>(opts.slots).fill(null);
    this.serialOf = new Array<number>(opts.slots).fill(0);
  }

  static async open(opts: RingOptions): Promise<Ring> {
    const { path, slots } = opts;
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
      throw new RvError('RV_ERR_RING_CONFIG', `The ring needs a whole number of slots between 1 and ${MAX_SLOTS}, got ${slots}; use slotsForMinutes() to size it.`);
    }
    const want = slots * SLOT_BYTES;
    const log = opts.log ?? (() => {});
    let size: number | null = null;
    try {
      const st = await fsp.stat(path);
      if (!st.isFile()) {
        throw new RvError('RV_ERR_RING_OPEN', `The ring path ${path} exists but is not a regular file; point the ring at a file path or remove what is there.`, 500);
      }
      size = st.size;
    } catch (e) {
      if (e instanceof RvError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw openError(path, want, e);
    }
    if (size !== want) {
      log(size === null ? 'ring: creating ring file' : 'ring: ring file has the wrong size, recreating it', { path, slots, bytes: want, found: size });
      try {
        await preallocate(path, want);
      } catch (e) {
        throw openError(path, want, e);
      }
    }
    let fd: number;
    try {
      fd = fs.openSync(path, 'r+');
    } catch (e) {
      throw openError(path, want, e);
    }
    const actual = fs.fstatSync(fd).size;
    if (actual !== want) {
      fs.closeSync(fd);
      throw new RvError('RV_ERR_RING_PREALLOC', `The ring file ${path} is ${actual} bytes after preallocation, expected ${want}; check free space and that nothing else writes to it.`, 500);
    }
    log('ring: open', { path, slots, slotBytes: SLOT_BYTES, bytes: want });
    return new Ring(opts, fd);
  }

  write(callId: string, chunk: RingChunk): void {
    const fd = this.openFd();
    const frames = validateChunk(callId, chunk);
    if (this.pinnedSlots >= this.slotCount) {
      throw new RvError('RV_ERR_RING_FULL', `Every one of the ${this.slotCount} ring slots belongs to a kept call that is still pinned; finish or unpin a kept call, or give the ring more slots.`, 507);
    }
    let slot = this.cursor;
    while (this.isPinnedSlot(slot)) slot = (slot + 1) % this.slotCount;
    this.cursor = (slot + 1) % this.slotCount;
    // Drop the old owner first: once we start writing, the old chunk is gone whether or not the write succeeds.
    this.release(slot);

    const serial = ++this.serial;
    const plain = encodePlain({
      slot,
      generation: this.generation,
      serial: BigInt(serial),
      callHash: callHashOf(callId),
      seq: chunk.seq,
      at: chunk.at,
      channels: chunk.channels,
      rate: chunk.rate ?? SAMPLE_RATE,
      frames,
      pcm: chunk.pcm,
    });
    const nonce = randomBytes(NONCE_BYTES);
    const box = secretbox(plain, nonce, this.key);
    plain.fill(0);
    try {
      const n = fs.writevSync(fd, [nonce, box], slot * SLOT_BYTES);
      if (n !== SLOT_BYTES) throw new Error(`short write: ${n} of ${SLOT_BYTES} bytes`);
    } catch (e) {
      throw new RvError('RV_ERR_RING_IO', `Writing ring slot ${slot} of ${this.path} failed (${errText(e)}); check the disk holding the ring.`, 500);
    }

    this.owner[slot] = callId;
    this.serialOf[slot] = serial;
    this.usedSlots++;
    const list = this.index.get(callId);
    if (list) list.push(slot);
    else this.index.set(callId, [slot]);
    if (this.pinned.has(callId)) this.pinnedSlots++;
  }

  read(callId: string): RingChunk[] {
    const fd = this.openFd();
    const slots = this.index.get(callId);
    if (!slots) return [];
    const out: { serial: number; chunk: RingChunk }[] = [];
    const callHash = callHashOf(callId);
    const buf = Buffer.alloc(SLOT_BYTES);
    for (const slot of slots) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, SLOT_BYTES, slot * SLOT_BYTES);
      } catch (e) {
        throw new RvError('RV_ERR_RING_IO', `Reading ring slot ${slot} of ${this.path} failed (${errText(e)}); check the disk holding the ring.`, 500);
      }
      if (n !== SLOT_BYTES) throw tampered(slot, this.path, `the file ends early (${n} of ${SLOT_BYTES} bytes)`);
      const plain = secretboxOpen(buf.subarray(NONCE_BYTES), buf.subarray(0, NONCE_BYTES), this.key);
      if (!plain) throw tampered(slot, this.path, 'it failed to authenticate');
      const rec = decodePlain(plain);
      plain.fill(0);
      if (typeof rec === 'string') throw tampered(slot, this.path, rec);
      if (rec.slot !== slot) throw tampered(slot, this.path, `it is out of place: it holds the data of slot ${rec.slot}`);
      if (!rec.generation.equals(this.generation) || rec.serial !== BigInt(this.serialOf[slot]) || !rec.callHash.equals(callHash)) {
        throw tampered(slot, this.path, 'it is out of place: it holds an older or different chunk than the one written last');
      }
      out.push({ serial: this.serialOf[slot], chunk: { seq: rec.seq, at: rec.at, channels: rec.channels, rate: rec.rate, pcm: rec.pcm } });
    }
    buf.fill(0);
    out.sort((a, b) => a.chunk.seq - b.chunk.seq || a.serial - b.serial);
    return out.map((o) => o.chunk);
  }

  has(callId: string): boolean {
    this.openFd();
    return this.index.has(callId);
  }

  /** Keeps the call's slots (and any it writes later) from being overwritten until unpin() or forget(). */
  pin(callId: string): void {
    this.openFd();
    if (this.pinned.has(callId)) return;
    this.pinned.add(callId);
    this.pinnedSlots += this.index.get(callId)?.length ?? 0;
  }

  unpin(callId: string): void {
    this.openFd();
    if (!this.pinned.delete(callId)) return;
    this.pinnedSlots -= this.index.get(callId)?.length ?? 0;
  }

  /** Makes the call unreadable at once: its slots get fresh random bytes and it leaves the index (and the pin set). */
  forget(callId: string): void {
    const fd = this.openFd();
    const slots = [...(this.index.get(callId) ?? [])];
    this.unpin(callId);
    for (const slot of slots) {
      this.release(slot);
      try {
        fs.writeSync(fd, randomBytes(SLOT_BYTES), 0, SLOT_BYTES, slot * SLOT_BYTES);
      } catch (e) {
        throw new RvError('RV_ERR_RING_IO', `Overwriting ring slot ${slot} of ${this.path} failed (${errText(e)}); the key is still memory-only, but check the disk holding the ring.`, 500);
      }
    }
    this.index.delete(callId);
    if (slots.length) this.log('ring: call forgotten', { slots: slots.length });
  }

  /**
   * Seconds of audio each line can get back when `activeLines` lines are in calls at once: one
   * second per slot that is free to rotate (pinned slots are excluded), shared evenly across lines.
   */
  coverageSeconds(activeLines: number): number {
    if (!Number.isInteger(activeLines) || activeLines < 1) {
      throw new RvError('RV_ERR_RING_CONFIG', `The number of active lines must be a whole number of at least 1, got ${activeLines}.`);
    }
    return (this.slotCount - this.pinnedSlots) / activeLines;
  }

  stats(): { used: number; pinned: number; calls: number } {
    return { used: this.usedSlots, pinned: this.pinnedSlots, calls: this.index.size };
  }

  /**
   * Diagnostic: how many slots on disk authenticate under this open's key. Reads the whole file,
   * so it is meant for health checks and tests; right after open() it is 0 whatever the file held.
   */
  readableSlots(): number {
    const fd = this.openFd();
    const buf = Buffer.alloc(SLOT_BYTES);
    let ok = 0;
    for (let slot = 0; slot < this.slotCount; slot++) {
      const n = fs.readSync(fd, buf, 0, SLOT_BYTES, slot * SLOT_BYTES);
      if (n !== SLOT_BYTES) continue;
      const plain = secretboxOpen(buf.subarray(NONCE_BYTES), buf.subarray(0, NONCE_BYTES), this.key);
      if (plain) {
        ok++;
        plain.fill(0);
      }
    }
    buf.fill(0);
    return ok;
  }

  /** Zeroes the key (leaving every unkept slot unreadable) and closes the file. Safe to call twice. */
  async close(): Promise<void> {
    const fd = this.fd;
    if (fd === null) return;
    this.fd = null;
    this.key.fill(0);
    this.generation.fill(0);
    this.index.clear();
    this.pinned.clear();
    this.owner.fill(null);
    this.pinnedSlots = 0;
    this.usedSlots = 0;
    await new Promise<void>((resolve, reject) => fs.close(fd, (e) => (e ? reject(e) : resolve())));
    this.log('ring: closed', { path: this.path });
  }

  private openFd(): number {
    if (this.fd === null) {
      throw new RvError('RV_ERR_RING_CLOSED', 'The ring has been closed; open it again with Ring.open() (earlier audio in it is gone for good).', 503);
    }
    return this.fd;
  }

  private isPinnedSlot(slot: number): boolean {
    const o = this.owner[slot];
    return o !== null && this.pinned.has(o);
  }

  /** Frees a slot in memory and drops it from its call's index entry. */
  private release(slot: number): void {
    const prev = this.owner[slot];
    if (prev === null) return;
    this.owner[slot] = null;
    this.usedSlots--;
    if (this.pinned.has(prev)) this.pinnedSlots--;
    const list = this.index.get(prev);
    if (!list) return;
    const i = list.indexOf(slot);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.index.delete(prev);
  }
}

/** Checks a chunk before it touches the disk; returns its samples per channel. */
function validateChunk(callId: string, chunk: RingChunk): number {
  const bad = (why: string): RvError => new RvError('RV_ERR_RING_CHUNK', `Cannot put this chunk in the ring: ${why}.`);
  if (typeof callId !== 'string' || callId.length === 0) throw bad('the call id is empty');
  if (Buffer.byteLength(callId, 'utf8') > MAX_CALL_ID_BYTES) throw bad(`the call id is longer than ${MAX_CALL_ID_BYTES} bytes; use a shorter call reference`);
  if (!Number.isInteger(chunk.seq) || chunk.seq < 0 || chunk.seq > MAX_SEQ) throw bad(`seq must be a whole number from 0 to ${MAX_SEQ}, got ${chunk.seq}`);
  if (!Number.isFinite(chunk.at)) throw bad(`at must be a time in ms, got ${chunk.at}`);
  if (chunk.channels !== 1 && chunk.channels !== 2) throw bad(`channels must be 1 or 2, got ${String(chunk.channels)}`);
  if (chunk.rate !== undefined && !isCallRate(chunk.rate)) throw bad(`rate must be 8000 or 16000 Hz, got ${String(chunk.rate)}`);
  if (!(chunk.pcm instanceof Uint8Array)) throw bad('pcm must be a Buffer');
  if (chunk.pcm.length > MAX_PCM_BYTES) throw bad(`pcm is ${chunk.pcm.length} bytes, at most ${MAX_PCM_BYTES} (1 s of stereo) fit in a slot; split it`);
  const frameBytes = chunk.channels * BYTES_PER_SAMPLE;
  if (chunk.pcm.length % frameBytes !== 0) throw bad(`pcm is ${chunk.pcm.length} bytes, not a whole number of ${chunk.channels}-channel 16-bit frames`);
  return chunk.pcm.length / frameBytes;
}

/** Creates (or truncates) the file and writes zeros over its full size. */
async function preallocate(path: string, bytes: number): Promise<void> {
  const fh = await fsp.open(path, 'w', 0o600);
  try {
    const zero = Buffer.alloc(Math.min(bytes, PREALLOC_BLOCK));
    for (let pos = 0; pos < bytes; ) {
      const { bytesWritten } = await fh.write(zero, 0, Math.min(zero.length, bytes - pos), pos);
      pos += bytesWritten;
    }
  } finally {
    await fh.close();
  }
}

function tampered(slot: number, path: string, why: string): RvError {
  return new RvError(
    'RV_ERR_RING_TAMPERED',
    `Ring slot ${slot} cannot be trusted: ${why}. The ring file ${path} was changed outside ringvault or the disk is failing; check the disk and who can write to that file.`,
    500,
  );
}

function openError(path: string, bytes: number, e: unknown): RvError {
  const mb = Math.ceil(bytes / 1e6);
  return new RvError('RV_ERR_RING_OPEN', `Cannot prepare the ring file ${path} (${errText(e)}); make sure its folder exists, is writable by ringvault and has ${mb} MB free.`, 500);
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.code ?? err?.message ?? String(e);
}
