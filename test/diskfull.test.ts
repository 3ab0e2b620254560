import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from './helpers/appliance.ts';
import { startOnSmallDisk } from './helpers/small-disk.ts';
import { until } from './helpers/until.ts';
import { webhookPeer, type Hook } from './helpers/alert-peers.ts';

/**
 * Disk full is a state, not a crash: the real appliance on a 12 MB tmpfs with two keep-all simulated
 * lines. The disk is filled while one call is kept and another starts; the box stays up, shows the
 * fault, keeps every second it can in the ring, refuses saves and settings in words, and completes both
 * calls when space returns: listed, playable, with the seconds the full ring could not hold marked.
 */
const SPEED = 20;
/** sim seconds: the first call outlasts the 60 s the ring holds per line, so the ring runs full while the disk is */
const LONG_CALL = 200;
const SHORT_CALL = 40;
const SECRET = 'webhook secret of the disk-full test';
const alertsOf = (hooks: Hook[]) => hooks.flatMap((h) => h.json.alerts.map((a: any) => `${a.state} ${a.key}`));

test('a full disk stalls kept calls in the ring with a fault, refuses changes in words, and completes the calls when space returns', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'rv-diskfull-'));
  const mnt = join(work, 'mnt');
  execFileSync('mkdir', ['-p', mnt]);
  const config = join(work, 'config.json');
  // The alert goes off the box to a real HTTP listener that checks the signature.
  const hook = await webhookPeer(SECRET);
  t.after(() => hook.close());
  await writeFile(config, JSON.stringify({
    ring: { minutesPerLine: 1 },
    // Only the refresh on a failed write can update the free space within the test: the timed check is an hour away.
    health: { checkSeconds: 3600 },
    notifications: { boxName: 'cupboard', startupGraceSeconds: 0, webhook: { enabled: true, url: hook.url, secret: SECRET } },
    lines: [
      { id: 'line1', name: 'Line 1', source: 'sim', channels: 2, keep: 'all', announced: ['legal-obligation'], keepPurposes: ['legal-obligation'] },
      { id: 'line2', name: 'Line 2', source: 'sim', channels: 2, keep: 'all', announced: ['legal-obligation'], keepPurposes: ['legal-obligation'] },
    ],
  }));
  const box = await startOnSmallDisk(mnt, 12, ['--config', config, '--sim-speed', String(SPEED)]);
  t.after(async () => { await box.close(); await rm(work, { recursive: true, force: true }); });

  const admin = new Client(box.url);
  await admin.state();
  await admin.json('POST', '/api/setup', { username: 'admin', passphrase: 'disk full: a long passphrase of words', claimCode: await box.claimCode() });
  await admin.state();
  const lines = async () => (await admin.json('GET', '/api/lines')).lines as any[];
  const line = async (id: string) => (await lines()).find((l) => l.id === id);
  const health = async () => (await admin.state()).health;

  await admin.json('POST', '/api/sim/lines/line1/call', { direction: 'in', durationSec: LONG_CALL });
  const first = await until(async () => (await line('line1'))?.call?.callId as string | undefined, 'line1 kept by rule');
  const freeBefore = (await health()).disk.freeBytes as number;

  const filled = await box.ctl('fill');
  assert.match(filled, /^filled \d+$/);
  // The fault shows at once: the line, the box health (a code the alerts turn into an alert), and free space.
  const l1 = await until(async () => { const l = await line('line1'); return l?.state === 'fault' ? l : undefined; }, 'line1 to show the archive fault');
  assert.equal(l1.faultCode, 'RV_ERR_DISK_FULL');
  assert.match(l1.fault, /disk is full/i);
  const h = await until(async () => { const x = await health(); return x.issues.some((i: any) => i.code === 'RV_ERR_DISK_FULL') ? x : undefined; }, 'health to report RV_ERR_DISK_FULL');
  assert.equal(h.ok, false);
  assert.ok(h.disk.freeBytes < freeBefore / 4, `health.disk.freeBytes is current (${h.disk.freeBytes} of ${freeBefore} before the fill)`);
  await until(() => alertsOf(hook.hooks).includes('raised archive.write-failed'), 'the webhook alert: archive write failing', 60_000);
  assert.ok(hook.hooks.every((x) => x.signatureOk), 'the alert is signed');

  // A call that starts on the full disk is kept by rule anyway: it waits in the ring and is retried.
  await admin.json('POST', '/api/sim/lines/line2/call', { direction: 'out', durationSec: SHORT_CALL });
  await until(async () => (await line('line2'))?.call, 'a call on line2');
  // A save says the disk is full, in words, with a code; not a generic 500.
  const save = await admin.request('POST', '/api/lines/line2/save', {});
  const saveBody = await save.json() as any;
  assert.equal(save.status, 507, JSON.stringify(saveBody));
  assert.equal(saveBody.error.code, 'RV_ERR_DISK_FULL');
  assert.match(saveBody.error.message, /disk is full/);

  // A settings change that cannot be stored changes nothing: not in memory, not on disk, not in the audit log.
  const before = (await admin.json('GET', '/api/settings')).settings;
  const put = await admin.request('PUT', '/api/settings', { graceSeconds: before.graceSeconds + 17 });
  const putBody = await put.json() as any;
  assert.equal(put.status, 507, JSON.stringify(putBody));
  assert.equal(putBody.error.code, 'RV_ERR_DISK_FULL');
  assert.equal((await admin.json('GET', '/api/settings')).settings.graceSeconds, before.graceSeconds);

  // Both calls end while the disk is still full: they are not listed yet, and the fault stays.
  await until(async () => { const ls = await lines(); return ls.every((l) => !l.call) ? ls : undefined; }, 'both calls to end', 60_000);
  assert.equal((await admin.json('GET', '/api/calls')).calls.length, 0);
  assert.ok((await lines()).every((l) => l.state === 'fault'), 'both lines still show the fault');
  assert.match(await box.ctl('alive'), /alive yes/);

  const freed = await box.ctl('free');
  assert.match(freed, /^freed \d+$/);
  const calls = await until(async () => { const c = (await admin.json('GET', '/api/calls')).calls as any[]; return c.length === 2 ? c : undefined; }, 'both calls stored once space returned', 30_000);
  await until(async () => { const x = await health(); return x.issues.every((i: any) => i.code !== 'RV_ERR_DISK_FULL') ? x : undefined; }, 'the fault to clear');
  assert.ok((await lines()).every((l) => l.state !== 'fault'));
  assert.match(await box.ctl('opens'), /^opens 0$/, 'no call is left open');
  await until(() => alertsOf(hook.hooks).includes('recovered archive.write-failed'), 'the webhook alert: archive writes work again', 60_000);
  assert.ok(calls.some((c) => c.id === first));

  let ringFull = 0;
  for (const c of calls) {
    const { call } = await admin.json('GET', `/api/calls/${c.id}`);
    assert.equal(call.verified, true, `call ${c.id} verifies`);
    const missingMs = (call.missing ?? []).reduce((s: number, m: any) => s + (m.to - m.from), 0);
    for (const m of call.missing ?? []) {
      assert.equal(m.reason, 'ring-full', JSON.stringify(m));
      ringFull++;
    }
    // Every second of the call is either stored or accounted for as missing (1 s: the last chunk's rounding).
    const expected = (c.line === 'line1' ? LONG_CALL : SHORT_CALL) * 1000;
    assert.ok(Math.abs(call.durationMs + missingMs - expected) <= 1000, `call on ${c.line}: ${call.durationMs} ms stored + ${missingMs} ms missing ≈ ${expected} ms`);
    const res = await admin.request('GET', `/api/calls/${c.id}/audio.wav?download=1`);
    assert.equal(res.status, 200);
    const wav = join(work, `${c.id}.wav`);
    await writeFile(wav, Buffer.from(await res.arrayBuffer()));
    const seconds = Number(execFileSync('soxi', ['-D', wav], { encoding: 'utf8' }).trim());
    assert.ok(Math.abs(seconds * 1000 - call.durationMs) < 2, `the WAV holds the stored ${call.durationMs} ms (soxi: ${seconds} s)`);
    // sox prints its statistics on stderr.
    const stat = spawnSync('sox', [wav, '-n', 'stat'], { encoding: 'utf8' }).stderr;
    const rms = Number(/RMS\s+amplitude:\s+([0-9.]+)/.exec(stat)?.[1]);
    assert.ok(rms > 0.001, `the WAV holds sound, not silence (RMS ${rms})`);
  }
  assert.ok(ringFull >= 1, 'the ring ran full while the disk was, and the call says which seconds are missing');

  // Nothing was changed by the refused settings write, and the saves and keeps are in the audit log.
  const audit = (await admin.json('GET', '/api/audit?limit=500')).entries as any[];
  assert.ok(!audit.some((e) => e.action === 'settings.change'), 'no audit entry for the settings change that failed');
  assert.ok(audit.some((e) => e.action === 'call.kept' && e.target === first));
  // After space returned the same change is stored and audited.
  await admin.json('PUT', '/api/settings', { graceSeconds: before.graceSeconds + 17 });
  assert.equal((await admin.json('GET', '/api/settings')).settings.graceSeconds, before.graceSeconds + 17);

  // No log flood: a handful of lines for a disk that was full for many seconds, not two a second.
  const failures = box.stderr().split('\n').filter((l) => l.includes('archive write failed')).length;
  assert.ok(failures >= 1 && failures <= 4, `${failures} "archive write failed" log lines`);
  assert.match(await box.ctl('alive'), /alive yes/);
});
