import { randomBytes } from 'node:crypto';

/** `yyyyMMddTHHmmss-<hex>` in UTC: sorts by time, and the random tail makes it unguessable. */
export const SORTABLE_ID = /^\d{8}T\d{6}-[0-9a-f]{8,32}$/;

/** Latest instant whose ISO form still has a 4-digit year, so ids keep their fixed shape. */
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

export const isValidIdTime = (ms: number): boolean => Number.isFinite(ms) && ms >= 0 && ms <= MAX_MS;

export function newSortableId(ms: number): string {
  if (!isValidIdTime(ms)) throw new RangeError(`time ${ms} cannot name an id`);
  const stamp = new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}
