import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Archive } from '../src/archive/archive.ts';
import { Vault } from '../src/vault/vault.ts';
import { channelsFor, pcmFor } from './helpers/powercut-child.ts';

const CHILD = fileURLToPath(new URL('./helpers/powercut-child.ts', import.meta.url));
const PASS = 'powercut passphrase';
/** Two data folders are cut in parallel to stay fast; each is reused across its runs so leftovers pile up. */
const LANES = 2;
const RUNS_PER_LANE = 25;

interface Lane { dir: string; acked: Set<string>; done: Map<string, number>; earlyKills: number; cleanKills: number }

/** Starts the child, cuts its power (SIGKILL) at a random moment, and records what it acknowledged. */
async function cutOnce(lane: Lane, readyMs: number): Promise<number> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, lane.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let ready = -1;
  let timer: NodeJS.Timeout | undefined;
  const kill = (): void => { child.kill('SIGKILL'); };
  // One run in five is cut before READY, often while open() is recovering the previous run's leftovers.
  const early = randomInt(5) === 0;
  if (early) {
    timer = setTimeout(kill, randomInt(Math.floor(readyMs * 0.6), Math.floor(readyMs * 1.1) + 1));
    lane.earlyKills++;
  }
  // The other runs are cut after a random number (0–5) of the child's ACK/DONE lines plus a random
  // 0–30 ms, so the cuts land inside calls however slow a loaded machine makes the child.
  const afterEvents = randomInt(0, 6);
  let events = 0;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (ready < 0 && out.includes('READY\n')) {
      ready = Date.now() - started;
      if (!early) lane.cleanKills++;
    }
    if (ready >= 0 && !early && timer === undefined) {
      events = out.split('\n').filter((l) => l.startsWith('ACK ') || l.startsWith('DONE ')).length;
      if (events >= afterEvents) timer = setTimeout(kill, randomInt(0, 31));
    }
  });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('close', (code, signal) => res({ code, signal })));
  clearTimeout(timer);
  assert.equal(exit.signal, 'SIGKILL', `the child stopped by itself (code ${exit.code}):\n${err}`);
  for (const line of out.split('\n')) {
    const [word, id, n] = line.split(' ');
    if (word === 'ACK' && id) lane.acked.add(id);
    if (word === 'DONE' && id) lane.done.set(id, Number(n));
  }
  return ready > 0 ? ready : readyMs;
}

async function runLane(lane: Lane): Promise<void> {
  let readyMs = 500;
  for (let i = 0; i < RUNS_PER_LANE; i++) readyMs = await cutOnce(lane, readyMs);
}

async function checkLane(lane: Lane): Promise<{ calls: number; recovered: number }> {
  const logs: string[] = [];
  const vault = new Vault(join(lane.dir, 'vault'));
  const archive = new Archive({ dir: join(lane.dir, 'archive'), vault, log: (m, e) => logs.push(`${m} ${JSON.stringify(e ?? {})}`) });
  const opened = await archive.open();
  await vault.unlock(PASS);
  const listed = new Set(archive.list().map((h) => h.id));
  for (const id of lane.acked) assert.ok(listed.has(id), `acknowledged call ${id} is missing after the power cuts`);
  for (const [id, n] of lane.done) assert.equal(archive.get(id)?.chunks, n, `finished call ${id} lost chunks`);
  for (const h of archive.list()) {
    assert.deepEqual(await archive.verify(h.id), { ok: true }, h.id);
    const meta = await archive.meta(h.id);
    const seed = meta.seed as number;
    assert.equal(meta.caller, `+3120${seed}`);
    assert.equal(h.channels, channelsFor(seed));
    let i = 0;
    for await (const c of archive.readPcm(h.id)) {
      assert.equal(c.at, h.startedAt + i * 1000, `${h.id} chunk ${i} time`);
      assert.ok(c.pcm.equals(pcmFor(seed, i)), `${h.id} chunk ${i} differs from what was appended`);
      i++;
    }
    assert.equal(i, h.chunks);
    if (lane.acked.has(h.id)) assert.ok(i >= 1, `${h.id} was acknowledged with its first chunk`);
  }
  const names = (await readdir(join(lane.dir, 'archive'), { recursive: true })).map(String);
  assert.deepEqual(names.filter((f) => f.endsWith('.open.json') || f.endsWith('.tmp')), [], 'open() leaves no half-written file');
  assert.deepEqual(names.filter((f) => f === 'quarantine' || f.startsWith('quarantine/')), [], `a power cut alone never needs quarantine:\n${logs.join('\n')}`);
  return { calls: opened.calls, recovered: opened.recovered };
}

test('power cuts at random moments never lose an acknowledged chunk and never show a half-written call', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'rv-powercut-'));
  try {
    const lanes: Lane[] = [];
    for (let i = 0; i < LANES; i++) {
      const dir = join(root, `box${i}`);
      await new Vault(join(dir, 'vault')).init('admin', PASS);
      lanes.push({ dir, acked: new Set(), done: new Map(), earlyKills: 0, cleanKills: 0 });
    }
    await Promise.all(lanes.map(runLane));
    for (const lane of lanes) {
      const r = await checkLane(lane);
      const cutMidCall = [...lane.acked].filter((id) => !lane.done.has(id)).length;
      t.diagnostic(`${lane.dir}: ${RUNS_PER_LANE} runs (${lane.earlyKills} cut before READY), ${lane.acked.size} acknowledged, ${lane.done.size} finished, ${cutMidCall} cut mid-call; last open: ${r.calls} calls, ${r.recovered} recovered`);
      // The cuts must really land inside calls, or this test would prove nothing.
      assert.ok(lane.done.size > 0 && cutMidCall > 0, 'no run was cut in the middle of a call');
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
