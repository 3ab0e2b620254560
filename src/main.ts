import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import pino from 'pino';
import { defaultConfig, loadConfigFile, parseConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { Box, dataPaths } from './box.ts';
import { buildApp } from './http/app.ts';
import { systemClock, CLOCK_MODES, isClockMode } from './clock.ts';
import { SyncDetector } from './time/sync.ts';
import { createNotifier } from './service/notify.ts';
import { serveRedirect } from './http/redirect.ts';
import { serveControl } from './control.ts';
import { isRvError, RvError } from './errors.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export const USAGE = `ringvault ${VERSION} — call recorder appliance

  npm start [-- options]      run the appliance (simulated lines unless a config says otherwise)

options:
  --config FILE      JSON config (a real box: /etc/ringvault/config.json); env RINGVAULT_CONFIG
  --data DIR         data folder (default ./data); env RINGVAULT_DATA
  --host ADDR        address of the web UI (default 127.0.0.1)
  --port N           port of the web UI (default 8080; 0 picks a free one)
  --sim-speed X      simulated calls play X times faster than real time
  --random-calls     simulated lines place random calls
  -h, --help         this text

environment:
  RINGVAULT_CLOCK    auto (default: the kernel's view through adjtimex, else timedatectl) |
                     synced | unsynced — unsynced shows what a box without network time shows
                     (demo, tests) | file:PATH — PATH holds "synced" or "unsynced", read at
                     every check (tests change it while the box runs)
  NOTIFY_SOCKET      set by systemd (Type=notify): READY, WATCHDOG and STATUS go there`;

/** Only this function reads the whole config; every module gets its own part. */
async function resolveConfig(argv: string[]): Promise<Config> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' }, data: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
      'sim-speed': { type: 'string' }, 'random-calls': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) { console.log(USAGE); process.exit(0); }
  const file = values.config ?? process.env.RINGVAULT_CONFIG;
  const cfg = file ? await loadConfigFile(file) : defaultConfig();
  const raw = structuredClone(cfg) as Record<string, any>;
  const dataDir = values.data ?? process.env.RINGVAULT_DATA;
  if (dataDir) raw.dataDir = dataDir;
  if (values.host) raw.http.host = values.host;
  if (values.port !== undefined) raw.http.port = Number(values.port);
  if (values['sim-speed'] !== undefined) raw.sim.speed = Number(values['sim-speed']);
  if (values['random-calls']) raw.sim.randomCalls = true;
  const out = parseConfig(raw, file ? `${file} with command-line options` : 'command-line options');
  return { ...out, dataDir: resolve(out.dataDir) };
}

export async function main(argv: string[]): Promise<void> {
  // Secrets never reach the log, whatever object a module logs.
  const log = pino({
    level: process.env.RINGVAULT_LOG ?? 'info',
    redact: { paths: ['password', 'secret', 'pass', '*.password', '*.secret', '*.pass', '*.*.password', '*.*.secret', '*.*.pass', 'auth', '*.auth'], censor: '[secret]' },
  }, pino.destination(2));
  let config: Config;
  try {
    config = await resolveConfig(argv);
  } catch (e) {
    console.error(isRvError(e) ? `ringvault: ${e.message}` : `ringvault: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const onlySim = config.lines.every((l) => l.source === 'sim');
  const clockMode = process.env.RINGVAULT_CLOCK || 'auto';
  if (!isClockMode(clockMode)) {
    console.error(`ringvault: RINGVAULT_CLOCK is "${clockMode}"; expected one of ${CLOCK_MODES.join(', ')} (or unset).`);
    process.exit(2);
  }
  const syncDetector = new SyncDetector({ log, ...(clockMode.startsWith('file:') ? { file: clockMode.slice(5) } : {}) });
  // A simulated-only box assumes network time (clock.ts) and never asks the kernel.
  if (!onlySim || clockMode.startsWith('file:')) await syncDetector.start();
  const clock = systemClock({ assumeSynced: onlySim, mode: clockMode, detector: syncDetector });
  const notifier = createNotifier({ log });
  let tls: { cert: Buffer; key: Buffer } | undefined;
  try {
    tls = config.http.tls ? await readTls(config.http.tls) : undefined;
  } catch (e) {
    // Exit 2 like any config error: systemd does not restart a box whose config must be fixed first.
    console.error(`ringvault: ${(e as Error).message}`);
    process.exit(2);
  }
  // Making a large ring file on an SD card can outlast TimeoutStartSec; ask systemd for more time.
  void notifier.send({ STATUS: 'starting: opening the ring and the archive', EXTEND_TIMEOUT_USEC: String(600 * 1e6) });
  const box = await Box.open({ config, log, clock, speechDir: join(ROOT, 'assets', 'speech'), version: VERSION });
  const app = await buildApp(box, { webDir: join(ROOT, 'web'), tls: !!tls, ...(tls ? { https: tls } : {}), loginsPerMinute: config.http.loginsPerMinute, sessionHours: config.http.sessionHours, version: VERSION });
  const control = await serveControl(box, dataPaths(config.dataDir).socket);
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  console.log(`ringvault: listening on ${address}`);
  const httpsPort = Number(new URL(address).port || 443);
  // A redirect port that cannot open (taken by another server) is logged; HTTPS goes on regardless.
  const redirect = tls && config.http.redirectPort !== false
    ? await serveRedirect({ host: config.http.host, port: config.http.redirectPort, httpsPort }).catch((e: NodeJS.ErrnoException) => {
      log.error({ err: e }, `cannot open the plain-HTTP redirect on port ${config.http.redirectPort as number} (${e.code}); HTTPS works, but http:// addresses do not answer. Stop what uses that port, or change http.redirectPort.`);
      return undefined;
    })
    : undefined;
  if (redirect) console.log(`ringvault: redirecting http on port ${redirect.port} to https`);
  console.log(`ringvault: data in ${config.dataDir}${(await box.initialized()) ? '' : ' — open the address above to set up the box'}`);
  // The journal (or this console) is where only the box's owner looks: setup needs this code (issue 10).
  if (box.claim) console.log(`ringvault: claim code for the first setup: ${box.claim.code} (made at every start; or hold the save button for 2 s)`);

  const readyStatus = `recording ${config.lines.length} line(s); web UI on ${address}`;
  await notifier.ready(readyStatus);
  // Pinged while the event loop turns, the recorder answers and file I/O completes (a stat goes
  // through the same thread pool as the recorder's writes, so a hung SD card stops the pings).
  const stopWatchdog = notifier.watchdog(async () => {
    box.recorder.status();
    await stat(config.dataDir);
    return null;
  });
  // `systemctl status ringvault` shows what is wrong with the box, not only that it runs.
  box.health?.on('change', () => {
    const issues = box.health?.report().issues ?? [];
    void notifier.status(issues.length ? `${readyStatus}; ${issues.map((i) => (i.line ? `${i.line}: ` : '') + i.message).join('; ')}` : readyStatus);
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    stopWatchdog();
    // Do not let a slow notify hold up the stop that systemd already asked for.
    await Promise.race([notifier.stopping('stopping'), new Promise((r) => setTimeout(r, 1000))]);
    control.close();
    await redirect?.close();
    await app.close();
    await box.close();
    syncDetector.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** Reads the certificate and key named in the config, saying which file is wrong and how to fix it. */
async function readTls(t: { cert: string; key: string }): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (path: string, what: string, marker: RegExp): Promise<Buffer> => {
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (e) {
      throw new RvError('RV_ERR_CONFIG', `http.tls.${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code}); check the path, or run install/install.sh again to make a certificate.`);
    }
    if (!marker.test(data.toString('latin1'))) throw new RvError('RV_ERR_CONFIG', `http.tls.${what}: ${path} is not a PEM ${what === 'cert' ? 'certificate' : 'private key'}; give the PEM file (it starts with "-----BEGIN").`);
    return data;
  };
  const pair = { cert: await read(t.cert, 'cert', /-----BEGIN CERTIFICATE-----/), key: await read(t.key, 'key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/) };
  try {
    createSecureContext(pair);
  } catch (e) {
    throw new RvError('RV_ERR_CONFIG', `http.tls: ${t.cert} and ${t.key} do not make a usable pair (${(e as Error).message}); give the key that belongs to the certificate.`);
  }
  return pair;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`ringvault: ${isRvError(e) ? e.message : (e as Error).stack}`);
    process.exit(1);
  });
}
