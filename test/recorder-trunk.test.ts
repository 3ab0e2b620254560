import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ring } from '../src/ring/ring.ts';
import { Archive } from '../src/archive/archive.ts';
import { Vault } from '../src/vault/vault.ts';
import { Recorder } from '../src/calls/recorder.ts';
import { LineSource } from '../src/sources/source.ts';
import { parseConfig } from '../src/config/load.ts';
import { silentLog } from '../src/log.ts';
import { isRvError } from '../src/errors.ts';

class ManualSource extends LineSource {
  readonly kind = 'manual';
  readonly lines = ['trunk', 'analog'];
  async start() {}
  async stop() {}
}

/**
 * A recorder over a real ring and archive with one siprec trunk line (maxCalls 3) and one simulated
 * line, fed by hand: calls on the trunk play interleaved, each with its own sample pattern.
 */
async function rig(t: { after(fn: () => Promise<void>): void }, trunk: Record<string, unknown> = {}, exclusions: string[] = []) {
  const dir = await mkdtemp(join(tmpdir(), 'rv-trunk-'));
  const cfg = parseConfig({
    dataDir: dir, graceSeconds: 120, board: { driver: 'none' }, siprec: { allowFrom: ['127.0.0.1'] },
    lines: [
      { id: 'trunk', name: 'Trunk', source: 'siprec', maxCalls: 3, keep: 'on-demand', announced: ['complaint', 'training'], keepPurposes: ['complaint'], ...trunk },
      { id: 'analog', name: 'Analog', source: 'sim', keep: 'on-demand', announced: ['complaint'], keepPurposes: ['complaint'] },
    ],
  }, 'test');
  const vault = new Vault(join(dir, 'vault'));
  await vault.init('admin', 'test passphrase');
  const archive = new Archive({ dir: join(dir, 'archive'), vault });
  await archive.open();
  const ring = await Ring.open({ path: join(dir, 'ring.bin'), slots: 60 });
  let now = 1_800_000_000_000;
  const rec = new Recorder({ ring, archive, clock: { now: () => now, synced: () => true }, log: silentLog, lines: () => cfg.lines, graceSeconds: () => cfg.graceSeconds, exclusions: () => exclusions });
  const src = new ManualSource();
  rec.attach(src);
  t.after(async () => { await rec.close(); await ring.close(); await rm(dir, { recursive: true, force: true }); });
  const calls: { ref: string; line: string; base: number; sample: number; startedAt: number }[] = [];
  const start = (line: string, ref: string, base: number, parties: Record<string, string> = {}) => {
    src.emit('call-start', { line, ref, at: now, channels: 1, parties: { direction: 'in', caller: '+31201234567', ...parties } });
    const c = { ref, line, base, sample: 0, startedAt: now };
    calls.push(c);
    return c;
  };
  /** `sec` seconds of 20 ms blocks, one block of every live call in turn (as a trunk's streams arrive). */
  const play = (sec: number, which = calls) => {
    for (let b = 0; b < sec * 50; b++) {
      for (const c of which) {
        const pcm = new Int16Array(160).map((_, i) => c.base + ((c.sample + i) % 1000));
        c.sample += 160;
        src.emit('call-audio', { line: c.line, ref: c.ref, block: { at: c.startedAt + c.sample / 8, channels: 1, pcm } });
      }
      now += 20;
    }
  };
  const end = (c: { line: string; ref: string }) => src.emit('call-end', { line: c.line, ref: c.ref, at: now, reason: 'bye' });
  const pcmOf = async (id: string) => {
    const parts: Buffer[] = [];
    for await (const x of archive.readPcm(id)) parts.push(x.pcm);
    return new Int16Array(new Uint8Array(Buffer.concat(parts)).buffer);
  };
  /** Every sample of a kept call is its own call's pattern, in order and complete: calls never mix. */
  const assertOwn = (pcm: Int16Array, c: { base: number; sample: number }) => {
    assert.equal(pcm.length, c.sample);
    for (let i = 0; i < pcm.length; i++) if (pcm[i] !== c.base + (i % 1000)) assert.fail(`sample ${i} is ${pcm[i]}, expected ${c.base + (i % 1000)}`);
  };
  return { rec, archive, ring, start, play, end, pcmOf, assertOwn, advance: (ms: number) => { now += ms; } };
}

const code = (e: unknown) => (isRvError(e) ? e.code : String(e));

test('a trunk line carries several live calls; each is its own call in the status', async (t) => {
  const r = await rig(t);
  r.start('trunk', 'c1', 1000, { called: '201' });
  r.start('trunk', 'c2', 3000, { called: '202' });
  r.play(1);
  const st = r.rec.status().find((l) => l.id === 'trunk')!;
  assert.equal(st.maxCalls, 3);
  assert.deepEqual(st.calls.map((c) => c.ref), ['c1', 'c2']);
  assert.equal(st.call?.ref, 'c2', 'call is the newest live call');
  assert.equal(st.state, 'in-call');
  const analog = r.rec.status().find((l) => l.id === 'analog')!;
  assert.equal(analog.maxCalls, 1);
  assert.deepEqual(analog.calls, []);
});

test('save on a trunk keeps every live call, each whole and unmixed', async (t) => {
  const r = await rig(t);
  const a = r.start('trunk', 'c1', 1000);
  r.play(1.5);
  const b = r.start('trunk', 'c2', 3000);
  const c = r.start('trunk', 'c3', 5000);
  r.play(2.3);
  const saved = await r.rec.save('trunk', { keptBy: 'button' });
  assert.equal(saved.callIds.length, 3);
  r.play(1.1);
  for (const x of [a, b, c]) r.end(x);
  await r.rec.settle();
  const byLineRef = new Map(saved.callIds.map((id, i) => [id, [a, b, c][i]!]));
  for (const [id, x] of byLineRef) r.assertOwn(await r.pcmOf(id), x);
  assert.equal(r.rec.status()[0]!.state, 'idle');
});

test('save by extension or ref keeps only that call; the others stay in the ring and are wiped after grace', async (t) => {
  const r = await rig(t);
  const a = r.start('trunk', 'c1', 1000, { called: '+31201110201', extension: '201' });
  const b = r.start('trunk', 'c2', 3000, { called: '+31201110202' });
  r.play(2);
  const one = await r.rec.save('trunk', { keptBy: 'button', extension: '201' });
  assert.equal(one.callIds.length, 1);
  // The extension matches the call's own number too (a trunk's DID per extension).
  const two = await r.rec.save('trunk', { keptBy: 'button', extension: '+31201110202' });
  assert.equal(two.callIds.length, 1);
  assert.notEqual(one.callId, two.callId);
  await assert.rejects(r.rec.save('trunk', { keptBy: 'button', extension: '299' }), (e) => code(e) === 'RV_ERR_NOTHING_TO_SAVE');
  r.play(1);
  r.end(a); r.end(b);
  await r.rec.settle();
  r.assertOwn(await r.pcmOf(one.callId), a);
  r.assertOwn(await r.pcmOf(two.callId), b);
});

test('ended trunk calls are each savable within grace, by ref', async (t) => {
  const r = await rig(t);
  const a = r.start('trunk', 'c1', 1000);
  const b = r.start('trunk', 'c2', 3000);
  r.play(1.2);
  r.end(a); r.end(b);
  const st = r.rec.status()[0]!;
  assert.deepEqual(st.ended.map((e) => e.ref), ['c1', 'c2']);
  const kept = await r.rec.save('trunk', { keptBy: 'user', ref: 'c1' });
  r.assertOwn(await r.pcmOf(kept.callId), a);
  assert.deepEqual(r.rec.status()[0]!.ended.map((e) => e.ref), ['c2'], 'the other ended call is still savable');
  r.advance(121_000);
  await assert.rejects(r.rec.save('trunk', { keptBy: 'user', ref: 'c2' }), (e) => code(e) === 'RV_ERR_NOTHING_TO_SAVE');
});

test('private on a trunk with several calls must say which; an excluded number wipes only its call', async (t) => {
  const r = await rig(t, {}, ['+31209999999']);
  const a = r.start('trunk', 'c1', 1000);
  const b = r.start('trunk', 'c2', 3000);
  r.play(1);
  await assert.rejects(r.rec.private('trunk'), (e) => code(e) === 'RV_ERR_WHICH_CALL' && /board\.units/.test((e as Error).message));
  await r.rec.private('trunk', { ref: 'c1' });
  const st = r.rec.status()[0]!;
  assert.deepEqual(st.calls.map((c) => [c.ref, c.private]), [['c1', true], ['c2', false]]);
  await assert.rejects(r.rec.save('trunk', { keptBy: 'user', ref: 'c1' }), (e) => code(e) === 'RV_ERR_CALL_PRIVATE');
  // Without a pick, save keeps what can be kept and leaves the private call alone.
  const kept = await r.rec.save('trunk', { keptBy: 'user' });
  assert.equal(kept.callIds.length, 1);
  const c = r.start('trunk', 'c3', 5000, { caller: '+31209999999' });
  r.play(1);
  assert.equal(r.rec.status()[0]!.calls.find((x) => x.ref === 'c3')?.private, true, 'the excluded call is not buffered');
  r.end(a); r.end(b); r.end(c);
  await r.rec.settle();
  r.assertOwn(await r.pcmOf(kept.callId), b);
});

test('a fourth call on a trunk of three ends the oldest; an analog line still carries one call', async (t) => {
  const r = await rig(t, { keep: 'all' });
  r.start('trunk', 'c1', 1000);
  r.start('trunk', 'c2', 2000);
  r.start('trunk', 'c3', 3000);
  r.start('trunk', 'c4', 4000);
  assert.deepEqual(r.rec.status()[0]!.calls.map((c) => c.ref), ['c2', 'c3', 'c4']);
  r.start('analog', 'a1', 6000);
  r.start('analog', 'a2', 7000);
  assert.deepEqual(r.rec.status()[1]!.calls.map((c) => c.ref), ['a2']);
  await r.rec.settle();
});

test('config: maxCalls only on trunks, within bounds, and board units name real lines', () => {
  const sbc = { siprec: { allowFrom: ['192.168.1.20'] } };
  const base = { board: { driver: 'none' }, ...sbc };
  const line = (x: Record<string, unknown>) => ({ id: 'l1', name: 'L', announced: ['complaint'], keepPurposes: ['complaint'], ...x });
  assert.throws(() => parseConfig({ ...base, lines: [line({ source: 'sim', maxCalls: 4 })] }, 'cfg'), /lines\.l1\.maxCalls: found 4 on a "sim" line, which carries one call at a time/);
  assert.throws(() => parseConfig({ ...base, lines: [line({ source: 'siprec', maxCalls: 0 })] }, 'cfg'), /lines\.0\.maxCalls: found 0/);
  assert.throws(() => parseConfig({ ...base, lines: [line({ source: 'siprec', maxCalls: 65 })] }, 'cfg'), /lines\.0\.maxCalls: found 65/);
  assert.throws(() => parseConfig({ ...sbc, board: { driver: 'none', units: [{ line: 'nope' }] }, lines: [line({ source: 'siprec' })] }, 'cfg'), /board\.units\.0\.line: found "nope", which is not a configured line/);
  assert.throws(() => parseConfig({ ...sbc, board: { driver: 'none', units: [{ line: 'l1', extension: '201' }] }, lines: [line({ source: 'sim' })] }, 'cfg'), /board\.units\.0\.extension: line "l1" is a "sim" line/);
  assert.throws(() => parseConfig({ ...sbc, board: { driver: 'none', units: [{ line: 'l1', extension: '201' }, { line: 'l1', extension: '201' }] }, lines: [line({ source: 'pcap' })] }, 'cfg'), /button 2 repeats line "l1" extension 201/);
  const ok = parseConfig({ ...sbc, board: { driver: 'none', units: [{ line: 'l1', extension: '201' }, { line: 'l1' }] }, lines: [line({ source: 'pcap', maxCalls: 64 })] }, 'cfg');
  assert.equal(ok.lines[0]!.maxCalls, 64);
  // More than the old 32 lines is fine now.
  const many = Array.from({ length: 40 }, (_, i) => line({ id: `l${i}`, source: 'sim' }));
  assert.equal(parseConfig({ ...base, lines: many }, 'cfg').lines.length, 40);
});
