import { chmod, mkdir, stat } from 'node:fs/promises';
import { RvError } from './errors.ts';

/**
 * Makes the data folder and forces its mode to 0700 at every start, not only on creation: a folder
 * restored with `cp -r`, unpacked from a backup or made by hand may be 0755, and then every local
 * account could read the audit log, the settings and the (sealed) archive.
 */
export async function prepareDataDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (((await stat(dir)).mode & 0o777) === 0o700) return;
  try {
    await chmod(dir, 0o700);
  } catch (e) {
    throw new RvError('RV_ERR_DATA_DIR', `${dir}: cannot make the data folder private (mode 0700): ${(e as NodeJS.ErrnoException).code}. Give it to the user the box runs as (sudo chown -R ringvault:ringvault ${dir}) and start again.`);
  }
}
