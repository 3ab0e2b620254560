// The bulk secretbox (libsodium through sodium-native) against the reference (tweetnacl): same bytes for the
// same key and nonce, each opens the other's output, and both refuse the same tampering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { secretbox, secretboxInto, secretboxOpen, SECRETBOX_MAC_BYTES } from '../src/crypto/secretbox.ts';

const SIZES = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 1000, 4096, 32_008, 65_536];

test('sodium-native and tweetnacl make byte-identical boxes and open each other', () => {
  for (const size of SIZES) {
    for (let round = 0; round < 3; round++) {
      const key = randomBytes(32);
      const nonce = randomBytes(24);
      const msg = randomBytes(size);
      const ours = secretbox(msg, nonce, key);
      const ref = nacl.secretbox(msg, nonce, key);
      assert.equal(ours.length, size + SECRETBOX_MAC_BYTES);
      assert.ok(Buffer.from(ref).equals(ours), `size ${size}: the boxes differ`);
      assert.ok(Buffer.from(nacl.secretbox.open(ours, nonce, key)!).equals(msg), `size ${size}: tweetnacl cannot open ours`);
      assert.ok(secretboxOpen(ref, nonce, key)!.equals(msg), `size ${size}: ours cannot open tweetnacl's`);
    }
  }
});

test('a flipped bit, another key, another nonce or a short box is refused by both', () => {
  const key = randomBytes(32);
  const nonce = randomBytes(24);
  const msg = randomBytes(500);
  const box = secretbox(msg, nonce, key);
  for (const at of [0, 15, 16, 100, box.length - 1]) {
    const bad = Buffer.from(box);
    bad[at]! ^= 0x01;
    assert.equal(secretboxOpen(bad, nonce, key), null, `flip at ${at}`);
    assert.equal(nacl.secretbox.open(bad, nonce, key), null);
  }
  assert.equal(secretboxOpen(box, nonce, randomBytes(32)), null);
  assert.equal(secretboxOpen(box, randomBytes(24), key), null);
  assert.equal(secretboxOpen(box.subarray(0, 15), nonce, key), null);
  assert.throws(() => secretbox(msg, nonce, randomBytes(31)), /bad key size 31/);
  assert.throws(() => secretbox(msg, randomBytes(23), key), /bad nonce size 23/);
});

test('secretboxInto seals straight into a caller buffer (a ring slot), and checks its size', () => {
  const key = randomBytes(32);
  const nonce = randomBytes(24);
  const msg = randomBytes(1234);
  const slot = Buffer.alloc(24 + 1234 + 16);
  nonce.copy(slot, 0);
  secretboxInto(slot.subarray(24), msg, nonce, key);
  assert.ok(Buffer.from(nacl.secretbox.open(slot.subarray(24), slot.subarray(0, 24), key)!).equals(msg));
  assert.throws(() => secretboxInto(Buffer.alloc(10), msg, nonce, key), /output must be 1250 bytes/);
});
