import type { HealthIssue, HealthReport } from '../health.ts';
import type { AlertKind, Params } from './kinds.ts';

/** One problem that is true now; `key` identifies it across checks (kind, plus line or code). */
export interface Condition { key: string; kind: AlertKind; line?: string; params: Params }

/** What the alerts are derived from: the box's health, plus the vault and the request register. */
export interface Snapshot {
  health: Pick<HealthReport, 'issues' | 'disk'>;
  vault: { initialized: boolean; unlocked: boolean; unlockedSinceStart: boolean; upMs: number };
  /** open requests' deadlines (YYYY-MM-DD); null when the register is not loaded */
  deadlines: string[] | null;
  today: string;
  vaultLockedHours: number;
  requestWarnDays: number;
}

/**
 * Health issue codes to alert kinds. A module that raises a new fault state needs no change here:
 * an unknown code becomes `health.other` with its code. Replication (none yet) raises
 * RV_ERR_REPLICATION… in the health report and gets its own kind.
 */
export function kindOfIssue(code: string): AlertKind {
  if (code === 'RV_ERR_AUDIO_SOURCE') return 'line.source-lost';
  if (code === 'RV_ERR_BOARD_DISCONNECTED') return 'board.gone';
  if (code === 'RV_ERR_DISK_LOW') return 'disk.low';
  if (code === 'RV_ERR_CLOCK_UNSYNCED') return 'clock.unsynced';
  if (code === 'RV_ERR_NOT_SET_UP') return 'box.not-set-up';
  if (code.startsWith('RV_ERR_REPLICA')) return 'replication.failing';
  if (code.startsWith('RV_ERR_ARCHIVE') || code === 'RV_ERR_DISK_FULL' || code === 'RV_ERR_DISK_IO') return 'archive.write-failed';
  return 'health.other';
}

const dayNumber = (d: string): number => Math.floor(Date.parse(`${d}T00:00:00Z`) / 86_400_000);

export function conditions(s: Snapshot): Condition[] {
  const out = new Map<string, Condition>();
  const add = (c: Condition) => { if (!out.has(c.key)) out.set(c.key, c); };
  for (const i of s.health.issues as HealthIssue[]) {
    const kind = kindOfIssue(i.code);
    const params: Params = { code: i.code, ...(i.line ? { line: i.line } : {}) };
    if (kind === 'disk.low' && s.health.disk) {
      params.hoursLeft = s.health.disk.hoursLeft ?? 0;
      params.hoursWanted = s.health.disk.hoursWanted;
    }
    // Several archive codes are one problem to the person reading; other codes stay apart.
    const key = kind === 'health.other' ? `${kind}:${i.code}` : i.line ? `${kind}:${i.line}` : kind;
    add({ key, kind, ...(i.line ? { line: i.line } : {}), params });
  }
  const v = s.vault;
  if (v.initialized && !v.unlocked && !v.unlockedSinceStart && v.upMs >= s.vaultLockedHours * 3_600_000) {
    add({ key: 'vault.locked', kind: 'vault.locked', params: { hours: s.vaultLockedHours } });
  }
  if (s.deadlines) {
    const today = dayNumber(s.today);
    const left = s.deadlines.map((d) => dayNumber(d) - today);
    const overdue = left.filter((n) => n < 0).length;
    const soon = left.filter((n) => n >= 0 && n <= s.requestWarnDays).length;
    if (overdue > 0) add({ key: 'requests.overdue', kind: 'requests.overdue', params: { count: overdue } });
    if (soon > 0) add({ key: 'requests.due-soon', kind: 'requests.due-soon', params: { count: soon, days: s.requestWarnDays } });
  }
  return [...out.values()];
}
