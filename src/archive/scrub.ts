import { randomBytes } from 'node:crypto';
import { link, open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TEMP_SUFFIX, writeFileDurable } from './durable.ts';

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

const isEnoent = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

/**
 * Replaces a header file (durably, atomically, as writeFileDurable) and overwrites the wrapped key in the version
 * it replaced. A rename only unlinks the old version, whose blocks would keep the key in free space after a later
 * shred; a hard link under a temp name keeps those blocks ours until they are scrubbed. After a power cut, open()
 * scrubs such a leftover unless it is still the live file (see discardLeftover).
 */
export async function replaceHeaderFile(path: string, text: string): Promise<void> {
  const old = join(dirname(path), `${basename(path)}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
  let linked = true;
  await link(path, old).catch((e: unknown) => { if (!isEnoent(e)) throw e; linked = false; });
  try {
    await writeFileDurable(path, text);
  } catch (e) {
    if (linked) await unlink(old).catch(() => undefined);
    throw e;
  }
  if (!linked) return;
  await scrubWrappedKey(old);
  await unlink(old);
}

/**
 * Removes a temp file an interrupted write left in an archive folder: a new header never renamed into place, or a
 * replaced one not yet scrubbed. Either holds a copy of a wrapped key, so it is scrubbed first, unless it is a link
 * to the live file itself (the power cut came before the swap), which must stay whole.
 */
export async function discardLeftover(dir: string, name: string): Promise<void> {
  const path = join(dir, name);
  const m = /^(.*)\.[0-9a-f]{8}\.tmp$/.exec(name);
  const live = m ? await stat(join(dir, m[1]!)).catch(() => undefined) : undefined;
  const mine = await stat(path);
  if (!live || live.ino !== mine.ino || live.dev !== mine.dev) await scrubWrappedKey(path).catch(() => false);
  await unlink(path);
}
