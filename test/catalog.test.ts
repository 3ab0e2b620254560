// Catalog search over real archived calls: numbers in any notation, partial numbers, extension,
// line and date filters, order, refresh and forget, and nothing personal while locked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Archive, type CallMeta } from '../src/archive/archive.ts';
import { Catalog } from '../src/calls/catalog.ts';
import { Vault } from '../src/vault/vault.ts';

const PASS = 'catalog passphrase';
const T0 = Date.UTC(2026, 10, 2, 9);

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'rv-catalog-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const vault = new Vault(join(dir, 'vault'));
  await vault.init('admin', PASS);
  const archive = new Archive({ dir: join(dir, 'archive'), vault });
  await archive.open();
  const keep = async (line: string, minutes: number, meta: CallMeta): Promise<string> => {
    const startedAt = T0 + minutes * 60_000;
    const w = await archive.beginCall({ line, startedAt, channels: 1, meta, purposes: ['training'], keptBy: 'button', clockSynced: true });
    await w.append({ at: startedAt, pcm: Buffer.alloc(1600) });
    return (await w.finish()).id;
  };
  return { vault, archive, catalog: new Catalog(archive), keep };
}

test('search finds a number in any notation and by part, filters by extension, line and date, newest first', async (t) => {
  const { archive, catalog, keep } = await setup(t);
  const a = await keep('line1', 0, { direction: 'in', caller: '+31612345678', called: '+31201234500', extension: '201' });
  const b = await keep('line1', 10, { direction: 'out', caller: '+31201234500', called: '0612345678', extension: '202' });
  const c = await keep('line2', 20, { direction: 'in', caller: '0031612345678', called: '+31201234500', extension: '201' });
  const d = await keep('line2', 30, { direction: 'in', caller: 'withheld', called: '+31201234500', extension: '203' });
  await catalog.unlock();
  const ids = (q: Parameters<Catalog['search']>[0]) => catalog.search(q).map((s) => s.id);

  const table: [string, Parameters<Catalog['search']>[0], string[]][] = [
    ['international', { number: '+31612345678' }, [c, b, a]],
    ['national', { number: '06-1234 5678' }, [c, b, a]],
    ['00 prefix', { number: '0031612345678' }, [c, b, a]],
    ['part of a number', { number: '4567' }, [c, b, a]],
    ['the office number', { number: '+31201234500' }, [d, c, b, a]],
    ['unknown number', { number: '+31699999999' }, []],
    ['three digits are too few for a partial match', { number: '123' }, []],
    ['extension', { extension: '201' }, [c, a]],
    ['number and extension', { number: '+31612345678', extension: '202' }, [b]],
    ['line', { line: 'line2' }, [d, c]],
    ['date range', { from: T0 + 5 * 60_000, to: T0 + 25 * 60_000 }, [c, b]],
    ['everything', {}, [d, c, b, a]],
  ];
  for (const [what, q, want] of table) assert.deepEqual(ids(q), want, what);
  assert.equal(catalog.search({ number: '0612345678' })[0]!.caller, '0031612345678', 'summaries carry the sealed fields');
  assert.equal(archive.list().length, 4);
});

test('refresh re-indexes changed metadata, forget drops a call, lock forgets every personal field', async (t) => {
  const { archive, catalog, keep } = await setup(t);
  const a = await keep('line1', 0, { direction: 'in', caller: '+31612345678', extension: '201' });
  await catalog.unlock();
  await archive.updateHeader(a, { meta: { direction: 'in', caller: '+31687654321', extension: '207' } });
  await catalog.refresh(a);
  assert.deepEqual(catalog.search({ number: '+31612345678' }), [], 'the old number no longer finds it');
  assert.deepEqual(catalog.search({ extension: '201' }), []);
  assert.deepEqual(catalog.search({ number: '0687654321' }).map((s) => s.id), [a]);
  assert.deepEqual(catalog.search({ extension: '207' }).map((s) => s.id), [a]);

  const b = await keep('line1', 5, { direction: 'in', caller: '+31687654321' });
  await catalog.refresh(b);
  assert.deepEqual(catalog.search({ number: '+31687654321' }).map((s) => s.id), [b, a], 'a call kept while unlocked is indexed');
  catalog.forget(b);
  await archive.shred(b);
  assert.deepEqual(catalog.search({ number: '+31687654321' }).map((s) => s.id), [a]);

  catalog.lock();
  assert.deepEqual(catalog.search({ number: '+31687654321' }), [], 'no number search while locked');
  const [s] = catalog.search({});
  assert.equal(s!.id, a);
  assert.equal(s!.caller, undefined, 'no personal field while locked');
});
