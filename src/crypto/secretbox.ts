import sodium from 'sodium-native';

/**
 * XSalsa20-Poly1305 secretbox through libsodium (sodium-native), for the bulk paths: ring slots, archive
 * chunks, sealed metas. The bytes are exactly tweetnacl's `nacl.secretbox` (16-byte MAC ‖ ciphertext), which
 * stays the reference implementation: test/crypto-secretbox.test.ts opens each one's output with the other.
 */
export const SECRETBOX_KEY_BYTES = sodium.crypto_secretbox_KEYBYTES;
export const SECRETBOX_NONCE_BYTES = sodium.crypto_secretbox_NONCEBYTES;
export const SECRETBOX_MAC_BYTES = sodium.crypto_secretbox_MACBYTES;

const view = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

function check(nonce: Uint8Array, key: Uint8Array): void {
  if (key.length !== SECRETBOX_KEY_BYTES) throw new Error(`secretbox: bad key size ${key.length}`);
  if (nonce.length !== SECRETBOX_NONCE_BYTES) throw new Error(`secretbox: bad nonce size ${nonce.length}`);
}

/** Seals `msg` into `out` (msg.length + 16 bytes), e.g. straight into a ring slot's buffer. */
export function secretboxInto(out: Uint8Array, msg: Uint8Array, nonce: Uint8Array, key: Uint8Array): void {
  check(nonce, key);
  if (out.length !== msg.length + SECRETBOX_MAC_BYTES) throw new Error(`secretbox: output must be ${msg.length + SECRETBOX_MAC_BYTES} bytes, not ${out.length}`);
  sodium.crypto_secretbox_easy(view(out), view(msg), view(nonce), view(key));
}

export function secretbox(msg: Uint8Array, nonce: Uint8Array, key: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(msg.length + SECRETBOX_MAC_BYTES);
  secretboxInto(out, msg, nonce, key);
  return out;
}

/** The opened message, or null when the box was altered or sealed under another key or nonce. */
export function secretboxOpen(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Buffer | null {
  check(nonce, key);
  if (box.length < SECRETBOX_MAC_BYTES) return null;
  const out = Buffer.allocUnsafe(box.length - SECRETBOX_MAC_BYTES);
  return sodium.crypto_secretbox_open_easy(out, view(box), view(nonce), view(key)) ? out : null;
}
