import type { CallSummary } from '../calls/catalog.ts';

/** All a staff member sees of one of their own kept calls: when and for what, never the other party or the digits. */
export interface StaffCallView {
  id: string; line: string; startedAt: number; durationMs: number; direction?: 'in' | 'out';
  purposes: string[]; keptBy: CallSummary['keptBy']; held: boolean;
}

/** Built field by field (not by removing fields), so a field added to the summary later never reaches staff by accident. */
export function staffView(c: CallSummary): StaffCallView {
  return {
    id: c.id, line: c.line, startedAt: c.startedAt, durationMs: c.durationMs, ...(c.direction ? { direction: c.direction } : {}),
    purposes: [...c.purposes], keptBy: c.keptBy, held: c.holds.length > 0,
  };
}
