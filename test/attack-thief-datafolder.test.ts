// Attack (issue 10, items 4 and 13): a thief with a copy of the data folder looks for the staff's
// private numbers (the exclusion list), and a local account tries to read a data folder left 0755.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setUpBox, startAppliance, type Client } from './helpers/appliance.ts';

const PASS = 'correct horse battery staple';
const PRIVATE = ['0612345678', '+31201234567'];
/** Every way a thief might grep for the two numbers. */
const FORMS = ['0612345678', '612345678', '31612345678', '12345678', '0201234567', '31201234567', '201234567', '06-12345678', '06 12345678'];

async function allBytes(dir: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) parts.push(await readFile(join(e.parentPath, e.name)).catch(() => Buffer.alloc(0)));
  }
  return Buffer.concat(parts);
}

function assertNoNumbers(bytes: Buffer, where: string): void {
  for (const f of FORMS) assert.ok(!bytes.includes(Buffer.from(f)), `${where}: "${f}" is readable`);
}

/** Places a sim call from `caller` on line1 and tries to keep it: an excluded number is refused. */
async function tryToKeep(admin: Client, caller: string): Promise<number> {
  await admin.json('POST', '/api/sim/lines/line1/call', { direction: 'in', caller, durationSec: 2 });
  await admin.until(async () => (await admin.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1')?.call, 'a live call on line1');
  const r = await admin.request('POST', '/api/lines/line1/save', {});
  await admin.until(async () => !(await admin.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1')?.call, 'line1 idle again');
  return r.status;
}

test('thief with the data folder: the exclusion list is not readable, yet calls are matched against it while locked; the folder is forced to 0700', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-thief-'));
  const data = join(dir, 'data');
  // Restored carelessly: world-readable.
  await mkdir(data, { mode: 0o755 });
  await chmod(data, 0o755);
  let app = await startAppliance(data, ['--sim-speed', '4']);
  t.after(async () => { await app.stop(); await rm(dir, { recursive: true, force: true }); });
  assert.equal((await stat(data)).mode & 0o777, 0o700, 'the box made its data folder private at start');

  let admin = await setUpBox(app.url, 'admin', PASS);
  await admin.json('PUT', '/api/privacy/settings', { exclusions: PRIVATE });
  assert.deepEqual((await admin.json('GET', '/api/privacy/settings')).settings.exclusions.sort(), [...PRIVATE].sort(), 'an unlocked admin sees the list');

  // Locked, the box still matches (any spelling of the number) and shows nothing.
  await admin.json('POST', '/api/lock', {});
  const locked = (await admin.json('GET', '/api/privacy/settings')).settings;
  assert.deepEqual(locked.exclusions, []);
  assert.equal(locked.exclusionsLocked, true);
  assert.equal(await tryToKeep(admin, '0031612345678'), 409, 'an excluded caller is never kept, however the number is written');
  assert.equal(await tryToKeep(admin, '0687654321'), 200, 'anyone else is');
  // Saving the privacy page while locked leaves the sealed list alone; replacing it is refused.
  await admin.json('PUT', '/api/privacy/settings', { exclusions: [], retention: {} });
  assert.equal((await admin.request('PUT', '/api/privacy/settings', { exclusions: ['0699999999'] })).status, 423);
  await app.stop();

  const copy = join(dir, 'stolen');
  await cp(data, copy, { recursive: true });
  assertNoNumbers(await allBytes(copy), 'stolen data folder');
  const settings = JSON.parse(await readFile(join(copy, 'settings.json'), 'utf8'));
  assert.equal(settings.exclusions.hashes.length, 2, 'two hashed entries');
  assert.equal(settings.exclusions.kdf.name, 'scrypt');

  // A folder from an older version, with the list in the clear, is fixed at the next start.
  settings.overrides.exclusions = ['0612345678'];
  await writeFile(join(data, 'settings.json'), JSON.stringify(settings, null, 2));
  app = await startAppliance(data, ['--sim-speed', '4']);
  assertNoNumbers(await readFile(join(data, 'settings.json')), 'settings.json after the upgrade');
  admin = await (await import('./helpers/appliance.ts')).logIn(app.url, 'admin', PASS);
  await admin.json('POST', '/api/unlock', { secret: PASS });
  assert.deepEqual((await admin.json('GET', '/api/privacy/settings')).settings.exclusions, ['0612345678']);
  assert.equal(await tryToKeep(admin, '0612345678'), 409);
});
