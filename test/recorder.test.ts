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

class ManualSource extends LineSource {
  readonly kind = 'manual';
  readonly lines = ['a'];
  async start() {}
  async stop() {}
}

/** A recorder over a real ring and archive, fed by hand with an injected clock: no sleeping. */
async function rig(t: { after(fn: () => Promise<void>): void }, line: Record<string, unknown>, opts: { exclusions?: string[]; draw?: (n: number) => number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'rv-rec-'));
  const cfg = parseConfig({ dataDir: dir, graceSeconds: 120, lines: [{ id: 'a', name: 'A', announced: ['complaint', 'training', 'legal-obligation'], keepPurposes: ['complaint'], ...line }] }, 'test');
  const vault = new Vault(join(dir, 'vault'));
  await vault.init('admin', 'test passphrase');
  const archive = new Archive({ dir: join(dir, 'archive'), vault });
  await archive.open();
  const ring = await Ring.open({ path: join(dir, 'ring.bin'), slots: 30 });
  let now = 1_800_000_000_000;
  const rec = new Recorder({ ring, archive, clock: { now: () => now, synced: () => true }, log: silentLog, lines: () => cfg.lines, graceSeconds: () => cfg.graceSeconds, exclusions: () => opts.exclusions ?? [], draw: opts.draw });
  const src = new ManualSource();
  rec.attach(src);
  t.after(async () => { await rec.close(); await ring.close(); await rm(dir, { recursive: true, force: true }); });
  let n = 0;
  /** Plays `sec` seconds of a call whose samples encode their own index, so order and completeness are checkable. */
  const call = (sec: number, parties: Record<string, string> = {}) => {
    const ref = `r${++n}`;
    const startedAt = now;
    src.emit('call-start', { line: 'a', ref, at: startedAt, channels: 1, parties: { direction: 'in', caller: '+31201234567', ...parties } });
    let sample = 0;
    const play = (s: number) => {
      for (let b = 0; b < s * 50; b++) {
        const pcm = new Int16Array(160).map((_, i) => ((sample + i) % 30000));
        sample += 160;
        src.emit('call-audio', { line: 'a', ref, block: { at: startedAt + (sample / 8), channels: 1, pcm } });
        now += 20;
      }
    };
    play(sec);
    const end = (reason = 'hangup') => src.emit('call-end', { line: 'a', ref, at: now, reason });
    return { ref, startedAt, play, end, samples: () => sample };
  };
  const pcmOf = async (id: string) => {
    const parts: Buffer[] = [];
    for await (const c of archive.readPcm(id)) parts.push(c.pcm);
    return new Int16Array(new Uint8Array(Buffer.concat(parts)).buffer);
  };
  return { rec, archive, ring, call, pcmOf, advance: (ms: number) => { now += ms; } };
}

const assertWhole = (pcm: Int16Array, samples: number) => {
  assert.equal(pcm.length, samples);
  for (let i = 0; i < pcm.length; i += 997) assert.equal(pcm[i], i % 30000, `sample ${i}`);
};

test('save mid-call keeps the whole call from its first frame', async (t) => {
  const r = await rig(t, { keep: 'on-demand' });
  const c = r.call(3.5);
  const { callId } = await r.rec.save('a', { keptBy: 'button' });
  assert.equal(r.rec.status()[0]!.state, 'keeping');
  c.play(2.3);
  c.end();
  await r.rec.settle();
  const h = r.archive.get(callId)!;
  assert.equal(h.startedAt, c.startedAt);
  assert.equal(h.samples, c.samples());
  assertWhole(await r.pcmOf(callId), c.samples());
  assert.equal(r.ring.has(callId), false);
  assert.deepEqual(h.purposes, ['complaint']);
});

test('save within the grace period keeps the call just ended; after it, nothing is left to save', async (t) => {
  const r = await rig(t, { keep: 'on-demand' });
  const c = r.call(4.2);
  c.end();
  r.advance(60_000);
  const { callId } = await r.rec.save('a', { keptBy: 'button', purposes: ['training'] });
  assertWhole(await r.pcmOf(callId), c.samples());
  assert.deepEqual(r.archive.get(callId)!.purposes, ['training']);
  const d = r.call(2);
  d.end();
  r.advance(121_000);
  await assert.rejects(r.rec.save('a', { keptBy: 'button' }), /RV_ERR_NOTHING_TO_SAVE|no call on line a/);
  assert.equal(r.archive.list().length, 1);
});

test('keep all and sample keep from the start without a press; unsampled calls are not kept', async (t) => {
  const all = await rig(t, { keep: 'all', keepPurposes: ['legal-obligation'] });
  const c = all.call(2.5);
  c.end();
  await all.rec.settle();
  assert.equal(all.archive.list().length, 1);
  assert.equal(all.archive.list()[0]!.keptBy, 'all');
  assertWhole(await all.pcmOf(all.archive.list()[0]!.id), c.samples());
  await assert.rejects(all.rec.private('a'), /RV_ERR_NOTHING_TO_SAVE|no live/);

  const draws = [0, 5, 5];
  const sample = await rig(t, { keep: 'sample', sampleN: 10 }, { draw: () => draws.shift()! });
  for (let i = 0; i < 3; i++) sample.call(1.5).end();
  await sample.rec.settle();
  assert.equal(sample.archive.list().length, 1);
  assert.equal(sample.archive.list()[0]!.keptBy, 'sample');
});

test('private wipes the call at once; it is never kept, even by a later press', async (t) => {
  const r = await rig(t, { keep: 'on-demand' });
  const c = r.call(2);
  await r.rec.private('a');
  assert.equal(r.rec.status()[0]!.call?.private, true);
  c.play(1);
  await assert.rejects(r.rec.save('a', { keptBy: 'button' }), { code: 'RV_ERR_CALL_PRIVATE' });
  c.end();
  await assert.rejects(r.rec.save('a', { keptBy: 'button' }), { code: 'RV_ERR_NOTHING_TO_SAVE' });
  assert.equal(r.ring.stats().used, 0, 'no slot holds the call');
  assert.equal(r.archive.list().length, 0);
});

test('a kept call turned private is shredded; a line that keeps all refuses private', async (t) => {
  const r = await rig(t, { keep: 'on-demand' });
  r.call(2);
  const { callId } = await r.rec.save('a', { keptBy: 'button' });
  await r.rec.private('a');
  await r.rec.settle();
  assert.equal(r.archive.get(callId), undefined);
  const all = await rig(t, { keep: 'all', keepPurposes: ['legal-obligation'] });
  all.call(1);
  await assert.rejects(all.rec.private('a'), /RV_ERR_KEPT_BY_RULE|keeps every call/);
});

test('excluded numbers are never buffered or kept; a purpose the line does not announce is refused', async (t) => {
  const r = await rig(t, { keep: 'all' }, { exclusions: ['0201234567'] });
  const c = r.call(2);
  assert.equal(r.ring.stats().used, 0);
  c.end();
  await r.rec.settle();
  assert.equal(r.archive.list().length, 0);
  const p = await rig(t, { keep: 'on-demand' });
  p.call(1);
  await assert.rejects(p.rec.save('a', { keptBy: 'user', purposes: ['evidence'] }), /RV_ERR_PURPOSE_NOT_ANNOUNCED|does not announce evidence/);
});

test('a call ended as too short is not stored by a rule, and cannot be saved after it; a person\'s keep stands', async (t) => {
  const all = await rig(t, { keep: 'all' });
  all.call(1.2).end('too-short');
  await all.rec.settle();
  assert.deepEqual(all.archive.list(), [], 'keep-all does not store a too-short call');
  assert.equal(all.rec.status()[0]!.lastEnded, undefined);
  const long = all.call(2);
  long.end();
  await all.rec.settle();
  assert.equal(all.archive.list().length, 1, 'a normal call on the same line is kept');

  const od = await rig(t, { keep: 'on-demand' });
  od.call(1).end('too-short');
  await assert.rejects(od.rec.save('a', { keptBy: 'button' }), /RV_ERR_NOTHING_TO_SAVE|no call on line a/);
  const c = od.call(1);
  const { callId } = await od.rec.save('a', { keptBy: 'button' });
  c.end('too-short');
  await od.rec.settle();
  assert.deepEqual(od.archive.list().map((h) => h.id), [callId], 'a call a person kept stays kept');
});
