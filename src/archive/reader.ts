import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { MAX_CIPHERTEXT, MIN_CIPHERTEXT, RECORD_PREFIX, openRecord, type CallHeader } from './format.ts';
import { tampered } from './sealing.ts';

export type RecordStep =
  | { kind: 'record'; length: number; record: Buffer }
  | { kind: 'end' }
  | { kind: 'bad'; reason: string };

/**
 * Reads the record at `offset` without decrypting it; tells a clean end from a torn or impossible record.
 * With `body` false only the 12-byte prefix is read, to skip ahead cheaply.
 */
export async function readRecordAt(fh: FileHandle, offset: number, size: number, body = true): Promise<RecordStep> {
  if (offset === size) return { kind: 'end' };
  if (offset + RECORD_PREFIX > size) return { kind: 'bad', reason: `torn record prefix at byte ${offset}` };
  const prefix = Buffer.alloc(RECORD_PREFIX);
  await fh.read(prefix, 0, RECORD_PREFIX, offset);
  const n = prefix.readUInt32LE(0);
  if (n < MIN_CIPHERTEXT || n > MAX_CIPHERTEXT) return { kind: 'bad', reason: `impossible record length ${n} at byte ${offset}` };
  if (offset + RECORD_PREFIX + n > size) return { kind: 'bad', reason: `torn record at byte ${offset}` };
  if (!body) return { kind: 'record', length: RECORD_PREFIX + n, record: prefix };
  const record = Buffer.alloc(RECORD_PREFIX + n);
  prefix.copy(record);
  await fh.read(record, RECORD_PREFIX, n, offset + RECORD_PREFIX);
  return { kind: 'record', length: record.length, record };
}

/** SHA-256 of a whole file, read in slices so a long call does not sit in memory. */
export async function sha256File(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    const buf = Buffer.alloc(1 << 16);
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

/** Bytes read from the audio file at once: whole records are cut from it, so a 1-s chunk costs no syscall of its own. */
const READ_BLOCK = 1 << 20;

/**
 * Sequential record reader over a read-ahead block: one large read yields dozens of records, where reading
 * each record's prefix and body separately cost two thread-pool round trips per second of audio.
 */
class RecordStream {
  private buf = Buffer.alloc(0);
  private bufAt = 0;
  constructor(private readonly fh: FileHandle, private readonly size: number) {}

  /** The bytes [offset, offset + n) of the file, from the block when they are in it. */
  private async bytes(offset: number, n: number): Promise<Buffer> {
    if (offset < this.bufAt || offset + n > this.bufAt + this.buf.length) {
      const len = Math.min(Math.max(n, READ_BLOCK), this.size - offset);
      const block = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await this.fh.read(block, got, len - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      this.buf = block.subarray(0, got);
      this.bufAt = offset;
    }
    return this.buf.subarray(offset - this.bufAt, offset - this.bufAt + n);
  }

  async next(offset: number): Promise<RecordStep> {
    if (offset === this.size) return { kind: 'end' };
    if (offset + RECORD_PREFIX > this.size) return { kind: 'bad', reason: `torn record prefix at byte ${offset}` };
    const n = (await this.bytes(offset, RECORD_PREFIX)).readUInt32LE(0);
    if (n < MIN_CIPHERTEXT || n > MAX_CIPHERTEXT) return { kind: 'bad', reason: `impossible record length ${n} at byte ${offset}` };
    if (offset + RECORD_PREFIX + n > this.size) return { kind: 'bad', reason: `torn record at byte ${offset}` };
    return { kind: 'record', length: RECORD_PREFIX + n, record: await this.bytes(offset, RECORD_PREFIX + n) };
  }
}

/** Decrypts a finished call's chunks in order; any altered, moved, missing or extra record throws RV_ERR_ARCHIVE_TAMPERED. */
export async function* decryptChunks(path: string, h: CallHeader, dataKey: Uint8Array, fromChunk: number): AsyncGenerator<{ at: number; pcm: Buffer }> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw tampered(h.id, 'its audio file is missing');
    throw e;
  }
  try {
    const { size } = await fh.stat();
    const records = new RecordStream(fh, size);
    let offset = 0;
    let index = 0;
    for (;;) {
      const step = await records.next(offset);
      if (step.kind === 'bad') throw tampered(h.id, step.reason);
      if (step.kind === 'end') break;
      if (index >= h.chunks) throw tampered(h.id, `more than the ${h.chunks} chunks the header lists`);
      if (index >= fromChunk) {
        const chunk = openRecord(dataKey, index, step.record);
        if (!chunk) throw tampered(h.id, `chunk ${index} does not authenticate`);
        yield chunk;
      }
      offset += step.length;
      index++;
    }
    if (index !== h.chunks) throw tampered(h.id, `${index} chunks on disk, the header lists ${h.chunks}`);
  } finally {
    await fh.close();
  }
}
