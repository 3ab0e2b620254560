import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import nacl from 'tweetnacl';
import { Vault } from '../src/vault/vault.ts';
import { parseRecoveryKey } from '../src/vault/recovery-key.ts';

const PASS = 'correct horse battery';

async function withVault(fn: (dir: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'rv-vault-'));
  try {
    await fn(join(root, 'vault'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.set(relative(dir, join(e.parentPath, e.name)), await readFile(join(e.parentPath, e.name)));
  }
  return out;
}

const rejectsWith = (p: Promise<unknown>, code: string, status?: number): Promise<void> =>
  assert.rejects(p, (e: { code?: string; status?: number }) => e.code === code && (status === undefined || e.status === status));

test('init prints a well-formed recovery key, leaves the vault unlocked, and refuses a second init', async () => {
  await withVault(async (dir) => {
    const v = new Vault(dir);
    assert.equal(await v.isInitialized(), false);
    await rejectsWith(v.init('admin', 'short'), 'RV_ERR_WEAK_PASSPHRASE');
    assert.equal(await v.isInitialized(), false);
    const { recoveryKey } = await v.init('admin', PASS);
    assert.match(recoveryKey, /^RV1(-[0-9A-HJKMNP-TV-Z]{4}){14}$/);
    assert.equal(v.unlocked, true);
    assert.equal(await v.isInitialized(), true);
    assert.equal((await v.boxPublicKey()).length, 32);
    await rejectsWith(v.init('admin', PASS), 'RV_ERR_VAULT_EXISTS', 409);
    await rejectsWith(new Vault(dir).init('other', PASS), 'RV_ERR_VAULT_EXISTS', 409);
    assert.equal((await stat(join(dir, 'sign.key'))).mode & 0o777, 0o600);
    // The archive secret key must not sit anywhere in the folder unwrapped; only the public key is in the clear.
    const files = [...(await snapshot(dir)).values()];
    const pub = Buffer.from(await v.boxPublicKey()).toString('base64');
    assert.ok(files.some((b) => b.toString().includes(pub)));
  });
});

test('unlock by passphrase, by recovery key (also lowercase with spaces), and a wrong secret changes nothing', async () => {
  await withVault(async (dir) => {
    const { recoveryKey } = await new Vault(dir).init('admin', PASS);
    const v = new Vault(dir);
    assert.equal(v.unlocked, false);
    assert.deepEqual(await v.unlock(PASS), { via: 'passphrase', user: 'admin' });
    assert.equal(v.unlocked, true);

    const r = new Vault(dir);
    assert.deepEqual(await r.unlock(recoveryKey), { via: 'recovery' });
    const sloppy = recoveryKey.toLowerCase().replace(/-/g, (_, i: number) => (i % 3 === 0 ? ' ' : i % 3 === 1 ? '' : '  -'));
    assert.notEqual(sloppy, recoveryKey);
    const r2 = new Vault(dir);
    assert.deepEqual(await r2.unlock(` ${sloppy} `), { via: 'recovery' });
    const noPrefix = new Vault(dir);
    assert.deepEqual(await noPrefix.unlock(recoveryKey.slice(4).replace(/-/g, ' ').toLowerCase()), { via: 'recovery' });

    const before = await snapshot(dir);
    const w = new Vault(dir);
    await rejectsWith(w.unlock('not the passphrase'), 'RV_ERR_WRONG_PASSPHRASE', 401);
    assert.equal(w.unlocked, false);
    await assert.rejects(w.epochKey((await w.newEpoch()).id), { code: 'RV_ERR_VAULT_LOCKED' });
    // A one-character typo in the recovery key is caught by its check characters.
    const last = recoveryKey.at(-1) === '0' ? '1' : '0';
    const typo = recoveryKey.slice(0, -1) + last;
    assert.equal(parseRecoveryKey(typo).ok, false);
    await assert.rejects(w.unlock(typo), (e: { code?: string; message: string }) => e.code === 'RV_ERR_WRONG_PASSPHRASE' && /typo/.test(e.message));
    assert.equal(w.unlocked, false);
    // An unlocked vault stays unlocked (with the same key) after a wrong attempt.
    await rejectsWith(v.unlock('wrong wrong wrong'), 'RV_ERR_WRONG_PASSPHRASE');
    assert.equal(v.unlocked, true);
    const after = await snapshot(dir);
    // The epoch made above is the only change; every other file is byte-identical.
    for (const [name, bytes] of before) assert.deepEqual(after.get(name), bytes, name);
    assert.deepEqual([...after.keys()].filter((k) => !before.has(k)).map((k) => k.split('/')[0]), ['epochs']);
  });
});

test('a second user keyslot opens the vault; removing it stops that, and the last slot cannot be removed', async () => {
  await withVault(async (dir) => {
    const v = new Vault(dir);
    await v.init('admin', PASS);
    assert.equal(await v.hasKeyslot('admin'), true);
    assert.equal(await v.hasKeyslot('bob'), false);
    // A temp slot file left by a power cut is swept at the next keyslot change.
    const stale = join(dir, 'keyslots', 'user-0123.json.0a0b0c0d.tmp');
    await writeFile(stale, '{}');
    await v.addKeyslot('bob', 'bobs own passphrase');
    assert.equal(await v.hasKeyslot('bob'), true);
    await assert.rejects(stat(stale), { code: 'ENOENT' });
    assert.deepEqual(await new Vault(dir).unlock('bobs own passphrase'), { via: 'passphrase', user: 'bob' });
    // Replacing bob's slot retires his old passphrase.
    await v.addKeyslot('bob', 'bobs new passphrase');
    await rejectsWith(new Vault(dir).unlock('bobs own passphrase'), 'RV_ERR_WRONG_PASSPHRASE');
    assert.deepEqual(await new Vault(dir).unlock('bobs new passphrase'), { via: 'passphrase', user: 'bob' });

    await v.removeKeyslot('bob');
    assert.equal(await v.hasKeyslot('bob'), false);
    await rejectsWith(new Vault(dir).unlock('bobs new passphrase'), 'RV_ERR_WRONG_PASSPHRASE');
    assert.deepEqual(await new Vault(dir).unlock(PASS), { via: 'passphrase', user: 'admin' });
    await rejectsWith(v.removeKeyslot('admin'), 'RV_ERR_LAST_KEYSLOT', 409);
    assert.equal(await v.hasKeyslot('admin'), true);

    v.lock();
    await rejectsWith(v.addKeyslot('carol', 'carols passphrase'), 'RV_ERR_VAULT_LOCKED', 423);
    await rejectsWith(v.newRecoveryKey(), 'RV_ERR_VAULT_LOCKED', 423);
    assert.equal(await v.hasKeyslot('carol'), false);
  });
});

test('a new recovery key replaces the old one', async () => {
  await withVault(async (dir) => {
    const v = new Vault(dir);
    const { recoveryKey: old } = await v.init('admin', PASS);
    const fresh = await v.newRecoveryKey();
    assert.notEqual(fresh, old);
    await rejectsWith(new Vault(dir).unlock(old), 'RV_ERR_WRONG_PASSPHRASE');
    assert.deepEqual(await new Vault(dir).unlock(fresh), { via: 'recovery' });
  });
});

test('epoch: the shared key made while locked equals epochKey(id) after unlock; lock zeroes handed-out keys', async () => {
  await withVault(async (dir) => {
    await new Vault(dir).init('admin', PASS);
    const box = new Vault(dir);
    const e1 = await box.newEpoch();
    const e2 = await box.newEpoch();
    assert.notEqual(e1.id, e2.id);
    assert.notDeepEqual(e1.sharedKey, e2.sharedKey);
    assert.equal(box.unlocked, false);
    await rejectsWith(box.epochKey(e1.id), 'RV_ERR_VAULT_LOCKED', 423);
    // The epoch public key is durable in the vault folder; the ephemeral secret is not kept anywhere.
    const pub = await readFile(join(dir, 'epochs', `${e1.id}.pub`));
    assert.equal(pub.length, 32);

    const reader = new Vault(dir);
    await reader.unlock(PASS);
    const k1 = await reader.epochKey(e1.id);
    assert.deepEqual(k1, e1.sharedKey);
    assert.deepEqual(await reader.epochKey(e2.id), e2.sharedKey);
    assert.equal(await reader.epochKey(e1.id), k1, 'cached per epoch');
    await rejectsWith(reader.epochKey('20990101T000000-deadbeef'), 'RV_ERR_EPOCH_MISSING');
    await rejectsWith(reader.epochKey('../vault'), 'RV_ERR_EPOCH_MISSING');

    reader.lock();
    assert.equal(reader.unlocked, false);
    assert.ok(k1.every((b) => b === 0), 'lock() zeroes the cached epoch key');
    await rejectsWith(reader.epochKey(e1.id), 'RV_ERR_VAULT_LOCKED', 423);
  });
});

test('sign and verify with the box signing key, also from a fresh Vault object while locked', async () => {
  await withVault(async (dir) => {
    await new Vault(dir).init('admin', PASS);
    const v = new Vault(dir);
    const msg = new TextEncoder().encode('call digest');
    const sig = await v.sign(msg);
    assert.equal(sig.length, 64);
    assert.equal(await v.verify(msg, sig), true);
    assert.equal(nacl.sign.detached.verify(msg, sig, await v.signPublicKey()), true);
    const other = new Uint8Array(msg);
    other[0] ^= 1;
    assert.equal(await v.verify(other, sig), false);
    const bad = new Uint8Array(sig);
    bad[10] ^= 1;
    assert.equal(await new Vault(dir).verify(msg, bad), false);
    assert.equal(await v.verify(msg, sig.subarray(0, 10)), false);
  });
});

test('an uninitialized vault says so instead of failing obscurely', async () => {
  await withVault(async (dir) => {
    const v = new Vault(dir);
    await rejectsWith(v.newEpoch(), 'RV_ERR_VAULT_UNINITIALIZED');
    await rejectsWith(v.unlock(PASS), 'RV_ERR_VAULT_UNINITIALIZED');
    await rejectsWith(v.sign(new Uint8Array(1)), 'RV_ERR_VAULT_UNINITIALIZED');
  });
});
