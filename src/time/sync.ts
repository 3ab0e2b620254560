import { readFileSync } from 'node:fs';
import { adjtimexProbe, type KernelTimeStatus } from './adjtimex.ts';
import { timedatectlSynced } from './timedatectl.ts';

/** How the box knows its clock is right, and what it concluded. */
export interface SyncView { synced: boolean; via: 'adjtimex' | 'timedatectl' | 'file' | 'fixed' | 'none' }

export interface SyncDetectorOptions {
  /** adjtimex probe; null = not available (tests pass null to force the fallback) */
  kernel?: (() => KernelTimeStatus | null) | null;
  /** the fallback's command */
  timedatectl?: string;
  /** seconds between timedatectl runs (it spawns a process) */
  refreshSeconds?: number;
  /** test and demo hook: a file holding "synced" or "unsynced", read at every check */
  file?: string;
  log?: { warn(obj: object, msg: string): void };
}

/**
 * Whether the wall clock is synchronised, from the kernel's view (adjtimex) whichever NTP daemon
 * keeps it; `timedatectl` where adjtimex cannot be called. synced() is cheap and synchronous: the
 * kernel answer is cached for a second, the timedatectl answer is refreshed in the background.
 */
export class SyncDetector {
  private readonly kernel: (() => KernelTimeStatus | null) | null;
  private cached?: { at: number; view: SyncView };
  private fallback: boolean | null = null;
  private timer?: NodeJS.Timeout;
  private warned = false;

  constructor(private readonly o: SyncDetectorOptions = {}) {
    this.kernel = o.file ? null : o.kernel === undefined ? adjtimexProbe() : o.kernel;
  }

  /**
   * Starts the timedatectl refresh when the kernel cannot be asked: no libc, or adjtimex refused
   * (the systemd unit's ProtectClock= and SystemCallFilter=~@clock answer it with EPERM).
   */
  async start(): Promise<void> {
    if (this.o.file || (this.kernel && this.kernel() !== null)) return;
    const run = async () => { this.fallback = await timedatectlSynced(this.o.timedatectl); };
    await run();
    this.timer = setInterval(() => void run(), (this.o.refreshSeconds ?? 30) * 1000);
    this.timer.unref();
  }

  stop(): void { clearInterval(this.timer); }

  view(): SyncView {
    const now = Date.now();
    if (this.cached && now - this.cached.at < 1000) return this.cached.view;
    const view = this.detect();
    this.cached = { at: now, view };
    return view;
  }

  synced(): boolean { return this.view().synced; }

  private detect(): SyncView {
    if (this.o.file) {
      let text = '';
      try { text = readFileSync(this.o.file, 'utf8').trim(); } catch { /* missing = unsynced */ }
      return { synced: text === 'synced', via: 'file' };
    }
    const k = this.kernel?.();
    if (k) return { synced: k.synced, via: 'adjtimex' };
    if (this.fallback !== null) return { synced: this.fallback, via: 'timedatectl' };
    // Unknown counts as not synchronised: recordings are marked and retention deletes nothing.
    if (!this.warned) this.o.log?.warn({}, 'cannot tell whether the clock is synchronised (no adjtimex, no timedatectl); treating it as not synchronised');
    this.warned = true;
    return { synced: false, via: 'none' };
  }
}
