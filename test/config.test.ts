import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, loadConfigFile, parseConfig } from '../src/config/load.ts';
import { SettingsStore } from '../src/config/settings.ts';

test('defaults: two simulated lines, data in ./data, UI on 127.0.0.1:8080', () => {
  const c = defaultConfig();
  assert.equal(c.lines.length, 2);
  assert.ok(c.lines.every((l) => l.source === 'sim'));
  assert.equal(c.dataDir, './data');
  assert.equal(c.http.host, '127.0.0.1');
  assert.equal(c.http.port, 8080);
});

const bad: [string, unknown, RegExp][] = [
  ['unknown key', { colour: 'red' }, /colour: unknown key/],
  ['wrong type', { http: { port: 'eighty' } }, /http\.port: found "eighty"; expected integer/],
  ['out of bounds', { graceSeconds: -1 }, /graceSeconds: found -1; expected integer to be greater or equal to 0/],
  ['bad keep mode', { lines: [{ id: 'l1', name: 'L', keep: 'sometimes' }] }, /lines\.0\.keep: found "sometimes"/],
  ['bad line id', { lines: [{ id: 'Line One', name: 'L' }] }, /lines\.0\.id: found "Line One"/],
  ['duplicate line id', { lines: [{ id: 'a', name: 'A' }, { id: 'a', name: 'B' }] }, /the id "a" is used twice/],
  ['keep purpose not announced', { lines: [{ id: 'a', name: 'A', announced: ['training'], keepPurposes: ['evidence'] }] }, /keepPurposes: found evidence, which the line does not announce/],
  ['not an object', [1, 2], /must be a JSON object, found an array/],
  ['SIPREC line open to anyone', { lines: [{ id: 'sip', name: 'S', source: 'siprec' }] }, /siprec\.allowFrom is empty, so any host on the network could place recordings on line "sip"; set siprec\.allowFrom to the SBC's address .*or set siprec\.allowAnyone: true/],
  ['allowAnyone beside allowFrom', { siprec: { allowAnyone: true, allowFrom: ['10.0.0.5'] }, lines: [{ id: 'sip', name: 'S', source: 'siprec' }] }, /siprec\.allowAnyone is true but siprec\.allowFrom lists 10\.0\.0\.5/],
  ['SIP over TLS without a certificate', { siprec: { allowFrom: ['10.0.0.5'], tls: { port: 5061 } }, lines: [{ id: 'sip', name: 'S', source: 'siprec' }] }, /siprec\.tls needs a certificate: set http\.tls/],
];
for (const [name, raw, re] of bad) {
  test(`config refused: ${name}, naming the file and key`, () => {
    assert.throws(() => parseConfig(raw, '/etc/ringvault/config.json'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'RV_ERR_CONFIG');
      assert.match(e.message, /^\/etc\/ringvault\/config\.json: /);
      assert.match(e.message, re);
      return true;
    });
  });
}

test('config file: bad JSON and missing file get clear errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-cfg-'));
  try {
    const f = join(dir, 'config.json');
    await writeFile(f, '{ "http": { "port": 80, }');
    await assert.rejects(loadConfigFile(f), /not valid JSON .*fix the syntax/);
    await assert.rejects(loadConfigFile(join(dir, 'nope.json')), /cannot read the config file \(ENOENT\)/);
    await writeFile(f, JSON.stringify({ http: { port: 8443 }, lines: [{ id: 'shop', name: 'Shop', keep: 'all', announced: ['legal-obligation'], keepPurposes: ['legal-obligation'] }] }));
    const c = await loadConfigFile(f);
    assert.equal(c.http.port, 8443);
    assert.equal(c.lines[0]!.channels, 2, 'line defaults filled in');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('settings edited in the UI persist across a reopen and override the file config', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-set-'));
  try {
    const path = join(dir, 'settings.json');
    const a = new SettingsStore(path);
    await a.load();
    await a.update((d) => { d.overrides = { graceSeconds: 30, lines: [{ id: 'line2', keep: 'all' }] }; });
    const b = new SettingsStore(path);
    await b.load();
    const eff = b.effective(defaultConfig());
    assert.equal(eff.graceSeconds, 30);
    assert.equal(eff.lines.find((l) => l.id === 'line2')!.keep, 'all');
    assert.equal(eff.lines.find((l) => l.id === 'line1')!.keep, 'on-demand');
    await writeFile(path, '{"version":1,"users":[],"overrides":{"graceSeconds":"soon"}}');
    await assert.rejects(new SettingsStore(path).load(), /RV_ERR_SETTINGS|graceSeconds/);
    assert.match(await readFile(path, 'utf8'), /soon/, 'a bad settings file is left alone, not overwritten');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the example config in the repository is valid', async () => {
  const c = await loadConfigFile(new URL('../config.example.json', import.meta.url).pathname);
  assert.equal(c.dataDir, '/var/lib/ringvault');
  assert.equal(c.lines.length, 2);
  assert.ok(c.siprec.allowFrom.length > 0 && !c.siprec.allowAnyone, 'the SIPREC line takes calls from the SBC only');
  assert.deepEqual(c.siprec.tls, { port: 5061 }, 'SIP over TLS with the box certificate');
});

test('SIPREC open to anyone only on purpose; SIP over TLS takes the box certificate', () => {
  const line = [{ id: 'sip', name: 'S', source: 'siprec' }];
  assert.equal(parseConfig({ siprec: { allowAnyone: true }, lines: line }, 'x').siprec.allowAnyone, true);
  assert.deepEqual(parseConfig({ siprec: { allowFrom: ['192.168.1.20', '10.1.0.0/16'] }, lines: line }, 'x').siprec.allowFrom, ['192.168.1.20', '10.1.0.0/16']);
  const c = parseConfig({ http: { tls: { cert: '/c.pem', key: '/k.pem' } }, siprec: { allowFrom: ['10.0.0.5'], tls: {} }, lines: line }, 'x');
  assert.deepEqual(c.siprec.tls, { port: 5061 });
  assert.equal(c.siprec.timerT1Ms, 500, 'Timer H = 64 × 500 ms = 32 s by default');
  assert.throws(() => parseConfig({ siprec: { allowFrom: ['10.0.0.5'], tls: { cert: '/c.pem' } }, lines: line }, 'x'), /give both cert and key/);
});
