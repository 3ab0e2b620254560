// The install-time hardware files in board/: the ALSA config is parsed by alsa-lib itself
// (arecord -L), and every udev rule is checked key by key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/appliance.ts';

const run = promisify(execFile);
const ALSA_CONF = join(ROOT, 'board', 'alsa', 'ringvault.conf');

async function alsaList(conf: string): Promise<{ stdout: string; stderr: string }> {
  const home = mkdtempSync(join(tmpdir(), 'rv-alsa-'));
  try {
    writeFileSync(join(home, '.asoundrc'), `<${conf}>\n`);
    return await run('arecord', ['-L'], { env: { ...process.env, HOME: home } });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

test('alsa-lib loads board/alsa/ringvault.conf without complaint and lists its devices', async () => {
  const { stdout, stderr } = await alsaList(ALSA_CONF);
  assert.equal(stderr.trim(), '', `alsa-lib complained:\n${stderr}`);
  for (const name of ['rv_tap', 'rv_tap_mono', 'rv_tap4']) assert.match(stdout, new RegExp(`^${name}$`, 'm'));
});

test('the ALSA check notices a broken config', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rv-alsa-bad-'));
  try {
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, readFileSync(ALSA_CONF, 'utf8').replace('type dsnoop', 'type dsnoop {'));
    const { stderr } = await alsaList(bad);
    assert.match(stderr, /Unexpected char|corrupted/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// udevadm 252 (Debian 12) has no `verify`; check every rule against udev's own grammar instead.
const MATCH_KEYS = /^(ACTION|SUBSYSTEM|SUBSYSTEMS|KERNEL|KERNELS|DRIVER|DRIVERS|ATTR\{[\w]+\}|ATTRS\{[\w]+\}|ENV\{[\w]+\}|TAG|TAGS)$/;
const ASSIGN_KEYS = /^(SYMLINK|GROUP|MODE|OWNER|TAG|ENV\{[\w]+\}|ATTR\{[\w]+\}|RUN)$/;

function lintUdevRule(line: string): string[] {
  const problems: string[] = [];
  const parts = line.split(/,\s*/);
  let matches = 0;
  let assigns = 0;
  for (const p of parts) {
    const m = /^([A-Z]+(?:\{[\w]+\})?)(==|!=|\+=|-=|:=|=)"([^"]*)"$/.exec(p.trim());
    if (!m) { problems.push(`not KEY op "value": ${p}`); continue; }
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if (op === '==' || op === '!=') {
      if (!MATCH_KEYS.test(key)) problems.push(`${key} cannot be matched`);
      matches++;
    } else {
      if (!ASSIGN_KEYS.test(key)) problems.push(`${key} cannot be assigned`);
      if (key === 'MODE' && !/^0[0-7]{3}$/.test(value)) problems.push(`MODE ${value} is not octal`);
      assigns++;
    }
  }
  if (matches === 0) problems.push('a rule without a match applies to every device');
  if (assigns === 0) problems.push('a rule without an assignment does nothing');
  return problems;
}

test('every udev rule in board/udev is well formed and names the devices the box opens', () => {
  const text = readFileSync(join(ROOT, 'board', 'udev', '99-ringvault.rules'), 'utf8');
  const rules = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  assert.ok(rules.length >= 5);
  for (const r of rules) assert.deepEqual(lintUdevRule(r), [], r);
  assert.ok(rules.some((r) => r.includes('SYMLINK+="ringvault-board"') && r.includes('SUBSYSTEM=="tty"')));
  assert.ok(rules.some((r) => r.includes('ATTR{id}="rvtap"')), 'the audio tap gets the card id the ALSA config uses');
  assert.match(readFileSync(ALSA_CONF, 'utf8'), /hw:CARD=rvtap/);
});

test('the udev lint rejects what udev would misread', () => {
  assert.notDeepEqual(lintUdevRule('SYMLINK+="x"'), []);
  assert.notDeepEqual(lintUdevRule('SUBSYSTEM=="tty", MODE="660"'), []);
  assert.notDeepEqual(lintUdevRule('SUBSYSTEM="tty", GROUP="dialout"'), []);
  assert.notDeepEqual(lintUdevRule('SUBSYSTEM=="tty" GROUP="dialout"'), []);
});
