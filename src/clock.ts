import { SyncDetector, type SyncView } from './time/sync.ts';

/** Wall clock plus whether it is known to be right; a Pi has no RTC, so before NTP sync it is not. */
export interface Clock {
  now(): number;
  synced(): boolean;
  /** how synced() was decided (adjtimex, timedatectl, …), for the health view */
  syncVia?(): SyncView['via'];
}

export type ClockMode = 'auto' | 'synced' | 'unsynced' | `file:${string}`;
export const CLOCK_MODES: readonly string[] = ['auto', 'synced', 'unsynced', 'file:PATH'];
export const isClockMode = (m: string): m is ClockMode => m === 'auto' || m === 'synced' || m === 'unsynced' || (m.startsWith('file:') && m.length > 5);

/**
 * `mode` overrides the detection: 'unsynced' lets the demo and tests show what a box without NTP
 * shows; 'file:PATH' reads "synced"/"unsynced" from PATH at every check, so a test can change it
 * while the box runs. 'auto' asks the kernel (adjtimex), or timedatectl where that fails.
 */
export function systemClock(opts: { assumeSynced: boolean; mode?: ClockMode; detector?: SyncDetector }): Clock {
  const mode = opts.mode ?? 'auto';
  if (mode === 'synced' || mode === 'unsynced') return { now: () => Date.now(), synced: () => mode === 'synced', syncVia: () => 'fixed' };
  const detector = opts.detector ?? new SyncDetector(mode.startsWith('file:') ? { file: mode.slice(5) } : {});
  return {
    now: () => Date.now(),
    // A simulated-only box (the demo, most tests) needs no network time to keep calls.
    synced: () => opts.assumeSynced && !mode.startsWith('file:') ? true : detector.synced(),
    syncVia: () => (opts.assumeSynced && !mode.startsWith('file:') ? 'fixed' : detector.view().via),
  };
}
