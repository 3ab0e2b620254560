import { existsSync } from 'node:fs';

/** Wall clock plus whether it is known to be right; a Pi has no RTC, so before NTP sync it is not. */
export interface Clock {
  now(): number;
  synced(): boolean;
}

// systemd-timesyncd touches this file once the clock has been synchronised in this boot.
const TIMESYNC_FLAG = '/run/systemd/timesync/synchronized';

export function systemClock(opts: { assumeSynced: boolean }): Clock {
  return {
    now: () => Date.now(),
    synced: () => opts.assumeSynced || existsSync(TIMESYNC_FLAG),
  };
}
