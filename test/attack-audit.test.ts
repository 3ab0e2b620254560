// Attack (issue 10, item 9): strangers write into the audit log, and someone with a copy of the data
// folder (or of an exported log) cuts its tail or rewrites the chain with recomputed hashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { Client, ROOT, setUpBox, startAppliance } from './helpers/appliance.ts';

const PASS = 'correct horse battery staple';
const TYPED_SECRET = 'my-own-Secret-passphrase-typed-in-the-name-field';

const verifyAudit = (args: string[]) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/ringvault.js'), 'verify-audit', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout + r.stderr };
};

/** What an attacker who knows the format does: recompute every hash from entry `from` on, so the bare chain verifies. */
function rechain(lines: string[], from: number): string[] {
  const out = lines.map((l) => JSON.parse(l));
  for (let i = from; i < out.length; i++) {
    const e = out[i];
    e.prev = i === 0 ? '0'.repeat(64) : out[i - 1].hash;
    e.hash = createHash('sha256').update(JSON.stringify([e.seq, e.at, e.actor, e.action, e.target ?? null, e.detail ?? null, e.prev])).digest('hex');
  }
  return out.map((e) => JSON.stringify(e));
}

test('audit log: strangers are marked, limited and never have what they typed stored; a cut tail and a rewritten chain are named', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-audit-'));
  const data = join(dir, 'data');
  // A lenient HTTP limit, so the audit log's own limit for strangers is what is tested.
  await writeFile(join(dir, 'config.json'), JSON.stringify({ http: { loginsPerMinute: 100 } }));
  const app = await startAppliance(data, ['--config', join(dir, 'config.json')]);
  t.after(async () => { await app.stop(); await rm(dir, { recursive: true, force: true }); });
  const admin = await setUpBox(app.url, 'admin', PASS);

  const stranger = new Client(app.url);
  await stranger.state();
  assert.equal((await stranger.request('POST', '/api/login', { username: TYPED_SECRET, passphrase: 'x' })).status, 401);
  assert.equal((await stranger.request('POST', '/api/login', { username: 'admin', passphrase: 'guess one' })).status, 401);
  for (let i = 0; i < 10; i++) await stranger.request('POST', '/api/login', { username: `flood-${i}`, passphrase: 'x' });

  const log = await readFile(join(data, 'audit.log'), 'utf8');
  assert.ok(!log.includes(TYPED_SECRET), 'what was typed as a user name is not in the log');
  assert.ok(!log.includes('flood-'), 'nor any other unknown name');
  const failed = log.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.action === 'login.failed');
  assert.equal(failed.length, 10, 'a stranger\'s address gets at most 10 entries an hour');
  for (const e of failed) { assert.equal(e.actor, 'stranger'); assert.equal(e.detail.from, '127.0.0.1'); }
  assert.deepEqual(failed.map((e) => e.detail.userExists).slice(0, 2), [false, true]);
  assert.equal(failed[1].target, 'admin', 'a real user name is named: it is no secret');

  // The admin takes the log off the box: that anchors the chain (a signed checkpoint) first.
  const exported = await admin.request('GET', '/api/audit/export');
  assert.equal(exported.headers.get('x-audit-chain'), 'intact');
  const copyText = await exported.text();
  assert.match(copyText, /"action":"audit\.checkpoint"/);
  const { keyFingerprint } = await admin.json('GET', '/api/about');
  await admin.json('POST', '/api/logout', {});
  await app.stop();

  const intact = verifyAudit(['--data', data]);
  assert.equal(intact.code, 0, intact.out);
  assert.match(intact.out, /chain intact/);
  assert.match(intact.out, /signatures valid/);

  // 1. Cut tail: the last entries (logout, the stop's checkpoint…) removed from a copy of the folder.
  const lines = (await readFile(join(data, 'audit.log'), 'utf8')).trim().split('\n');
  const cut = join(dir, 'cut');
  await cp(data, cut, { recursive: true });
  await writeFile(join(cut, 'audit.log'), lines.slice(0, -3).join('\n') + '\n');
  const c = verifyAudit(['--data', cut]);
  assert.equal(c.code, 4, c.out);
  assert.match(c.out, /missing: the log was cut after entry/);

  // 2. Rewritten chain: entry 3 edited and every hash after it recomputed.
  const rw = join(dir, 'rewritten');
  await cp(data, rw, { recursive: true });
  const edited = [...lines];
  edited[2] = edited[2]!.replace('"actor":"stranger"', '"actor":"admin"');
  assert.notEqual(edited[2], lines[2]);
  await writeFile(join(rw, 'audit.log'), rechain(edited, 2).join('\n') + '\n');
  const r = verifyAudit(['--data', rw]);
  assert.equal(r.code, 4, r.out);
  assert.match(r.out, /does not match the checkpoint .*rewritten/);

  // 3. Rewritten, and the checkpoints re-signed with the attacker's own key (they lack the box's).
  const forger = nacl.sign.keyPair();
  const reSigned = rechain(edited, 2).map((l) => JSON.parse(l));
  const fake = join(dir, 'forged');
  await cp(data, fake, { recursive: true });
  const sigOf = (count: number, head: string, at: number) => Buffer.from(nacl.sign.detached(new TextEncoder().encode(`ringvault-audit-checkpoint/1\n${count}\n${head}\n${at}`), forger.secretKey)).toString('base64');
  const cps = (await readFile(join(data, 'audit.log.checkpoints'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    .map((k) => ({ ...k, head: reSigned[k.count - 1].hash, sig: sigOf(k.count, reSigned[k.count - 1].hash, k.at) }));
  await writeFile(join(fake, 'audit.log.checkpoints'), cps.map((k) => JSON.stringify(k)).join('\n') + '\n');
  await writeFile(join(fake, 'audit.log'), reSigned.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const f = verifyAudit(['--data', fake]);
  assert.equal(f.code, 4, f.out);
  assert.match(f.out, /not signed by this box's key/);

  // 4. The exported copy, checked elsewhere and pinned to the box's key from its About page.
  const copy = join(dir, 'ringvault-audit.jsonl');
  await writeFile(copy, copyText);
  const ok = verifyAudit([copy, '--key', keyFingerprint]);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /signatures valid/);
  const copyLines = copyText.trim().split('\n');
  const before = copyLines[2];
  copyLines[2] = copyLines[2]!.replace('"actor":"stranger"', '"actor":"admin"');
  assert.notEqual(copyLines[2], before);
  await writeFile(copy, rechain(copyLines, 2).join('\n') + '\n');
  const bad = verifyAudit([copy, '--key', keyFingerprint]);
  assert.equal(bad.code, 4, bad.out);
  assert.match(bad.out, /rewritten/);
});
