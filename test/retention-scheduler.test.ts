import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from '../src/vault/vault.ts';
import { Archive } from '../src/archive/archive.ts';
import { AuditLog } from '../src/audit/audit.ts';
import type { Clock } from '../src/clock.ts';
import type { Log } from '../src/log.ts';
import { DAY_MS, defaultRetention } from '../src/retention/policy.ts';
import { RetentionScheduler, type RetentionDeps } from '../src/retention/scheduler.ts';

const T0 = Date.UTC(2026, 10, 23, 9, 0, 0);

interface Box { archive: Archive; audit: AuditLog; clock: Clock & { at: number; ok: boolean }; log: Log; lines: { level: string; msg: string }[] }

/** A real vault, archive and audit log in a fresh folder, with a clock the test sets by hand. */
async function withBox(fn: (b: Box) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'rv-retention-'));
  const audit = new AuditLog(join(root, 'audit.log'), () => T0);
  try {
    const vaultDir = join(root, 'vault');
    await new Vault(vaultDir).init('admin', 'retention test passphrase');
    const archive = new Archive({ dir: join(root, 'archive'), vault: new Vault(vaultDir) });
    await archive.open();
    await audit.open();
    const lines: Box['lines'] = [];
    const at = (level: string) => (obj: object | string, msg?: string) => { lines.push({ level, msg: msg ?? String(obj) }); };
    const clock = { at: T0, ok: true, now() { return this.at; }, synced() { return this.ok; } };
    await fn({ archive, audit, clock, log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines });
  } finally {
    await audit.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** Keeps a finished call as if it was kept at `keptAt`: the archive stamps keptAt from Date.now(). */
async function keep(a: Archive, purposes: string[], keptAt: number): Promise<string> {
  const now = mock.method(Date, 'now', () => keptAt);
  try {
    const w = await a.beginCall({ line: 'l1', startedAt: keptAt, channels: 1, meta: { caller: '+31201234567' }, purposes, keptBy: 'button', clockSynced: true });
    await w.append({ at: keptAt, pcm: Buffer.alloc(1600) });
    const h = await w.finish();
    assert.equal(h.keptAt, keptAt);
    return h.id;
  } finally {
    now.mock.restore();
  }
}

const schedulerOf = (b: Box, more: Partial<RetentionDeps> = {}): RetentionScheduler =>
  new RetentionScheduler({ archive: b.archive, audit: b.audit, clock: b.clock, log: b.log, policy: defaultRetention, ...more });

test('a training call older than 90 days is shredded and audited; a fresh one is kept', async () => {
  await withBox(async (b) => {
    const old = await keep(b.archive, ['training'], T0 - 91 * DAY_MS);
    const fresh = await keep(b.archive, ['training'], T0 - 1 * DAY_MS);
    const r = await schedulerOf(b).runOnce();
    assert.deepEqual(r, { checked: 2, shredded: [old], kept: 1, errors: [] });
    assert.equal(b.archive.get(old), undefined);
    assert.deepEqual(b.archive.list().map((h) => h.id), [fresh]);
    const entries = await b.audit.readAll();
    assert.equal(entries.length, 1);
    assert.deepEqual([entries[0]!.actor, entries[0]!.action, entries[0]!.target], ['retention', 'call.expired', old]);
    assert.deepEqual(entries[0]!.detail?.purposes, ['training']);
    assert.match(String(entries[0]!.detail?.reason), /^expired at /);
    assert.deepEqual(await b.audit.verify(), { ok: true, entries: 1 });
  });
});

test('exactly at expiry the call goes; a millisecond before it stays', async () => {
  await withBox(async (b) => {
    const id = await keep(b.archive, ['training'], T0 - 90 * DAY_MS);
    b.clock.at = T0 - 1;
    assert.deepEqual((await schedulerOf(b).runOnce()).shredded, []);
    b.clock.at = T0;
    assert.deepEqual((await schedulerOf(b).runOnce()).shredded, [id]);
  });
});

test('a call kept for a legal obligation and training outlives the 90 days', async () => {
  await withBox(async (b) => {
    const id = await keep(b.archive, ['legal-obligation', 'training'], T0 - 400 * DAY_MS);
    const r = await schedulerOf(b).runOnce();
    assert.deepEqual(r, { checked: 1, shredded: [], kept: 1, errors: [] });
    assert.ok(b.archive.get(id));
    assert.deepEqual(await b.audit.readAll(), []);
  });
});

test('a call under legal hold is kept past its expiry', async () => {
  await withBox(async (b) => {
    const held = await keep(b.archive, ['training'], T0 - 200 * DAY_MS);
    const other = await keep(b.archive, ['training'], T0 - 200 * DAY_MS);
    await b.archive.updateHeader(held, { holds: ['H1'] });
    const r = await schedulerOf(b).runOnce();
    assert.deepEqual(r, { checked: 2, shredded: [other], kept: 1, errors: [] });
    assert.deepEqual(b.archive.get(held)?.holds, ['H1']);
  });
});

test('with the clock not synchronised nothing is shredded and the reason is reported and logged once', async () => {
  await withBox(async (b) => {
    const a = await keep(b.archive, ['training'], T0 - 200 * DAY_MS);
    const c = await keep(b.archive, ['complaint'], T0 - 200 * DAY_MS);
    b.clock.ok = false;
    const r = await schedulerOf(b).runOnce();
    assert.equal(r.checked, 0);
    assert.deepEqual(r.shredded, []);
    assert.equal(r.kept, 2);
    assert.match(r.skippedReason ?? '', /clock not synchronised/);
    assert.equal(b.lines.filter((l) => /clock not synchronised/.test(l.msg)).length, 1);
    assert.ok(b.archive.get(a) && b.archive.get(c));
    assert.deepEqual(await b.audit.readAll(), []);
  });
});

test('a call covered by a hold on the number is kept', async () => {
  await withBox(async (b) => {
    const held = await keep(b.archive, ['training'], T0 - 200 * DAY_MS);
    const other = await keep(b.archive, ['training'], T0 - 200 * DAY_MS);
    const asked: string[] = [];
    const r = await schedulerOf(b, { numberHeld: (id) => { asked.push(id); return id === held; } }).runOnce();
    assert.deepEqual(r, { checked: 2, shredded: [other], kept: 1, errors: [] });
    assert.deepEqual([...new Set(asked)].sort(), [held, other].sort(), "asked about every call (the delete path asks again before it shreds)");
    assert.ok(b.archive.get(held));
  });
});

test('a failing shred is reported and the other calls still go; the audit chain verifies', async () => {
  await withBox(async (b) => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await keep(b.archive, ['training'], T0 - (100 + i) * DAY_MS));
    const stuck = ids[1]!;
    const archive: RetentionDeps['archive'] = {
      list: () => b.archive.list(),
      get: (id) => b.archive.get(id),
      shred: (id) => (id === stuck ? Promise.reject(new Error('disk said no')) : b.archive.shred(id)),
    };
    const r = await schedulerOf(b, { archive }).runOnce();
    assert.deepEqual(r.errors, [{ id: stuck, message: 'disk said no' }]);
    assert.deepEqual([...r.shredded].sort(), [ids[0]!, ids[2]!].sort());
    assert.equal(r.kept, 1);
    assert.deepEqual(b.archive.list().map((h) => h.id), [stuck]);
    assert.deepEqual((await b.audit.readAll()).map((e) => e.target).sort(), [ids[0]!, ids[2]!].sort());
    assert.deepEqual(await b.audit.verify(), { ok: true, entries: 2 });
  });
});

test('a call whose expiry cannot be computed is reported and kept; the others still go', async () => {
  await withBox(async (b) => {
    const odd = await keep(b.archive, ['marketing'], T0 - 200 * DAY_MS);
    const normal = await keep(b.archive, ['training'], T0 - 200 * DAY_MS);
    const r = await schedulerOf(b).runOnce();
    assert.deepEqual(r.shredded, [normal]);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.id, odd);
    assert.match(r.errors[0]!.message, /no policy for this purpose/);
    assert.ok(b.archive.get(odd));
  });
});

test('two runs at once share one pass; start() runs at once and stop() waits for it', async () => {
  await withBox(async (b) => {
    const ids = [await keep(b.archive, ['training'], T0 - 200 * DAY_MS), await keep(b.archive, ['training'], T0 - 300 * DAY_MS)];
    let lists = 0;
    const shreds: string[] = [];
    const archive: RetentionDeps['archive'] = {
      list: () => { lists++; return b.archive.list(); },
      get: (id) => b.archive.get(id),
      shred: (id) => { shreds.push(id); return b.archive.shred(id); },
    };
    const s = schedulerOf(b, { archive });
    const [x, y] = await Promise.all([s.runOnce(), s.runOnce()]);
    assert.equal(x, y);
    assert.equal(lists, 1);
    assert.deepEqual(shreds.sort(), [...ids].sort());

    const later = await keep(b.archive, ['complaint'], T0 - 100 * DAY_MS);
    s.start();
    s.start(); // a second start must not add a second timer or run
    await s.stop();
    assert.equal(lists, 2);
    assert.equal(b.archive.get(later), undefined);
    assert.equal((await b.audit.verify()).ok, true);
    assert.equal((await b.audit.readAll()).length, 3);
  });
});

test('the timer runs again every interval and stops on stop()', async () => {
  await withBox(async (b) => {
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      let lists = 0;
      const archive: RetentionDeps['archive'] = { list: () => { lists++; return []; }, get: () => undefined, shred: () => Promise.resolve() };
      const s = schedulerOf(b, { archive, intervalMs: 60_000 });
      s.start();
      await new Promise((r) => setImmediate(r));
      assert.equal(lists, 1);
      mock.timers.tick(60_000);
      await new Promise((r) => setImmediate(r));
      assert.equal(lists, 2);
      await s.stop();
      mock.timers.tick(600_000);
      await new Promise((r) => setImmediate(r));
      assert.equal(lists, 2);
    } finally {
      mock.timers.reset();
    }
  });
});

test('an interval below one second is refused', () => {
  const fake = {} as RetentionDeps;
  assert.throws(() => new RetentionScheduler({ ...fake, intervalMs: 10 }), { code: 'RV_ERR_RETENTION' });
});
