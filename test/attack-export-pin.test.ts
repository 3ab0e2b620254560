// Attack (issue 10, item 10): someone alters a recording in an export bundle and re-signs the manifest
// with their own key. The key inside the bundle then "verifies" it; pinning the box (its id or key
// fingerprint, from the box's About page) is what exposes the forgery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { keepSimCall, ROOT, setUpBox, startAppliance } from './helpers/appliance.ts';

const PASS = 'correct horse battery staple';
const CUSTOMER = '0612345678';

const verify = (args: string[]) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/ringvault.js'), 'verify-export', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout + r.stderr };
};
const run = (cmd: string, args: string[], cwd: string) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
};

test('a bundle re-signed with another key passes only without a pin; --key / --box-id from the About page name it', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-pin-'));
  const app = await startAppliance(join(dir, 'data'), ['--sim-speed', '4']);
  t.after(async () => { await app.stop(); await rm(dir, { recursive: true, force: true }); });
  const admin = await setUpBox(app.url, 'admin', PASS);
  await keepSimCall(admin, ['complaint'], { caller: CUSTOMER });
  const about = await admin.json('GET', '/api/about');
  assert.match(about.boxId, /^[0-9a-f]{16}$/);
  assert.match(about.keyFingerprint, /^([0-9a-f]{4} ){15}[0-9a-f]{4}$/);
  assert.ok(about.keyFingerprint.replaceAll(' ', '').startsWith(about.boxId), 'the box id is the start of the fingerprint');

  const { request } = await admin.json('POST', '/api/requests', { kind: 'access', received: new Date().toISOString().slice(0, 10), numbers: [CUSTOMER] });
  let { job } = await admin.json('POST', `/api/requests/${request.id}/act`, { lang: 'en' });
  job = await admin.until(async () => { const j = (await admin.json('GET', `/api/exports/${job.id}`)).job; return j.state !== 'running' && j; }, 'the export job', 60_000);
  assert.equal(job.state, 'done');
  const genuine = join(dir, 'genuine.zip');
  await writeFile(genuine, Buffer.from(await (await admin.request('GET', `/api/exports/${job.id}/download`)).arrayBuffer()));

  // The genuine bundle: fine with a pin, and the README tells the recipient where to compare.
  const ok = verify([genuine, '--key', about.keyFingerprint]);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, new RegExp(`Signing key \\(SHA-256\\): ${about.keyFingerprint}`));
  assert.match(ok.out, /the box you named/);
  assert.equal(verify([genuine, '--box-id', about.boxId.toUpperCase()]).code, 0);
  const x = join(dir, 'x');
  run('unzip', ['-q', genuine, '-d', x], dir);
  const readme = await readFile(join(x, 'README.txt'), 'utf8');
  assert.match(readme, /About/);
  assert.ok(readme.includes(about.keyFingerprint), 'the README names the fingerprint to compare');

  // The forger: changes a recording, recomputes the manifest, signs with their own key.
  const manifest = JSON.parse(await readFile(join(x, 'manifest.json'), 'utf8'));
  const wav = manifest.files.find((f: any) => f.name.endsWith('.wav'));
  const bytes = await readFile(join(x, wav.name));
  bytes[bytes.length - 1] ^= 0x55;
  await writeFile(join(x, wav.name), bytes);
  wav.sha256 = createHash('sha256').update(bytes).digest('hex');
  const forger = nacl.sign.keyPair();
  manifest.signing.publicKey = Buffer.from(forger.publicKey).toString('base64');
  manifest.boxId = createHash('sha256').update(forger.publicKey).digest('hex').slice(0, 16);
  const mBytes = Buffer.from(JSON.stringify(manifest, null, 2));
  await writeFile(join(x, 'manifest.json'), mBytes);
  await writeFile(join(x, 'manifest.sig'), nacl.sign.detached(mBytes, forger.secretKey));
  const forged = join(dir, 'forged.zip');
  run('zip', ['-q', '-X', '-D', '-r', forged, '.'], x);

  const unpinned = verify([forged]);
  assert.equal(unpinned.code, 0, `without a pin the forger's own key "verifies" it (the hole a pin closes):\n${unpinned.out}`);
  assert.match(unpinned.out, /checked with the key inside the bundle/);
  assert.doesNotMatch(unpinned.out, new RegExp(about.keyFingerprint), 'the printed fingerprint differs from the About page');
  for (const pin of [['--key', about.keyFingerprint], ['--box-id', about.boxId]]) {
    const r = verify([forged, ...pin]);
    assert.equal(r.code, 5, r.out);
    assert.match(r.out, /NOT-PINNED-BOX.*not made by that box/);
  }
});
