// Alert conditions and deduplication as pure functions, tested as tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conditions, kindOfIssue, type Snapshot } from '../src/alerts/conditions.ts';
import { step, nextWake, type KeyState, type DedupeOptions } from '../src/alerts/dedupe.ts';
import { alertText } from '../src/alerts/kinds.ts';

const snap = (o: Partial<Snapshot> = {}): Snapshot => ({
  health: { issues: [] }, vault: { initialized: true, unlocked: true, unlockedSinceStart: true, upMs: 0 }, deadlines: [], today: '2026-12-06',
  vaultLockedHours: 4, requestWarnDays: 3, ...o,
});

test('health codes map to alert kinds; an unknown fault state still alerts with its code', () => {
  const cases: [string, string][] = [
    ['RV_ERR_AUDIO_SOURCE', 'line.source-lost'], ['RV_ERR_BOARD_DISCONNECTED', 'board.gone'], ['RV_ERR_DISK_LOW', 'disk.low'],
    ['RV_ERR_CLOCK_UNSYNCED', 'clock.unsynced'], ['RV_ERR_ARCHIVE_WRITE', 'archive.write-failed'], ['RV_ERR_DISK_FULL', 'archive.write-failed'],
    ['RV_ERR_REPLICATION', 'replication.failing'], ['RV_ERR_NOT_SET_UP', 'box.not-set-up'], ['RV_ERR_SOMETHING_NEW', 'health.other'],
  ];
  for (const [code, kind] of cases) assert.equal(kindOfIssue(code), kind, code);
  const c = conditions(snap({ health: { issues: [{ code: 'RV_ERR_SOMETHING_NEW', message: 'x' }, { code: 'RV_ERR_AUDIO_SOURCE', line: 'line2', message: 'Jan Jansen +31201234567' }] } }));
  assert.deepEqual(c.map((x) => x.key), ['health.other:RV_ERR_SOMETHING_NEW', 'line.source-lost:line2']);
  assert.ok(!JSON.stringify(c).includes('Jansen'), 'the issue message (free text) is not carried into the alert');
});

test('vault locked N hours after a start, unless it was unlocked since; requests near and past their deadline', () => {
  const locked = { initialized: true, unlocked: false, unlockedSinceStart: false, upMs: 4 * 3_600_000 };
  const cases: [Partial<Snapshot>, string[]][] = [
    [{ vault: locked }, ['vault.locked']],
    [{ vault: { ...locked, upMs: 3.9 * 3_600_000 } }, []],
    [{ vault: { ...locked, unlockedSinceStart: true } }, []],
    [{ vault: { ...locked, initialized: false } }, []],
    [{ deadlines: ['2026-12-05'] }, ['requests.overdue']],
    [{ deadlines: ['2026-12-06', '2026-12-09'] }, ['requests.due-soon']],
    [{ deadlines: ['2026-12-10'] }, []],
    [{ deadlines: ['2026-11-01', '2026-12-07', '2027-01-01'] }, ['requests.overdue', 'requests.due-soon']],
    [{ deadlines: null }, []],
  ];
  for (const [o, keys] of cases) assert.deepEqual(conditions(snap(o)).map((c) => c.key), keys, JSON.stringify(o));
  assert.equal(conditions(snap({ deadlines: ['2026-11-01', '2026-11-02'] }))[0]!.params.count, 2);
});

const O: DedupeOptions = { backoffMs: 300_000, maxBackoffMs: 6 * 3_600_000, repeatMs: 24 * 3_600_000, quietUntil: 0 };
const fault = [{ key: 'line.source-lost:line1', kind: 'line.source-lost' as const, line: 'line1', params: { line: 'line1' } }];
const said = (ev: { state: string; key: string }[]) => ev.map((e) => `${e.state} ${e.key}`);

test('one raise, one recovery; a flapping fault is held back with a doubling window, then sent once saying how often it came back', () => {
  const s = new Map<string, KeyState>();
  const min = 60_000;
  assert.deepEqual(said(step(s, fault, 0, O)), ['raised line.source-lost:line1']);
  assert.deepEqual(said(step(s, fault, 1000, O)), [], 'no repeat while it lasts');
  assert.deepEqual(said(step(s, [], 2000, O)), ['recovered line.source-lost:line1']);
  // It flaps ten times within the window: nothing is sent.
  let t = 3000;
  for (let i = 0; i < 10; i++) {
    assert.deepEqual(step(s, fault, t, O), []);
    assert.deepEqual(step(s, [], t + 1000, O), [], 'no recovery for a problem that was not told');
    t += 2000;
  }
  assert.deepEqual(step(s, fault, t, O), []);
  assert.equal(nextWake(s, t, O), 5 * min, 'the held problem is checked when its window ends');
  const ev = step(s, fault, 5 * min, O);
  assert.deepEqual(said(ev), ['raised line.source-lost:line1']);
  assert.equal(ev[0]!.returned, 11);
  assert.deepEqual(said(step(s, [], 5 * min + 1, O)), ['recovered line.source-lost:line1']);
  // The window has doubled: a return 6 minutes later waits until 10 minutes after the last raise.
  assert.deepEqual(step(s, fault, 11 * min, O), []);
  assert.deepEqual(said(step(s, fault, 15 * min, O)), ['raised line.source-lost:line1']);
});

test('reminders while a problem lasts; nothing during the start-up grace; a restart with a told problem does not repeat it', () => {
  const s = new Map<string, KeyState>();
  const o = { ...O, quietUntil: 120_000 };
  assert.deepEqual(step(s, fault, 0, o), []);
  assert.deepEqual(said(step(s, fault, 120_000, o)), ['raised line.source-lost:line1']);
  assert.deepEqual(said(step(s, fault, 120_000 + 24 * 3_600_000, o)), ['reminder line.source-lost:line1']);
  // After a restart the state is loaded with every key inactive (outbox.ts).
  const restored = new Map([...s].map(([k, v]) => [k, { ...structuredClone(v), active: false }]));
  assert.deepEqual(step(restored, fault, 25 * 3_600_000, O), [], 'still there: not said again');
  const again = new Map([...s].map(([k, v]) => [k, { ...structuredClone(v), active: false }]));
  assert.deepEqual(said(step(again, [], 25 * 3_600_000, O)), ['recovered line.source-lost:line1'], 'gone while the box was down: the recovery is said');
  // backoff 0 (the bench): every return is sent.
  const z = new Map<string, KeyState>();
  const zo = { ...O, backoffMs: 0 };
  for (let i = 0; i < 5; i++) {
    assert.equal(step(z, fault, i * 10, zo).length, 1);
    assert.equal(step(z, [], i * 10 + 5, zo).length, 1);
  }
});

test('alert texts fill in ids and numbers only, in Dutch and English', () => {
  assert.equal(alertText('disk.low', 'raised', { hoursLeft: 3.14159, hoursWanted: 24 }, 'en').text.includes('about 3.1 h of recordings, 24 h wanted'), true);
  assert.match(alertText('line.source-lost', 'raised', { line: 'line1' }, 'nl').text, /^Geen geluid van lijn line1/);
  assert.match(alertText('line.source-lost', 'recovered', { line: 'Jan Jansen' }, 'en').text, /^Line \? is heard again/, 'free text in a parameter is not filled in');
});

test('the outbox is bounded (oldest dropped, counted) and survives a restart with what was said', async (t) => {
  const { mkdtemp, rm, stat } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { Outbox } = await import('../src/alerts/outbox.ts');
  const { newDelivery, emailContent } = await import('../src/alerts/payload.ts');
  const dir = await mkdtemp(join(tmpdir(), 'rv-outbox-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'alerts-outbox.json');
  const a = new Outbox(path, () => 10);
  const ev = (i: number) => newDelivery([{ key: `health.other:RV_ERR_X${i}`, kind: 'health.other', state: 'raised', params: { code: `RV_ERR_X${i}` }, at: i }], i);
  for (let i = 0; i < 25; i++) a.push('webhook', ev(i));
  a.keys.set('clock.unsynced', { kind: 'clock.unsynced', params: {}, active: true, told: true, flaps: 0, held: 0, lastRaiseAt: 5 });
  await a.save();
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const b = new Outbox(path, () => 10);
  await b.load();
  assert.equal(b.queues.webhook.length, 10);
  assert.equal(b.queues.webhook[0]!.delivery.events[0]!.params.code, 'RV_ERR_X15', 'the oldest went first');
  assert.equal(b.dropped.webhook, 15);
  assert.deepEqual({ told: b.keys.get('clock.unsynced')!.told, active: b.keys.get('clock.unsynced')!.active }, { told: true, active: false });
  const mail = emailContent(b.queues.webhook[0]!.delivery, 'box', 'en', b.dropped.webhook);
  assert.match(mail.text, /15 earlier alert\(s\) were dropped because this channel was unreachable too long/);
});
