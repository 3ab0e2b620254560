import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Every in-flight temp file ends with this, so a store can delete leftovers of an interrupted write at start. */
export const TEMP_SUFFIX = '.tmp';

export const isTempName = (name: string): boolean => name.endsWith(TEMP_SUFFIX);

/** Makes a rename, create or unlink inside `dir` survive a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** mkdir -p whose new folders survive a power cut: the parent of every folder it created is fsync'd. */
export async function ensureDir(dir: string, mode = 0o700): Promise<void> {
  const target = resolve(dir);
  const first = await mkdir(target, { recursive: true, mode });
  if (first === undefined) return;
  const top = resolve(first);
  for (let d = target; ; d = dirname(d)) {
    await fsyncDir(dirname(d));
    if (d === top || d === dirname(d)) break;
  }
}

/** A replacement written and fsync'd beside its target but not yet in place: commit() renames it over, abort() drops it. */
export interface PreparedFile { commit(): Promise<void>; abort(): Promise<void> }

/**
 * First half of writeFileDurable: the new content is durable in a temp file, and nothing has changed yet.
 * Lets a caller do another durable step (an audit entry) between writing and committing, so a failure
 * of either leaves the old state whole.
 */
export async function prepareFileDurable(path: string, data: string | Uint8Array, mode = 0o600): Promise<PreparedFile> {
  const dir = dirname(path);
  await ensureDir(dir);
  const tmp = join(dir, `${basename(path)}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  let done = false;
  return {
    async commit() {
      if (done) return;
      done = true;
      try {
        await rename(tmp, path);
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw e;
      }
      await fsyncDir(dir);
    },
    async abort() {
      if (done) return;
      done = true;
      await unlink(tmp).catch(() => undefined);
    },
  };
}

/**
 * Replaces `path` atomically and durably: write a temp file beside it, fsync, rename over, fsync the folder.
 * After a power cut the file holds either the old or the new content, never a mix.
 */
export async function writeFileDurable(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await (await prepareFileDurable(path, data, mode)).commit();
}
