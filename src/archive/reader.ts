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
    let offset = 0;
    let index = 0;
    for (;;) {
      const step = await readRecordAt(fh, offset, size, index >= fromChunk);
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
