import { execFile } from 'node:child_process';

/** `timedatectl show -p NTPSynchronized --value` prints yes or no; anything else means it could not tell. */
export function parseNtpSynchronized(stdout: string): boolean | null {
  const v = stdout.trim().toLowerCase();
  if (v === 'yes' || v === 'true' || v === '1') return true;
  if (v === 'no' || v === 'false' || v === '0') return false;
  return null;
}

/** Asks systemd-timedated (which reads adjtimex too); null when timedatectl is missing or systemd is not running. */
export function timedatectlSynced(command = 'timedatectl', timeoutMs = 5000): Promise<boolean | null> {
  return new Promise((resolve) => {
    execFile(command, ['show', '-p', 'NTPSynchronized', '--value'], { timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) => {
      resolve(err ? null : parseNtpSynchronized(stdout));
    });
  });
}
