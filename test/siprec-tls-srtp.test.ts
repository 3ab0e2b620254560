// Issue 11 item 5: SIPREC over TLS (mutual, with the box's certificate) and SRTP with SDES keys.
// Debian's sipp is built without TLS, so sipp speaks TCP into socat, which carries it over TLS (OpenSSL)
// with a client certificate to the recording server. The SRTP media comes from ffmpeg's SRTP sender.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { siprecHarness, sipp, type SiprecHarness } from './helpers/siprec-harness.ts';
import { until } from './helpers/until.ts';

const run = promisify(execFile);

/** A CA, the box's server certificate (IP 127.0.0.1) and an SBC client certificate signed by it, plus a stranger's CA and client. */
async function pki(dir: string): Promise<Record<string, string>> {
  const f = (n: string) => join(dir, n);
  const ossl = (...a: string[]) => run('openssl', a);
  for (const ca of ['ca', 'evilca']) await ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${ca}`, '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`));
  const leaf = async (name: string, ca: string, ext: string) => {
    await ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    await writeFile(f(`${name}.ext`), ext);
    await ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.pem`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`));
  };
  await leaf('box', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await leaf('sbc', 'ca', 'extendedKeyUsage=clientAuth\n');
  await leaf('stranger', 'evilca', 'extendedKeyUsage=clientAuth\n');
  return Object.fromEntries(['ca', 'box', 'sbc', 'stranger'].flatMap((n) => [[`${n}`, f(`${n}.pem`)], [`${n}Key`, f(`${n}.key`)]]));
}

/** socat: plain TCP on a local port, carried over TLS with `cert` to the box's TLS port, the box's certificate checked against the CA. */
async function tlsTunnel(h: SiprecHarness, tlsPort: number, p: Record<string, string>): Promise<number> {
  const port = h.nextPort();
  const child: ChildProcess = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `OPENSSL:127.0.0.1:${tlsPort},cafile=${p.ca},cert=${p.sbc},key=${p.sbcKey},verify=1`], { stdio: 'ignore' });
  h.children.add(child);
  await until(async () => {
    const s = await import('node:net').then((n) => n.connect(port, '127.0.0.1'));
    const ok = await new Promise<boolean>((r) => { s.once('connect', () => r(true)); s.once('error', () => r(false)); });
    s.destroy();
    return ok;
  }, 'socat listening');
  return port;
}

/** ffmpeg sends `seconds` of a 1 kHz tone as SRTP (A-law) to `port`, paced in real time. */
async function ffmpegSrtp(port: number, suite: string, keyB64: string, seconds: number): Promise<void> {
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', `sine=frequency=1000:duration=${seconds}:sample_rate=8000:samples_per_frame=160`, '-ac', '1', '-c:a', 'pcm_alaw', '-payload_type', '8',
    '-f', 'rtp', '-srtp_out_suite', suite, '-srtp_out_params', keyB64, `srtp://127.0.0.1:${port}?localport=0`], { timeout: 60_000 });
}

/** Left and right channel statistics of a kept call's WAV, read by sox. */
async function channelStats(h: SiprecHarness, id: string): Promise<Array<{ rms: number; max: number; freq: number }>> {
  const res = await h.get(`/api/calls/${id}/audio.wav`);
  assert.equal(res.status, 200);
  const wav = join(h.dir, `${id}.wav`);
  await writeFile(wav, res.raw);
  const out = [];
  for (const ch of [1, 2]) {
    const { stderr } = await run('sox', [wav, '-n', 'remix', String(ch), 'stat']);
    const num = (re: RegExp) => Number(re.exec(stderr)?.[1]);
    out.push({ rms: num(/RMS\s+amplitude:\s+([\d.]+)/), max: num(/Maximum amplitude:\s+([-\d.]+)/), freq: num(/Rough\s+frequency:\s+(\d+)/) });
  }
  return out;
}

test('SIPREC over mutual TLS with SRTP (both SDES suites): decrypted and kept; a wrong key gives silence and counted auth failures; strangers get no TLS session', { timeout: 180_000 }, async (t) => {
  const certs = await mkdtemp(join(tmpdir(), 'rv-sip-pki-'));
  t.after(() => rm(certs, { recursive: true, force: true }));
  const p = await pki(certs);
  const h = await siprecHarness(t, { lines: 1, siprec: { tls: { port: 0, cert: p.box, key: p.boxKey, ca: p.ca } } });
  const server = h.box.siprec!.server;
  assert.ok(server.tlsPort > 0, 'the TLS listener is up');
  const drops: Array<{ authFailed: number }> = [];
  server.on('srtp-dropped', (_s, _i, stats) => drops.push(stats));

  // Strangers: no client certificate, or one from another CA, get no TLS session at all.
  for (const client of [{}, { cert: await readFile(p.stranger), key: await readFile(p.strangerKey) }]) {
    const sock = tlsConnect({ host: '127.0.0.1', port: server.tlsPort, ca: await readFile(p.ca), ...client });
    sock.on('error', () => undefined);
    sock.write('OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\n\r\n');
    let got = 0;
    sock.on('data', (d) => { got += d.length; });
    await new Promise((r) => sock.once('close', r));
    assert.equal(got, 0, 'no SIP answer without the SBC\'s client certificate');
  }

  const tunnel = await tlsTunnel(h, server.tlsPort, p);
  const calls: Array<[string, string, boolean]> = [['AES_CM_128_HMAC_SHA1_80', '+31201230080', true], ['AES_CM_128_HMAC_SHA1_32', '+31201230032', true], ['AES_CM_128_HMAC_SHA1_80', '+31201239999', false]];
  for (const [suite, caller, rightKey] of calls) {
    const key = randomBytes(30).toString('base64');
    const n = h.sessions.length;
    const src = sipp(h, 'siprec-srtp.xml', `127.0.0.1:${tunnel}`, ['-t', 't1', '-m', '1', '-d', '7000'], `SEQUENTIAL\n${caller};+31309876543;${suite};${key}\n`);
    const seen = await until(() => h.sessions[n], 'the recording session over TLS');
    assert.equal(seen.session.peer.proto, 'tls', 'the session came over TLS');
    const st = seen.session.streams[0]!;
    assert.equal(st.srtp?.suite, suite, 'SRTP agreed with the offered suite');
    assert.equal(st.srtp?.protocol, 'RTP/SAVP');
    await ffmpegSrtp(seen.ports[0]!, suite, rightKey ? key : randomBytes(30).toString('base64'), 2);
    const r = await src;
    assert.equal(r.code, 0, r.errors);
    const kept = await until(async () => ((await h.get('/api/calls')).json?.calls ?? []).find((c: any) => c.caller === caller && c.endedAt), `the kept call of ${caller}`, 30_000);
    const [left, right] = await channelStats(h, kept.id);
    const stats = st.srtp!.receiver.stats;
    if (rightKey) {
      assert.ok(stats.ok >= 90 && stats.authFailed === 0, `${suite}: ${JSON.stringify(stats)}`);
      assert.ok(left!.rms > 0.03 && left!.max > 0.1, `${suite}: the tone is in the caller's channel (RMS ${left!.rms}, max ${left!.max}; lavfi sine peaks at 0.125)`);
      assert.ok(Math.abs(left!.freq - 1000) < 50, `${suite}: at 1 kHz (${left!.freq} Hz)`);
      assert.equal(right!.max, 0, 'the silent stream stays silent');
      assert.ok(!(kept.notes ?? []).some((n: string) => /SRTP/.test(n)), 'no SRTP note on a clean call');
    } else {
      assert.equal(stats.ok, 0, 'nothing authenticates under the wrong key');
      assert.ok(stats.authFailed >= 90, `auth failures counted: ${JSON.stringify(stats)}`);
      assert.equal(left!.max, 0, 'a wrong key gives silence, not noise');
      assert.ok(drops.some((d) => d.authFailed >= 10), 'the failures are reported (line notice)');
      assert.ok((kept.notes ?? []).some((n: string) => /SRTP on stream 1: \d+ packets failed authentication, 0 were replays, 0 were not SRTP; all dropped \(0 decrypted\)/.test(n)), `the call's report says so: ${JSON.stringify(kept.notes)}`);
    }
  }
});
