import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile, truncate, chmod } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { execFile as execFileCb } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yazl from 'yazl';
import { ZipReader, MAX_ENTRIES, isZipError, type ZipEntry } from '../src/export/zipread.ts';
import { writeBundle } from '../src/export/bundle.ts';
import { Vault } from '../src/vault/vault.ts';
import { Archive } from '../src/archive/archive.ts';
import { mulberry32 } from './helpers/prng.ts';

const execFile = promisify(execFileCb);
type T = { after: (fn: () => Promise<void>) => void };

async function tmp(t: T): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rv-zipread-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readAll(z: ZipReader, e: ZipEntry, maxBytes?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of z.data(e, maxBytes)) parts.push(b);
  return Buffer.concat(parts);
}

/** Reads every entry of a zip, as a checker would: opening and unpacking. */
async function readZip(path: string): Promise<Map<string, Buffer>> {
  const z = await ZipReader.open(path);
  try {
    const out = new Map<string, Buffer>();
    for (const e of z.entries) out.set(e.name, await readAll(z, e));
    return out;
  } finally {
    z.close();
  }
}

const AGAIN = /copy the file again from where it was stored, or make a new export from the box\.$/;

/** The promise rejects with this RV_ERR_ZIP_* code, a message naming the file, saying why (`why`) and what to do. */
async function refused(p: Promise<unknown>, code: string, path: string, why: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isZipError(e), `an RV_ERR_ZIP_* error, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(path), `names the file: ${e.message}`);
    assert.match(e.message, why);
    assert.match(e.message, code === 'RV_ERR_ZIP_OPEN' ? /Check the file name and that you may read it\.$/ : AGAIN);
    assert.doesNotMatch(e.message, /\.[.;](\s|$)/, 'no doubled full stop');
    return true;
  });
}

/** Writes a zip with yazl from in-memory entries. */
async function yazlZip(path: string, entries: { name: string; data: Buffer; compress?: boolean }[], zip64 = false): Promise<void> {
  const z = new yazl.ZipFile();
  for (const e of entries) z.addBuffer(e.data, e.name, { compress: e.compress ?? false, mtime: new Date(Date.UTC(2026, 9, 1)), forceZip64Format: zip64 });
  z.end({ forceZip64Format: zip64, comment: '' });
  await new Promise<void>((res, rej) => z.outputStream.pipe(createWriteStream(path)).on('close', res).on('error', rej));
}

interface Central { at: number; name: string; method: number; compressedSize: number; size: number; local: number }

/** The end-of-central-directory record and the central records, read by hand (no zip64 fields). */
function central(b: Buffer): { eocd: number; records: Central[] } {
  const eocd = b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'test zip has an end record');
  const records: Central[] = [];
  let at = b.readUInt32LE(eocd + 16);
  for (let i = 0; i < b.readUInt16LE(eocd + 10); i++) {
    assert.equal(b.readUInt32LE(at), 0x02014b50, 'test zip central record');
    const n = b.readUInt16LE(at + 28);
    records.push({ at, name: b.toString('utf8', at + 46, at + 46 + n), method: b.readUInt16LE(at + 10), compressedSize: b.readUInt32LE(at + 20), size: b.readUInt32LE(at + 24), local: b.readUInt32LE(at + 42) });
    at += 46 + n + b.readUInt16LE(at + 30) + b.readUInt16LE(at + 32);
  }
  return { eocd, records };
}

/** Sets an entry's declared uncompressed size in its central record and its local header. */
function setSize(b: Buffer, r: Central, size: number): void {
  b.writeUInt32LE(size, r.at + 24);
  assert.equal(b.readUInt32LE(r.local), 0x04034b50);
  b.writeUInt32LE(size, r.local + 22);
}

/** Replaces every occurrence of a same-length placeholder (local header and central record). */
function rename(b: Buffer, from: string, to: string): Buffer {
  assert.equal(Buffer.byteLength(from), Buffer.byteLength(to));
  let n = 0;
  for (let i = b.indexOf(from); i >= 0; i = b.indexOf(from, i + 1)) {
    b.write(to, i, 'utf8');
    n++;
  }
  assert.equal(n, 2, `placeholder ${from} in the local header and the central record`);
  return b;
}

test('zip reader: a bundle written by writeBundle opens and every entry reads back as its manifest says', async (t) => {
  const dir = await tmp(t);
  const vault = new Vault(join(dir, 'vault'));
  await vault.init('admin', 'zip reader test passphrase');
  const archive = new Archive({ dir: join(dir, 'archive'), vault });
  await archive.open();
  const rnd = mulberry32(5);
  const t0 = Date.UTC(2026, 9, 1, 9);
  const w = await archive.beginCall({ line: 'line1', startedAt: t0, channels: 2, meta: { direction: 'in', caller: '+31612345678', notes: [{ at: t0 + 500, text: 'notitie' }] }, purposes: ['complaint'], keptBy: 'button', clockSynced: true });
  const pcm = Buffer.alloc(8000 * 2 * 2);
  for (let k = 0; k < pcm.length; k += 2) pcm.writeInt16LE(Math.round((rnd() / 4294967296 - 0.5) * 20000), k);
  await w.append({ at: t0, pcm });
  await w.finish(t0 + 1000);
  const out = join(dir, 'bundle.zip');
  await writeBundle(createWriteStream(out), { source: archive, signer: vault, callIds: [w.id], lang: 'en', request: 'REQ-9', createdAt: t0 + 86_400_000 });

  const files = await readZip(out);
  assert.deepEqual([...files.keys()].sort(), [`notes/${w.id}.txt`, 'README.txt', 'manifest.json', 'manifest.sig', 'metadata.csv', 'metadata.json', `recordings/${w.id}.wav`].sort());
  assert.ok(files.get(`recordings/${w.id}.wav`)!.subarray(44).equals(pcm), 'the samples come back exactly');
  const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8')) as { files: { name: string; bytes: number; sha256: string }[] };
  assert.equal(manifest.files.length, 5);
  for (const f of manifest.files) {
    const data = files.get(f.name);
    assert.ok(data, `${f.name} is in the zip`);
    assert.equal(data.length, f.bytes, f.name);
    assert.equal(createHash('sha256').update(data).digest('hex'), f.sha256, f.name);
  }
  // Info-ZIP agrees the bundle is sound, so the reader is not merely agreeing with yazl.
  const { stdout } = await execFile('unzip', ['-t', out]);
  assert.match(stdout, /No errors detected/);
});

test('zip reader: a missing or unreadable file is RV_ERR_ZIP_OPEN; a non-zip or cut-short file is RV_ERR_ZIP_DAMAGED', async (t) => {
  const dir = await tmp(t);
  const missing = join(dir, 'missing.zip');
  await refused(ZipReader.open(missing), 'RV_ERR_ZIP_OPEN', missing, /ENOENT/);
  if (process.getuid?.() !== 0) {
    const locked = join(dir, 'locked.zip');
    await yazlZip(locked, [{ name: 'a.txt', data: Buffer.from('a') }]);
    await chmod(locked, 0o000);
    await refused(ZipReader.open(locked), 'RV_ERR_ZIP_OPEN', locked, /EACCES/);
  }

  // A WAV file made by sox, renamed to .zip.
  const wav = join(dir, 'tone.wav');
  await execFile('sox', ['-n', '-r', '8000', '-b', '16', '-c', '1', wav, 'synth', '0.5', 'sine', '425']);
  const notZip = join(dir, 'tone.zip');
  await writeFile(notZip, await readFile(wav));
  await refused(ZipReader.open(notZip), 'RV_ERR_ZIP_DAMAGED', notZip, /cannot be read as a zip file: End of central directory record signature not found\. Either not a zip file, or file is truncated\. It may be/);
  const empty = join(dir, 'empty.zip');
  await writeFile(empty, '');
  await refused(ZipReader.open(empty), 'RV_ERR_ZIP_DAMAGED', empty, /cannot be read as a zip file/);

  // An Info-ZIP archive cut short at several points: in the data, in the central directory, in the end record.
  const src = join(dir, 'src.bin');
  const rnd = mulberry32(3);
  await writeFile(src, Buffer.from(Array.from({ length: 20_000 }, () => rnd() & 0xff)));
  const whole = join(dir, 'whole.zip');
  await execFile('zip', ['-q', '-j', whole, src, wav]);
  const full = await readFile(whole);
  assert.equal((await readZip(whole)).get('src.bin')!.length, 20_000, 'the uncut zip reads');
  const { eocd, records } = central(full);
  for (const cut of [10_000, records[1]!.at + 20, eocd + 10, full.length - 1]) {
    const p = join(dir, `cut-${cut}.zip`);
    await writeFile(p, full.subarray(0, cut));
    await refused(ZipReader.open(p), 'RV_ERR_ZIP_DAMAGED', p, /cannot be read as a zip file: .*It may be cut short/);
  }
  // Cut so that the end record is gone entirely but a half central directory is left: still damaged, not a crash.
  const half = join(dir, 'half.zip');
  await writeFile(half, full);
  await truncate(half, eocd - 5);
  await refused(ZipReader.open(half), 'RV_ERR_ZIP_DAMAGED', half, /End of central directory record signature not found/);
});

test('zip reader: entry names with ../, absolute paths, drive letters or backslashes are refused as RV_ERR_ZIP_DAMAGED', async (t) => {
  const dir = await tmp(t);
  const good = join(dir, 'good.zip');
  await yazlZip(good, [{ name: 'notes/a.txt', data: Buffer.from('safe') }, { name: 'dir/x..y.txt', data: Buffer.from('dots inside a name are fine') }]);
  assert.deepEqual([...(await readZip(good)).keys()], ['notes/a.txt', 'dir/x..y.txt']);

  const cases: [placeholder: string, evil: string][] = [
    ['zz/evil.txt', '../evil.txt'],
    ['notes/zz/zz/evil.txt', 'notes/../../evil.txt'],
    ['Zetc/cron.d/x', '/etc/cron.d/x'],
    ['CZ/boot.ini', 'C:/boot.ini'],
    ['recordingsZa.wav', 'recordings\\a.wav'],
    ['ZZZZZZwinZx.txt', '..\\..\\win\\x.txt'],
  ];
  for (const [i, [placeholder, evil]] of cases.entries()) {
    const p = join(dir, `evil-${i}.zip`);
    await yazlZip(p, [{ name: 'README.txt', data: Buffer.from('first a good entry') }, { name: placeholder, data: Buffer.from('payload') }]);
    assert.deepEqual([...(await readZip(p)).keys()], ['README.txt', placeholder], 'the placeholder zip reads');
    await writeFile(p, rename(await readFile(p), placeholder, evil));
    await refused(ZipReader.open(p), 'RV_ERR_ZIP_DAMAGED', p, /an entry has an unsafe name \((invalid relative path|absolute path|invalid characters in fileName): /);
    await assert.rejects(ZipReader.open(p), (e: Error) => e.message.includes(evil), `the message quotes ${evil}`);
  }
});

test('zip reader: an entry whose data does not match its declared size is RV_ERR_ZIP_ENTRY, the other entries still read', async (t) => {
  const dir = await tmp(t);
  const text = Buffer.from('regel tekst voor de test;\r\n'.repeat(2000));
  const stored = Buffer.from('stored bytes, not deflated');
  const p = join(dir, 'sizes.zip');
  await yazlZip(p, [{ name: 'text.txt', data: text, compress: true }, { name: 'stored.txt', data: stored }]);
  const base = await readFile(p);
  const files = await readZip(p);
  assert.ok(files.get('text.txt')!.equals(text) && files.get('stored.txt')!.equals(stored), 'the unaltered zip reads exactly');

  const { records } = central(base);
  const [deflated, plain] = records as [Central, Central];
  assert.equal(deflated.method, 8);
  assert.equal(plain.method, 0);
  for (const [label, r, size, why] of [
    ['short', deflated, text.length - 1, /cannot be unpacked: too many bytes in the stream/],
    ['long', deflated, text.length + 1, /cannot be unpacked: not enough bytes in the stream/],
  ] as const) {
    const b = Buffer.from(base);
    setSize(b, r, size);
    const q = join(dir, `${label}.zip`);
    await writeFile(q, b);
    const z = await ZipReader.open(q);
    try {
      const e = z.entries.find((x) => x.name === r.name)!;
      assert.equal(e.size, size, 'the reader reports the declared size');
      await refused(readAll(z, e), 'RV_ERR_ZIP_ENTRY', q, why);
      const other = z.entries.find((x) => x.name !== r.name)!;
      assert.ok((await readAll(z, other)).equals(other.name === 'text.txt' ? text : stored), `${label}: the other entry still reads`);
    } finally {
      z.close();
    }
  }
  // A stored entry cannot differ from itself: yauzl refuses the directory on opening, so nothing is read.
  const s = Buffer.from(base);
  setSize(s, plain, stored.length + 3);
  const qs = join(dir, 'stored.zip');
  await writeFile(qs, s);
  await refused(ZipReader.open(qs), 'RV_ERR_ZIP_DAMAGED', qs, new RegExp(`size mismatch for stored file: ${stored.length} != ${stored.length + 3}`));

  // Damaged deflate data (bytes overwritten inside the stream) is an entry error too, not a crash.
  const b = Buffer.from(base);
  const start = deflated.local + 30 + b.readUInt16LE(deflated.local + 26) + b.readUInt16LE(deflated.local + 28);
  b.fill(0xff, start + 2, start + 12);
  const q = join(dir, 'garbled.zip');
  await writeFile(q, b);
  const z = await ZipReader.open(q);
  try {
    await refused(readAll(z, z.entries[0]!), 'RV_ERR_ZIP_ENTRY', q, /text\.txt in .* cannot be unpacked: /);
  } finally {
    z.close();
  }
});

test('zip reader: a deflate bomb claiming more than deflate can do, or more than allowed, is refused before unpacking', async (t) => {
  const dir = await tmp(t);
  // The real extreme: 20 MB of zeros deflated by Info-ZIP at -9 is within the limit and reads back.
  const zeros = join(dir, 'zeros.bin');
  await writeFile(zeros, Buffer.alloc(20_000_000));
  const real = join(dir, 'real.zip');
  await execFile('zip', ['-q', '-j', '-9', real, zeros]);
  const z0 = await ZipReader.open(real);
  let r0: Central;
  try {
    const e = z0.entries[0]!;
    assert.equal(e.method, 8);
    assert.ok(e.size / e.compressedSize > 900, `ratio ${e.size / e.compressedSize} is near deflate's maximum`);
    let n = 0;
    for await (const b of z0.data(e)) {
      assert.ok(b.every((x) => x === 0));
      n += b.length;
    }
    assert.equal(n, 20_000_000);
    // The same entry with a cap below its size is refused before a byte is unpacked.
    await refused(readAll(z0, e, 1_000_000), 'RV_ERR_ZIP_ENTRY', real, /it is 20000000 bytes, more than the 1000000 allowed for it/);
  } finally {
    z0.close();
  }
  r0 = central(await readFile(real)).records[0]!;

  // The bomb: the same compressed bytes, but the directory claims far more than deflate can produce.
  const bombSize = r0.compressedSize * 2000;
  const b = await readFile(real);
  setSize(b, r0, bombSize);
  const bomb = join(dir, 'bomb.zip');
  await writeFile(bomb, b);
  const z = await ZipReader.open(bomb);
  try {
    await refused(readAll(z, z.entries[0]!), 'RV_ERR_ZIP_ENTRY', bomb, new RegExp(`it claims to unpack ${r0.compressedSize} bytes into ${bombSize}, which deflate cannot do \\(a zip bomb\\)`));
  } finally {
    z.close();
  }
});

test('zip reader: a forged entry count is RV_ERR_ZIP_DAMAGED (too many for the file, past the directory, past any bundle)', async (t) => {
  const dir = await tmp(t);
  const entries = [{ name: 'a.txt', data: Buffer.from('aaa') }, { name: 'b.txt', data: Buffer.from('bbb') }];
  const p = join(dir, 'two.zip');
  await yazlZip(p, entries);
  const base = await readFile(p);
  const { eocd } = central(base);

  // One more than there are: fits in the file, but the third record is not a record.
  const one = Buffer.from(base);
  one.writeUInt16LE(3, eocd + 8);
  one.writeUInt16LE(3, eocd + 10);
  const q1 = join(dir, 'three.zip');
  await writeFile(q1, one);
  await refused(ZipReader.open(q1), 'RV_ERR_ZIP_DAMAGED', q1, /cannot be read as a zip file: unexpected EOF\. It may be/);

  // Thousands in a file of a few hundred bytes.
  const many = Buffer.from(base);
  many.writeUInt16LE(60_000, eocd + 8);
  many.writeUInt16LE(60_000, eocd + 10);
  const q2 = join(dir, 'many.zip');
  await writeFile(q2, many);
  await refused(ZipReader.open(q2), 'RV_ERR_ZIP_DAMAGED', q2, new RegExp(`it claims 60000 entries, more than fit in ${base.length} bytes`));

  // Past any bundle, via the zip64 end record's 64-bit count.
  const z64 = join(dir, 'z64.zip');
  await yazlZip(z64, entries, true);
  const b64 = await readFile(z64);
  assert.deepEqual([...(await readZip(z64)).keys()], ['a.txt', 'b.txt'], 'the zip64 zip reads');
  const rec = b64.lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06]));
  assert.ok(rec > 0, 'yazl wrote a zip64 end record');
  for (const [count, why] of [[MAX_ENTRIES + 1, `it claims ${MAX_ENTRIES + 1} entries, more than any bundle holds \\(${MAX_ENTRIES}\\)`], [2 ** 40, `it claims ${2 ** 40} entries, more than any bundle holds`]] as const) {
    const f = Buffer.from(b64);
    f.writeBigUInt64LE(BigInt(count), rec + 24);
    f.writeBigUInt64LE(BigInt(count), rec + 32);
    const q = join(dir, `z64-${count}.zip`);
    await writeFile(q, f);
    await refused(ZipReader.open(q), 'RV_ERR_ZIP_DAMAGED', q, new RegExp(why));
  }
});

test('zip reader: zip64 from Info-ZIP and yazl reads; broken zip64 records are RV_ERR_ZIP_DAMAGED', async (t) => {
  const dir = await tmp(t);
  const rnd = mulberry32(9);
  const noise = Buffer.from(Array.from({ length: 70_000 }, () => rnd() & 0xff));
  const text = Buffer.from('zip64 regel;\n'.repeat(5000));
  await writeFile(join(dir, 'noise.bin'), noise);
  await writeFile(join(dir, 'text.txt'), text);
  const info = join(dir, 'info64.zip');
  await execFile('zip', ['-q', '-j', '-fz', info, join(dir, 'noise.bin'), join(dir, 'text.txt')]);
  const yz = join(dir, 'yazl64.zip');
  await yazlZip(yz, [{ name: 'noise.bin', data: noise }, { name: 'text.txt', data: text, compress: true }], true);
  for (const p of [info, yz]) {
    const b = await readFile(p);
    assert.ok(b.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07])), `${p} has a zip64 locator`);
    const files = await readZip(p);
    assert.ok(files.get('noise.bin')!.equals(noise) && files.get('text.txt')!.equals(text), `${p} reads back exactly`);
  }

  const base = await readFile(yz);
  const loc = base.lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x07]));
  const rec = base.lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06]));
  // The locator points at something that is not a zip64 end record.
  const a = Buffer.from(base);
  a.writeBigUInt64LE(BigInt(rec - 7), loc + 8);
  const qa = join(dir, 'badloc.zip');
  await writeFile(qa, a);
  await refused(ZipReader.open(qa), 'RV_ERR_ZIP_DAMAGED', qa, /invalid zip64 end of central directory record signature/);
  // The locator points past the end of the file.
  const b = Buffer.from(base);
  b.writeBigUInt64LE(BigInt(base.length + 1000), loc + 8);
  const qb = join(dir, 'pastend.zip');
  await writeFile(qb, b);
  await refused(ZipReader.open(qb), 'RV_ERR_ZIP_DAMAGED', qb, /cannot be read as a zip file: /);
  // A central record says "see zip64 extra field" (0xffffffff) but its zip64 extra field is cut short.
  const c = Buffer.from(base);
  const r = c.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  let extra = r + 46 + c.readUInt16LE(r + 28);
  const extraEnd = extra + c.readUInt16LE(r + 30);
  while (extra < extraEnd && c.readUInt16LE(extra) !== 0x0001) extra += 4 + c.readUInt16LE(extra + 2);
  assert.ok(extra < extraEnd, 'yazl wrote a zip64 extra field');
  assert.equal(c.readUInt32LE(r + 24), 0xffffffff, 'the central record defers its sizes to it');
  c.writeUInt16LE(4, extra + 2);
  const qc = join(dir, 'shortextra.zip');
  await writeFile(qc, c);
  await refused(ZipReader.open(qc), 'RV_ERR_ZIP_DAMAGED', qc, /zip64 extended information extra field does not include/);
});

test('zip reader: encrypted entries and unsupported methods are RV_ERR_ZIP_ENTRY', async (t) => {
  const dir = await tmp(t);
  await writeFile(join(dir, 'a.txt'), 'geheim '.repeat(500));
  const enc = join(dir, 'enc.zip');
  await execFile('zip', ['-q', '-j', '-P', 'pw', enc, join(dir, 'a.txt')]);
  let z = await ZipReader.open(enc);
  try {
    await refused(readAll(z, z.entries[0]!), 'RV_ERR_ZIP_ENTRY', enc, /a\.txt in .* cannot be unpacked: it is encrypted/);
  } finally {
    z.close();
  }
  const bz = join(dir, 'bzip2.zip');
  await execFile('zip', ['-q', '-j', '-Z', 'bzip2', bz, join(dir, 'a.txt')]);
  z = await ZipReader.open(bz);
  try {
    assert.equal(z.entries[0]!.method, 12);
    await refused(readAll(z, z.entries[0]!), 'RV_ERR_ZIP_ENTRY', bz, /it uses compression method 12, which this checker does not read/);
  } finally {
    z.close();
  }
});
