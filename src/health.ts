import { EventEmitter } from 'node:events';
import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from './clock.ts';
import type { Log } from './log.ts';
import type { ControlBoard } from './board/board.ts';
import type { LineStatus } from './calls/recorder.ts';
import { freeSpaceForecast } from './retention/rules.ts';

/** One thing wrong with the box; `line` set = that line only, else the whole box. */
export interface HealthIssue { code: string; message: string; line?: string }

export interface HealthReport {
  ok: boolean;
  issues: HealthIssue[];
  disk?: { freeBytes: number; bytesPerHour: number; hoursLeft: number | null; hoursWanted: number; measured: boolean };
  board: { kind: string; connected: boolean; fault?: string } | null;
  checkedAt: number;
}

export interface HealthDeps {
  clock: Clock;
  log: Log;
  lines: () => LineStatus[];
  initialized: () => Promise<boolean>;
  /** the folder whose file system holds the archive */
  archiveDir: string;
  /** milliseconds of kept audio in the archive (to measure bytes per hour) */
  archivedMs: () => number;
  hoursWanted: () => number;
  board?: ControlBoard;
  /** kept audio the disk refuses (full or failing), from the recorder; a box-wide fault */
  archiveFault?: () => { code: string; message: string } | undefined;
  /** seconds between disk and vault checks (default 30) */
  checkSeconds?: number;
  /** archived audio needed before bytes per hour are measured instead of assumed (default 1 h) */
  measureAfterMs?: number;
}

// Stereo 8 kHz 16-bit plus sealing overhead: the rate until the archive has an hour to measure.
const NOMINAL_BYTES_PER_HOUR = 2 * 8000 * 2 * 3600 * 1.01;

/** Sums the bytes of the archive's audio files. */
async function archiveBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await archiveBytes(p);
    else if (e.name.endsWith('.audio')) total += (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/**
 * Box health: audio source faults per line, disk nearly full (free bytes against the measured
 * archive bytes per hour), clock not synchronised, vault never set up, board disconnected.
 * Feeds the LEDs, GET /api/state and the dashboard.
 */
export class Health extends EventEmitter<{ change: [] }> {
  private setUp = true;
  private disk?: HealthReport['disk'];
  private boardFault?: string;
  private timer?: NodeJS.Timeout;
  private last = '';
  private checking?: Promise<void>;

  constructor(private readonly d: HealthDeps) {
    super();
    d.board?.on('fault', (f) => { this.boardFault = f.message; this.changed(); });
    d.board?.on('recovered', () => { this.boardFault = undefined; this.changed(); });
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), (this.d.checkSeconds ?? 30) * 1000);
    this.timer.unref();
  }

  stop(): void { clearInterval(this.timer); }

  /** Re-reads what needs I/O (disk, vault); the rest is read live by report(). */
  refresh(): Promise<void> {
    this.checking ??= this.check().finally(() => { this.checking = undefined; });
    return this.checking;
  }

  private async check(): Promise<void> {
    try {
      this.setUp = await this.d.initialized();
      const fs = await statfs(this.d.archiveDir);
      const freeBytes = fs.bavail * fs.bsize;
      const ms = this.d.archivedMs();
      // Measure only once there is an hour of audio; a few short calls give a noisy rate.
      const measured = ms > 0 && ms >= (this.d.measureAfterMs ?? 3_600_000);
      const bytesPerHour = measured ? (await archiveBytes(this.d.archiveDir)) / (ms / 3_600_000) : NOMINAL_BYTES_PER_HOUR;
      const hoursWanted = this.d.hoursWanted();
      const f = freeSpaceForecast({ freeBytes, bytesPerHour, hoursWanted });
      this.disk = { freeBytes, bytesPerHour: Math.round(bytesPerHour), hoursLeft: Number.isFinite(f.hoursLeft) ? f.hoursLeft : null, hoursWanted, measured };
    } catch (e) {
      this.d.log.error({ err: e }, 'health check failed');
    }
    this.changed();
  }

  /** Called on any change of a source; emits `change` only when the report's issues differ. */
  changed(): void {
    const key = JSON.stringify(this.issues());
    if (key === this.last) return;
    this.last = key;
    this.emit('change');
  }

  issues(): HealthIssue[] {
    const out: HealthIssue[] = [];
    for (const l of this.d.lines()) {
      // Kept audio the disk refuses is the box's fault (below), not this line's audio source.
      if (l.state === 'fault' && (l.faultCode ?? 'RV_ERR_AUDIO_SOURCE') === 'RV_ERR_AUDIO_SOURCE') out.push({ code: 'RV_ERR_AUDIO_SOURCE', line: l.id, message: `No audio from ${l.name}: ${l.fault ?? 'the line source failed'}. Check the cable and the audio interface; calls on this line are not recorded until it is back.` });
    }
    const archive = this.d.archiveFault?.();
    if (archive) out.push({ code: archive.code, message: archive.message });
    if (this.disk && this.disk.hoursLeft !== null && this.disk.hoursLeft < this.disk.hoursWanted) {
      out.push({ code: 'RV_ERR_DISK_LOW', message: `The disk is nearly full: room for about ${this.disk.hoursLeft} h of recordings, ${this.disk.hoursWanted} h wanted. Export and delete recordings whose purpose has ended, or fit a bigger disk.` });
    }
    if (!this.d.clock.synced()) out.push({ code: 'RV_ERR_CLOCK_UNSYNCED', message: 'The clock is not synchronised (no network time yet); recordings made now are marked. Check the network connection and NTP.' });
    if (!this.setUp) out.push({ code: 'RV_ERR_NOT_SET_UP', message: 'The box has never been set up, so no call can be kept; open the web UI and run the setup.' });
    if (this.boardFault !== undefined) out.push({ code: 'RV_ERR_BOARD_DISCONNECTED', message: `The save button board is not connected: ${this.boardFault}` });
    return out;
  }

  /** True when something stops the box from keeping calls on every line (shown as fault on every LED). */
  boxFault(): boolean {
    return this.issues().some((i) => i.line === undefined && i.code !== 'RV_ERR_BOARD_DISCONNECTED');
  }

  report(): HealthReport {
    const issues = this.issues();
    const b = this.d.board;
    return {
      ok: issues.length === 0, issues, ...(this.disk ? { disk: this.disk } : {}),
      board: b ? { kind: b.kind, connected: b.connected, ...(this.boardFault !== undefined ? { fault: this.boardFault } : {}) } : null,
      checkedAt: this.d.clock.now(),
    };
  }
}
