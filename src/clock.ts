import { existsSync } from 'node:fs';

/** Wall clock plus whether it is known to be right; a Pi has no RTC, so before NTP sync it is not. */
export interface Clock {
  now(): number;
  synced(): boolean;
}

// systemd-timesyncd touches this file once the clock has been synchronised in this boot.
const TIMESYNC_FLAG = '/run/systemd/timesync/synchronized';

export type ClockMode = 'auto' | 'synced' | 'unsynced';
export const CLOCK_MODES: readonly ClockMode[] = ['auto', 'synced', 'unsynced'];

/** `mode` overrides the detection: 'unsynced' lets the demo and tests show what a box without NTP shows. */
export function systemClock(opts: { assumeSynced: boolean; mode?: ClockMode }): Clock {
  const mode = opts.mode ?? 'auto';
  return {
    now: () => Date.now(),
    synced: () => (mode === 'auto' ? opts.assumeSynced || existsSync(TIMESYNC_FLAG) : mode === 'synced'),
  };
}
