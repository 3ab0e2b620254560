import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Appliance { url: string; child: ChildProcess; stderr: () => string; stdout: () => string; stop(signal?: NodeJS.Signals): Promise<void>; claimCode: () => string }

/**
 * Claim codes the started appliances printed, by URL, so setUpBox(url, …) can set up a fresh box as
 * its owner would (reading the code from the console). Test-helper state, kept for the tests' life.
 */
const claimCodes = new Map<string, string>();
export const claimCodeOf = (url: string): string => claimCodes.get(url) ?? '';
const CLAIM_LINE = /claim code for the first setup: ([0-9A-Z]{5}-[0-9A-Z]{5})/;

/** Starts the real appliance (src/main.ts) on a free port and waits for its listening line. */
export async function startAppliance(dataDir: string, args: string[] = [], opts: { env?: Record<string, string> } = {}): Promise<Appliance> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), '--data', dataDir, '--port', '0', ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RINGVAULT_LOG: 'warn', ...opts.env },
  });
  let err = '';
  let out = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const url = await new Promise<string>((res, rej) => {
    // Generous: a loaded 2-core machine can take tens of seconds to compile and start it. A box that does
    // not start is killed, so a failed start fails its test instead of keeping the test file alive.
    const timer = setTimeout(() => { child.kill('SIGKILL'); rej(new Error(`appliance did not start in 90 s:\n${out}\n${err}`)); }, 90_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); res(m[1]!); }
    });
    child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`appliance exited with ${code}:\n${out}\n${err}`)); });
  });
  // The claim line follows the data line, and only on a box that is not set up yet.
  const claimCode = async (): Promise<void> => {
    const settled = (): boolean => /data in .*\n/.test(out) && (!/set up the box/.test(out) || CLAIM_LINE.test(out));
    for (let i = 0; i < 400 && !settled() && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 25));
    const m = CLAIM_LINE.exec(out);
    if (m) claimCodes.set(url, m[1]!);
  };
  await claimCode();
  return {
    url, child, stderr: () => err, stdout: () => out, claimCode: () => CLAIM_LINE.exec(out)?.[1] ?? '',
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      // A stop that hangs is a bug the test should report, not wait on forever.
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** A browser-like client: keeps cookies, sends the CSRF token on every state change. */
export class Client {
  private cookies = new Map<string, string>();
  private csrf = '';
  constructor(readonly base: string) {}

  async state(): Promise<any> {
    const s = await this.json('GET', '/api/state');
    this.csrf = s.csrfToken;
    return s;
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const h: Record<string, string> = { ...headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (method !== 'GET' && method !== 'HEAD') h['x-csrf-token'] = this.csrf;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(this.base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    return res;
  }

  async json(method: string, path: string, body?: unknown): Promise<any> {
    const res = await this.request(method, path, body);
    const data = await res.json();
    if (!res.ok) throw Object.assign(new Error(`${method} ${path} → ${res.status} ${JSON.stringify(data)}`), { status: res.status, data });
    return data;
  }

  async until<T>(fn: () => Promise<T | undefined | false>, what: string, ms = 20_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Sets up a fresh box with its first admin; returns the admin's logged-in client. */
export async function setUpBox(url: string, username: string, passphrase: string): Promise<Client> {
  const admin = new Client(url);
  await admin.state();
  await admin.json('POST', '/api/setup', { username, passphrase, claimCode: claimCodeOf(url) });
  await admin.state();
  return admin;
}

/** Adds users as [name, role, extension?]; each one's passphrase is `<name>-passphrase`. */
export async function addUsers(admin: Client, users: readonly (readonly [string, string, string?])[]): Promise<void> {
  for (const [username, role, extension] of users) {
    await admin.json('POST', '/api/users', { username, passphrase: `${username}-passphrase`, role, ...(extension ? { extension } : {}) });
  }
}

/** A client logged in as `username` (passphrase `<name>-passphrase` unless given). */
export async function logIn(url: string, username: string, passphrase = `${username}-passphrase`): Promise<Client> {
  const c = new Client(url);
  await c.state();
  await c.json('POST', '/api/login', { username, passphrase });
  await c.state();
  return c;
}

/**
 * Places a 2 s incoming simulated call on line1 (`call` adds to or overrides the body), keeps it with
 * `purposes` while it runs, and waits until it is archived and the line is idle again.
 */
export async function keepSimCall(admin: Client, purposes: string[], call: Record<string, unknown>): Promise<string> {
  await admin.json('POST', '/api/sim/lines/line1/call', { direction: 'in', durationSec: 2, ...call });
  await admin.until(async () => (await admin.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1')?.call, 'a live call on line1');
  const { callId } = await admin.json('POST', '/api/lines/line1/save', { purposes });
  await admin.until(async () => (await admin.json('GET', '/api/calls')).calls.some((c: any) => c.id === callId), `call ${callId} in the archive`);
  await admin.until(async () => !(await admin.json('GET', '/api/lines')).lines.find((l: any) => l.id === 'line1')?.call, 'line1 idle again');
  return callId;
}
