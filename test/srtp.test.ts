// src/rtp/srtp.ts against RFC 3711's own test vectors (Appendix B), against libsrtp2 (Debian's reference
// implementation, compiled here into a tiny peer) in both directions, and against ffmpeg's SRTP sender.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './helpers/appliance.ts';
import { buildRtp } from '../src/rtp/packet.ts';
import { deriveKey, LABEL, packetIv, parseInlineKey, SrtpReceiver, SrtpSender, type SrtpKey, type SrtpSuite } from '../src/rtp/srtp.ts';
import { createCipheriv } from 'node:crypto';

const run = promisify(execFile);
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('RFC 3711 B.3: key derivation', () => {
  const mk = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const ms = hex('0EC675AD498AFEEBB6960B3AABE6');
  assert.equal(deriveKey(mk, ms, LABEL.encryption, 16).toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
  assert.equal(deriveKey(mk, ms, LABEL.salt, 14).toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
  assert.equal(deriveKey(mk, ms, LABEL.auth, 94).toString('hex').toUpperCase(),
    'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCEE049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC256D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2');
});

test('RFC 3711 B.2: the AES-CM counter block and keystream, start and end of the segment', () => {
  const salt = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD');
  const iv = packetIv(salt, 0, 0);
  assert.equal(iv.toString('hex').toUpperCase(), 'F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');
  const ks = createCipheriv('aes-128-ctr', hex('2B7E151628AED2A6ABF7158809CF4F3C'), iv).update(Buffer.alloc(1044512));
  assert.equal(ks.subarray(0, 48).toString('hex').toUpperCase(), 'E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB41E95B3BB0A2E8DD477901E4FCA894C0');
  assert.equal(ks.subarray(-48).toString('hex').toUpperCase(), 'EC8CDF7398607CB0F2D21675EA9EA1E4362B7C3C6773516318A077D7FC5073AE6A2CC3787889374FBEB4C81B17BA6C44');
  // SSRC and index land where §4.1.1 puts them.
  assert.equal(packetIv(Buffer.alloc(14), 0xdeadbeef, 0x123456789abc).toString('hex'), '00000000deadbeef123456789abc0000');
});

test('libsrtp\'s protected-packet vector (srtp_driver.c) decrypts to its plaintext', () => {
  const key = parseInlineKey('AES_CM_128_HMAC_SHA1_80', `inline:${hex('e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6').toString('base64')}`)!;
  const cipher = hex('800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb');
  const r = new SrtpReceiver(key).unprotect(cipher);
  assert.ok(r.ok);
  assert.equal(r.packet.toString('hex'), `800f1234decafbadcafebabe${'ab'.repeat(16)}`);
});

function key(suite: SrtpSuite, mkiLen = 0): { k: SrtpKey; inline: string } {
  const raw = randomBytes(30);
  const inline = `inline:${raw.toString('base64')}|2^31${mkiLen ? `|1:${mkiLen}` : ''}`;
  return { k: parseInlineKey(suite, inline)!, inline };
}
const rtp = (seq: number, ssrc = 0x11223344, fill = seq & 0xff) => Buffer.from(buildRtp({ pt: 8, seq: seq & 0xffff, ts: seq * 160, ssrc, payload: new Uint8Array(160).fill(fill) }));

test('round trip over a sequence wrap, reordering, replays, a wrong key, a flipped bit, both suites and an MKI', () => {
  for (const [suite, mki] of [['AES_CM_128_HMAC_SHA1_80', 0], ['AES_CM_128_HMAC_SHA1_32', 0], ['AES_CM_128_HMAC_SHA1_80', 4]] as const) {
    const { k } = key(suite, mki);
    const tx = new SrtpSender(k);
    const rx = new SrtpReceiver(k);
    const sent = Array.from({ length: 40 }, (_, i) => tx.protect(rtp(65520 + i)));
    assert.equal(sent[0]!.length, 172 + mki + (suite.endsWith('80') ? 10 : 4));
    // Reordered around the wrap: the rollover counter is guessed right both ways (§3.3.1).
    const order = [...Array(40).keys()];
    [order[14], order[17]] = [order[17]!, order[14]!];
    for (const i of order) {
      const r = rx.unprotect(sent[i]!);
      assert.ok(r.ok, `${suite} packet ${i}`);
      assert.deepEqual(r.packet, rtp(65520 + i), `${suite} packet ${i} decrypts to what was sent`);
    }
    assert.deepEqual(rx.unprotect(sent[20]!), { ok: false, why: 'replay' });
    const flipped = Buffer.from(sent[39]!);
    flipped[20]! ^= 1;
    const late = tx.protect(rtp(65520 + 40));
    assert.deepEqual(rx.unprotect(flipped), { ok: false, why: 'replay' }, 'already seen index');
    const bad = Buffer.from(late);
    bad[30]! ^= 0x80;
    assert.deepEqual(rx.unprotect(bad), { ok: false, why: 'auth' }, 'a changed payload fails its tag');
    assert.ok(rx.unprotect(late).ok, 'and the real packet still passes after the forgery');
    const stranger = new SrtpReceiver(key(suite, mki).k);
    assert.ok(sent.every((p) => !stranger.unprotect(p).ok), 'a wrong key authenticates nothing');
    assert.equal(stranger.stats.authFailed, 40);
    assert.equal(rx.stats.replayed, 2);
    assert.equal(rx.stats.authFailed, 1);
  }
  const { k } = key('AES_CM_128_HMAC_SHA1_80');
  const rx = new SrtpReceiver(k);
  assert.deepEqual(rx.unprotect(Buffer.alloc(15)), { ok: false, why: 'malformed' });
  assert.equal(parseInlineKey('AES_CM_128_HMAC_SHA1_80', 'inline:c2hvcnQ='), undefined, 'a key of the wrong length is refused');
  assert.equal(parseInlineKey('AES_CM_128_HMAC_SHA1_80', 'inline:!!|x'), undefined);
});

test('libsrtp2 (the reference): its packets decrypt here, and ours pass its unprotect, for both suites across a wrap', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rv-srtp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const peer = join(dir, 'libsrtp-peer');
  await run('cc', ['-O1', '-o', peer, join(ROOT, 'test/fixtures/srtp/libsrtp-peer.c'), '-lsrtp2']);
  for (const [suite, bits] of [['AES_CM_128_HMAC_SHA1_80', '80'], ['AES_CM_128_HMAC_SHA1_32', '32']] as const) {
    const raw = randomBytes(30);
    const k = parseInlineKey(suite, `inline:${raw.toString('base64')}`)!;
    const { stdout } = await run(peer, ['protect', bits, raw.toString('hex'), '3735928559', '65500', '80'], { encoding: 'buffer' });
    const rx = new SrtpReceiver(k);
    let n = 0;
    for (let at = 0; at < stdout.length; n++) {
      const len = stdout.readUInt16BE(at);
      const r = rx.unprotect(stdout.subarray(at + 2, at + 2 + len));
      at += 2 + len;
      assert.ok(r.ok, `${suite}: libsrtp packet ${n} authenticates`);
      assert.equal(r.packet.readUInt16BE(2), (65500 + n) & 0xffff);
      assert.deepEqual([...r.packet.subarray(12)], Array.from({ length: 160 }, (_, j) => (n * 7 + j) & 0xff), `${suite}: packet ${n} payload`);
    }
    assert.equal(n, 80);
    // And the other way: libsrtp checks what the sender here made; the last one is forged.
    const tx = new SrtpSender(k);
    const ours = Array.from({ length: 60 }, (_, i) => tx.protect(rtp(65510 + i, 0xcafe, i)));
    ours[59] = Buffer.from(ours[59]!);
    ours[59][40]! ^= 4;
    const child = spawn(peer, ['unprotect', bits, raw.toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    for (const p of ours) { const l = Buffer.alloc(2); l.writeUInt16BE(p.length); child.stdin.write(l); child.stdin.write(p); }
    child.stdin.end();
    await once(child, 'exit');
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 60);
    lines.slice(0, 59).forEach((l, i) => assert.equal(l, `ok ${(65510 + i) & 0xffff} ${Buffer.alloc(160, i).toString('hex')}`, `${suite}: libsrtp accepts packet ${i}`));
    assert.match(lines[59]!, /^fail /, 'libsrtp refuses the forged one');
  }
});

/** The RTP payloads ffmpeg sends for 1 s of a 1 kHz tone in A-law, over plain RTP or SRTP with `inline`. */
async function ffmpegPackets(srtp?: { suite: string; keyB64: string }): Promise<Buffer[]> {
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const got: Buffer[] = [];
  sock.on('message', (b) => got.push(b));
  const port = sock.address().port;
  const url = srtp ? `srtp://127.0.0.1:${port}?localport=0` : `rtp://127.0.0.1:${port}?localport=0`;
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=1000:duration=1', '-ar', '8000', '-ac', '1', '-c:a', 'pcm_alaw', '-payload_type', '8', '-f', 'rtp',
    ...(srtp ? ['-srtp_out_suite', srtp.suite, '-srtp_out_params', srtp.keyB64] : []), url], { timeout: 30_000 });
  await new Promise((r) => setTimeout(r, 300));
  sock.close();
  return got;
}

test('ffmpeg\'s SRTP sender: decrypted here, the payloads equal its plain RTP of the same tone; the wrong key decrypts nothing', { timeout: 60_000 }, async () => {
  const plain = await ffmpegPackets();
  assert.ok(plain.length >= 20, `${plain.length} plain packets`);
  const want = Buffer.concat(plain.map((p) => p.subarray(12)));
  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
    const raw = randomBytes(30);
    const enc = await ffmpegPackets({ suite, keyB64: raw.toString('base64') });
    const rx = new SrtpReceiver(parseInlineKey(suite, `inline:${raw.toString('base64')}`)!);
    const out = enc.map((p) => rx.unprotect(p));
    assert.ok(out.every((r) => r.ok), `${suite}: every ffmpeg packet authenticates (${JSON.stringify(rx.stats)})`);
    const got = Buffer.concat(out.map((r) => (r.ok ? r.packet.subarray(12) : Buffer.alloc(0))));
    assert.ok(got.equals(want), `${suite}: the decrypted A-law equals ffmpeg's plain RTP of the same input (${got.length} vs ${want.length} bytes)`);
    const wrong = new SrtpReceiver(parseInlineKey(suite, `inline:${randomBytes(30).toString('base64')}`)!);
    assert.ok(enc.every((p) => !wrong.unprotect(p).ok));
    assert.equal(wrong.stats.authFailed, enc.length);
  }
});
