// The whole privacy path on the real appliance: 50 simulated calls of one customer kept across purposes,
// an access request whose bundle passes unzip -t, soxi, openssl and verify-export (which catches one
// altered byte), a CLI export beside the running box, then holds and an erasure request that removes all
// but the held and legal-obligation recordings and says why for each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, readdir, open } from 'node:fs/promises';
import { execFile as execFileCb, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, ROOT, startAppliance } from './helpers/appliance.ts';
import * as pty from './helpers/pty.ts';
import { ZipReader } from '../src/export/zipread.ts';

const PASS = 'correct horse battery staple';
const CUSTOMER = '+31612345678';
const OTHER = '+31201112233';
const PURPOSE_CYCLE = [['training'], ['complaint'], ['evaluation'], ['evidence'], ['legal-obligation']];
const ALL = ['training', 'evaluation', 'complaint', 'evidence', 'legal-obligation'];

const cli = (args: string[]) => new Promise<{ code: number; out: string }>((res) =>
  execFileCb(process.execPath, [join(ROOT, 'bin/ringvault.js'), ...args], { cwd: ROOT }, (e, out, err) => res({ code: e ? Number(e.code) : 0, out: out + err })));

const runPty = (args: string[], answers: [RegExp, string][]) => pty.runPty(args, answers, { cols: 160, timeoutMs: 120_000 });

/** Places a call on `line`, keeps it with `purposes` while it runs, and waits until it is archived and the line is idle. */
async function keepCall(c: Client, line: string, body: object, purposes: string[]): Promise<string> {
  await c.json('POST', `/api/sim/lines/${line}/call`, { durationSec: 3, ...body });
  await c.until(async () => (await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === line)?.call, `a call on ${line}`);
  const { callId } = await c.json('POST', `/api/lines/${line}/save`, { purposes });
  await c.until(async () => !(await c.json('GET', '/api/lines')).lines.find((l: any) => l.id === line)?.call, `${line} idle`, 60_000);
  return callId;
}

test('privacy end to end: 50 calls → access bundle verified by unzip/soxi/openssl/verify-export → holds → erasure with reasons', { timeout: 600_000 }, async (t) => {
  const data = await mkdtemp(join(tmpdir(), 'rv-privacy-e2e-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const config = join(data, 'config.json');
  await writeFile(config, JSON.stringify({
    dataDir: join(data, 'box'),
    lines: [
      { id: 'line1', name: 'Verkoop', source: 'sim', channels: 2, keep: 'on-demand', announced: ALL, keepPurposes: ['complaint'] },
      { id: 'line2', name: 'Balie', source: 'sim', channels: 1, keep: 'on-demand', announced: ALL, keepPurposes: ['training'] },
    ],
  }));
  const dataDir = join(data, 'box');
  const box = await startAppliance(dataDir, ['--config', config, '--sim-speed', '6']);
  t.after(() => box.stop());
  const admin = new Client(box.url);
  await admin.state();
  await admin.json('POST', '/api/setup', { username: 'admin', passphrase: PASS , claimCode: box.claimCode()});
  await admin.state();
  await admin.json('POST', '/api/users', { username: 'mia', passphrase: 'mia-passphrase', role: 'manager' });

  // ---- 50 calls of the customer (in and out, stereo and mono lines, every purpose) and 4 of someone else
  const purposeOf = new Map<string, string[]>();
  const lineOf = new Map<string, string>();
  const run = async (line: string, n: number, offset: number) => {
    for (let i = 0; i < n; i++) {
      const k = offset + i;
      const purposes = PURPOSE_CYCLE[k % PURPOSE_CYCLE.length]!;
      const body = k % 3 === 0 ? { direction: 'out', called: '0612345678' } : { direction: 'in', caller: CUSTOMER };
      const id = await keepCall(admin, line, body, purposes);
      purposeOf.set(id, purposes);
      lineOf.set(id, line);
    }
  };
  await Promise.all([run('line1', 25, 0), run('line2', 25, 25)]);
  const others: string[] = [];
  for (let i = 0; i < 4; i++) others.push(await keepCall(admin, i % 2 ? 'line1' : 'line2', { direction: 'in', caller: OTHER }, ['complaint']));
  const mine = [...purposeOf.keys()];
  assert.equal(mine.length, 50);
  const found = (await admin.json('GET', `/api/calls?number=${encodeURIComponent(CUSTOMER)}`)).calls;
  assert.deepEqual(found.map((c: any) => c.id).sort(), [...mine].sort(), 'the catalog finds exactly the 50 calls of the number');

  // ---- access request → export job → download
  const mia = new Client(box.url);
  await mia.state();
  await mia.json('POST', '/api/login', { username: 'mia', passphrase: 'mia-passphrase' });
  await mia.state();
  const today = new Date().toISOString().slice(0, 10);
  const access = (await mia.json('POST', '/api/requests', { kind: 'access', received: today, numbers: ['06-12345678'], name: 'J. de Vries' })).request;
  const started = await mia.json('POST', `/api/requests/${access.id}/act`, { lang: 'nl' });
  const job = await mia.until(async () => {
    const j = (await mia.json('GET', `/api/exports/${started.job.id}`)).job;
    return j.state !== 'running' && j;
  }, 'the export', 120_000);
  assert.equal(job.state, 'done', JSON.stringify(job));
  assert.equal(job.calls, 50);
  const res = await mia.request('GET', `/api/exports/${job.id}/download`);
  assert.equal(res.status, 200);
  const zip = join(data, 'access.zip');
  await writeFile(zip, Buffer.from(await res.arrayBuffer()));

  const unzipT = spawnSync('unzip', ['-t', zip], { encoding: 'utf8' });
  assert.equal(unzipT.status, 0, unzipT.stdout + unzipT.stderr);
  assert.match(unzipT.stdout, /No errors detected/);
  const dir = join(data, 'access');
  assert.equal(spawnSync('unzip', ['-q', zip, '-d', dir]).status, 0);
  const wavs = (await readdir(join(dir, 'recordings'))).sort();
  assert.deepEqual(wavs, mine.map((id) => `${id}.wav`).sort(), 'one WAV per recording of the customer, none of anyone else');
  for (const w of wavs) {
    const id = w.slice(0, -4);
    const info = spawnSync('soxi', [join(dir, 'recordings', w)], { encoding: 'utf8' });
    assert.equal(info.status, 0, `soxi ${w}: ${info.stderr}`);
    assert.match(info.stdout, new RegExp(`Channels\\s+: ${lineOf.get(id) === 'line1' ? 2 : 1}`), w);
    assert.match(info.stdout, /Sample Rate\s+: 8000/);
    assert.match(info.stdout, /Precision\s+: 16-bit/);
    assert.ok(Number(spawnSync('soxi', ['-D', join(dir, 'recordings', w)], { encoding: 'utf8' }).stdout) > 1, `${w} holds the call`);
  }
  const meta = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8'));
  assert.equal(meta.calls.length, 50);
  assert.deepEqual(new Set(meta.calls.flatMap((c: any) => c.purposes)), new Set(ALL), 'every purpose is in the bundle');
  const csv = await readFile(join(dir, 'metadata.csv'));
  assert.deepEqual([...csv.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  assert.equal(csv.toString('utf8').split('\r\n').length, 52, 'header, 50 rows, final CRLF');
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  await writeFile(join(dir, 'key.pem'), manifest.signing.publicKeyPem);
  const ossl = spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'key.pem'), '-rawin', '-in', join(dir, 'manifest.json'), '-sigfile', join(dir, 'manifest.sig')], { encoding: 'utf8' });
  assert.match(ossl.stdout + ossl.stderr, /Signature Verified Successfully/, 'openssl verifies the manifest signature');
  const ok = await cli(['verify-export', zip, '--data', dataDir]);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /OK — 53 files intact, signature valid, box [0-9a-f]{16} \(this box\)/);

  // One altered byte inside one recording is caught and the file named.
  const victim = `recordings/${wavs[17]}`;
  const z = await ZipReader.open(zip);
  const pos = (await z.dataStart(z.entries.find((x) => x.name === victim)!)) + 4000;
  z.close();
  const fh = await open(zip, 'r+');
  const b = Buffer.alloc(1);
  await fh.read(b, 0, 1, pos);
  await fh.write(Buffer.from([b[0]! ^ 0x40]), 0, 1, pos);
  await fh.close();
  const bad = await cli(['verify-export', zip, '--data', dataDir]);
  assert.equal(bad.code, 5, bad.out);
  assert.ok(bad.out.includes(`ALTERED ${victim}`), bad.out);
  assert.equal((bad.out.match(/ALTERED/g) ?? []).length, 1);
  assert.equal((await mia.json('GET', `/api/requests/${access.id}`)).request.status, 'done');

  // ---- the same export from the command line, while the box runs (read-only on the archive)
  const cliZip = join(data, 'cli.zip');
  const exp = await runPty(['export', '--number', CUSTOMER, '--out', cliZip, '--config', config, '--request', access.id], [[/User name/, 'admin'], [/Passphrase for admin/, PASS]]);
  assert.equal(exp.code, 0, exp.out);
  assert.match(exp.out, /50 recording\(s\)/);
  const cliOk = await cli(['verify-export', cliZip, '--config', config, '--json']);
  assert.equal(cliOk.code, 0, cliOk.out);
  assert.equal(JSON.parse(cliOk.out).calls, 50);
  const audit = (await admin.json('GET', '/api/audit?limit=1000')).entries;
  assert.ok(audit.some((x: any) => x.action === 'export.cli' && x.actor === 'cli:admin' && x.detail.calls === 50), 'the CLI export is in the running box\'s audit log');
  assert.ok(audit.some((x: any) => x.action === 'export.download' && x.actor === 'mia'));
  const chain = await cli(['verify-audit', '--data', dataDir]);
  assert.equal(chain.code, 0, `one writer keeps the audit chain intact: ${chain.out}`);

  // ---- holds on three recordings (not legal-obligation ones), then an erasure request
  const held = mine.filter((id) => !purposeOf.get(id)!.includes('legal-obligation')).slice(0, 3);
  for (const id of held) await mia.json('POST', '/api/holds', { kind: 'call', callId: id, reason: 'Lopend geschil', caseRef: 'Zaak 2026-17' });
  for (const id of held) assert.equal((await admin.json('GET', `/api/calls/${id}`)).call.holds.length, 1);
  const erasure = (await mia.json('POST', '/api/requests', { kind: 'erasure', received: today, numbers: [CUSTOMER] })).request;
  const done = (await mia.json('POST', `/api/requests/${erasure.id}/act`, {})).request;
  assert.equal(done.status, 'done');
  const results = done.personal.results as { callId: string; action: string; reason: string }[];
  assert.equal(results.length, 50);
  const legal = mine.filter((id) => purposeOf.get(id)!.includes('legal-obligation'));
  assert.equal(legal.length, 10);
  for (const r of results) {
    if (held.includes(r.callId)) {
      assert.equal(r.action, 'kept', r.callId);
      assert.match(r.reason, /^legal hold: hold-[0-9a-f]{12}$/);
    } else if (legal.includes(r.callId)) {
      assert.equal(r.action, 'kept', r.callId);
      assert.match(r.reason, /^legal obligation: kept until \d{4}-\d{2}-\d{2}T/);
    } else {
      assert.equal(r.action, 'erased', `${r.callId}: ${r.reason}`);
    }
  }
  assert.match(done.personal.summary, /^37 recording\(s\) erased, 13 kept/);
  const left = (await admin.json('GET', `/api/calls?number=${encodeURIComponent(CUSTOMER)}`)).calls.map((c: any) => c.id).sort();
  assert.deepEqual(left, [...held, ...legal].sort(), 'only the held and legal-obligation recordings remain');
  for (const id of others) assert.equal((await admin.request('GET', `/api/calls/${id}`)).status, 200, 'another person\'s calls are untouched');
  const gone = results.find((r) => r.action === 'erased')!.callId;
  assert.equal((await admin.request('GET', `/api/calls/${gone}`)).status, 404);
  const audit2 = (await admin.json('GET', '/api/audit?limit=2000')).entries;
  assert.equal(audit2.filter((x: any) => x.action === 'call.delete' && x.detail?.request === erasure.id).length, 37, 'each erasure audited');
  assert.ok(!JSON.stringify(audit2).includes('612345678'), 'no number in the audit log');
});
