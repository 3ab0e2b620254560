import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, ROOT } from './helpers/appliance.ts';

/**
 * Power cuts of the whole appliance: the real box (its whole process group) is SIGKILLed at random
 * moments, again and again, while calls are kept by the web UI (line1), the save button (line2) and a
 * keep-all rule (line3). Every keep the box acknowledged must survive: listed after the cuts, not
 * quarantined, with at least the audio it had when acknowledged (a UI save answers heardMs/durableMs;
 * the line status shows a kept call's id and durableMs only once acknowledged).
 *
 * To fit about 200 cuts in a CI budget the box runs from a one-file esbuild bundle of src/main.ts
 * (starts in a fraction of tsx's time), two data folders are cut in parallel, and sim calls run at 4x.
 */
const CYCLES = 200;
/**
 * A cut cycle (start, log in, three calls, keeps, cut) takes about 1.5 s per lane on an idle 2-core box,
 * so the 200 cuts take about 2.5 minutes. On a machine loaded by other work it is several times slower
 * (38 cuts in 200 s at load 18 on 2 cores); past this budget the lanes stop cutting so the suite's
 * 5-minute test timeout is never hit, every check still runs on what was cut, and the number of cuts
 * is reported. The count is not asserted: it measures the machine, not the box.
 */
const BUDGET_MS = 220_000;
const LANES = 2;
const SPEED = 4;
const PASS = 'powercut: whole box, many cuts, one passphrase';

interface Lane { dir: string; config: string; acked: Map<string, { ms: number; by: string }>; cuts: number; early: number; logs: string[] }

function spawnBox(bundle: string, lane: Lane): { child: ChildProcess; out: () => string; err: () => string } {
  // detached: the box leads its own process group, so the cut takes whatever it spawned too.
  const child = spawn(process.execPath, [bundle, '--data', lane.dir, '--config', lane.config, '--port', '0', '--sim-speed', String(SPEED)], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RINGVAULT_LOG: 'warn' },
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  return { child, out: () => out, err: () => err };
}

const cut = (child: ChildProcess): void => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(fn: () => T | undefined, child: ChildProcess, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the box exited while waiting for ${what}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** One power cut: start, log in, place calls, keep them three ways, and cut at a random moment. */
async function cycle(bundle: string, lane: Lane, first: boolean): Promise<void> {
  const box = spawnBox(bundle, lane);
  const exited = new Promise<void>((r) => box.child.once('close', () => r()));
  try {
    // One start in eight is cut before it listens, often while it recovers what the last cut left.
    if (!first && randomInt(8) === 0) {
      lane.early++;
      await sleep(randomInt(50, 600));
      return;
    }
    const url = await waitFor(() => /listening on (http:\/\/\S+)/.exec(box.out())?.[1], box.child, 'the box to listen');
    const c = new Client(url);
    await c.state();
    if (first) {
      const claimCode = await waitFor(() => /claim code for the first setup: ([0-9A-Z]{5}-[0-9A-Z]{5})/.exec(box.out())?.[1], box.child, 'the claim code');
      await c.json('POST', '/api/setup', { username: 'admin', passphrase: PASS, claimCode });
    } else {
      await c.json('POST', '/api/login', { username: 'admin', passphrase: PASS });
    }
    await c.state();
    for (const line of ['line1', 'line2', 'line3']) {
      await c.json('POST', `/api/sim/lines/${line}/call`, { direction: 'in', durationSec: randomInt(2, 9) }).catch(() => undefined);
    }
    const note = (id: string | undefined, ms: number | undefined, by: string): void => {
      if (!id || typeof ms !== 'number') return;
      const had = lane.acked.get(id);
      if (!had || had.ms < ms) lane.acked.set(id, { ms, by });
    };
    let stop = false;
    // The line status shows a kept call's id and durable audio only once acknowledged: the button's and the rule's acks.
    const watch = (async () => {
      while (!stop) {
        const lines = await c.json('GET', '/api/lines').catch(() => undefined);
        for (const l of lines?.lines ?? []) for (const k of l.calls ?? []) note(k.callId, k.durableMs, l.id === 'line2' ? 'button' : l.id === 'line3' ? 'rule' : 'ui');
        await sleep(randomInt(20, 80));
      }
    })();
    const keep = (async () => {
      await sleep(randomInt(0, 400));
      const press = c.json('POST', '/api/sim/board/press', { line: 'line2', kind: 'short' }).catch(() => undefined);
      const res = await c.request('POST', '/api/lines/line1/save', {}).catch(() => undefined);
      if (res?.ok) {
        const r = await res.json() as { callId: string; heardMs: number; durableMs: number };
        // The answer itself promises that what was heard is durable.
        assert.ok(r.durableMs >= r.heardMs, `a save answered with ${r.durableMs} of ${r.heardMs} ms durable`);
        note(r.callId, r.heardMs, 'ui');
      }
      await press;
    })();
    await sleep(randomInt(0, 1000));
    stop = true;
    cut(box.child);
    await Promise.allSettled([watch, keep]);
    lane.cuts++;
  } finally {
    cut(box.child);
    await exited;
    lane.logs.push(box.err());
  }
}

test(`the whole box survives up to ${CYCLES} power cuts (as many as fit in ${BUDGET_MS / 1000} s): every acknowledged keep is listed with the audio it had, nothing is quarantined`, async (t) => {
  const { build } = await import('esbuild');
  const buildDir = join(ROOT, `.powercut-build-${process.pid}`);
  const work = await mkdtemp(join(tmpdir(), 'rv-powercut-box-'));
  t.after(async () => { await rm(buildDir, { recursive: true, force: true }); await rm(work, { recursive: true, force: true }); });
  // main.ts finds the web folder and package.json one level up from itself, so the bundle sits one below ROOT.
  const bundle = join(buildDir, 'main.mjs');
  await build({ entryPoints: [join(ROOT, 'src/main.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: bundle, target: 'node20', logLevel: 'error' });

  const lanes: Lane[] = [];
  for (let i = 0; i < LANES; i++) {
    const dir = join(work, `lane${i}`);
    const config = join(work, `config${i}.json`);
    await writeFile(config, JSON.stringify({
      ring: { minutesPerLine: 1 },
      lines: [
        { id: 'line1', name: 'UI', source: 'sim', channels: 2, keep: 'on-demand' },
        { id: 'line2', name: 'Button', source: 'sim', channels: 2, keep: 'on-demand' },
        { id: 'line3', name: 'Rule', source: 'sim', channels: 1, keep: 'all', announced: ['legal-obligation'], keepPurposes: ['legal-obligation'] },
      ],
    }));
    lanes.push({ dir, config, acked: new Map(), cuts: 0, early: 0, logs: [] });
  }
  const started = Date.now();
  await Promise.all(lanes.map(async (lane) => {
    const n = Math.ceil(CYCLES / LANES);
    for (let k = 0; k < n && (k === 0 || Date.now() - started < BUDGET_MS); k++) await cycle(bundle, lane, k === 0);
  }));
  const cutMs = Date.now() - started;

  let kept = 0;
  let recovered = 0;
  for (const lane of lanes) {
    const box = spawnBox(bundle, lane);
    const exited = new Promise<void>((r) => box.child.once('close', () => r()));
    try {
      const url = await waitFor(() => /listening on (http:\/\/\S+)/.exec(box.out())?.[1], box.child, 'the box to listen');
      const c = new Client(url);
      await c.state();
      await c.json('POST', '/api/login', { username: 'admin', passphrase: PASS });
      await c.state();
      const calls = new Map(((await c.json('GET', '/api/calls')).calls as any[]).map((x) => [x.id, x]));
      for (const [id, ack] of lane.acked) {
        const call = calls.get(id);
        assert.ok(call, `a call kept by ${ack.by} (${id}) and acknowledged with ${ack.ms} ms is missing after the cuts`);
        assert.ok(call.durationMs >= Math.floor(ack.ms), `call ${id} kept by ${ack.by} holds ${call.durationMs} ms, less than the ${ack.ms} ms it had when acknowledged`);
        kept++;
      }
      // A call a cut left open is finished, marked as cut short, and audited.
      for (const call of calls.values()) if (call.missing?.some((m: any) => m.reason === 'box-stopped')) recovered++;
      const audit = (await c.json('GET', '/api/audit?limit=5000')).entries as any[];
      const auditedRecoveries = new Set(audit.filter((e) => e.action === 'call.recovered').map((e) => e.target));
      for (const call of calls.values()) {
        if (call.missing?.some((m: any) => m.reason === 'box-stopped')) assert.ok(auditedRecoveries.has(call.id), `recovered call ${call.id} is audited`);
      }
      // A sample of calls verifies against the box signature and hash.
      for (const id of [...calls.keys()].slice(0, 10)) assert.equal((await c.json('GET', `/api/calls/${id}`)).call.verified, true, id);
    } finally {
      cut(box.child);
      await exited;
    }
    const q = await readdir(join(lane.dir, 'archive', 'quarantine')).catch(() => []);
    assert.deepEqual(q, [], 'nothing is quarantined');
    assert.ok(!lane.logs.some((l) => l.includes('quarantine')), 'no run moved anything to quarantine');
  }
  const cuts = lanes.reduce((s, l) => s + l.cuts + l.early, 0);
  t.diagnostic(`${cuts} cuts (${lanes.reduce((s, l) => s + l.early, 0)} during start) in ${Math.round(cutMs / 1000)} s; ${kept} acknowledged keeps checked; ${recovered} calls finished as cut short`);
  if (cuts < CYCLES) t.diagnostic(`only ${cuts} of ${CYCLES} cuts fit in the ${BUDGET_MS / 1000} s budget on this machine`);
  // A floor well under what a 2-core machine fits (130 beside the rest of the suite), so a box that restarts slowly fails.
  assert.ok(cuts >= 40, `only ${cuts} power cuts in ${BUDGET_MS / 1000} s: the box restarts too slowly to test`);
  assert.ok(lanes.every((l) => l.cuts >= 1), 'every lane cut the box at least once while calls were kept');
  assert.ok(kept >= cuts / 4, `only ${kept} keeps were acknowledged in ${cuts} cuts; the cuts did not land while calls were kept`);
});
