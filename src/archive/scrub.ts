import { open } from 'node:fs/promises';

const FIELD = Buffer.from('"wrappedKey":"', 'latin1');

/**
 * Overwrites the wrapped data key inside a header file in place (same blocks, fsync'd), so unlinking
 * afterwards does not leave the key readable in free space. Base64 'A's keep the file valid JSON.
 * Returns false when the file has no wrapped key. On flash storage this is best effort.
 */
export async function scrubWrappedKey(path: string): Promise<boolean> {
  const fh = await open(path, 'r+');
  try {
    const buf = await fh.readFile();
    const at = buf.indexOf(FIELD);
    if (at < 0) return false;
    const start = at + FIELD.length;
    const end = buf.indexOf('"', start);
    if (end < 0) return false;
    await fh.write(Buffer.alloc(end - start, 'A'), 0, end - start, start);
    await fh.sync();
    return true;
  } finally {
    await fh.close();
  }
}

/** A wrapped key of only zero bytes marks a call whose shred began. */
export const isScrubbed = (wrappedKeyB64: string): boolean => /^A+={0,2}$/.test(wrappedKeyB64);
