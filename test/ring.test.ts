import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ring, slotsForMinutes, SLOT_BYTES, MAX_PCM_BYTES, type RingChunk } from '../src/ring/ring.ts';
import { RvError } from '../src/errors.ts';

/** A 20-byte marker that must never show up in the ring file in the clear. */
const MARKER = Buffer.from('RVCLEARPCM-MARKER-01', 'latin1');

async function tmpRing(t: TestContext, slots: number): Promise<{ ring: Ring; file: string; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-ring-'));
  const file = path.join(dir, 'ring.bin');
  const ring = await Ring.open({ path: file, slots });
  t.after(async () => {
    await ring.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { ring, file, dir };
}

/** Deterministic PCM that differs per seq, so a chunk mix-up shows. */
function pcmOf(seq: number, channels: 1 | 2, frames = 8000): Buffer {
  const b = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < b.length / 2; i++) b.writeInt16LE(((seq * 7919 + i * 31) % 65536) - 32768, i * 2);
  return b;
}

function markerPcm(): Buffer {
  const b = Buffer.alloc(MAX_PCM_BYTES);
  for (let o = 0; o < b.length; o += MARKER.length) MARKER.copy(b, o);
  return b;
}

const chunk = (seq: number, channels: 1 | 2 = 2, pcm = pcmOf(seq, channels), rate: 8000 | 16000 = 8000): RingChunk => ({ seq, at: 1_700_000_000_000 + seq * 1000, channels, rate, pcm });

const rvCode = (code: string, msg?: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof RvError, `expected RvError, got ${String(e)}`);
  assert.equal(e.code, code);
  if (msg) assert.match(e.message, msg);
  return true;
};

const slotBytesOnDisk = (file: string, slot: number): Buffer => {
  const all = fs.readFileSync(file);
  return Buffer.from(all.subarray(slot * SLOT_BYTES, (slot + 1) * SLOT_BYTES));
};

const patchFile = (file: string, pos: number, bytes: Buffer): void => {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, pos);
  } finally {
    fs.closeSync(fd);
  }
};

test('open preallocates the file to exactly slots * slotBytes', async (t) => {
  const { ring, file } = await tmpRing(t, 7);
  assert.equal(ring.slotBytes, SLOT_BYTES);
  assert.equal(ring.slotBytes, 24 + 16 + 80 + 32000);
  assert.equal(ring.slotCount, 7);
  assert.equal(fs.statSync(file).size, 7 * ring.slotBytes);
  assert.deepEqual(ring.stats(), { used: 0, pinned: 0, calls: 0 });
});

test('an existing file of another size is recreated at the exact size; one of the right size is reused', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-ring-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'ring.bin');
  fs.writeFileSync(file, Buffer.alloc(12345, 0xab));
  const r1 = await Ring.open({ path: file, slots: 3 });
  await r1.close();
  const raw = fs.readFileSync(file);
  assert.equal(raw.length, 3 * SLOT_BYTES);
  assert.equal(raw.indexOf(0xab), -1, 'old content must be gone after recreation');

  fs.writeFileSync(file, Buffer.alloc(3 * SLOT_BYTES, 0xcd));
  const r2 = await Ring.open({ path: file, slots: 3 });
  await r2.close();
  assert.ok(fs.readFileSync(file).equals(Buffer.alloc(3 * SLOT_BYTES, 0xcd)), 'a right-sized file is not rewritten at open');

  await assert.rejects(Ring.open({ path: file, slots: 0 }), rvCode('RV_ERR_RING_CONFIG'));
  await assert.rejects(Ring.open({ path: dir, slots: 2 }), rvCode('RV_ERR_RING_OPEN'));
});

test('write/read round trip, mono and stereo, exact bytes', async (t) => {
  const { ring } = await tmpRing(t, 8);
  const mono = [chunk(0, 1), chunk(1, 1), chunk(2, 1, pcmOf(2, 1, 37))];
  const stereo = [chunk(0, 2), chunk(1, 2, pcmOf(1, 2, 1))];
  assert.equal(mono[0].pcm.length, 16000);
  assert.equal(stereo[0].pcm.length, 32000);
  // interleave the two calls like live lines do, and write the mono call out of seq order
  ring.write('mono', mono[1]);
  ring.write('stereo', stereo[0]);
  ring.write('mono', mono[0]);
  ring.write('stereo', stereo[1]);
  ring.write('mono', mono[2]);
  assert.ok(ring.has('mono') && ring.has('stereo') && !ring.has('other'));
  assert.deepEqual(ring.read('mono'), mono);
  assert.deepEqual(ring.read('stereo'), stereo);
  assert.deepEqual(ring.read('other'), []);
  const got = ring.read('stereo')[0];
  assert.ok(got.pcm.equals(stereo[0].pcm));
  assert.equal(got.at, stereo[0].at);
  assert.deepEqual(ring.stats(), { used: 5, pinned: 0, calls: 2 });
});

test('a wideband call keeps its 16 kHz rate through the ring; a chunk without a rate reads back as 8 kHz', async (t) => {
  const { ring } = await tmpRing(t, 4);
  const wide = [chunk(0, 2, pcmOf(0, 2), 16000), chunk(1, 2, pcmOf(1, 2, 100), 16000)];
  for (const c of wide) ring.write('wide', c);
  assert.deepEqual(ring.read('wide'), wide);
  const { rate: _none, ...old } = chunk(0, 1);
  ring.write('old', old);
  assert.equal(ring.read('old')[0]!.rate, 8000);
  assert.throws(() => ring.write('bad', { ...chunk(0), rate: 44100 as 8000 }), rvCode('RV_ERR_RING_CHUNK', /8000 or 16000/));
});

test('wrap-around: the oldest call loses its start, read returns what remains in order', async (t) => {
  const { ring } = await tmpRing(t, 4);
  for (let s = 0; s < 3; s++) ring.write('A', chunk(s)); // slots 0..2
  for (let s = 0; s < 3; s++) ring.write('B', chunk(s)); // slots 3, 0, 1
  assert.deepEqual(ring.read('A').map((c) => c.seq), [2]);
  assert.deepEqual(ring.read('A'), [chunk(2)]);
  assert.deepEqual(ring.read('B'), [chunk(0), chunk(1), chunk(2)]);
  assert.deepEqual(ring.stats(), { used: 4, pinned: 0, calls: 2 });
  ring.write('B', chunk(3)); // slot 2: A's last chunk
  assert.equal(ring.has('A'), false);
  assert.deepEqual(ring.read('A'), []);
  assert.deepEqual(ring.read('B').map((c) => c.seq), [0, 1, 2, 3]);
  for (let s = 4; s < 11; s++) ring.write('B', chunk(s));
  assert.deepEqual(ring.read('B').map((c) => c.seq), [7, 8, 9, 10]);
  assert.deepEqual(ring.stats(), { used: 4, pinned: 0, calls: 1 });
});

test('pinning: a pinned call survives a wrap; all slots pinned -> RV_ERR_RING_FULL', async (t) => {
  const { ring } = await tmpRing(t, 4);
  ring.write('A', chunk(0));
  ring.write('A', chunk(1));
  ring.pin('A');
  assert.equal(ring.stats().pinned, 2);
  assert.equal(ring.coverageSeconds(1), 2);
  for (let s = 0; s < 5; s++) ring.write('B', chunk(s));
  assert.deepEqual(ring.read('A'), [chunk(0), chunk(1)]);
  assert.deepEqual(ring.read('B').map((c) => c.seq), [3, 4]);
  ring.pin('B');
  assert.deepEqual(ring.stats(), { used: 4, pinned: 4, calls: 2 });
  assert.throws(() => ring.write('C', chunk(0)), rvCode('RV_ERR_RING_FULL'));
  assert.throws(() => ring.write('A', chunk(2)), rvCode('RV_ERR_RING_FULL'));
  assert.deepEqual(ring.read('A'), [chunk(0), chunk(1)], 'a refused write changes nothing');
  ring.unpin('A');
  ring.write('C', chunk(0)); // next unpinned slot after the cursor is A's first
  assert.deepEqual(ring.read('A'), [chunk(1)]);
  assert.deepEqual(ring.read('B').map((c) => c.seq), [3, 4]);
  assert.deepEqual(ring.stats(), { used: 4, pinned: 2, calls: 3 });
});

test('a call pinned before it writes keeps every chunk it writes later', async (t) => {
  const { ring } = await tmpRing(t, 3);
  ring.pin('K');
  ring.write('K', chunk(0));
  for (let s = 0; s < 6; s++) ring.write('X', chunk(s));
  ring.write('K', chunk(1));
  assert.deepEqual(ring.read('K'), [chunk(0), chunk(1)]);
  assert.deepEqual(ring.read('X').map((c) => c.seq), [5]);
  assert.equal(ring.stats().pinned, 2);
});

test('forget() overwrites the call slots with new bytes at once and drops it', async (t) => {
  const { ring, file } = await tmpRing(t, 5);
  ring.write('P', chunk(0));
  ring.write('Q', chunk(0));
  ring.write('P', chunk(1));
  ring.pin('P');
  const before = [0, 1, 2].map((s) => slotBytesOnDisk(file, s));
  ring.forget('P');
  assert.equal(ring.has('P'), false);
  assert.deepEqual(ring.read('P'), []);
  for (const s of [0, 2]) {
    const after = slotBytesOnDisk(file, s);
    assert.ok(!after.equals(before[s]), `slot ${s} must change`);
    // no long run of the old bytes survives (random overwrite, not a partial patch)
    assert.equal(after.indexOf(before[s].subarray(1000, 1032)), -1);
  }
  assert.ok(slotBytesOnDisk(file, 1).equals(before[1]), 'the other call is untouched');
  assert.deepEqual(ring.read('Q'), [chunk(0)]);
  assert.deepEqual(ring.stats(), { used: 1, pinned: 0, calls: 1 });
  // forgotten slots are free again and the pin went with the call
  for (let s = 1; s < 5; s++) ring.write('Q', chunk(s));
  assert.equal(ring.stats().pinned, 0);
});

test('restart: nothing written before close can be read, and PCM never lies on disk in the clear', async (t) => {
  const { ring, file } = await tmpRing(t, 4);
  const secret = markerPcm();
  assert.ok(secret.indexOf(MARKER) >= 0);
  ring.write('call-secret-42', { seq: 0, at: 1, channels: 2, pcm: secret });
  ring.write('call-secret-42', { seq: 1, at: 2, channels: 1, pcm: secret.subarray(0, 16000) });
  assert.deepEqual(ring.read('call-secret-42')[0].pcm, secret, 'sanity: the ring itself can read it');
  const raw1 = fs.readFileSync(file);
  assert.equal(raw1.indexOf(MARKER), -1, 'PCM marker in the clear while open');
  assert.equal(raw1.indexOf(MARKER.subarray(0, 8)), -1);
  assert.equal(raw1.indexOf('call-secret-42'), -1, 'call id in the clear while open');
  await ring.close();
  assert.throws(() => ring.read('call-secret-42'), rvCode('RV_ERR_RING_CLOSED'));

  const again = await Ring.open({ path: file, slots: 4 });
  t.after(() => again.close());
  assert.equal(again.has('call-secret-42'), false);
  assert.deepEqual(again.read('call-secret-42'), []);
  assert.equal(again.readableSlots(), 0, 'no slot authenticates under the new key');
  const raw2 = fs.readFileSync(file);
  assert.ok(raw2.equals(raw1), 'the old key-less bytes are still on disk (same size file reused)');
  assert.equal(raw2.indexOf(MARKER), -1, 'PCM marker in the clear after restart');
  // the diagnostic can fail: a slot written under the new key does authenticate
  again.write('new', chunk(0));
  assert.equal(again.readableSlots(), 1);
});

test('tamper: one flipped byte anywhere in a slot -> RV_ERR_RING_TAMPERED naming the slot', async (t) => {
  const { ring, file } = await tmpRing(t, 4);
  for (let s = 0; s < 3; s++) ring.write('T', chunk(s));
  const base = 1 * SLOT_BYTES;
  for (const off of [0, 23, 24, 39, 40, 44, 5000, SLOT_BYTES - 1]) {
    const orig = slotBytesOnDisk(file, 1);
    patchFile(file, base + off, Buffer.from([orig[off] ^ 0x01]));
    assert.throws(() => ring.read('T'), rvCode('RV_ERR_RING_TAMPERED', /slot 1\b.*authenticate/), `offset ${off}`);
    patchFile(file, base + off, Buffer.from([orig[off]]));
    assert.equal(ring.read('T').length, 3, `restored at offset ${off}`);
  }
});

test('tamper: a slot copied over another slot of the same call is detected', async (t) => {
  const { ring, file } = await tmpRing(t, 4);
  for (let s = 0; s < 3; s++) ring.write('T', chunk(s));
  patchFile(file, 2 * SLOT_BYTES, slotBytesOnDisk(file, 0));
  assert.throws(() => ring.read('T'), rvCode('RV_ERR_RING_TAMPERED', /slot 2\b.*out of place.*slot 0\b/));
});

test('tamper: an older copy of the same slot put back is detected', async (t) => {
  const { ring, file } = await tmpRing(t, 2);
  ring.write('T', chunk(0)); // slot 0
  const old = slotBytesOnDisk(file, 0);
  ring.write('T', chunk(1)); // slot 1
  ring.write('T', chunk(2)); // slot 0 again
  assert.deepEqual(ring.read('T').map((c) => c.seq), [1, 2]);
  patchFile(file, 0, old);
  assert.throws(() => ring.read('T'), rvCode('RV_ERR_RING_TAMPERED', /slot 0\b.*out of place/));
});

test('bad chunks and a closed ring are refused with clear codes', async (t) => {
  const { ring } = await tmpRing(t, 2);
  assert.throws(() => ring.write('A', chunk(0, 2, Buffer.alloc(MAX_PCM_BYTES + 4))), rvCode('RV_ERR_RING_CHUNK', /32000/));
  assert.throws(() => ring.write('A', chunk(0, 2, Buffer.alloc(6))), rvCode('RV_ERR_RING_CHUNK'));
  assert.throws(() => ring.write('A', { ...chunk(0), seq: -1 }), rvCode('RV_ERR_RING_CHUNK'));
  assert.throws(() => ring.write('A', { ...chunk(0), at: Number.NaN }), rvCode('RV_ERR_RING_CHUNK'));
  assert.throws(() => ring.write('x'.repeat(1025), chunk(0)), rvCode('RV_ERR_RING_CHUNK'));
  assert.throws(() => ring.write('', chunk(0)), rvCode('RV_ERR_RING_CHUNK'));
  assert.deepEqual(ring.stats(), { used: 0, pinned: 0, calls: 0 });
  const sipCallId = `line-1.${'a84b4c76e66710'.repeat(40)}@pbx.example`; // long ids fit: only their hash is stored
  ring.write(sipCallId, chunk(0));
  assert.deepEqual(ring.read(sipCallId), [chunk(0)]);
  await ring.close();
  await ring.close();
  assert.throws(() => ring.write('A', chunk(0)), rvCode('RV_ERR_RING_CLOSED'));
  assert.throws(() => ring.has('A'), rvCode('RV_ERR_RING_CLOSED'));
});

test('slotsForMinutes and coverageSeconds', async (t) => {
  assert.equal(slotsForMinutes(5, 4), 1200);
  assert.equal(slotsForMinutes(0.5, 3), 90);
  assert.equal(slotsForMinutes(0.01, 1), 1);
  assert.throws(() => slotsForMinutes(0, 2), rvCode('RV_ERR_RING_CONFIG'));
  assert.throws(() => slotsForMinutes(5, 0), rvCode('RV_ERR_RING_CONFIG'));
  assert.throws(() => slotsForMinutes(5, 1.5), rvCode('RV_ERR_RING_CONFIG'));
  const { ring } = await tmpRing(t, 12);
  assert.equal(ring.coverageSeconds(1), 12);
  assert.equal(ring.coverageSeconds(4), 3);
  assert.equal(ring.coverageSeconds(5), 2.4);
  assert.throws(() => ring.coverageSeconds(0), rvCode('RV_ERR_RING_CONFIG'));
  ring.write('A', chunk(0));
  ring.write('A', chunk(1));
  ring.pin('A');
  assert.equal(ring.coverageSeconds(2), 5, 'pinned slots do not rotate, so they give no coverage');
});
