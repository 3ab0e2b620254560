import { createInflateRaw } from 'node:zlib';
import type { FileHandle } from 'node:fs/promises';

// A small zip reader for checking bundles (no zip-reading library is pinned): the central directory,
// zip64 sizes and offsets, stored and deflated entries. It trusts nothing it reads; every bound is checked.

export interface ZipEntry { name: string; method: number; compressedSize: number; size: number; localOffset: number }

export class ZipFormatError extends Error {}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_ENTRIES = 1_000_000;

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, pos);
  if (bytesRead !== len) throw new ZipFormatError(`the file ends early (wanted ${len} bytes at ${pos})`);
  return buf;
}

const u64 = (b: Buffer, at: number): number => {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError('a zip64 size is impossibly large');
  return Number(v);
};

export async function readZipDirectory(fh: FileHandle): Promise<ZipEntry[]> {
  const { size } = await fh.stat();
  if (size < 22) throw new ZipFormatError('it is too short to be a zip file');
  const tailLen = Math.min(size, 22 + 0xffff);
  const tail = await readAt(fh, size - tailLen, tailLen);
  let at = -1;
  for (let i = tailLen - 22; i >= 0; i--) if (tail.readUInt32LE(i) === EOCD) { at = i; break; }
  if (at < 0) throw new ZipFormatError('no end-of-central-directory record (not a zip file, or cut short)');
  let count = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locAt = size - tailLen + at - 20;
    if (locAt < 0) throw new ZipFormatError('zip64 locator missing');
    const loc = await readAt(fh, locAt, 20);
    if (loc.readUInt32LE(0) !== ZIP64_LOCATOR) throw new ZipFormatError('zip64 locator missing');
    const z = await readAt(fh, u64(loc, 8), 56);
    if (z.readUInt32LE(0) !== ZIP64_EOCD) throw new ZipFormatError('zip64 end record missing');
    count = u64(z, 32);
    cdSize = u64(z, 40);
    cdOffset = u64(z, 48);
  }
  if (count > MAX_ENTRIES || cdOffset + cdSize > size) throw new ZipFormatError('the central directory points outside the file');
  const cd = await readAt(fh, cdOffset, cdSize);
  const out: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) throw new ZipFormatError(`central directory entry ${i + 1} is damaged`);
    const method = cd.readUInt16LE(p + 10);
    let compressedSize = cd.readUInt32LE(p + 20);
    let usize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let localOffset = cd.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw new ZipFormatError(`central directory entry ${i + 1} is damaged`);
    const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    for (let e = 0; e + 4 <= extra.length; ) {
      const id = extra.readUInt16LE(e);
      const len = extra.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        const take = () => { if (q + 8 > e + 4 + len) throw new ZipFormatError(`zip64 field of ${name} is short`); const v = u64(extra, q); q += 8; return v; };
        if (usize === 0xffffffff) usize = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      e += 4 + len;
    }
    out.push({ name, method, compressedSize, size: usize, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** The entry's uncompressed bytes, in slices; stored and deflated entries only. */
export async function* entryData(fh: FileHandle, e: ZipEntry): AsyncGenerator<Buffer> {
  const local = await readAt(fh, e.localOffset, 30);
  if (local.readUInt32LE(0) !== LOCAL) throw new ZipFormatError(`the local header of ${e.name} is damaged`);
  const start = e.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  if (e.method !== 0 && e.method !== 8) throw new ZipFormatError(`${e.name} uses compression method ${e.method}, which this checker does not read`);
  async function* raw(): AsyncGenerator<Buffer> {
    for (let pos = 0; pos < e.compressedSize; ) {
      const n = Math.min(1 << 16, e.compressedSize - pos);
      yield await readAt(fh, start + pos, n);
      pos += n;
    }
  }
  if (e.method === 0) { yield* raw(); return; }
  const inflate = createInflateRaw();
  const feeding = (async () => {
    try {
      for await (const b of raw()) if (!inflate.write(b)) await new Promise((r) => inflate.once('drain', r));
      inflate.end();
    } catch (err) {
      inflate.destroy(err as Error);
    }
  })();
  for await (const b of inflate) yield b as Buffer;
  await feeding;
}
