// Attack (issue 10, item 8): a guest on the office LAN tries to claim a fresh box before its owner.
// Setup needs the one-time claim code the box printed to its console (the journal on a real box).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, ROOT, startAppliance } from './helpers/appliance.ts';
import { Box } from '../src/box.ts';
import { buildApp } from '../src/http/app.ts';
import { defaultConfig, parseConfig } from '../src/config/load.ts';
import { systemClock } from '../src/clock.ts';
import pino from 'pino';
import type { SimBoard } from '../src/board/sim.ts';

const PASS = 'correct horse battery staple';

/** Every file under dir, as bytes, for a thief's grep. */
async function allBytes(dir: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) parts.push(await readFile(join(e.parentPath, e.name)).catch(() => Buffer.alloc(0)));
  }
  return Buffer.concat(parts);
}

test('a LAN stranger cannot claim a fresh box: no code or a wrong one is refused and changes nothing; the owner with the printed code can', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-claim-'));
  const data = join(dir, 'data');
  const app = await startAppliance(data);
  t.after(async () => { await app.stop(); await rm(dir, { recursive: true, force: true }); });
  const code = app.claimCode();
  assert.match(code, /^[0-9A-Z]{5}-[0-9A-Z]{5}$/, `the box prints a claim code on its console:\n${app.stdout()}`);

  const stranger = new Client(app.url);
  const s0 = await stranger.state();
  assert.equal(s0.initialized, false);
  assert.deepEqual(s0.claim, { buttonArmed: false });
  for (const body of [
    { username: 'evil', passphrase: PASS },
    { username: 'evil', passphrase: PASS, claimCode: '' },
    { username: 'evil', passphrase: PASS, claimCode: code.replace(/.$/, (c) => (c === '0' ? '1' : '0')) },
  ]) {
    const r = await stranger.request('POST', '/api/setup', body);
    const j = await r.json();
    assert.equal(r.status, 403, JSON.stringify(j));
    assert.equal(j.error.code, 'RV_ERR_CLAIM_CODE');
    assert.match(j.error.message, /claim code/);
  }
  assert.equal((await stranger.state()).initialized, false, 'still not set up');
  await assert.rejects(stat(join(data, 'vault', 'vault.json')), 'no vault was made');

  // The code lives only in memory and on the console: a copy of the data folder does not hold it.
  assert.ok(!(await allBytes(data)).includes(Buffer.from(code)), 'the claim code is not on disk');

  // The owner at the box asks the running box over its local socket, as install.sh does.
  const cli = spawnSync(process.execPath, [join(ROOT, 'bin/ringvault.js'), 'claim-code', '--data', data], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal(cli.stdout.trim(), code);

  const owner = new Client(app.url);
  await owner.state();
  // Typed as a person would: lower case, a space instead of the dash.
  const ok = await owner.json('POST', '/api/setup', { username: 'admin', passphrase: PASS, claimCode: code.toLowerCase().replace('-', ' ') });
  assert.match(ok.recoveryKey, /^RV1-/);
  const again = await stranger.request('POST', '/api/setup', { username: 'evil', passphrase: PASS, claimCode: code });
  assert.equal(again.status, 409, 'the code is spent once the box is set up');
  assert.equal((await stranger.state()).claim, undefined, 'a set-up box says nothing about claiming');

  // The refused attempts are in the audit log, marked as a stranger's, with the address.
  await owner.state();
  const { entries } = await owner.json('GET', '/api/audit?limit=50');
  const refused = entries.filter((e: any) => e.action === 'setup.refused');
  assert.equal(refused.length, 3);
  for (const e of refused) { assert.equal(e.actor, 'stranger'); assert.equal(e.detail.from, '127.0.0.1'); }
});

test('someone who can touch the box: a long press of the save button lets setup go ahead without the code', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-attack-claim-btn-'));
  const config = parseConfig({ ...structuredClone(defaultConfig()), dataDir: dir }, 'test');
  const box = await Box.open({ config, log: pino({ level: 'silent' }), clock: systemClock({ assumeSynced: true, mode: 'synced' }), speechDir: join(ROOT, 'assets', 'speech') });
  const app = await buildApp(box, { webDir: join(ROOT, 'web'), tls: false, loginsPerMinute: 50, sessionHours: 1, version: 'test' });
  t.after(async () => { await app.close(); await box.close(); await rm(dir, { recursive: true, force: true }); });
  const state = async () => (await app.inject({ method: 'GET', url: '/api/state' }));
  const post = async (body: object) => {
    const s = await state();
    const cookie = s.cookies.map((c: any) => `${c.name}=${c.value}`).join('; ');
    return app.inject({ method: 'POST', url: '/api/setup', headers: { cookie, 'x-csrf-token': s.json().csrfToken, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  };
  assert.equal((await post({ username: 'admin', passphrase: PASS })).statusCode, 403);
  // A short press is an ordinary save press; it proves nothing.
  (box.board as SimBoard).press(undefined, 'short');
  assert.equal((await post({ username: 'admin', passphrase: PASS })).statusCode, 403);
  (box.board as SimBoard).press(undefined, 'long');
  assert.deepEqual((await state()).json().claim, { buttonArmed: true });
  const r = await post({ username: 'admin', passphrase: PASS });
  assert.equal(r.statusCode, 200, r.body);
});
