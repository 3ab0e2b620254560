// The retention the admin saves is what the box's scheduler applies, and a bad one is refused before it is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Box } from '../src/box.ts';
import { parseConfig } from '../src/config/load.ts';
import { silentLog } from '../src/log.ts';
import { DAY_MS, defaultRetention } from '../src/retention/policy.ts';
import { ROOT } from './helpers/appliance.ts';

test('saved retention drives the scheduler; an invalid policy is refused and nothing is stored', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'rv-retention-settings-'));
  const clock = { at: Date.now(), now() { return this.at; }, synced: () => true };
  const box = await Box.open({ config: parseConfig({ dataDir, board: { driver: 'none' } }, 'test'), log: silentLog, clock, speechDir: join(ROOT, 'assets/speech') });
  t.after(async () => { await box.close(); await rm(dataDir, { recursive: true, force: true }); });
  await box.setup('admin', 'retention settings passphrase');
  await box.retention!.stop();
  const keep = async (purposes: string[]) => {
    const w = await box.archive.beginCall({ line: 'line1', startedAt: Date.now(), channels: 1, meta: { caller: '+31201234567' }, purposes, keptBy: 'user', clockSynced: true });
    await w.append({ at: Date.now(), pcm: Buffer.alloc(1600) });
    return (await w.finish()).id;
  };
  const training = await keep(['training']);
  const complaint = await keep(['complaint']);

  const bad = { ...defaultRetention(), 'legal-obligation': { kind: 'until-released' as const } };
  await assert.rejects(box.updateSettings('admin', { retention: bad }), (e: Error & { code?: string }) => e.code === 'RV_ERR_RETENTION' && /legal obligation must be a number of days/.test(e.message));
  assert.deepEqual(box.config().retention, defaultRetention(), 'the refused policy was not stored');

  clock.at += 10 * DAY_MS;
  assert.deepEqual((await box.retention!.runOnce()).shredded, [], 'defaults: 90 days');
  await box.updateSettings('admin', { retention: { ...defaultRetention(), training: { kind: 'days', days: 7 }, 'legal-obligation': { kind: 'days', days: 2557 } } });
  assert.deepEqual((await box.retention!.runOnce()).shredded, [training]);
  assert.ok(box.archive.get(complaint));
  const stored = JSON.parse(await readFile(join(dataDir, 'settings.json'), 'utf8'));
  assert.deepEqual(stored.overrides.retention.training, { kind: 'days', days: 7 });
  assert.deepEqual(stored.overrides.retention['legal-obligation'], { kind: 'days', days: 2557 });
});
