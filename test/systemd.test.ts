// The units as systemd itself reads them: systemd-analyze verify, and the offline security score.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, readFile, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/appliance.ts';

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
  assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('DevicePolicy'), 'closed');
  assert.deepEqual(keys.get('DeviceAllow')?.map((d) => d.split(' ')[0]).sort(), ['char-alsa', 'char-gpiochip', 'char-ttyACM', 'char-ttyAMA', 'char-ttyUSB']);
  assert.doesNotMatch(u.replace(/^#.*$/gm, ''), /CAP_NET_RAW|AF_PACKET/, 'capture rights only in the drop-in');
  const d = await readFile(DROPIN, 'utf8');
  assert.match(d, /^CapabilityBoundingSet=CAP_NET_RAW$/m);
  assert.match(d, /^RestrictAddressFamilies=AF_PACKET$/m);
});
