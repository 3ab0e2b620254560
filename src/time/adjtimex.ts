import koffi from 'koffi';

/** What the kernel says about its clock discipline (adjtimex(2) read with modes = 0). */
export interface KernelTimeStatus {
  /** the clock is disciplined by a time daemon (see kernelSynced) */
  synced: boolean;
  /** STA_UNSYNC is set in the status word */
  unsyncBit: boolean;
  /** the kernel's maximum error estimate, microseconds */
  maxErrorUs: number;
  /** adjtimex's return value: TIME_OK 0 … TIME_ERROR 5 */
  state: number;
}

export const STA_UNSYNC = 0x0040;
// NTP_PHASE_LIMIT: past 16 s of maximum error the kernel itself gives up and sets STA_UNSYNC.
export const MAX_ERROR_LIMIT_US = 16_000_000;

/**
 * Synchronised when a daemon keeps the kernel's maximum error under 16 s. STA_UNSYNC alone is not
 * enough: chrony without `rtcsync` leaves it set on purpose (so the kernel does not write the RTC),
 * which is why systemd's NTPSynchronized reads maxerror too. Every NTP daemon (timesyncd, chrony,
 * ntpd, openntpd) updates maxerror through adjtimex, so this holds whichever one runs.
 */
export const kernelSynced = (status: number, maxErrorUs: number): boolean =>
  (status & STA_UNSYNC) === 0 || maxErrorUs < MAX_ERROR_LIMIT_US;

/**
 * Reads adjtimex(2) through libc with koffi; returns a probe, or null where libc or the call is
 * missing (not Linux). The probe returns null if the call fails.
 */
export function adjtimexProbe(libc = 'libc.so.6'): (() => KernelTimeStatus | null) | null {
  let call: (buf: Record<string, unknown>) => number;
  try {
    const lib = koffi.load(libc);
    // struct timex from <sys/timex.h>; `long` follows the platform (8 bytes on arm64 and x86_64).
    const timex = koffi.struct({
      modes: 'uint', offset: 'long', freq: 'long', maxerror: 'long', esterror: 'long', status: 'int', constant: 'long',
      precision: 'long', tolerance: 'long', time_sec: 'long', time_usec: 'long', tick: 'long', ppsfreq: 'long', jitter: 'long',
      shift: 'int', stabil: 'long', jitcnt: 'long', calcnt: 'long', errcnt: 'long', stbcnt: 'long', tai: 'int', reserved: koffi.array('int', 11),
    });
    call = lib.func('adjtimex', 'int', [koffi.inout(koffi.pointer(timex))]) as typeof call;
  } catch {
    return null;
  }
  return () => {
    const buf: Record<string, unknown> = { modes: 0 };
    const state = call(buf);
    if (state < 0) return null;
    const status = Number(buf.status);
    const maxErrorUs = Number(buf.maxerror);
    return { synced: kernelSynced(status, maxErrorUs), unsyncBit: (status & STA_UNSYNC) !== 0, maxErrorUs, state };
  };
}
