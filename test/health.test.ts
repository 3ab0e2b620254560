import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Box, dataPaths } from '../src/box.ts';
import { parseConfig } from '../src/config/load.ts';
import { silentLog } from '../src/log.ts';
import { Health } from '../src/health.ts';
import type { SimBoard } from '../src/board/sim.ts';
import { ROOT } from './helpers/appliance.ts';
import { until } from './helpers/until.ts';

const PASS = 'correct horse battery staple';

async function openBox(t: { after(fn: () => Promise<void>): void }, extra: Record<string, unknown> = {}, synced = () => true) {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-health-'));
  const config = parseConfig({ dataDir, lines: [{ id: 'line1', name: 'Front desk', keep: 'on-demand' }, { id: 'line2', name: 'Back office', keep: 'on-demand' }], board: { driver: 'sim' }, ...extra }, 'test');
  const box = await Box.open({ config, log: silentLog, clock: { now: () => Date.now(), synced }, speechDir: join(ROOT, 'assets/speech') });
  t.after(async () => { await box.close(); await rm(dataDir, { recursive: true, force: true }); });
  return { box, dataDir, board: box.board as SimBoard };
}

test('a lost audio source is a fault of that line only', async (t) => {
  const { box, board } = await openBox(t);
  await box.setup('admin', PASS);
  await until(() => box.health!.report().ok, 'healthy after setup');
  box.sim!.setFault('line2', true);
  const issue = await until(() => box.health!.report().issues.find((i) => i.code === 'RV_ERR_AUDIO_SOURCE'), 'audio fault');
  assert.equal(issue.line, 'line2');
  assert.match(issue.message, /No audio from Back office/);
  await until(() => board.led('line2') === 'fault' && board.led('line1') === 'idle', 'only LED 2 in fault');
  assert.equal(box.health!.boxFault(), false);
  box.sim!.setFault('line2', false);
  await until(() => box.health!.report().ok && board.led('line2') === 'idle', 'recovered');
});

test('an unsynchronised clock is a box fault on every LED', async (t) => {
  let synced = false;
  const { box, board } = await openBox(t, {}, () => synced);
  await box.setup('admin', PASS);
  const issue = await until(() => box.health!.report().issues.find((i) => i.code === 'RV_ERR_CLOCK_UNSYNCED'), 'clock fault');
  assert.match(issue.message, /not synchronised/);
  await until(() => board.led('line1') === 'fault' && board.led('line2') === 'fault', 'every LED in fault');
  synced = true;
  await box.health!.refresh();
  await until(() => board.led('line1') === 'idle' && board.led('line2') === 'idle', 'LEDs idle once synced');
});

test('disk nearly full: free bytes from statfs (as df reports them) against hours wanted', async (t) => {
  const { box, dataDir, board } = await openBox(t, { health: { diskHoursWanted: 1_000_000 } });
  await box.setup('admin', PASS);
  await box.health!.refresh();
  const r = box.health!.report();
  const issue = r.issues.find((i) => i.code === 'RV_ERR_DISK_LOW');
  assert.ok(issue, JSON.stringify(r));
  assert.match(issue.message, /nearly full: room for about \d+ h of recordings, 1000000 h wanted/);
  // df is the peer: the free bytes agree within 1 % (other processes write meanwhile).
  const df = Number(execFileSync('df', ['-B1', '--output=avail', dataPaths(dataDir).archive], { encoding: 'utf8' }).trim().split('\n')[1]);
  assert.ok(Math.abs(r.disk!.freeBytes - df) / df < 0.01, `statfs ${r.disk!.freeBytes} vs df ${df}`);
  assert.equal(r.disk!.measured, false, 'nothing archived yet: the nominal rate');
  assert.equal(r.disk!.hoursLeft, Math.floor(r.disk!.freeBytes / r.disk!.bytesPerHour));
  await until(() => board.led('line1') === 'fault', 'fault LED for a full disk');
});

test('bytes per hour are measured from the archive once there is enough audio', async (t) => {
  const { box, dataDir, board } = await openBox(t);
  await box.setup('admin', PASS);
  box.sim!.placeCall('line1', { durationSec: 60 });
  await until(() => box.recorder.status()[0]!.call, 'call live');
  board.press('line1', 'short');
  await new Promise((r) => setTimeout(r, 2500));
  box.sim!.hangup('line1');
  await box.recorder.settle();
  const [h] = box.archive.list();
  assert.ok(h);
  const archiveDir = dataPaths(dataDir).archive;
  const health = new Health({
    clock: box.clock, log: silentLog, lines: () => box.recorder.status(), initialized: async () => true, archiveDir,
    archivedMs: () => box.archive.list().reduce((s, x) => s + x.durationMs, 0), hoursWanted: () => 1, measureAfterMs: 1000,
  });
  await health.refresh();
  let bytes = 0;
  for (const month of await readdir(archiveDir, { withFileTypes: true })) {
    if (!month.isDirectory()) continue;
    for (const f of await readdir(join(archiveDir, month.name))) if (f.endsWith('.audio')) bytes += (await stat(join(archiveDir, month.name, f))).size;
  }
  const d = health.report().disk!;
  assert.equal(d.measured, true);
  assert.equal(d.bytesPerHour, Math.round(bytes / (h.durationMs / 3_600_000)));
  // Stereo 8 kHz 16-bit is 115.2 MB per hour before sealing overhead.
  assert.ok(d.bytesPerHour > 115_200_000 && d.bytesPerHour < 125_000_000, `${d.bytesPerHour} bytes per hour`);
});
