import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CallHeader, CallMeta } from '../src/archive/archive.ts';
import { newSortableId } from '../src/archive/ids.ts';
import { callPaths } from '../src/archive/paths.ts';
import { headerJson } from '../src/archive/format.ts';
import { sealMeta, wrapDataKey } from '../src/archive/sealing.ts';
import { AuditLog } from '../src/audit/audit.ts';
import { dataPaths } from '../src/box.ts';
import { SettingsStore } from '../src/config/settings.ts';
import { firstRunSetup } from '../src/setup.ts';
import { Vault } from '../src/vault/vault.ts';
import { PassphraseStrength } from '../src/vault/strength.ts';
import { sendControl } from '../src/control.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = 3;
const CALLS = 100_000;
const LIVE_LINES = 8;
const PASSPHRASE = 'bench runtime passphrase, long enough';

type Runtime = 'compiled' | 'tsx';
const argvOf = (rt: Runtime): string[] => (rt === 'compiled' ? [join(ROOT, 'dist/main.js')] : ['--import', 'tsx', join(ROOT, 'src/main.ts')]);

/** Resident set size of a process, from the kernel's own count. */
async function rssMb(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** Starts the box and resolves with the ms from spawn to its "listening on" line. */
function start(rt: Runtime, args: string[]): Promise<{ child: ChildProcess; ms: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...argvOf(rt), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RINGVAULT_LOG: 'warn', NODE_ENV: 'production' } });
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (/listening on /.test(out)) res({ child, ms: performance.now() - t0 });
    });
    child.once('exit', (c) => rej(new Error(`box (${rt}) exited with ${c}: ${out}\n${err}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A set-up data folder with CALLS kept calls (headers with sealed metas; empty audio), made once and reused. */
async function archivedDataFolder(): Promise<string> {
  const dir = join(tmpdir(), `rv-bench-runtime-${CALLS}-v1`);
  if (existsSync(join(dir, 'ready'))) return dir;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const p = dataPaths(dir);
  const vault = new Vault(p.vault);
  const settings = new SettingsStore(p.settings);
  await settings.load();
  const audit = new AuditLog(p.audit);
  await audit.open();
  await firstRunSetup({ vault, settings, audit, now: Date.now, strength: new PassphraseStrength() }, 'admin', PASSPHRASE, 'cli');
  await audit.close();
  const epoch = await vault.newEpoch();
  const t0 = Date.UTC(2026, 0, 1);
  const signature = Buffer.alloc(64).toString('base64');
  const made = new Set<string>();
  for (let i = 0; i < CALLS; i++) {
    const startedAt = t0 + i * 250_000;
    const meta: CallMeta = { direction: 'in', caller: `+316${String(10_000_000 + (i % 20_000) * 37).slice(-8)}`, called: '+31201234500', extension: String(200 + (i % 20)) };
    const dataKey = new Uint8Array(randomBytes(32));
    const id = newSortableId(startedAt);
    const h: CallHeader = {
      v: 1, id, line: 'line1', startedAt, endedAt: startedAt + 60_000, durationMs: 60_000, samples: 0, channels: 2, sampleRate: 8000, chunks: 0,
      purposes: ['training'], keptBy: 'sample', keptAt: startedAt + 60_000, clockSynced: true, holds: [], restricted: false,
      epoch: epoch.id, ...wrapDataKey(dataKey, epoch.sharedKey), metaSealed: sealMeta(meta, dataKey), audioSha256: '0'.repeat(64), signature,
    };
    const cp = callPaths(p.archive, id);
    if (!made.has(cp.dir)) { await mkdir(cp.dir, { recursive: true }); made.add(cp.dir); }
    await writeFile(cp.header, headerJson(h));
    await writeFile(cp.audio, new Uint8Array(0));
  }
  await writeFile(join(dir, 'ready'), '');
  return dir;
}

/**
 * What the box costs to run: start to listening and resident memory, compiled dist/ beside tsx in the same run;
 * then the compiled box with 8 live lines and 100,000 archived calls, unlocked (goal: RSS ≤ 120 MB).
 */
export async function benchRuntime(): Promise<void> {
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  const scratch = await mkdtemp(join(tmpdir(), 'rv-bench-runtime-'));
  try {
    const res: Record<Runtime, { ms: number[]; rss: number[] }> = { compiled: { ms: [], rss: [] }, tsx: { ms: [], rss: [] } };
    // A first start makes the ring file; the measured starts find it, as a box does after its first boot.
    for (const rt of ['compiled', 'tsx'] as const) {
      const data = join(scratch, rt);
      await stop((await start(rt, ['--data', data])).child);
      for (let i = 0; i < RUNS; i++) {
        const { child, ms } = await start(rt, ['--data', data]);
        await sleep(5000);
        res[rt].rss.push(await rssMb(child.pid!));
        res[rt].ms.push(ms);
        await stop(child);
      }
    }
    const f = (x: number) => x.toFixed(0);
    console.log(`runtime: start to listening and RSS 5 s later, median of ${RUNS} starts (2 simulated lines, empty archive)`);
    console.log(`  ${'runtime'.padEnd(22)}  ${'start ms'.padStart(8)}  ${'RSS MB'.padStart(6)}`);
    for (const rt of ['compiled', 'tsx'] as const) console.log(`  ${(rt === 'compiled' ? 'compiled (dist/)' : 'tsx (src/ at run time)').padEnd(22)}  ${f(median(res[rt].ms)).padStart(8)}  ${f(median(res[rt].rss)).padStart(6)}`);
    console.log(`  compiled / tsx: start ${(median(res.compiled.ms) / median(res.tsx.ms)).toFixed(2)}×, RSS ${(median(res.compiled.rss) / median(res.tsx.rss)).toFixed(2)}×`);

    const buildStart = performance.now();
    const data = await archivedDataFolder();
    const builtMs = performance.now() - buildStart;
    const cfg = join(scratch, 'eight-lines.json');
    const lines = Array.from({ length: LIVE_LINES }, (_, i) => ({ id: `line${i + 1}`, name: `Line ${i + 1}`, source: 'sim', channels: 2, keep: 'on-demand', announced: ['training'], keepPurposes: ['training'] }));
    await writeFile(cfg, JSON.stringify({ dataDir: data, lines, sim: { randomCalls: true }, http: { host: '127.0.0.1', port: 0 } }));
    const { child } = await start('compiled', ['--config', cfg, '--data', data, '--sim-speed', '1', '--random-calls']);
    try {
      const beforeUnlock = await rssMb(child.pid!);
      const u0 = performance.now();
      const r = await sendControl(dataPaths(data).socket, { cmd: 'unlock', secret: PASSPHRASE, actor: 'bench' });
      const unlockMs = performance.now() - u0;
      if (!r?.ok) throw new Error(`unlock failed: ${JSON.stringify(r)}`);
      await sleep(10_000);
      const after = await rssMb(child.pid!);
      console.log(`  compiled box, ${LIVE_LINES} live simulated lines, ${CALLS.toLocaleString('en')} archived calls: RSS ${f(beforeUnlock)} MB locked, ${f(after)} MB unlocked 10 s later (goal ≤ 120 MB); unlock over the control socket ${f(unlockMs)} ms${builtMs > 1000 ? `; data folder made in ${(builtMs / 1000).toFixed(0)} s (cached in ${data})` : ''}`);
    } finally {
      await stop(child);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await benchRuntime();
}
