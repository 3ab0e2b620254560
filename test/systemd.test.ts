// The units as systemd itself reads them: systemd-analyze verify, the offline security score, and
// the system-call filter checked against what the real appliance does under strace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, readFile, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, Client } from './helpers/appliance.ts';

const UNIT = join(ROOT, 'systemd', 'ringvault.service');
const DROPIN = join(ROOT, 'systemd', 'capture.conf');
const MAX_EXPOSURE = 2.0;

/** The unit as install.sh writes it: ExecStart names this machine's node (verify checks that it exists). */
async function unitDir(withCapture: boolean, edit: (s: string) => string = (s) => s): Promise<{ dir: string; unit: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-units-'));
  const text = (await readFile(UNIT, 'utf8')).replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `);
  const unit = join(dir, 'ringvault.service');
  await writeFile(unit, edit(text));
  if (withCapture) {
    await mkdir(join(dir, 'ringvault.service.d'));
    await copyFile(DROPIN, join(dir, 'ringvault.service.d', 'capture.conf'));
  }
  return { dir, unit };
}

// SYSTEMD_UNIT_PATH makes systemd look for drop-ins beside the unit (the trailing ':' keeps the defaults).
const analyze = (dir: string, ...args: string[]) =>
  spawnSync('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:`, SYSTEMD_PAGER: '', SYSTEMD_COLORS: '0' }, timeout: 60_000 });

function exposure(out: string): number {
  const m = /Overall exposure level for ringvault\.service: (\d+\.\d+)/.exec(out);
  assert.ok(m, `no exposure figure in:\n${out}`);
  return Number(m[1]);
}

test('systemd-analyze verify passes on the unit, with and without the capture drop-in, without a warning', async (t) => {
  for (const capture of [false, true]) {
    const { dir, unit } = await unitDir(capture);
    t.after(() => rm(dir, { recursive: true, force: true }));
    const r = analyze(dir, 'verify', unit);
    assert.equal(r.status, 0, `verify (capture=${capture}):\n${r.stdout}${r.stderr}`);
    assert.equal(r.stderr.trim(), '', `warnings (capture=${capture}):\n${r.stderr}`);
  }
  // The check can fail: a misspelt key is reported.
  const { dir, unit } = await unitDir(false, (s) => s.replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bad = analyze(dir, 'verify', unit);
  assert.match(bad.stderr, /Unknown key 'NoNewPrivilege'/);
});

test(`systemd-analyze security --offline: exposure at most ${MAX_EXPOSURE}, also with capture rights`, async (t) => {
  const { dir, unit } = await unitDir(false);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const r = analyze(dir, 'security', '--offline=true', unit);
  const base = exposure(r.stdout + r.stderr);
  assert.ok(base <= MAX_EXPOSURE, `exposure ${base} > ${MAX_EXPOSURE}:\n${r.stdout}`);
  // Only network-binding rights; no raw sockets unless the drop-in asks.
  assert.match(r.stdout, /✗ CapabilityBoundingSet=~CAP_NET_\(BIND_SERVICE\|BROADCAST\|RAW\)/);
  assert.match(r.stdout, /✓ RestrictAddressFamilies=~…/);
  assert.match(r.stdout, /✓ RestrictAddressFamilies=~AF_PACKET/);
  t.diagnostic(`exposure: ${base}`);

  const c = await unitDir(true);
  t.after(() => rm(c.dir, { recursive: true, force: true }));
  const rc = analyze(c.dir, 'security', '--offline=true', c.unit);
  const withCapture = exposure(rc.stdout + rc.stderr);
  assert.match(rc.stdout, /✗ RestrictAddressFamilies=~AF_PACKET/, 'the drop-in was read');
  assert.ok(withCapture >= base && withCapture <= MAX_EXPOSURE, `exposure with capture ${withCapture}`);
  t.diagnostic(`exposure with capture drop-in: ${withCapture}`);

  // The score can fail: the same unit without its sandbox scores far worse.
  const loose = await unitDir(false, (s) => s.replace(/^(ProtectSystem|SystemCallFilter|RestrictAddressFamilies|CapabilityBoundingSet|PrivateTmp|ProtectHome)=.*$/gm, ''));
  t.after(() => rm(loose.dir, { recursive: true, force: true }));
  const rl = analyze(loose.dir, 'security', '--offline=true', loose.unit);
  assert.ok(exposure(rl.stdout + rl.stderr) > MAX_EXPOSURE);
});

test('the unit: notify with watchdog, restart on failure, own user and groups, state and config folders, journald', async () => {
  const u = await readFile(UNIT, 'utf8');
  const keys = new Map<string, string[]>();
  for (const line of u.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!]);
  }
  const one = (k: string) => keys.get(k)?.at(-1);
  assert.equal(one('Type'), 'notify');
  assert.equal(one('NotifyAccess'), 'all');
  assert.match(one('WatchdogSec') ?? '', /^\d+s$/);
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('RestartPreventExitStatus'), '2', 'a config error (exit 2) is not restarted in a loop');
  assert.equal(one('User'), 'ringvault');
  assert.deepEqual(one('SupplementaryGroups')?.split(' ').sort(), ['audio', 'dialout', 'gpio']);
  assert.equal(one('StateDirectory'), 'ringvault');
  assert.equal(one('ConfigurationDirectory'), 'ringvault');
  assert.equal(one('StandardError'), 'journal');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('PrivateTmp'), 'yes');
  // Keys held only in RAM must not be paged out to the SD card (issue 10, item 13).
  assert.equal(one('MemorySwapMax'), '0');
  assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('DevicePolicy'), 'closed');
  assert.deepEqual(keys.get('DeviceAllow')?.map((d) => d.split(' ')[0]).sort(), ['char-alsa', 'char-gpiochip', 'char-ttyACM', 'char-ttyAMA', 'char-ttyUSB']);
  assert.doesNotMatch(u.replace(/^#.*$/gm, ''), /CAP_NET_RAW|AF_PACKET/, 'capture rights only in the drop-in');
  const d = await readFile(DROPIN, 'utf8');
  assert.match(d, /^CapabilityBoundingSet=CAP_NET_RAW$/m);
  assert.match(d, /^RestrictAddressFamilies=AF_PACKET$/m);
});

/** The unit's SystemCallFilter as systemd applies it: the first line sets the list, later ones add or take away. */
function allowedSyscalls(unit: string): Set<string> {
  const listing = spawnSync('systemd-analyze', ['syscall-filter'], { encoding: 'utf8' }).stdout;
  const groups = new Map<string, string[]>();
  let cur: string | undefined;
  for (const line of listing.split('\n')) {
    const s = line.trim();
    if (line.startsWith('@')) groups.set((cur = s), []);
    else if (cur && s && !s.startsWith('#')) groups.get(cur)!.push(s);
  }
  const expand = (name: string): string[] => (name.startsWith('@') ? (groups.get(name) ?? []).flatMap(expand) : [name]);
  const allowed = new Set<string>();
  for (const [, value] of unit.matchAll(/^SystemCallFilter=(.*)$/gm)) {
    const deny = value!.startsWith('~');
    for (const name of value!.replace(/^~/, '').split(/\s+/).filter(Boolean).flatMap(expand)) {
      if (deny) allowed.delete(name);
      else allowed.add(name);
    }
  }
  return allowed;
}

test('under strace, the real appliance (setup, kept sim call, WAV read, sd_notify child, stop) makes only system calls the unit allows and writes only where ProtectSystem=strict lets it', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-strace-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const allowed = allowedSyscalls(await readFile(UNIT, 'utf8'));
  assert.ok(allowed.has('openat') && !allowed.has('mount') && !allowed.has('setrlimit'), 'the filter was read');

  // sd_notify goes to socat, so systemd-notify runs (and is traced) as under systemd.
  const sock = join(dir, 'notify.sock');
  const socat = spawn('socat', ['-u', `UNIX-RECV:${sock},unlink-early`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => { socat.kill(); });
  let notes = '';
  socat.stdout.setEncoding('utf8').on('data', (d: string) => { notes += d; });
  const client0 = new Client('');
  await client0.until(async () => existsSync(sock), 'notify socket');

  const log = join(dir, 'strace.log');
  const data = join(dir, 'data');
  const tracer = spawn('strace', ['-f', '-qq', '-e', 'signal=none', '-o', log, process.execPath, '--import', 'tsx', join(ROOT, 'src/main.ts'), '--data', data, '--port', '0', '--sim-speed', '4'], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RINGVAULT_LOG: 'warn', NOTIFY_SOCKET: sock, WATCHDOG_USEC: '2000000' },
  });
  t.after(() => { if (tracer.exitCode === null) tracer.kill('SIGKILL'); });
  let out = '';
  let err = '';
  tracer.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  tracer.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const url = await client0.until(async () => /listening on (http:\/\/\S+)/.exec(out)?.[1], `the traced appliance to listen:\n${err}`, 90_000);

  const claimCode = await client0.until(async () => /claim code for the first setup: (\S+)/.exec(out)?.[1], 'the claim code on the console', 30_000);
  const c = new Client(url);
  await c.state();
  await c.json('POST', '/api/setup', { username: 'admin', passphrase: 'correct horse battery staple', claimCode });
  await c.state();
  await c.json('POST', '/api/sim/lines/line1/call', { direction: 'in', caller: '0612345678', durationSec: 4 });
  await c.until(async () => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1' && l.state === 'in-call'), 'call to start', 30_000);
  const { callId } = await c.json('POST', '/api/lines/line1/save', {});
  await c.until(async () => (await c.json('GET', '/api/calls')).calls.find((x: any) => x.id === callId && x.endedAt), 'kept call archived', 60_000);
  const wav = await c.request('GET', `/api/calls/${callId}/audio.wav`);
  assert.equal(wav.status, 200);
  await wav.arrayBuffer();
  await c.until(async () => /WATCHDOG=1/.test(notes), 'a watchdog ping', 30_000);

  // Stop the appliance itself (strace's child), as systemd would, so the stop path is traced too.
  const children = (await readFile(`/proc/${tracer.pid}/task/${tracer.pid}/children`, 'utf8')).trim().split(/\s+/).map(Number);
  assert.equal(children.length, 1, `one traced child: ${children.join(',')}`);
  const exited = once(tracer, 'exit');
  process.kill(children[0]!, 'SIGTERM');
  await exited;
  await c.until(async () => /STOPPING=1/.test(notes), 'STOPPING=1', 10_000);

  const lines = (await readFile(log, 'utf8')).split('\n');
  const used = new Set<string>();
  const writes = new Set<string>();
  const devices = new Set<string>();
  for (const line of lines) {
    const dev = /^\d+\s+openat\([^"]*"(\/dev\/[^"]*)"/.exec(line);
    if (dev && !/= -1 /.test(line)) devices.add(dev[1]!);
    const m = /^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)(?:\(| resumed>)/.exec(line);
    if (!m) continue;
    used.add(m[1]!);
    // Successful calls that create or change a file: openat for writing, mkdir, rename, unlink…
    const changes = /^\d+\s+(?:openat\(.*(?:O_WRONLY|O_RDWR|O_CREAT)|mkdirat?\(|renameat2?\(|rename\(|unlinkat?\(|(?:sym)?linkat?\(|truncate\(|fchmodat\(|chmod\()/.test(line);
    if (changes && !/= -1 /.test(line)) for (const [, path] of line.matchAll(/"([^"]*)"/g)) writes.add(path!);
  }
  for (const want of ['openat', 'execve', 'fsync']) assert.ok(used.has(want), `${want} seen in the trace: ${[...used].join(' ')}`);
  const refused = [...used].filter((s) => !allowed.has(s));
  assert.deepEqual(refused, [], `system calls the unit would refuse with EPERM: ${refused.join(', ')}`);
  // Writable under the unit: the state directory, the private /tmp, and devices.
  const writable = [data, tmpdir(), '/dev/'];
  assert.ok([...writes].some((p) => p.startsWith(data)), 'writes into the data folder were seen');
  const outside = [...writes].filter((p) => !p.startsWith('/') || !writable.some((w) => p.startsWith(w)));
  assert.deepEqual(outside, [], `writes outside the data folder, /tmp and /dev: ${outside.join(', ')}`);
  // DevicePolicy=closed: only the pseudo devices systemd always allows, plus the DeviceAllow= list.
  const devOk = /^\/dev\/(null|zero|full|random|urandom|tty|ptmx|pts\/.*|shm\/.*|snd\/.*|ttyUSB\d+|ttyACM\d+|ttyAMA\d+|gpiochip\d+|ringvault-board|serial.*)$/;
  const badDevices = [...devices].filter((d) => !devOk.test(d));
  assert.deepEqual(badDevices, [], `devices outside DeviceAllow: ${badDevices.join(', ')}`);
  t.diagnostic(`${used.size} distinct system calls, all allowed; ${writes.size} paths written, all inside the data folder, /tmp or /dev`);
});
