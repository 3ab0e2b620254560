import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile, open, readdir } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { execFile as execFileCb, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/appliance.ts';
import * as pty from './helpers/pty.ts';
import { Vault } from '../src/vault/vault.ts';
import { Archive } from '../src/archive/archive.ts';
import { AuditLog } from '../src/audit/audit.ts';
import { SettingsStore } from '../src/config/settings.ts';
import { writeBundle, type ExportProgress } from '../src/export/bundle.ts';
import { verifyExport } from '../src/export/verify.ts';
import { ZipReader } from '../src/export/zipread.ts';
import { readWav } from '../src/audio/wav.ts';
import { mulberry32 } from './helpers/prng.ts';

const execFile = promisify(execFileCb);
const PASS = 'export test passphrase';
const CUSTOMER = '+31612345678';
const T0 = Date.UTC(2026, 9, 1, 9, 0, 0);

interface Fixture { data: string; vault: Vault; archive: Archive; ids: string[]; pcm: Map<string, Buffer> }

/** A set-up box folder with kept calls: two stereo calls of the customer (one with a note), one mono, one of someone else. */
async function fixture(t: { after: (fn: () => Promise<void>) => void }): Promise<Fixture> {
  const data = await mkdtemp(join(tmpdir(), 'rv-export-'));
  t.after(() => rm(data, { recursive: true, force: true }));
  const vault = new Vault(join(data, 'vault'));
  await vault.init('admin', PASS);
  const settings = new SettingsStore(join(data, 'settings.json'));
  await settings.load();
  await settings.update((d) => { d.users.push({ name: 'admin', role: 'admin', passHash: 'x', createdAt: T0 }, { name: 'rita', role: 'reviewer', passHash: 'x', createdAt: T0 }); });
  await vault.addKeyslot('rita', PASS + ' rita');
  const archive = new Archive({ dir: join(data, 'archive'), vault });
  await archive.open();
  const rnd = mulberry32(7);
  const ids: string[] = [];
  const pcm = new Map<string, Buffer>();
  const calls = [
    { channels: 2 as const, seconds: 3, meta: { direction: 'in', caller: CUSTOMER, called: '0201234567', extension: '21', notes: [{ at: T0 + 5000, text: 'Klant zegt: "geen" bestelling; ; gedaan' }] } },
    { channels: 2 as const, seconds: 2, meta: { direction: 'out', caller: '0201234567', called: '0612345678', extension: '22' } },
    { channels: 1 as const, seconds: 2, meta: { direction: 'in', caller: '0612345678' } },
    { channels: 2 as const, seconds: 1, meta: { direction: 'in', caller: '+31699999999' } },
  ];
  for (const [i, c] of calls.entries()) {
    const startedAt = T0 + i * 60_000;
    const w = await archive.beginCall({ line: 'line1', startedAt, channels: c.channels, meta: c.meta, purposes: ['complaint'], keptBy: 'button', clockSynced: true });
    const parts: Buffer[] = [];
    for (let s = 0; s < c.seconds; s++) {
      const b = Buffer.alloc(8000 * 2 * c.channels);
      for (let k = 0; k < b.length; k += 2) b.writeInt16LE(Math.round((rnd() / 4294967296 - 0.5) * 20000), k);
      parts.push(b);
      await w.append({ at: startedAt + s * 1000, pcm: b });
    }
    await w.finish(startedAt + c.seconds * 1000);
    ids.push(w.id);
    pcm.set(w.id, Buffer.concat(parts));
  }
  return { data, vault, archive, ids, pcm };
}

async function bundle(f: Fixture, ids: string[], out: string, lang: 'nl' | 'en' = 'nl', progress?: ExportProgress[]) {
  return writeBundle(createWriteStream(out), {
    source: f.archive, signer: f.vault, callIds: ids, lang, request: 'REQ-1', createdAt: T0 + 86_400_000,
    onProgress: (p) => progress?.push(p),
  });
}

async function unzip(zip: string, dir: string): Promise<string[]> {
  await execFile('unzip', ['-q', '-o', zip, '-d', dir]);
  const out: string[] = [];
  const walk = async (d: string, pre: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name), `${pre}${e.name}/`);
      else out.push(pre + e.name);
    }
  };
  await walk(dir, '');
  return out.sort();
}

/** Flips one byte inside the stored data of a zip entry, leaving the zip structure intact. */
async function alterEntry(zip: string, name: string, at = 100): Promise<void> {
  const z = await ZipReader.open(zip);
  let pos: number;
  try {
    pos = (await z.dataStart(z.entries.find((x) => x.name === name)!)) + at;
  } finally {
    z.close();
  }
  const fh = await open(zip, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, pos);
    b[0] ^= 0x01;
    await fh.write(b, 0, 1, pos);
  } finally {
    await fh.close();
  }
}

const cli = (args: string[]) => new Promise<{ code: number; out: string }>((res) =>
  execFileCb(process.execPath, [join(ROOT, 'bin/ringvault.js'), ...args], { cwd: ROOT }, (e, out, err) => res({ code: e ? Number(e.code) : 0, out: out + err })));

test('bundle: one WAV per recording (stereo and mono) with the archived samples, metadata json/csv, notes, README, signed manifest', async (t) => {
  const f = await fixture(t);
  await f.vault.unlock(PASS);
  const zip = join(f.data, 'out.zip');
  const progress: ExportProgress[] = [];
  const r = await bundle(f, f.ids.slice(0, 3), zip, 'nl', progress);
  assert.equal(r.calls, 3);
  assert.ok(progress.length >= 3 && progress.at(-1)!.filesDone === progress.at(-1)!.filesTotal, 'progress reaches every file');
  assert.ok(progress.every((p, i) => i === 0 || p.bytesDone >= progress[i - 1]!.bytesDone), 'progress only grows');

  const t1 = spawnSync('unzip', ['-t', zip], { encoding: 'utf8' });
  assert.equal(t1.status, 0, t1.stdout + t1.stderr);
  const dir = join(f.data, 'x');
  const files = await unzip(zip, dir);
  assert.deepEqual(files, [
    'README.txt', 'manifest.json', 'manifest.sig', 'metadata.csv', 'metadata.json', `notes/${f.ids[0]}.txt`,
    ...f.ids.slice(0, 3).map((id) => `recordings/${id}.wav`).sort(),
  ].sort());
  for (const [i, id] of f.ids.slice(0, 3).entries()) {
    const wav = join(dir, 'recordings', `${id}.wav`);
    const info = spawnSync('soxi', [wav], { encoding: 'utf8' });
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, new RegExp(`Channels\\s+: ${i === 2 ? 1 : 2}`));
    assert.match(info.stdout, /Sample Rate\s+: 8000/);
    assert.match(info.stdout, /Precision\s+: 16-bit/);
    assert.ok(Buffer.from(readWav(await readFile(wav)).pcm.buffer).equals(f.pcm.get(id)!), `${id}: the WAV holds exactly the archived samples`);
  }
  const csv = await readFile(join(dir, 'metadata.csv'));
  assert.deepEqual([...csv.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
  const text = csv.subarray(3).toString('utf8');
  const rows = text.split('\r\n');
  assert.equal(rows.length, 5, 'header, three rows, final CRLF');
  assert.ok(!/[^\r]\n/.test(text), 'only CRLF line ends');
  assert.match(rows[0]!, /^"id";"bestand";"begin \(UTC\)"/, 'Dutch headers, ; separated');
  assert.ok(rows[1]!.includes(`"'${CUSTOMER}"`), 'a + number is kept as text for Excel');
  assert.ok(rows[1]!.includes(`"'0201234567"`), 'a leading 0 is kept for Excel');
  assert.ok(rows[1]!.includes('"2026-10-01 09:00:05: Klant zegt: ""geen"" bestelling; ; gedaan"'), 'quotes doubled, ; inside a quoted cell');
  assert.ok(rows[1]!.includes('"2026-10-01 09:00:00"') && rows[1]!.includes('"3"'), 'Excel-readable time, duration');
  const meta = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8'));
  assert.equal(meta.calls.length, 3);
  assert.equal(meta.calls[0].caller, CUSTOMER);
  assert.equal(meta.calls[0].channelLayout, 'left=caller,right=called');
  assert.equal(meta.calls[2].channelLayout, 'mono');
  assert.deepEqual(meta.calls[0].notes.map((n: any) => n.text), ['Klant zegt: "geen" bestelling; ; gedaan']);
  assert.match(await readFile(join(dir, 'notes', `${f.ids[0]}.txt`), 'utf8'), /geen" bestelling/);
  const readme = await readFile(join(dir, 'README.txt'), 'utf8');
  assert.match(readme, /Controleren/);
  assert.match(readme, /REQ-1/);

  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.files.length, files.length - 2);
  for (const fl of manifest.files) {
    const sum = spawnSync('sha256sum', [join(dir, fl.name)], { encoding: 'utf8' }).stdout.split(' ')[0];
    assert.equal(sum, fl.sha256, `${fl.name}: sha256sum agrees with the manifest`);
  }
  assert.equal(manifest.signing.publicKey, Buffer.from(await f.vault.signPublicKey()).toString('base64'));
  // openssl checks the Ed25519 signature independently, as the README tells a recipient to.
  await writeFile(join(dir, 'key.pem'), manifest.signing.publicKeyPem);
  const ossl = spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'key.pem'), '-rawin', '-in', join(dir, 'manifest.json'), '-sigfile', join(dir, 'manifest.sig')], { encoding: 'utf8' });
  assert.match(ossl.stdout + ossl.stderr, /Signature Verified Successfully/);
  const v = await verifyExport(zip, { boxPublicKey: await f.vault.signPublicKey() });
  assert.deepEqual(v.problems, []);
  assert.equal(v.ok, true);
  assert.equal(v.signedByThisBox, true);
  assert.equal(v.filesOk, files.length - 2);

  const en = join(f.data, 'en.zip');
  await bundle(f, [f.ids[0]!], en, 'en');
  const enDir = join(f.data, 'en');
  await unzip(en, enDir);
  assert.match(await readFile(join(enDir, 'README.txt'), 'utf8'), /How to verify/);
  assert.match(await readFile(join(enDir, 'metadata.csv'), 'utf8'), /"file";"start \(UTC\)"/);
});

test('bundle refuses a restricted recording and an unknown one before writing anything', async (t) => {
  const f = await fixture(t);
  await f.vault.unlock(PASS);
  await f.archive.updateHeader(f.ids[1]!, { restricted: true });
  await assert.rejects(bundle(f, f.ids.slice(0, 2), join(f.data, 'r.zip')), (e: any) => e.code === 'RV_ERR_RESTRICTED' && e.message.includes(f.ids[1]!));
  await assert.rejects(bundle(f, ['20261001T090000-deadbeef'], join(f.data, 'u.zip')), { code: 'RV_ERR_NO_SUCH_CALL' });
  await assert.rejects(bundle(f, [], join(f.data, 'e.zip')), { code: 'RV_ERR_NOTHING_TO_EXPORT' });
});

test('verify-export names an altered byte, an extra file, a missing file and an edited manifest; exit code 5', async (t) => {
  const f = await fixture(t);
  await f.vault.unlock(PASS);
  const good = join(f.data, 'good.zip');
  await bundle(f, f.ids.slice(0, 2), good);
  const ok = await cli(['verify-export', good, '--data', f.data]);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /OK — 6 files intact, signature valid, box [0-9a-f]{16} \(this box\), request REQ-1/);

  const altered = join(f.data, 'altered.zip');
  await writeFile(altered, await readFile(good));
  const victim = `recordings/${f.ids[1]}.wav`;
  await alterEntry(altered, victim, 5000);
  const a = await cli(['verify-export', altered]);
  assert.equal(a.code, 5, a.out);
  assert.ok(a.out.includes(`ALTERED ${victim}`), a.out);
  assert.equal((a.out.match(/ALTERED/g) ?? []).length, 1, 'only the altered file is named');
  const json = JSON.parse((await cli(['verify-export', altered, '--json'])).out);
  assert.deepEqual(json.problems.map((p: any) => [p.kind, p.file]), [['altered', victim]]);

  const extra = join(f.data, 'extra.zip');
  await writeFile(extra, await readFile(good));
  await writeFile(join(f.data, 'sneaky.txt'), 'added later');
  await execFile('zip', ['-q', '-j', extra, join(f.data, 'sneaky.txt')]);
  const x = await cli(['verify-export', extra]);
  assert.equal(x.code, 5);
  assert.match(x.out, /EXTRA sneaky\.txt/);

  const missing = join(f.data, 'missing.zip');
  await writeFile(missing, await readFile(good));
  await execFile('zip', ['-q', '-d', missing, 'metadata.csv']);
  const m = await cli(['verify-export', missing]);
  assert.equal(m.code, 5);
  assert.match(m.out, /MISSING metadata\.csv/);

  const edited = join(f.data, 'edited.zip');
  await writeFile(edited, await readFile(good));
  await alterEntry(edited, 'manifest.json', 40);
  const e = await cli(['verify-export', edited]);
  assert.equal(e.code, 5);
  assert.match(e.out, /SIGNATURE manifest\.json/);

  const notZip = join(f.data, 'not.zip');
  await writeFile(notZip, 'hello');
  const n = await cli(['verify-export', notZip]);
  assert.equal(n.code, 5);
  assert.match(n.out, /ZIP: the zip is damaged/);

  // Another box's bundle verifies on its own, but the box says it did not sign it.
  const other = await fixture(t);
  const elsewhere = await cli(['verify-export', good, '--data', other.data]);
  assert.equal(elsewhere.code, 5);
  assert.match(elsewhere.out, /OTHER-BOX: signed by box [0-9a-f]{16}, not by this box/);
});

const runPty = (args: string[], answers: [RegExp, string][]) => pty.runPty(args, answers, { cols: 160, timeoutMs: 60_000 });

test('ringvault export in a terminal: user + passphrase (not echoed) or the recovery key; only the number\'s calls; audited', async (t) => {
  const f = await fixture(t);
  const out = join(f.data, 'customer.zip');
  const ok = await runPty(['export', '--number', '06-12345678', '--out', out, '--data', f.data, '--request', 'REQ-7', '--lang', 'en'], [[/User name/, 'admin'], [/Passphrase for admin/, PASS]]);
  assert.equal(ok.code, 0, ok.out);
  assert.ok(!ok.out.includes(PASS), 'the passphrase is not echoed');
  assert.match(ok.out, /Wrote .*customer\.zip: 3 recording\(s\)/);
  const v = await verifyExport(out, { boxPublicKey: await f.vault.signPublicKey() });
  assert.equal(v.ok, true, JSON.stringify(v.problems));
  assert.equal(v.calls, 3, 'the other person\'s call is not in it');
  assert.equal(v.request, 'REQ-7');
  const entries = await new AuditLog(join(f.data, 'audit.log')).readAll();
  const e = entries.find((x) => x.action === 'export.cli');
  assert.ok(e, 'the export is in the audit log');
  assert.equal(e!.actor, 'cli:admin');
  assert.deepEqual(e!.detail, { calls: 3, ids: f.ids.slice(0, 3), request: 'REQ-7' });
  assert.ok(!JSON.stringify(entries).includes('612345678'), 'no number in the audit log');

  const wrong = await runPty(['export', '--number', CUSTOMER, '--out', join(f.data, 'w.zip'), '--data', f.data], [[/User name/, 'admin'], [/Passphrase for admin/, 'not it at all']]);
  assert.equal(wrong.code, 3, wrong.out);
  assert.match(wrong.out, /Wrong user name or passphrase/);
  const reviewer = await runPty(['export', '--number', CUSTOMER, '--out', join(f.data, 'w.zip'), '--data', f.data], [[/User name/, 'rita'], [/Passphrase for rita/, PASS + ' rita']]);
  assert.equal(reviewer.code, 1, reviewer.out);
  assert.match(reviewer.out, /Your role \(reviewer\) may not export/);
  const exists = await runPty(['export', '--number', CUSTOMER, '--out', out, '--data', f.data], []);
  assert.notEqual(exists.code, 0);
  assert.match(exists.out, /already exists/);

  // The recovery key works as well, with --from/--to narrowing to the first call.
  await f.vault.unlock(PASS);
  const key = await f.vault.newRecoveryKey();
  const out2 = join(f.data, 'first.zip');
  const rec = await runPty(['export', '--number', CUSTOMER, '--from', '2026-10-01', '--to', '2026-10-01', '--out', out2, '--data', f.data], [[/User name/, ''], [/Recovery key/, key]]);
  assert.equal(rec.code, 0, rec.out);
  assert.ok(!rec.out.includes(key));
  const none = await runPty(['export', '--number', CUSTOMER, '--from', '2027-01-01', '--out', join(f.data, 'n.zip'), '--data', f.data], [[/User name/, ''], [/Recovery key/, key]]);
  assert.notEqual(none.code, 0);
  assert.match(none.out, /No kept recording matches/);
  const audit = await new AuditLog(join(f.data, 'audit.log')).verify();
  assert.equal(audit.ok, true);
});

test('zip reader: deflated entries and zip64 records written by Info-ZIP are read back exactly', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-zipread-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const rnd = mulberry32(11);
  const noise = Buffer.alloc(300_000);
  for (let i = 0; i < noise.length; i++) noise[i] = rnd() & 0xff;
  const text = Buffer.from('regel met tekst;\r\n'.repeat(20_000));
  await writeFile(join(dir, 'noise.bin'), noise);
  await writeFile(join(dir, 'text.txt'), text);
  for (const [name, flags] of [['plain.zip', []], ['z64.zip', ['-fz']]] as const) {
    const zip = join(dir, name);
    await execFile('zip', ['-q', '-j', ...flags, zip, join(dir, 'noise.bin'), join(dir, 'text.txt')]);
    const z = await ZipReader.open(zip);
    try {
      const entries = z.entries;
      assert.deepEqual(entries.map((e) => [e.name, e.size]), [['noise.bin', noise.length], ['text.txt', text.length]], name);
      assert.equal(entries[1]!.method, 8, 'text is deflated');
      assert.ok(entries[1]!.compressedSize < text.length / 10);
      for (const [e, want] of [[entries[0]!, noise], [entries[1]!, text]] as const) {
        const parts: Buffer[] = [];
        for await (const b of z.data(e)) parts.push(b);
        assert.ok(Buffer.concat(parts).equals(want), `${name}: ${e.name} read back exactly`);
      }
    } finally {
      z.close();
    }
  }
});
