// Clock truth (issue 12 item 4): the box asks the kernel (adjtimex) whether its clock is disciplined,
// whichever NTP daemon keeps it, with timedatectl as the fallback. Checked against the `adjtimex` tool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adjtimexProbe, kernelSynced, STA_UNSYNC } from '../src/time/adjtimex.ts';
import { parseNtpSynchronized, timedatectlSynced } from '../src/time/timedatectl.ts';
import { SyncDetector } from '../src/time/sync.ts';
import { systemClock } from '../src/clock.ts';

const field = (out: string, name: string): number => Number(new RegExp(`^\\s*${name}:\\s*(-?\\d+)`, 'm').exec(out)![1]);

test('adjtimex through koffi reads what the adjtimex tool reads from the kernel', () => {
  const probe = adjtimexProbe();
  assert.ok(probe, 'libc adjtimex could not be loaded');
  const mine = probe()!;
  const tool = execFileSync('adjtimex', ['--print'], { encoding: 'utf8' });
  assert.equal(mine.unsyncBit, (field(tool, 'status') & STA_UNSYNC) !== 0);
  assert.equal(mine.state, Number(/return value = (\d+)/.exec(tool)![1]));
  // maxerror grows by 500 µs each second between daemon updates; the two reads are a moment apart.
  assert.ok(Math.abs(mine.maxErrorUs - field(tool, 'maxerror')) <= 100_000, `maxerror ${mine.maxErrorUs} vs ${field(tool, 'maxerror')}`);
  assert.equal(mine.synced, kernelSynced(field(tool, 'status'), field(tool, 'maxerror')));
  // The detector reports the kernel's verdict and says so.
  const d = new SyncDetector({});
  assert.deepEqual(d.view(), { synced: mine.synced, via: 'adjtimex' });
});

test('kernel verdict: STA_UNSYNC clear, or a maximum error under 16 s (chrony without rtcsync keeps the bit set)', () => {
  const cases: [number, number, boolean][] = [
    [0, 16_000_000, true], // a daemon cleared STA_UNSYNC
    [STA_UNSYNC, 16_000_000, false], // nobody disciplines the clock
    [STA_UNSYNC, 250_000, true], // chrony without rtcsync
    [STA_UNSYNC | 0x0001, 15_999_999, true],
    [STA_UNSYNC | 0x2000, 20_000_000, false],
  ];
  for (const [status, maxErr, want] of cases) assert.equal(kernelSynced(status, maxErr), want, `status ${status}, maxerror ${maxErr}`);
});

test('timedatectl output parsing', () => {
  const cases: [string, boolean | null][] = [['yes\n', true], ['no\n', false], ['  yes  ', true], ['', null], ['n/a', null], ['NTPSynchronized=yes', null], ['true', true], ['0', false]];
  for (const [out, want] of cases) assert.equal(parseNtpSynchronized(out), want, JSON.stringify(out));
});

test('the real timedatectl: agrees with the kernel where systemd runs, and "cannot tell" where it does not', async (t) => {
  let direct: string | null;
  try {
    direct = execFileSync('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    direct = null;
  }
  const mine = await timedatectlSynced();
  if (direct === null) {
    assert.equal(mine, null);
    // Without adjtimex and without an answer from timedatectl the box cannot tell: not synchronised.
    const d = new SyncDetector({ kernel: null });
    await d.start();
    t.after(() => d.stop());
    assert.deepEqual(d.view(), { synced: false, via: 'none' });
  } else {
    assert.equal(mine, direct === 'yes');
    assert.equal(mine, adjtimexProbe()!()!.synced);
    const d = new SyncDetector({ kernel: null });
    await d.start();
    t.after(() => d.stop());
    assert.deepEqual(d.view(), { synced: mine, via: 'timedatectl' });
  }
});

test('RINGVAULT_CLOCK=file:PATH is read at every check, so a test can unsynchronise a running box', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-clock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const f = join(dir, 'clock');
  await writeFile(f, 'synced\n');
  const clock = systemClock({ assumeSynced: true, mode: `file:${f}` });
  assert.equal(clock.synced(), true);
  assert.equal(clock.syncVia?.(), 'file');
  await writeFile(f, 'unsynced\n');
  await new Promise((r) => setTimeout(r, 1100)); // past the one-second cache
  assert.equal(clock.synced(), false);
  await rm(f);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(clock.synced(), false, 'a missing file means not synchronised');
  // A simulated box in auto mode needs no network time.
  assert.equal(systemClock({ assumeSynced: true, mode: 'auto' }).synced(), true);
});

test('adjtimex refused with EPERM (glibc calls clock_adjtime; the systemd unit\'s @clock filter refuses both, injected here by strace): the box falls back to timedatectl', async () => {
  const script = [
    "import { SyncDetector } from './src/time/sync.ts';",
    "import { adjtimexProbe } from './src/time/adjtimex.ts';",
    "const d = new SyncDetector({});",
    "await d.start();",
    "console.log(JSON.stringify({ probe: adjtimexProbe()(), view: d.view() }));",
    "d.stop();",
  ].join('\n');
  const { ROOT } = await import('./helpers/appliance.ts');
  const out = execFileSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=adjtimex,clock_adjtime', '-e', 'inject=adjtimex,clock_adjtime:error=EPERM', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(r.probe, null, 'the refused call reads as "cannot tell", not as unsynchronised');
  let direct: string | null;
  try {
    direct = execFileSync('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    direct = null;
  }
  assert.deepEqual(r.view, direct === null ? { synced: false, via: 'none' } : { synced: direct === 'yes', via: 'timedatectl' });
});
