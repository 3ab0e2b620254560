import { RvError } from '../errors.ts';

/** errno codes that mean the disk cannot take writes now: full, over quota, failing or read-only. */
const FULL = new Set(['ENOSPC', 'EDQUOT']);
const FAILING = new Set(['EIO', 'EROFS']);

/** The errno code behind an error, looking through RvError causes. */
export function errnoOf(e: unknown): string | undefined {
  for (let x = e as { code?: unknown; cause?: unknown } | undefined, i = 0; x && i < 4; x = x.cause as typeof x, i++) {
    if (typeof x.code === 'string' && !x.code.startsWith('RV_ERR_')) return x.code;
  }
  return undefined;
}

export const isDiskFull = (e: unknown): boolean => FULL.has(errnoOf(e) ?? '');
/** True when the error is the disk refusing writes (full or failing), a state that clears, not a bug. */
export const isDiskError = (e: unknown): boolean => {
  const c = errnoOf(e) ?? '';
  return FULL.has(c) || FAILING.has(c);
};

/**
 * The coded error a person sees when a write is refused by the disk: "the disk is full" in words, with what
 * to do. `what` says what could not be stored. Returns undefined for errors that are not the disk's.
 */
export function diskError(e: unknown, what: string): RvError | undefined {
  const code = errnoOf(e);
  if (code && FULL.has(code)) {
    return Object.assign(new RvError('RV_ERR_DISK_FULL', `The disk is full, so ${what} could not be stored; nothing was changed. Free space by exporting and deleting recordings whose purpose has ended, or fit a bigger disk, then try again.`, 507), { cause: e });
  }
  if (code && FAILING.has(code)) {
    return Object.assign(new RvError('RV_ERR_DISK_FAILING', `The disk refused to store ${what} (${code}); nothing was changed. The disk may be failing or read-only: check it and the box's log, then try again.`, 507), { cause: e });
  }
  return undefined;
}
