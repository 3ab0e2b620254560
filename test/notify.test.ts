// sd_notify for real: socat listens on a unix datagram socket given as NOTIFY_SOCKET, as systemd's
// would be, and the real appliance (or the notifier) sends through the real systemd-notify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { startAppliance, Client } from './helpers/appliance.ts';
import { createNotifier } from '../src/service/notify.ts';

interface Receiver { path: string; text(): string; close(): Promise<void> }

/** socat as the service manager's end: prints every datagram it receives. */
async function receiver(dir: string): Promise<Receiver> {
  const path = join(dir, 'notify.sock');
  const child: ChildProcess = spawn('socat', ['-u', `UNIX-RECV:${path},unlink-early`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  await new Client('').until(async () => existsSync(path), 'socat to create the socket', 10_000);
  return {
    path,
    text: () => out,
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const count = (text: string, what: string): number => text.split(what).length - 1;
const waitFor = (r: Receiver, what: RegExp, label: string, ms = 30_000) =>
  new Client('').until(async () => what.test(r.text()), label, ms);

test('the real appliance under NOTIFY_SOCKET: READY=1 with a status, WATCHDOG=1 repeatedly, STOPPING=1 on SIGTERM', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-notify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const r = await receiver(dir);
  t.after(() => r.close());
  // WatchdogSec=2s as systemd would pass it: a ping is due every second.
  const box = await startAppliance(join(dir, 'data'), [], { env: { NOTIFY_SOCKET: r.path, WATCHDOG_USEC: '2000000' } });
  t.after(() => box.stop('SIGKILL'));

  await waitFor(r, /READY=1/, 'READY=1');
  assert.match(r.text(), /STATUS=starting: opening the ring and the archive\nEXTEND_TIMEOUT_USEC=600000000/);
  assert.match(r.text(), /STATUS=recording 2 line\(s\); web UI on http:\/\/127\.0\.0\.1:\d+/);
  // systemd-notify asks for a barrier, so PID 1 has read the sender before it exits.
  assert.match(r.text(), /BARRIER=1/);
  await new Client('').until(async () => count(r.text(), 'WATCHDOG=1') >= 3, 'three watchdog pings', 30_000);
  assert.doesNotMatch(r.text(), /STOPPING=1/);

  // A health change (here: a line's audio source lost) is shown in systemctl status via STATUS=.
  const c = new Client(box.url);
  await c.state();
  await c.json('POST', '/api/setup', { username: 'admin', passphrase: 'correct horse battery staple', claimCode: box.claimCode() });
  await c.state();
  await c.json('POST', '/api/sim/lines/line1/fault', { fault: true });
  await waitFor(r, /STATUS=recording 2 line\(s\); web UI on \S+; line1: [^\n]+/, 'STATUS naming the faulted line');

  await box.stop('SIGTERM');
  await waitFor(r, /STOPPING=1/, 'STOPPING=1', 10_000);
  assert.equal(box.child.exitCode, 0, box.stderr());
});

test('without NOTIFY_SOCKET the appliance sends nothing and runs as before', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-notify-off-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const n = createNotifier({ env: { WATCHDOG_USEC: '2000000' } });
  assert.equal(n.enabled, false);
  assert.equal(n.watchdogIntervalMs, 0);
  const env = { ...process.env };
  delete env.NOTIFY_SOCKET;
  const box = await startAppliance(join(dir, 'data'), [], { env: env as Record<string, string> });
  t.after(() => box.stop());
  const st = await new Client(box.url).state();
  assert.equal(st.initialized, false);
  assert.doesNotMatch(box.stderr(), /systemd-notify/);
});

test('watchdog pings only while the probe reports healthy; a fault is sent as STATUS and the pings stop', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-notify-wd-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const r = await receiver(dir);
  t.after(() => r.close());
  const warnings: string[] = [];
  const n = createNotifier({
    env: { NOTIFY_SOCKET: r.path, WATCHDOG_USEC: '1000000', WATCHDOG_PID: String(process.pid) },
    log: { warn: (_o, msg) => warnings.push(msg), info: () => undefined },
  });
  assert.equal(n.watchdogIntervalMs, 500);
  let fault: string | null = null;
  let ticks = 0;
  const stop = n.watchdog(() => { ticks++; return fault; });
  t.after(stop);
  await new Client('').until(async () => count(r.text(), 'WATCHDOG=1') >= 2, 'pings while healthy', 20_000);

  fault = 'recorder stuck';
  await waitFor(r, /STATUS=unhealthy: recorder stuck/, 'the unhealthy status');
  const pingsAtFault = count(r.text(), 'WATCHDOG=1');
  // Several intervals pass with the fault (counted by the probe's own ticks, not by a clock).
  const ticksAtFault = ticks;
  await new Client('').until(async () => ticks >= ticksAtFault + 3, 'three more probe ticks', 20_000);
  assert.equal(count(r.text(), 'WATCHDOG=1'), pingsAtFault, 'no ping while unhealthy');
  assert.ok(warnings.some((w) => /withholding the watchdog ping/.test(w)), warnings.join('\n'));

  fault = null;
  await new Client('').until(async () => count(r.text(), 'WATCHDOG=1') > pingsAtFault, 'pings to resume', 20_000);
  assert.match(r.text(), /STATUS=recording/);

  // A probe that hangs withholds the ping as well.
  const hung = createNotifier({ env: { NOTIFY_SOCKET: r.path, WATCHDOG_USEC: '1000000' } });
  const stop3 = hung.watchdog(() => new Promise<string | null>(() => undefined));
  t.after(stop3);
  await waitFor(r, /STATUS=unhealthy: health check did not answer in time/, 'the hung-probe status');

  // A WATCHDOG_PID that is not this process means the watchdog is someone else's.
  assert.equal(createNotifier({ env: { NOTIFY_SOCKET: r.path, WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' } }).watchdogIntervalMs, 0);
});
