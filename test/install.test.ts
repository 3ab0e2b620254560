// install/install.sh and uninstall.sh without touching the machine: bash -n, --dry-run, and --root DIR,
// which writes the files (app, config, certificate, unit) under DIR for real. The certificate is
// then checked with openssl and used by the installed app itself, started from DIR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, readFile, rename, writeFile, symlink } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/appliance.ts';
import { parseConfig } from '../src/config/load.ts';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const INSTALL = join(ROOT, 'install', 'install.sh');
const UNINSTALL = join(ROOT, 'install', 'uninstall.sh');

function run(script: string, args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const x509 = (file: string, ...args: string[]): string => execFileSync('openssl', ['x509', '-in', file, '-noout', ...args], { encoding: 'utf8' });
const fingerprint = (file: string): string => x509(file, '-fingerprint', '-sha256').trim();

test('both scripts parse (bash -n) and answer --help', () => {
  for (const s of [INSTALL, UNINSTALL]) {
    assert.equal(spawnSync('bash', ['-n', s]).status, 0, `${s} has a syntax error`);
    const h = run(s, ['--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /--dry-run/);
  }
  const bad = run(INSTALL, ['--frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /unknown option --frobnicate; see --help/);
});

test('install --dry-run prints the whole plan (packages, user, npm, certificate, unit, start) without running it', () => {
  const r = run(INSTALL, ['--dry-run', '--hostname', 'box1', '--address', '192.0.2.10']);
  assert.equal(r.code, 0, r.err);
  for (const step of [
    /apt-get install .*alsa-utils.* sox .*tcpdump.* gpiod .*openssl/,
    /useradd --system --user-group --home-dir \/var\/lib\/ringvault .*ringvault$/m,
    /usermod -a -G audio,dialout,gpio ringvault/,
    /npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev/,
    /install -d -m 0700 \/var\/lib\/ringvault/,
    /subjectAltName=DNS:box1,DNS:box1\.local,.*IP:192\.0\.2\.10/,
    /install systemd\/ringvault\.service \/etc\/systemd\/system\/ringvault\.service/,
    /systemctl enable ringvault\.service/,
    /systemctl restart ringvault\.service/,
  ]) assert.match(r.out, step);
  assert.doesNotMatch(r.out, /capture\.conf/, 'no capture rights unless asked');
  const u = run(UNINSTALL, ['--dry-run']);
  assert.equal(u.code, 0, u.err);
  assert.match(u.out, /systemctl disable --now ringvault\.service/);
  assert.match(u.out, /kept: recordings and vault in \/var\/lib\/ringvault/);
  assert.doesNotMatch(u.out, /rm -rf \/var\/lib\/ringvault/);
});

test('install --root: app, config, certificate with the SANs, unit; idempotent; the installed app serves HTTPS with that certificate; uninstall keeps data unless --purge', { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-install-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const r = run(INSTALL, ['--root', root, '--hostname', 'box1', '--address', '192.0.2.10', '--address', '2001:db8::5', '--address', 'fe80::1', '--capture', '--sbc', '192.0.2.20']);
  assert.equal(r.code, 0, r.err + r.out);

  // The certificate: self-signed leaf (not a CA), P-256, SAN = name, name.local, given addresses.
  const cert = join(root, 'etc/ringvault/tls/cert.pem');
  const key = join(root, 'etc/ringvault/tls/key.pem');
  const text = x509(cert, '-text');
  const san = /Subject Alternative Name:\s*\n\s*(.+)/.exec(text)?.[1] ?? '';
  for (const want of ['DNS:box1', 'DNS:box1.local', 'DNS:localhost', 'IP Address:127.0.0.1', 'IP Address:192.0.2.10', 'IP Address:2001:DB8:0:0:0:0:0:5']) {
    assert.ok(san.split(', ').includes(want), `${want} in SAN: ${san}`);
  }
  assert.doesNotMatch(san, /FE80/i, 'link-local addresses left out');
  assert.match(text, /CA:FALSE/);
  assert.match(text, /TLS Web Server Authentication/);
  assert.match(text, /Subject: CN ?= ?box1/);
  assert.equal(statSync(key).mode & 0o077, 0o040, 'key readable by the group only (root:ringvault 0640)');
  assert.match(execFileSync('openssl', ['verify', '-CAfile', cert, cert], { encoding: 'utf8' }), /OK/);
  assert.ok(r.out.includes(fingerprint(cert).split('=')[1]!), 'the fingerprint to compare in the browser is printed');

  // Config: valid against the schema, HTTPS on 443 with a redirect from 80, data in /var/lib.
  const cfgPath = join(root, 'etc/ringvault/config.json');
  const cfg = parseConfig(JSON.parse(await readFile(cfgPath, 'utf8')), cfgPath);
  assert.deepEqual(cfg.http.tls, { cert: '/etc/ringvault/tls/cert.pem', key: '/etc/ringvault/tls/key.pem' });
  assert.equal(cfg.http.port, 443);
  assert.equal(cfg.http.redirectPort, 80);
  assert.equal(cfg.dataDir, '/var/lib/ringvault');
  assert.deepEqual(cfg.siprec.allowFrom, ['192.0.2.20'], 'SIPREC only from the SBC given with --sbc');
  assert.ok(cfg.lines.some((l) => l.source === 'siprec'));
  assert.equal(statSync(join(root, 'var/lib/ringvault')).mode & 0o777, 0o700);

  // Unit and the capture drop-in; the unit names this machine's node.
  const unit = await readFile(join(root, 'etc/systemd/system/ringvault.service'), 'utf8');
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^ExecStart=\S*node \/opt\/ringvault\/bin\/ringvault\.js start --config \/etc\/ringvault\/config\.json$/m);
  assert.ok(existsSync(join(root, 'etc/systemd/system/ringvault.service.d/capture.conf')));
  assert.ok(existsSync(join(root, 'opt/ringvault/src/main.ts')));
  assert.ok(existsSync(join(root, 'opt/ringvault/package-lock.json')));
  assert.ok(!existsSync(join(root, 'opt/ringvault/test')), 'tests are not installed');
  assert.match(r.out, /\+ .*npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev/, 'npm is printed, not run, under --root');

  // Again, after the admin edited the config: config and certificate stay, the app is replaced.
  const edited = { ...JSON.parse(await readFile(cfgPath, 'utf8')), language: 'en' };
  await writeFile(cfgPath, JSON.stringify(edited));
  const before = fingerprint(cert);
  await writeFile(join(root, 'opt/ringvault/stale-file'), 'x');
  const again = run(INSTALL, ['--root', root, '--hostname', 'other']);
  assert.equal(again.code, 0, again.err);
  assert.equal(fingerprint(cert), before, 'certificate kept');
  assert.equal(JSON.parse(await readFile(cfgPath, 'utf8')).language, 'en', 'config kept');
  assert.ok(!existsSync(join(root, 'opt/ringvault/stale-file')), 'app replaced as a whole');
  assert.match(again.out, /keeping the existing certificate/);
  assert.ok(existsSync(join(root, 'etc/systemd/system/ringvault.service.d/capture.conf')), 'an update without --capture keeps the capture rights');
  assert.match(again.out, /keeping the capture drop-in/);

  // The installed app, started from the install tree with the installed certificate, serves HTTPS
  // to a client that trusts exactly that certificate (as a browser does once the fingerprint is accepted).
  await symlink(join(ROOT, 'node_modules'), join(root, 'opt/ringvault/node_modules'));
  // What install.sh's `npm run build` does on the box: the installed tree compiles to dist/ and runs that.
  // Without src/ it can only run dist/: proof that the installed box needs no TypeScript at run time.
  execFileSync('npm', ['run', 'build'], { cwd: join(root, 'opt/ringvault'), stdio: 'pipe' });
  assert.ok(existsSync(join(root, 'opt/ringvault/dist/cli/index.js')), 'the installed tree builds dist/');
  await rename(join(root, 'opt/ringvault/src'), join(root, 'opt/ringvault/src.moved-away'));
  const runCfg = join(dir, 'run.json');
  await writeFile(runCfg, JSON.stringify({ ...edited, dataDir: join(dir, 'data'), http: { ...edited.http, host: '127.0.0.1', port: 0, tls: { cert, key }, redirectPort: false }, siprec: { ...edited.siprec, host: '127.0.0.1', port: 0, tls: { port: 0 }, rtpPortMin: 45000, rtpPortMax: 45999 } }));
  const child = spawn(process.execPath, [join(root, 'opt/ringvault/bin/ringvault.js'), 'start', '--config', runCfg], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RINGVAULT_LOG: 'warn' } });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const url = await new Promise<string>((res, rej) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (https:\/\/\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    child.once('exit', (c) => rej(new Error(`installed app exited with ${c}: ${out}\n${err}`)));
  });
  const port = new URL(url).port;
  const body = await new Promise<string>((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/state', servername: 'box1.local', ca: readFileSync(cert) }, (resp) => {
      let b = '';
      resp.setEncoding('utf8').on('data', (d: string) => { b += d; }).once('end', () => res(b));
    });
    req.once('error', rej);
    req.end();
  });
  assert.equal(JSON.parse(body).initialized, false);
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;

  // Uninstall keeps config, certificate and data; --purge takes them too.
  await writeFile(join(root, 'var/lib/ringvault/archive-marker'), 'kept');
  const u = run(UNINSTALL, ['--root', root]);
  assert.equal(u.code, 0, u.err);
  assert.ok(!existsSync(join(root, 'opt/ringvault')));
  assert.ok(!existsSync(join(root, 'etc/systemd/system/ringvault.service')));
  assert.ok(!existsSync(join(root, 'etc/systemd/system/ringvault.service.d')));
  assert.ok(existsSync(join(root, 'var/lib/ringvault/archive-marker')));
  assert.equal(fingerprint(cert), before);
  const noYes = spawnSync('bash', [UNINSTALL, '--root', root, '--purge'], { encoding: 'utf8', input: '' });
  assert.equal(noYes.status, 1, 'purge without a terminal or --yes refuses');
  assert.ok(existsSync(join(root, 'var/lib/ringvault/archive-marker')));
  const p = run(UNINSTALL, ['--root', root, '--purge', '--yes']);
  assert.equal(p.code, 0, p.err);
  assert.ok(!existsSync(join(root, 'var/lib/ringvault')));
  assert.ok(!existsSync(join(root, 'etc/ringvault')));
  assert.match(p.out, /\+ userdel ringvault/);
});

test('install without --sbc and no terminal leaves the SIPREC line out (the box refuses one open to anyone); --sbc on an update sets allowFrom', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-install-sbc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const r = spawnSync('bash', [INSTALL, '--root', root, '--hostname', 'box2'], { encoding: 'utf8', input: '', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /no SBC address given: SIPREC line verkoop left out; run again with --sbc ADDR/);
  const cfgPath = join(root, 'etc/ringvault/config.json');
  const cfg = parseConfig(JSON.parse(await readFile(cfgPath, 'utf8')), cfgPath);
  assert.ok(!cfg.lines.some((l) => l.source === 'siprec'));
  assert.deepEqual(cfg.siprec.allowFrom, []);
  const again = run(INSTALL, ['--root', root, '--sbc', '10.1.0.0/16', '--sbc', '192.0.2.30']);
  assert.equal(again.code, 0, again.err);
  assert.deepEqual(JSON.parse(await readFile(cfgPath, 'utf8')).siprec.allowFrom, ['10.1.0.0/16', '192.0.2.30']);
  const bad = run(INSTALL, ['--root', root, '--sbc', 'sbc.example; rm -rf /']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /is not an IP address or a\.b\.c\.d\/n range/);
});

test('install --cert/--key: a given pair is installed as is; a key of another certificate is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-install-cert-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const mk = (name: string) => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
      '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`)], { stdio: 'ignore' });
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  const a = mk('office');
  const b = mk('other');
  const root = join(dir, 'root');
  const bad = run(INSTALL, ['--root', root, '--cert', a.cert, '--key', b.key]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /is not the key of .*office\.pem; give the matching pair/);
  const half = run(INSTALL, ['--root', root, '--cert', a.cert]);
  assert.equal(half.code, 1);
  assert.match(half.err, /give both --cert and --key/);
  const ok = run(INSTALL, ['--root', root, '--cert', a.cert, '--key', a.key]);
  assert.equal(ok.code, 0, ok.err);
  assert.equal(fingerprint(join(root, 'etc/ringvault/tls/cert.pem')), fingerprint(a.cert));
  assert.equal(await readFile(join(root, 'etc/ringvault/tls/key.pem'), 'utf8'), await readFile(a.key, 'utf8'));
});
