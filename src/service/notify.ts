import { spawn } from 'node:child_process';

/**
 * sd_notify for a Node process. Node has no unix datagram sockets, so each message is sent by a
 * short-lived `systemd-notify` (package systemd, on every Raspberry Pi OS). It waits by default
 * for a barrier answered by the service manager, so a message cannot be lost to the race where
 * the sender exits before PID 1 has read who sent it. The unit needs NotifyAccess=all.
 * Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
 */
export interface NotifyOptions {
  env?: NodeJS.ProcessEnv;
  /** the systemd-notify binary */
  command?: string;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

export interface Notifier {
  readonly enabled: boolean;
  /** Half of WatchdogSec in ms, or 0 when systemd does not watch this process. */
  readonly watchdogIntervalMs: number;
  send(fields: Record<string, string>): Promise<void>;
  ready(status: string): Promise<void>;
  status(text: string): Promise<void>;
  stopping(status: string): Promise<void>;
  /**
   * Pings the watchdog at half WatchdogSec while `probe` says the box is healthy (returns null).
   * A probe that names a fault, throws or does not answer within the interval withholds the ping,
   * so systemd restarts a box whose event loop or recorder is stuck. Returns a stop function.
   */
  watchdog(probe: () => Promise<string | null> | string | null): () => void;
}

// One line per value: systemd splits fields on newlines.
const clean = (v: string): string => v.replace(/[\r\n]+/g, ' ').slice(0, 400);

export function createNotifier(o: NotifyOptions = {}): Notifier {
  const env = o.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  const command = o.command ?? 'systemd-notify';
  const enabled = !!socket;
  // WATCHDOG_PID names the process the watchdog is for; a child that inherited the env is not it.
  const watchedPid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : process.pid;
  const usec = Number(env.WATCHDOG_USEC ?? 0);
  const watchdogIntervalMs = enabled && usec > 0 && watchedPid === process.pid ? Math.max(500, Math.floor(usec / 2000)) : 0;
  let warned = false;

  const send = (fields: Record<string, string>): Promise<void> => {
    if (!enabled) return Promise.resolve();
    const args = Object.entries(fields).map(([k, v]) => `${k}=${clean(v)}`);
    return new Promise<void>((resolve) => {
      let err = '';
      const child = spawn(command, args, { env: { ...env, NOTIFY_SOCKET: socket }, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
      child.once('error', (e) => {
        // Without the tool systemd never hears READY and gives up on the start: say why, once.
        if (!warned) o.log?.warn({ err: e }, `cannot run ${command} to notify systemd; install the systemd package`);
        warned = true;
        resolve();
      });
      child.once('exit', (code) => {
        if (code !== 0 && !warned) {
          o.log?.warn({ code, stderr: err.trim() }, `${command} ${args.join(' ')} failed`);
          warned = true;
        }
        resolve();
      });
    });
  };

  return {
    enabled,
    watchdogIntervalMs,
    send,
    ready: (status) => send({ READY: '1', STATUS: status }),
    status: (text) => send({ STATUS: text }),
    stopping: (status) => send({ STOPPING: '1', STATUS: status }),
    watchdog(probe) {
      if (!watchdogIntervalMs) return () => undefined;
      let lastFault: string | null = null;
      let busy = false;
      const tick = async (): Promise<void> => {
        // A probe still running from the previous tick is itself a sign that something hangs.
        if (busy) return;
        busy = true;
        let fault: string | null;
        try {
          fault = await Promise.race([
            Promise.resolve().then(probe),
            new Promise<string>((r) => setTimeout(() => r('health check did not answer in time'), watchdogIntervalMs).unref()),
          ]);
        } catch (e) {
          fault = `health check failed: ${(e as Error).message}`;
        } finally {
          busy = false;
        }
        // Remember the state before sending: the next tick may come while a send still runs.
        const previous = lastFault;
        lastFault = fault;
        if (fault === null) {
          if (previous) o.log?.info({}, 'healthy again; watchdog pings resume');
          await send(previous ? { WATCHDOG: '1', STATUS: 'recording' } : { WATCHDOG: '1' });
        } else if (fault !== previous) {
          o.log?.warn({ fault }, 'unhealthy: withholding the watchdog ping so systemd restarts the box if it lasts');
          await send({ STATUS: `unhealthy: ${fault}` });
        }
      };
      void tick();
      const timer = setInterval(() => void tick(), watchdogIntervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
