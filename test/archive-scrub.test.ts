// Header rewrites leave no copy of a call's wrapped key: the replaced version is overwritten in place, and leftovers
// of a rewrite cut short by a power cut are scrubbed at open(), except a link that is still the live header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, link, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from '../src/vault/vault.ts';
import { Archive } from '../src/archive/archive.ts';
import { replaceHeaderFile } from '../src/archive/scrub.ts';

const PASS = 'scrub test passphrase';
const KEY = /"wrappedKey":"([A-Za-z0-9+/=]+)"/;

test('a rewritten header leaves its earlier version scrubbed; power-cut leftovers are scrubbed unless live', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'rv-scrub-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const vaultDir = join(root, 'vault');
  await new Vault(vaultDir).init('admin', PASS);
  const vault = new Vault(vaultDir);
  await vault.unlock(PASS);
  const dir = join(root, 'archive');
  const a = new Archive({ dir, vault });
  await a.open();
  const w = await a.beginCall({ line: 'l1', startedAt: Date.now(), channels: 1, meta: { caller: '+31201234567' }, purposes: ['training'], keptBy: 'button', clockSynced: true });
  await w.append({ at: Date.now(), pcm: Buffer.alloc(1600, 1) });
  const { id } = await w.finish();
  const month = join(dir, `${id.slice(0, 4)}-${id.slice(4, 6)}`);
  const header = join(month, `${id}.json`);
  const key = KEY.exec(await readFile(header, 'utf8'))![1]!;

  // A normal rewrite: the version it replaced (kept reachable here by a link) no longer holds the key.
  const v1 = join(root, 'v1');
  await link(header, v1);
  await a.updateHeader(id, { restricted: true });
  assert.ok(!(await readFile(v1, 'utf8')).includes(key), 'the replaced version was scrubbed in place');
  assert.ok((await readFile(header, 'utf8')).includes(key), 'the live header keeps it');
  assert.deepEqual((await readdir(month)).filter((n) => n.endsWith('.tmp')), [], 'no temp file is left');

  // A power cut before the swap: the temp link is the live header itself and must stay whole.
  await link(header, `${header}.0badc0de.tmp`);
  // A power cut after the swap: the replaced version waits under a temp name, unscrubbed.
  const stale = `${header}.deadbeef.tmp`;
  await copyFile(header, stale);
  const staleSeen = join(root, 'stale');
  await link(stale, staleSeen);
  const b = new Archive({ dir, vault });
  await b.open();
  assert.deepEqual((await readdir(month)).filter((n) => n.endsWith('.tmp')), [], 'leftovers removed at open()');
  assert.ok(!(await readFile(staleSeen, 'utf8')).includes(key), 'the stale copy was scrubbed before removal');
  assert.ok((await readFile(header, 'utf8')).includes(key), 'the live header was not touched');
  assert.equal((await b.meta(id)).caller, '+31201234567', 'the call still opens');

  // replaceHeaderFile on a file that does not exist yet just writes it.
  const fresh = join(root, 'fresh.json');
  await replaceHeaderFile(fresh, '{"wrappedKey":"QUJD"}\n');
  assert.equal(await readFile(fresh, 'utf8'), '{"wrappedKey":"QUJD"}\n');
});
