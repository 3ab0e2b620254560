import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startAppliance } from './helpers/appliance.ts';
import { runPty } from './helpers/pty.ts';
import { Vault } from '../src/vault/vault.ts';
import { sendControl } from '../src/control.ts';

const PASS = 'een twee drie vier';

test('ringvault init in a terminal: no echo, recovery key printed once, keyslots work', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'rv-cli-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const short = await runPty(['init', '--data', data], [[/user name/, 'beheer'], [/New passphrase/, 'kort'], [/New passphrase/, 'wachtwoord123'], [/New passphrase/, PASS], [/Repeat/, 'something else'], [/New passphrase/, PASS], [/Repeat/, PASS]], { timeoutMs: 120_000 });
  assert.equal(short.code, 0, short.out);
  assert.match(short.out, /at least 8 characters/);
  // A weak passphrase is refused with the reason, in English and Dutch (issue 10).
  assert.match(short.out, /too easy to guess/);
  assert.match(short.out, /te makkelijk te raden/);
  assert.match(short.out, /differ/);
  assert.ok(!short.out.includes(PASS) && !short.out.includes('kort') && !short.out.includes('wachtwoord123'), `passphrases are not echoed:\n${short.out}`);
  const key = /RECOVERY KEY[\s\S]*?\n\s+(RV1-[A-Z0-9-]+)/.exec(short.out)?.[1];
  assert.ok(key, `recovery key printed:\n${short.out}`);

  const v = new Vault(join(data, 'vault'));
  assert.equal((await v.unlock(PASS)).user, 'beheer');
  v.lock();
  assert.equal((await v.unlock(key!)).via, 'recovery');

  const again = await runPty(['init', '--data', data], [[/user name/, ''], [/New passphrase/, PASS], [/Repeat/, PASS]]);
  assert.notEqual(again.code, 0);
  assert.match(again.out, /already set up/);
});

test('ringvault unlock talks to the running box; a wrong passphrase is refused clearly', async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'rv-cli-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const notRunning = await runPty(['unlock', '--data', data], []);
  assert.notEqual(notRunning.code, 0);
  assert.match(notRunning.out, /No ringvault is running/);

  const box = await startAppliance(data);
  t.after(() => box.stop());
  // init while the box runs goes through its control socket, so the box knows the new admin at once.
  const init = await runPty(['init', '--data', data], [[/user name/, 'admin'], [/New passphrase/, PASS], [/Repeat/, PASS]]);
  assert.equal(init.code, 0, init.out);
  await box.stop();
  const box2 = await startAppliance(data);
  t.after(() => box2.stop());
  const sock = join(data, 'control.sock');
  assert.deepEqual(await sendControl(sock, { cmd: 'status' }), { ok: true, initialized: true, vault: 'locked' });

  const wrong = await runPty(['unlock', '--data', data], [[/Passphrase or recovery key/, 'not the passphrase']]);
  assert.equal(wrong.code, 3);
  assert.match(wrong.out, /RV_ERR_WRONG_PASSPHRASE|passphrase/i);
  assert.deepEqual(await sendControl(sock, { cmd: 'status' }), { ok: true, initialized: true, vault: 'locked' });

  const ok = await runPty(['unlock', '--data', data], [[/Passphrase or recovery key/, PASS]]);
  assert.equal(ok.code, 0, ok.out);
  assert.ok(!ok.out.includes(PASS));
  assert.deepEqual(await sendControl(sock, { cmd: 'status' }), { ok: true, initialized: true, vault: 'unlocked' });
});

test('ringvault verify-audit: intact chain passes, an edited entry is named', async (t) => {
  const { AuditLog } = await import('../src/audit/audit.ts');
  const { execFile } = await import('node:child_process');
  const { readFile, writeFile } = await import('node:fs/promises');
  const data = await mkdtemp(join(tmpdir(), 'rv-cli-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const log = new AuditLog(join(data, 'audit.log'));
  await log.open();
  for (const action of ['login', 'call.play', 'call.download']) await log.append({ actor: 'anna', action, target: 'c1' });
  await log.close();
  const run = () => new Promise<{ code: number; out: string }>((res) => execFile(process.execPath, [join(ROOT, 'bin/ringvault.js'), 'verify-audit', '--data', data], (e, out) => res({ code: e ? Number(e.code) : 0, out })));
  const ok = await run();
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /3 entries, chain intact/);
  const text = await readFile(join(data, 'audit.log'), 'utf8');
  await writeFile(join(data, 'audit.log'), text.replace('call.download', 'call.play'));
  const bad = await run();
  assert.equal(bad.code, 4);
  assert.match(bad.out, /entry 3: content was edited/);
});
