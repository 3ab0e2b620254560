import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, link, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault } from '../src/vault/vault.ts';
import { Archive, type CallHeader, type CallMeta, type KeptCallWriter } from '../src/archive/archive.ts';
import { scrubWrappedKey } from '../src/archive/scrub.ts';

const PASS = 'archive test passphrase';
const SECOND = 1000;

interface Ctx { root: string; vaultDir: string; dir: string; vault: Vault; logs: string[] }

/** Each test gets its own folder with an initialized, locked vault, like a box after a restart. */
async function withBox(fn: (c: Ctx) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'rv-archive-'));
  try {
    const vaultDir = join(root, 'vault');
    await new Vault(vaultDir).init('admin', PASS);
    await fn({ root, vaultDir, dir: join(root, 'archive'), vault: new Vault(vaultDir), logs: [] });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const archiveOf = (c: Ctx, vault = c.vault): Archive =>
  new Archive({ dir: c.dir, vault, log: (msg, extra) => c.logs.push(`${msg} ${JSON.stringify(extra ?? {})}`) });

async function files(dir: string): Promise<string[]> {
  try {
    const out: string[] = [];
    for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
    return out.sort();
  } catch {
    return [];
  }
}

interface Kept { id: string; chunks: { at: number; pcm: Buffer }[]; header: CallHeader }

/** Keeps a call whose chunks are given in bytes; appends are issued without awaiting to test ordering. */
async function keep(a: Archive, o: { channels: 1 | 2; sizes: number[]; startedAt: number; meta?: CallMeta; line?: string; sampleRate?: 8000 | 16000 }): Promise<Kept> {
  const w = await a.beginCall({ line: o.line ?? 'l1', startedAt: o.startedAt, channels: o.channels, ...(o.sampleRate ? { sampleRate: o.sampleRate } : {}), meta: o.meta ?? { caller: '+3110' }, purposes: ['training'], keptBy: 'button', clockSynced: true });
  const chunks = o.sizes.map((n, i) => ({ at: o.startedAt + i * SECOND, pcm: randomBytes(n) }));
  await Promise.all(chunks.map((c) => w.append(c)));
  return { id: w.id, chunks, header: await w.finish() };
}

async function readAll(a: Archive, id: string, from?: number): Promise<{ at: number; pcm: Buffer }[]> {
  const out: { at: number; pcm: Buffer }[] = [];
  for await (const c of a.readPcm(id, from)) out.push({ at: c.at, pcm: Buffer.from(c.pcm) });
  return out;
}

const audioPath = (c: Ctx, id: string): string => join(c.dir, `${id.slice(0, 4)}-${id.slice(4, 6)}`, `${id}.audio`);
const headerPath = (c: Ctx, id: string): string => join(c.dir, `${id.slice(0, 4)}-${id.slice(4, 6)}`, `${id}.json`);

/** Splits an audio file into its records (u32 length + f64 at + ciphertext). */
function records(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < buf.length; ) {
    const n = 12 + buf.readUInt32LE(off);
    out.push(buf.subarray(off, off + n));
    off += n;
  }
  return out;
}

const T0 = Date.UTC(2026, 4, 12, 9, 30, 0);

test('keeps stereo and mono calls; a new Archive rebuilds the catalog and gives the exact PCM back after unlock', async () => {
  await withBox(async (c) => {
    const a = archiveOf(c);
    assert.deepEqual(await a.open(), { calls: 0, recovered: 0, quarantined: 0 });
    const stereo = await keep(a, { channels: 2, sizes: [32000, 32000, 32000, 8000], startedAt: T0, meta: { direction: 'in', caller: '+31201234567', notes: ['x'] } });
    const mono = await keep(a, { channels: 1, sizes: [16000, 16000, 1000], startedAt: T0 + 60 * SECOND });
    assert.match(stereo.id, /^20260512T093000-[0-9a-f]{8}$/);
    assert.equal(stereo.header.chunks, 4);
    assert.equal(stereo.header.samples, 3 * 8000 + 2000);
    assert.equal(stereo.header.durationMs, 3250);
    assert.equal(stereo.header.endedAt, T0 + 3 * SECOND + 250);
    assert.equal(stereo.header.channels, 2);
    assert.equal(mono.header.samples, 16500);
    assert.equal(mono.header.channels, 1);
    assert.deepEqual(a.list().map((h) => h.id), [mono.id, stereo.id], 'newest first');

    const bVault = new Vault(c.vaultDir);
    const b = archiveOf(c, bVault);
    assert.deepEqual(await b.open(), { calls: 2, recovered: 0, quarantined: 0 });
    assert.deepEqual(b.list().map((h) => h.id), [mono.id, stereo.id]);
    assert.deepEqual(b.get(stereo.id), stereo.header);
    assert.deepEqual(await b.verify(stereo.id), { ok: true });
    assert.deepEqual(await b.verify(mono.id), { ok: true });
    await assert.rejects(b.meta(stereo.id), { code: 'RV_ERR_VAULT_LOCKED', status: 423 });
    await assert.rejects(readAll(b, stereo.id), { code: 'RV_ERR_VAULT_LOCKED' });
    assert.throws(() => (b.get(stereo.id)!.purposes as string[]).push('x'), TypeError, 'catalog entries are frozen');

    // The Vault object the archive holds is unlocked, as the web unlock does.
    await bVault.unlock(PASS);
    assert.deepEqual(await b.meta(stereo.id), { direction: 'in', caller: '+31201234567', notes: ['x'] });
    assert.deepEqual(await readAll(b, stereo.id), stereo.chunks);
    assert.deepEqual(await readAll(b, mono.id), mono.chunks);
    assert.deepEqual(await readAll(b, stereo.id, 2), stereo.chunks.slice(2));
    await assert.rejects(b.meta('20260101T000000-00000000'), { code: 'RV_ERR_NO_SUCH_CALL', status: 404 });
  });
});

test('a wideband call is kept at 16 kHz: the header says so, its duration counts 16 kHz samples, and it survives a rebuild', async () => {
  await withBox(async (c) => {
    const a = archiveOf(c);
    await a.open();
    const wide = await keep(a, { channels: 2, sizes: [32000, 32000, 8000], startedAt: T0, sampleRate: 16000 });
    const narrow = await keep(a, { channels: 2, sizes: [32000], startedAt: T0 + 60 * SECOND });
    assert.equal(wide.header.sampleRate, 16000);
    assert.equal(wide.header.samples, 2 * 8000 + 2000);
    assert.equal(wide.header.durationMs, 1125);
    assert.equal(wide.header.endedAt, T0 + 2 * SECOND + 125, 'the last chunk (at +2 s in this helper) holds 2000 frames: 125 ms at 16 kHz');
    assert.equal(narrow.header.sampleRate, 8000, 'a call begun without a rate is 8 kHz, as every call kept before rates were');
    const b = archiveOf(c, new Vault(c.vaultDir));
    await b.open();
    assert.deepEqual(b.get(wide.id), wide.header);
    assert.deepEqual(await b.verify(wide.id), { ok: true });
    await assert.rejects(a.beginCall({ line: 'l1', startedAt: T0, channels: 1, sampleRate: 44100 as 8000, meta: {}, purposes: [], keptBy: 'user', clockSynced: true }), { code: 'RV_ERR_BAD_CALL' });
  });
});

test('appends are checked, and the archive waits for the vault to be set up before keeping', async () => {
  const root = await mkdtemp(join(tmpdir(), 'rv-archive-'));
  try {
    const vault = new Vault(join(root, 'vault'));
    const a = new Archive({ dir: join(root, 'archive'), vault });
    assert.deepEqual(await a.open(), { calls: 0, recovered: 0, quarantined: 0 });
    const init = { line: 'l1', startedAt: T0, channels: 2 as const, meta: {}, purposes: [], keptBy: 'all' as const, clockSynced: false };
    await assert.rejects(a.beginCall(init), { code: 'RV_ERR_VAULT_UNINITIALIZED' });
    await vault.init('admin', PASS);
    const w: KeptCallWriter = await a.beginCall(init);
    await assert.rejects(w.append({ at: T0, pcm: Buffer.alloc(3) }), { code: 'RV_ERR_BAD_CHUNK' }, 'odd byte count for stereo');
    await assert.rejects(w.append({ at: T0, pcm: Buffer.alloc(32004) }), { code: 'RV_ERR_BAD_CHUNK' });
    await w.append({ at: T0, pcm: Buffer.alloc(400, 7) });
    const h = await w.finish(T0 + 5 * SECOND);
    assert.equal(h.endedAt, T0 + 5 * SECOND);
    assert.equal(h.chunks, 1);
    assert.equal(await w.finish(), h, 'finish is idempotent');
    await assert.rejects(w.append({ at: T0, pcm: Buffer.alloc(4) }), { code: 'RV_ERR_CALL_FINISHED' });
    await assert.rejects(a.beginCall({ ...init, id: h.id }), { code: 'RV_ERR_CALL_EXISTS' });
    await assert.rejects(a.beginCall({ ...init, id: '../../etc' }), { code: 'RV_ERR_BAD_CALL' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a flipped audio byte, swapped records, a moved timestamp, a dropped record and an edited header are all detected', async () => {
  await withBox(async (c) => {
    const a = archiveOf(c);
    await a.open();
    await c.vault.unlock(PASS);
    const k = await keep(a, { channels: 2, sizes: [3200, 3200, 3200, 3200], startedAt: T0 });
    const path = audioPath(c, k.id);
    const original = await readFile(path);
    assert.deepEqual(await a.verify(k.id), { ok: true });

    const flipped = Buffer.from(original);
    flipped[records(original)[0].length + 40] ^= 0x01;
    await writeFile(path, flipped);
    const v1 = await a.verify(k.id);
    assert.equal(v1.ok, false);
    assert.match(v1.reason ?? '', /audio/);
    await assert.rejects(readAll(a, k.id), { code: 'RV_ERR_ARCHIVE_TAMPERED' });

    await writeFile(path, original);
    assert.deepEqual(await a.verify(k.id), { ok: true }, 'restoring the bytes makes it whole again');
    assert.equal((await readAll(a, k.id)).length, 4);

    const r = records(original);
    await writeFile(path, Buffer.concat([r[1], r[0], r[2], r[3]]));
    assert.equal((await a.verify(k.id)).ok, false);
    await assert.rejects(readAll(a, k.id), (e: { code?: string; message: string }) => e.code === 'RV_ERR_ARCHIVE_TAMPERED' && /chunk 0/.test(e.message));

    const moved = Buffer.from(original);
    moved.writeDoubleLE(T0 + 99, 4);
    await writeFile(path, moved);
    await assert.rejects(readAll(a, k.id), { code: 'RV_ERR_ARCHIVE_TAMPERED' }, 'the clear timestamp must match the sealed one');

    await writeFile(path, Buffer.concat(r.slice(0, 3)));
    await assert.rejects(readAll(a, k.id), (e: { code?: string; message: string }) => e.code === 'RV_ERR_ARCHIVE_TAMPERED' && /3 chunks/.test(e.message));

    await writeFile(path, original);
    const hp = headerPath(c, k.id);
    const header = await readFile(hp, 'utf8');
    await writeFile(hp, header.replace('"restricted":false', '"restricted":true'));
    const v2 = await a.verify(k.id);
    assert.equal(v2.ok, false);
    assert.match(v2.reason ?? '', /signature/);
    await writeFile(hp, header);
    assert.deepEqual(await a.verify(k.id), { ok: true });
  });
});

test('updateHeader rewrites durably and signs again; a new meta needs the unlocked vault', async () => {
  await withBox(async (c) => {
    const a = archiveOf(c);
    await a.open();
    const k = await keep(a, { channels: 1, sizes: [800, 800], startedAt: T0, meta: { caller: '0612345678' } });
    const h = await a.updateHeader(k.id, { restricted: true, holds: ['case-17'], purposes: ['complaint'] });
    assert.equal(h.restricted, true);
    assert.notEqual(h.signature, k.header.signature);
    assert.deepEqual(await a.verify(k.id), { ok: true });
    await assert.rejects(a.updateHeader(k.id, { meta: { caller: 'x' } }), { code: 'RV_ERR_VAULT_LOCKED' });
    await assert.rejects(a.shred(k.id), { code: 'RV_ERR_ON_HOLD', status: 409 });

    await c.vault.unlock(PASS);
    await a.updateHeader(k.id, { meta: { caller: '0612345678', notes: ['called back'] } });
    assert.deepEqual(await a.verify(k.id), { ok: true });

    const bVault = new Vault(c.vaultDir);
    const b = archiveOf(c, bVault);
    await b.open();
    const again = b.get(k.id)!;
    assert.deepEqual([again.restricted, again.holds, again.purposes], [true, ['case-17'], ['complaint']]);
    assert.deepEqual(await b.verify(k.id), { ok: true });
    await bVault.unlock(PASS);
    assert.deepEqual(await b.meta(k.id), { caller: '0612345678', notes: ['called back'] });
    assert.equal((await readAll(b, k.id)).length, 2, 'the audio still opens after a meta change');
  });
});

test('shred overwrites the wrapped key in place, removes the files and the catalog entry, and nothing can open the call', async () => {
  await withBox(async (c) => {
    const a = archiveOf(c);
    await a.open();
    await c.vault.unlock(PASS);
    const k = await keep(a, { channels: 2, sizes: [3200, 3200], startedAt: T0 });
    const other = await keep(a, { channels: 2, sizes: [3200], startedAt: T0 + SECOND });
    // A second name for the header's inode shows what happens to its blocks.
    const spy = join(c.root, 'header-link.json');
    await link(headerPath(c, k.id), spy);
    const wrapped = k.header.wrappedKey;

    await a.shred(k.id);
    assert.equal(a.get(k.id), undefined);
    assert.deepEqual(a.list().map((h) => h.id), [other.id]);
    await assert.rejects(stat(audioPath(c, k.id)), { code: 'ENOENT' });
    await assert.rejects(stat(headerPath(c, k.id)), { code: 'ENOENT' });
    await assert.rejects(readAll(a, k.id), { code: 'RV_ERR_NO_SUCH_CALL' });
    const scrubbed = JSON.parse(await readFile(spy, 'utf8')) as CallHeader;
    assert.match(scrubbed.wrappedKey, /^A+=*$/);
    assert.equal(scrubbed.wrappedKey.length, wrapped.length);
    for (const f of await files(c.dir)) assert.equal((await readFile(f)).includes(wrapped), false, `${f} still holds the wrapped key`);

    const b = archiveOf(c, new Vault(c.vaultDir));
    assert.equal((await b.open()).calls, 1);
    assert.equal(b.get(k.id), undefined);
  });
});

test('a shred cut short by a power cut is finished at open()', async () => {
  await withBox(async (c) => {
    const a = archiveOf(c);
    await a.open();
    const k = await keep(a, { channels: 1, sizes: [800], startedAt: T0 });
    await scrubWrappedKey(headerPath(c, k.id));
    const b = archiveOf(c);
    assert.deepEqual(await b.open(), { calls: 0, recovered: 0, quarantined: 0 });
    assert.deepEqual((await files(c.dir)).filter((f) => f.includes(k.id)), []);
  });
});

test('an open call left by a power cut is finished at open(): the torn last record is cut off', async () => {
  await withBox(async (c) => {
    const a = archiveOf(c);
    await a.open();
    await c.vault.unlock(PASS);
    const w = await a.beginCall({ line: 'l2', startedAt: T0, channels: 2, meta: { caller: '+3120555' }, purposes: [], keptBy: 'all', clockSynced: true });
    const chunks = [0, 1, 2].map((i) => ({ at: T0 + i * SECOND, pcm: randomBytes(3200) }));
    for (const ch of chunks) await w.append(ch);
    // Freeze the folder as a power cut would leave it, with half a record written after the last whole one.
    const cut = join(c.root, 'cut');
    await cp(c.dir, cut, { recursive: true });
    await w.finish();
    const cutAudio = join(cut, `${w.id.slice(0, 4)}-${w.id.slice(4, 6)}`, `${w.id}.audio`);
    const whole = await readFile(cutAudio);
    const torn = Buffer.concat([whole, records(whole)[0].subarray(0, 500)]);
    await writeFile(cutAudio, torn);
    await writeFile(join(cut, 'stray.json.1a2b3c4d.tmp'), 'partial');

    const logs: string[] = [];
    const b = new Archive({ dir: cut, vault: c.vault, log: (m) => logs.push(m) });
    assert.deepEqual(await b.open(), { calls: 1, recovered: 1, quarantined: 0 });
    const h = b.get(w.id)!;
    assert.equal(h.chunks, 3);
    assert.equal(h.endedAt, T0 + 2 * SECOND + 100);
    assert.equal((await stat(cutAudio)).size, whole.length);
    assert.deepEqual(await b.verify(w.id), { ok: true });
    assert.deepEqual(await readAll(b, w.id), chunks);
    assert.deepEqual(await b.meta(w.id), { caller: '+3120555' });
    const left = await files(cut);
    assert.equal(left.some((f) => f.endsWith('.open.json') || f.endsWith('.tmp')), false, left.join(', '));
    assert.ok(logs.some((l) => /torn/.test(l)) && logs.some((l) => /left open/.test(l)) && logs.some((l) => /temp file/.test(l)), logs.join('\n'));
  });
});

test('malformed and stray files are quarantined with a logged reason and never break open()', async () => {
  await withBox(async (c) => {
    const a = archiveOf(c);
    await a.open();
    const good = await keep(a, { channels: 1, sizes: [800], startedAt: T0 });
    const month = join(c.dir, '2026-05');
    const ids = ['20260512T100000-0000000a', '20260512T100000-0000000b', '20260512T100000-0000000c', '20260512T100000-0000000d', '20260512T100000-0000000e'];
    await writeFile(join(month, `${ids[0]}.json`), '{ "id": "not closed');
    await writeFile(join(month, `${ids[0]}.audio`), randomBytes(100));
    await writeFile(join(month, `${ids[1]}.json`), JSON.stringify({ ...good.header, id: ids[1] }).replace('"channels":1', '"channels":"one"'));
    await writeFile(join(month, `${ids[2]}.open.json`), '\0\0\0\0');
    await writeFile(join(month, `${ids[2]}.audio`), randomBytes(100));
    await writeFile(join(month, `${ids[3]}.audio`), Buffer.alloc(0));
    await writeFile(join(month, `${ids[4]}.audio`), randomBytes(64));
    await writeFile(join(month, 'notes.txt'), 'hello');
    await writeFile(join(month, `${ids[0]}.json.deadbeef.tmp`), '{');
    const wrongMonth = join(c.dir, '2026-01');
    await cp(month, wrongMonth, { recursive: true, filter: (src) => src === month || src.includes(good.id) });

    const b = archiveOf(c);
    const r = await b.open();
    assert.deepEqual(r, { calls: 1, recovered: 0, quarantined: 7 });
    assert.deepEqual(b.list().map((h) => h.id), [good.id]);
    const q = (await readdir(join(c.dir, 'quarantine'))).sort();
    for (const f of [`${ids[0]}.json`, `${ids[0]}.audio`, `${ids[1]}.json`, `${ids[2]}.open.json`, `${ids[2]}.audio`, `${ids[4]}.audio`, 'notes.txt']) assert.ok(q.includes(f), `${f} in quarantine: ${q.join(', ')}`);
    assert.ok(q.includes(`${good.id}.json`) && q.includes(`${good.id}.audio`), 'a call in the wrong month folder is quarantined');
    const left = (await readdir(month)).sort();
    assert.deepEqual(left, [`${good.id}.audio`, `${good.id}.json`]);
    assert.ok(c.logs.some((l) => l.includes(ids[1]) && l.includes('malformed header')), c.logs.join('\n'));
    assert.ok(c.logs.some((l) => l.includes(ids[2]) && l.includes('no durable wrapped key')));

    // A second start finds a clean folder.
    assert.deepEqual(await archiveOf(c).open(), { calls: 1, recovered: 0, quarantined: 0 });
  });
});

test('no archive or vault file holds a phone number, a name or a stretch of PCM in the clear', async () => {
  await withBox(async (c) => {
    const a = archiveOf(c);
    await a.open();
    const caller = '+31612345678';
    const meta = { direction: 'in', caller, called: '0201234567', extension: '214', notes: ['Mevrouw Jansen-Oosterhuis'] };
    const k = await keep(a, { channels: 2, sizes: [32000, 32000, 12000], startedAt: T0, meta });
    await c.vault.unlock(PASS);
    await a.updateHeader(k.id, { meta: { ...meta, notes: [...meta.notes, 'teruggebeld door Pieternella'] } });
    const needles = [
      Buffer.from(caller), Buffer.from('31612345678'), Buffer.from('0201234567'), Buffer.from('Oosterhuis'), Buffer.from('Pieternella'),
      Buffer.from(caller, 'utf16le'),
      ...k.chunks.flatMap((ch) => [ch.pcm.subarray(0, 48), ch.pcm.subarray(5000, 5048), ch.pcm.subarray(ch.pcm.length - 48)]),
    ];
    const all = [...(await files(c.dir)), ...(await files(c.vaultDir))];
    assert.ok(all.length >= 6, all.join(', '));
    // The search itself must be able to hit: a file that does hold a needle is found.
    const probe = join(c.root, 'probe.bin');
    await writeFile(probe, Buffer.concat([randomBytes(100), k.chunks[1].pcm.subarray(5000, 5048)]));
    // Base64 fields are decoded too, so a "sealed" value that is merely encoded would be caught.
    const views = (b: Buffer): Buffer[] => [b, ...[...b.toString('latin1').matchAll(/[A-Za-z0-9+/]{16,}={0,2}/g)].map((m) => Buffer.from(m[0], 'base64'))];
    const hits = async (f: string): Promise<number> => {
      const vs = views(await readFile(f));
      return needles.filter((n) => vs.some((v) => v.includes(n))).length;
    };
    assert.equal(await hits(probe), 1);
    await writeFile(probe, JSON.stringify({ metaSealed: Buffer.from(JSON.stringify(meta)).toString('base64') }));
    assert.equal(await hits(probe), 4);
    for (const f of all) assert.equal(await hits(f), 0, `${f} holds personal data or audio in the clear`);
  });
});
