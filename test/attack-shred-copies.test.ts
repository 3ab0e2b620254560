// Attack (issue 10, item 15): a thief with the SD card reads a deleted call's wrapped data key from an earlier copy
// of its header. Every header rewrite (metadata while live, holds, release) renames a new file over the old one; the
// old version's blocks stay on the card with the key in them. Here the attacker keeps a hard link to every version
// of the call's header files the running appliance writes (standing for those freed blocks), then deletes the call
// over HTTP and greps the raw bytes of a copy of the data folder and of every kept version for the wrapped key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, link, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, keepSimCall, logIn, setUpBox, startAppliance } from './helpers/appliance.ts';
import { until } from './helpers/until.ts';

const PASS = 'correct horse battery staple';

/** Every file under `dir`, as raw bytes. */
async function allBytes(dir: string): Promise<Buffer> {
  const names = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  return Buffer.concat(await Promise.all(names.map((e) => readFile(join(e.parentPath, e.name)).catch(() => Buffer.alloc(0)))));
}

test('after a delete no version of the call header ever written still holds its wrapped key', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'rv-attack-shred-'));
  const dataDir = join(root, 'data');
  const evidence = join(root, 'evidence');
  await mkdir(evidence);
  const box = await startAppliance(dataDir, ['--sim-speed', '1']);
  let watching = true;
  t.after(async () => { watching = false; await box.stop(); await rm(root, { recursive: true, force: true }); });
  const admin = await setUpBox(box.url, 'admin', PASS);
  await addUsers(admin, [['mia', 'manager']]);

  // The attacker's view of the card: one hard link per header inode ever seen, and the wrapped keys read from them.
  const inodes = new Map<number, string>();
  const keys = new Set<string>();
  const archive = join(dataDir, 'archive');
  const watch = (async () => {
    while (watching) {
      const months = await readdir(archive).catch(() => [] as string[]);
      for (const m of months.filter((x) => /^\d{4}-\d{2}$/.test(x))) {
        for (const name of await readdir(join(archive, m)).catch(() => [] as string[])) {
          if (!name.endsWith('.json')) continue;
          const p = join(archive, m, name);
          const st = await stat(p).catch(() => undefined);
          if (!st || inodes.has(st.ino)) continue;
          const kept = join(evidence, `${st.ino}-${name}`);
          if (!(await link(p, kept).then(() => true, () => false))) continue;
          inodes.set(st.ino, name);
          const key = /"wrappedKey":"([A-Za-z0-9+/=]+)"/.exec(await readFile(kept, 'utf8'))?.[1];
          if (key && !/^A+=*$/.test(key)) keys.add(key);
        }
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const versionsOf = (id: string) => [...inodes.values()].filter((n) => n === `${id}.json`).length;

  // Keyed digits make the live call's open header be rewritten with new metadata.
  const id = await keepSimCall(admin, ['complaint'], { caller: '+31201234567', digits: '1234', durationSec: 3 });
  await until(() => versionsOf(id) >= 1, 'the first final header version');
  const hold = (await admin.json('POST', '/api/holds', { kind: 'call', callId: id, reason: 'Dispute', caseRef: 'C-15' })).hold;
  await until(() => versionsOf(id) >= 2, 'the header rewritten with the hold');
  const mia = await logIn(box.url, 'mia');
  await mia.json('POST', `/api/holds/${hold.id}/propose-release`);
  await admin.json('POST', `/api/holds/${hold.id}/confirm-release`);
  await until(() => versionsOf(id) >= 3, 'the header rewritten without the hold');
  const del = await admin.request('DELETE', `/api/calls/${id}`);
  assert.equal(del.status, 200, await del.text());
  watching = false;
  await watch;
  await box.stop();

  assert.equal(keys.size, 1, 'every version carried the same wrapped key, and the attacker read it while the call lived');
  assert.ok(versionsOf(id) >= 3, `three header versions kept by the attacker (${versionsOf(id)})`);
  const [key] = [...keys];
  const copy = join(root, 'copy');
  await cp(dataDir, copy, { recursive: true });
  const raw = Buffer.concat([await allBytes(copy), await allBytes(evidence)]);
  assert.ok(!raw.includes(Buffer.from(key!, 'latin1')), 'the wrapped key (base64) is in no file and no earlier version');
  assert.ok(!raw.includes(Buffer.from(key!, 'base64')), 'nor as raw bytes');
  // The versions the attacker kept are still there, only scrubbed: the box overwrote them in place.
  for (const f of await readdir(evidence)) assert.match(await readFile(join(evidence, f), 'utf8'), /"wrappedKey":"A+=*"/, f);
});
