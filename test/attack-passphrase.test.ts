// Attack (issue 10, item 5): a thief with a copy of the data folder looks for the cheapest way to test
// passphrase guesses; a LAN user tries weak passphrases; a colleague keeps a session open after the
// owner changed the passphrase. All against the real running appliance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scrypt } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, Client, logIn, setUpBox, startAppliance } from './helpers/appliance.ts';
import { verifierParams } from '../src/http/passwords.ts';

const PASS = 'correct horse battery staple';

/** What a thief reads: every login verifier in settings.json and every keyslot, with its scrypt cost (N·r·p). */
async function oracles(data: string) {
  const settings = JSON.parse(await readFile(join(data, 'settings.json'), 'utf8'));
  const verifiers = (settings.users as { name: string; passHash: string }[]).map((u) => {
    const v = verifierParams(u.passHash);
    assert.ok(v, `${u.name}: a verifier the box can read`);
    return { user: u.name, cost: v.N * v.r * v.p, salt: v.salt, raw: u.passHash };
  });
  const dir = join(data, 'vault', 'keyslots');
  const slots = [];
  for (const f of await readdir(dir)) {
    const s = JSON.parse(await readFile(join(dir, f), 'utf8'));
    if (s.kind === 'passphrase') slots.push({ user: s.user as string, cost: s.kdf.N * s.kdf.r * s.kdf.p, salt: s.kdf.salt as string });
  }
  return { verifiers, slots };
}

test('thief: no login verifier in settings.json is cheaper to attack than a keyslot; an old cheap verifier is replaced at the next login', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-pass-'));
  const data = join(dir, 'data');
  let app = await startAppliance(data);
  t.after(async () => { await app.stop(); await rm(dir, { recursive: true, force: true }); });
  const admin = await setUpBox(app.url, 'admin', PASS);
  await addUsers(admin, [['mia', 'manager'], ['sam', 'staff', '201']]);

  const o = await oracles(data);
  assert.equal(o.verifiers.length, 3);
  assert.equal(o.slots.length, 2, 'admin and mia have keyslots; staff do not');
  const cheapestSlot = Math.min(...o.slots.map((s) => s.cost));
  for (const v of o.verifiers) assert.ok(v.cost >= cheapestSlot, `${v.user}: verifier cost ${v.cost} < keyslot cost ${cheapestSlot}`);
  // Where a user has a keyslot, the verifier is the other half of the slot's own KDF run: same salt.
  for (const s of o.slots) assert.equal(o.verifiers.find((v) => v.user === s.user)?.salt, s.salt, `${s.user}: verifier and slot share one KDF run`);

  // A box from before the fix: mia's verifier is scrypt N=2^14, half a keyslot's cost.
  await app.stop();
  const settings = JSON.parse(await readFile(join(data, 'settings.json'), 'utf8'));
  const salt = Buffer.from('0123456789abcdef');
  const legacy = await new Promise<Buffer>((res, rej) => scrypt('mia-passphrase', salt, 32, { N: 1 << 14, r: 8, p: 1, maxmem: 64 << 20 }, (e, k) => (e ? rej(e) : res(k))));
  settings.users.find((u: any) => u.name === 'mia').passHash = `scrypt$16384$${salt.toString('base64')}$${legacy.toString('base64')}`;
  await writeFile(join(data, 'settings.json'), JSON.stringify(settings, null, 2));
  app = await startAppliance(data);
  await logIn(app.url, 'mia');
  const after = await oracles(data);
  assert.doesNotMatch(await readFile(join(data, 'settings.json'), 'utf8'), /scrypt\$16384\$/, 'the cheap verifier is gone after the login');
  const mia = after.verifiers.find((v) => v.user === 'mia')!;
  assert.ok(mia.cost >= cheapestSlot);
  assert.equal(mia.salt, after.slots.find((s) => s.user === 'mia')!.salt, 'the new verifier comes from mia\'s keyslot run');
  await logIn(app.url, 'mia');
});

test('LAN user: weak passphrases are refused with a reason in English and Dutch, and change nothing', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-weak-'));
  const data = join(dir, 'data');
  const app = await startAppliance(data);
  t.after(async () => { await app.stop(); await rm(dir, { recursive: true, force: true }); });

  const setup = new Client(app.url);
  await setup.state();
  const weakSetup = await setup.request('POST', '/api/setup', { username: 'admin', passphrase: 'Welkom2024!', claimCode: app.claimCode() });
  const ws = await weakSetup.json();
  assert.equal(weakSetup.status, 422, JSON.stringify(ws));
  assert.equal(ws.error.code, 'RV_ERR_WEAK_PASSPHRASE');
  assert.match(ws.error.message, /too easy to guess/);
  assert.match(ws.error.localized.nl, /te makkelijk te raden/);
  assert.equal((await setup.state()).initialized, false);

  const admin = await setUpBox(app.url, 'admin', PASS);
  const slotsBefore = (await readdir(join(data, 'vault', 'keyslots'))).sort();
  for (const weak of ['password1', 'wachtwoord123', 'ringvault2026', 'mia-mia-mia', 'qwertyuiop']) {
    const r = await admin.request('POST', '/api/users', { username: 'mia', passphrase: weak, role: 'manager' });
    const j = await r.json();
    assert.equal(r.status, 422, `${weak}: ${JSON.stringify(j)}`);
    assert.equal(j.error.code, 'RV_ERR_WEAK_PASSPHRASE');
  }
  assert.deepEqual((await admin.json('GET', '/api/users')).users.map((u: any) => u.name), ['admin'], 'no user was added');
  assert.deepEqual((await readdir(join(data, 'vault', 'keyslots'))).sort(), slotsBefore, 'no keyslot was written');
  const weakChange = await admin.request('POST', '/api/me/passphrase', { current: PASS, next: 'zomer2024' });
  assert.equal(weakChange.status, 422);
  await logIn(app.url, 'admin', PASS);
});

test('colleague: after a passphrase change the user\'s other sessions end, the old passphrase neither logs in nor unlocks, the new one does both', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-change-'));
  const data = join(dir, 'data');
  // Every client here comes from 127.0.0.1; the default 5 logins a minute would stop this test, not an attacker.
  await writeFile(join(dir, 'config.json'), JSON.stringify({ http: { loginsPerMinute: 30 } }));
  const app = await startAppliance(data, ['--config', join(dir, 'config.json')]);
  t.after(async () => { await app.stop(); await rm(dir, { recursive: true, force: true }); });
  const admin = await setUpBox(app.url, 'admin', PASS);
  await addUsers(admin, [['mia', 'manager'], ['sam', 'staff', '201']]);
  const NEW = 'lantaarn fietsbel koffie zeilboot';

  const here = await logIn(app.url, 'mia');
  const elsewhere = await logIn(app.url, 'mia');
  assert.equal((await elsewhere.request('GET', '/api/lines')).status, 200);
  const wrong = await here.request('POST', '/api/me/passphrase', { current: 'not my passphrase', next: NEW });
  assert.equal(wrong.status, 401);
  assert.equal((await elsewhere.request('GET', '/api/lines')).status, 200, 'a failed change ends nothing');
  await here.json('POST', '/api/me/passphrase', { current: 'mia-passphrase', next: NEW });
  assert.equal((await elsewhere.request('GET', '/api/lines')).status, 401, 'the other session ended');
  assert.equal((await here.request('GET', '/api/lines')).status, 200, 'the session that changed it goes on');
  assert.equal((await admin.request('GET', '/api/lines')).status, 200, 'other users are untouched');

  const old = new Client(app.url);
  await old.state();
  assert.equal((await old.request('POST', '/api/login', { username: 'mia', passphrase: 'mia-passphrase' })).status, 401);
  // The keyslot was rewrapped: with the vault locked, only the new passphrase opens it.
  await admin.json('POST', '/api/lock', {});
  assert.equal((await here.request('POST', '/api/unlock', { secret: 'mia-passphrase' })).status, 401);
  assert.equal((await here.json('POST', '/api/unlock', { secret: NEW })).via, 'passphrase');
  await logIn(app.url, 'mia', NEW);

  // Staff have no keyslot; their change works the same way.
  const sam = await logIn(app.url, 'sam');
  await sam.json('POST', '/api/me/passphrase', { current: 'sam-passphrase', next: 'regenjas paraplu tulpenveld molen' });
  await logIn(app.url, 'sam', 'regenjas paraplu tulpenveld molen');
  const audit = (await admin.json('GET', '/api/audit?limit=100')).entries;
  assert.equal(audit.filter((e: any) => e.action === 'user.passphrase.change').length, 2);
  assert.equal(audit.filter((e: any) => e.action === 'user.passphrase.change.failed').length, 1);
});
