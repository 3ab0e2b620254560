// HTTPS on the LAN: the real appliance with a certificate made by openssl here, a CA-trusting client,
// the redirect-only plain listener, and the demo that stays plain HTTP on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAppliance, Client, ROOT } from './helpers/appliance.ts';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';

const PASS = 'correct horse battery staple';

interface Answer { status: number; headers: IncomingHttpHeaders; body: string }

function call(url: string, o: { method?: string; ca?: Buffer; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const u = new URL(url);
  const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
    method: o.method ?? 'GET', ca: o.ca, servername: u.hostname === '127.0.0.1' ? undefined : u.hostname,
    headers: { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
  });
  return new Promise((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).once('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.end(o.body === undefined ? undefined : JSON.stringify(o.body));
  });
}

/** A self-signed certificate like install.sh makes: SAN for localhost and 127.0.0.1. */
function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=ringvault-test', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

const cookieNamed = (headers: IncomingHttpHeaders, name: string): string | undefined => (headers['set-cookie'] ?? []).find((c) => c.startsWith(`${name}=`));
const cookiePair = (c: string): string => c.split(';')[0]!;

test('TLS: login over HTTPS with Secure cookies and HSTS; the plain port only redirects; plain HTTP on the TLS port fails', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { cert, key } = makeCert(dir);
  const ca = readFileSync(cert);
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ http: { host: '127.0.0.1', port: 0, tls: { cert, key }, redirectPort: 0 } }));
  const box = await startAppliance(join(dir, 'data'), ['--config', config]);
  t.after(() => box.stop());
  assert.match(box.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const port = new URL(box.url).port;
  const base = `https://localhost:${port}`;

  // The certificate is checked for real: without the CA the client refuses it.
  await assert.rejects(call(`${base}/api/state`), /self[- ]signed|unable to verify|certificate/i);

  const st = await call(`${base}/api/state`, { ca });
  assert.equal(st.status, 200);
  assert.match(String(st.headers['strict-transport-security']), /max-age=\d{6,}/);
  const csrfCookie = cookieNamed(st.headers, 'rv_csrf');
  assert.ok(csrfCookie, 'CSRF cookie set');
  assert.match(csrfCookie, /;\s*Secure/i);
  const csrf = JSON.parse(st.body).csrfToken as string;

  const setup = await call(`${base}/api/setup`, { ca, method: 'POST', body: { username: 'admin', passphrase: PASS, claimCode: box.claimCode() }, headers: { cookie: cookiePair(csrfCookie), 'x-csrf-token': csrf } });
  assert.equal(setup.status, 200, setup.body);

  // A fresh login: the session cookie only ever travels over TLS.
  const st2 = await call(`${base}/api/state`, { ca });
  const csrf2 = cookieNamed(st2.headers, 'rv_csrf')!;
  const login = await call(`${base}/api/login`, { ca, method: 'POST', body: { username: 'admin', passphrase: PASS }, headers: { cookie: cookiePair(csrf2), 'x-csrf-token': JSON.parse(st2.body).csrfToken } });
  assert.equal(login.status, 200, login.body);
  const session = cookieNamed(login.headers, 'rv_session');
  assert.ok(session, 'session cookie set');
  assert.match(session, /;\s*Secure/i);
  assert.match(session, /;\s*HttpOnly/i);
  assert.match(session, /SameSite=Strict/i);
  const me = await call(`${base}/api/state`, { ca, headers: { cookie: `${cookiePair(session)}; ${cookiePair(csrf2)}` } });
  assert.equal(JSON.parse(me.body).user.name, 'admin');

  // The plain listener: 301 to the same path on HTTPS, no content, no cookie, for pages and API alike.
  const m = await new Client(box.url).until(async () => /redirecting http on port (\d+)/.exec(box.stdout()), 'the redirect listener line').catch(() => null);
  assert.ok(m, `redirect line in stdout:\n${box.stdout()}`);
  const plain = `http://localhost:${m[1]}`;
  for (const path of ['/', '/api/state', '/api/calls?limit=5']) {
    const r = await call(`${plain}${path}`);
    assert.equal(r.status, 301, path);
    assert.equal(r.headers.location, `https://localhost:${port}${path}`);
    assert.equal(r.body, '', `no content on ${path}`);
    assert.equal(r.headers['set-cookie'], undefined);
  }
  const post = await call(`${plain}/api/login`, { method: 'POST', body: { username: 'admin', passphrase: PASS } });
  assert.equal(post.status, 301);
  assert.equal(post.body, '');
  // A Host header that is not a host name is not echoed into the Location.
  const odd = await call(`${plain}/x`, { headers: { host: 'evil.example/"><script>' } });
  assert.equal(odd.headers.location, `https://127.0.0.1:${port}/x`);

  // Plain HTTP spoken to the TLS port gets no answer from the app.
  await assert.rejects(call(`http://127.0.0.1:${port}/api/state`), /socket hang up|ECONNRESET|Parse Error/i);
});

test('TLS: a missing or mismatched key stops the start with a message naming the key to fix', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-tls-bad-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = makeCert(dir);
  const other = await mkdtemp(join(dir, 'other-'));
  const b = makeCert(other);
  for (const [tls, expected] of [
    [{ cert: a.cert, key: join(dir, 'nope.pem') }, /http\.tls\.key: cannot read .*nope\.pem \(ENOENT\)/],
    [{ cert: a.key, key: a.key }, /http\.tls\.cert: .* is not a PEM certificate/],
    [{ cert: a.cert, key: b.key }, /http\.tls: .* do not make a usable pair/],
  ] as const) {
    const config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify({ http: { host: '127.0.0.1', port: 0, tls } }));
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), '--config', config, '--data', join(dir, 'data')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.equal(code, 2, "a config error: systemd must not restart-loop");
    assert.match(err, expected);
    assert.doesNotMatch(err, /\n\s+at /, 'a message, not a stack trace');
  }
});

test('TLS: a redirect port already in use is logged with what to do; HTTPS still serves', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-tls-busy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { cert, key } = makeCert(dir);
  const taken = createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.after(() => taken.close());
  const busyPort = (taken.address() as AddressInfo).port;
  const config = join(dir, 'config.json');
  await writeFile(config, JSON.stringify({ http: { host: '127.0.0.1', port: 0, tls: { cert, key }, redirectPort: busyPort } }));
  const box = await startAppliance(join(dir, 'data'), ['--config', config]);
  t.after(() => box.stop());
  const st = await call(`https://localhost:${new URL(box.url).port}/api/state`, { ca: readFileSync(cert) });
  assert.equal(st.status, 200);
  await new Client(box.url).until(async () => box.stderr().includes(`cannot open the plain-HTTP redirect on port ${busyPort} (EADDRINUSE)`), 'the logged redirect error');
  assert.doesNotMatch(box.stdout(), /redirecting http/);
});

test('demo without a config stays plain HTTP on 127.0.0.1: no Secure cookies, no HSTS', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-demo-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const box = await startAppliance(dir);
  t.after(() => box.stop());
  assert.match(box.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const c = new Client(box.url);
  const res = await c.request('GET', '/api/state');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('strict-transport-security'), null);
  const csrf = res.headers.getSetCookie().find((x) => x.startsWith('rv_csrf='));
  assert.ok(csrf);
  assert.doesNotMatch(csrf, /Secure/i);
  assert.doesNotMatch(box.stdout(), /redirecting/);
});
