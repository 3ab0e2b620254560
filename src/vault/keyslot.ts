import { createHash, randomBytes, scrypt } from 'node:crypto';
import nacl from 'tweetnacl';

/** One wrapped copy of the archive secret key: opened by a user's passphrase or by the recovery key. */
export interface PassphraseSlot {
  v: 1;
  kind: 'passphrase';
  user: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  nonce: string;
  box: string;
  createdAt: number;
}
export interface RecoverySlot { v: 1; kind: 'recovery'; nonce: string; box: string; createdAt: number }
export type Keyslot = PassphraseSlot | RecoverySlot;

/** The one costly KDF of the box: keyslots and login verifiers both come from a single run of it. */
export const KDF = { N: 1 << 15, r: 8, p: 1 } as const;
export type KdfParams = { N: number; r: number; p: number };
const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');

/**
 * One scrypt run, 64 bytes out: the first 32 wrap the keyslot, the last 32 make the login verifier.
 * scrypt ends in PBKDF2, whose output blocks are independent, so the first 32 bytes equal a 32-byte
 * run (slots written before the verifier existed still open) and the verifier tells nothing about
 * the wrapping key. A guess at the verifier therefore costs exactly as much as a guess at the slot.
 */
export function stretch(passphrase: string, salt: Uint8Array, p: KdfParams): Promise<{ wrapKey: Buffer; verifier: Buffer }> {
  // scrypt needs 128·N·r bytes; twice that leaves room for the rest of its bookkeeping.
  const maxmem = 256 * p.N * p.r;
  return new Promise((res, rej) =>
    scrypt(passphrase.normalize('NFKC'), salt, 64, { N: p.N, r: p.r, p: p.p, maxmem }, (e, out) => {
      if (e) return rej(e);
      const verifier = createHash('sha256').update('ringvault-login-verifier/1').update(out.subarray(32)).digest();
      const wrapKey = Buffer.from(out.subarray(0, 32));
      out.fill(0);
      res({ wrapKey, verifier });
    }));
}

/** A login verifier as settings.json keeps it: `rv1$scrypt$N$r$p$salt$verifier`. */
export const formatVerifier = (p: KdfParams, salt: string, verifier: Buffer): string =>
  `rv1$scrypt$${p.N}$${p.r}$${p.p}$${salt}$${verifier.toString('base64')}`;

/** The recovery key already has 256 random bits, so a hash (not a slow KDF) turns it into a wrapping key. */
const recoveryWrapKey = (key: Uint8Array): Buffer => createHash('sha256').update('ringvault-recovery-wrap/1').update(key).digest();

function seal(secret: Uint8Array, wrapKey: Uint8Array): { nonce: string; box: string } {
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  return { nonce: b64(nonce), box: b64(nacl.secretbox(secret, nonce, wrapKey)) };
}

function unseal(slot: { nonce: string; box: string }, wrapKey: Uint8Array): Uint8Array | null {
  const nonce = unb64(slot.nonce);
  if (nonce.length !== nacl.secretbox.nonceLength) return null;
  return nacl.secretbox.open(unb64(slot.box), nonce, wrapKey);
}

/** Wraps `secret` under the passphrase; the verifier comes from the same KDF run (same salt, same cost). */
export async function sealWithPassphrase(user: string, passphrase: string, secret: Uint8Array, now = Date.now()): Promise<{ slot: PassphraseSlot; verifier: string }> {
  const salt = randomBytes(16);
  const { wrapKey, verifier } = await stretch(passphrase, salt, KDF);
  try {
    const slot: PassphraseSlot = { v: 1, kind: 'passphrase', user, kdf: { name: 'scrypt', ...KDF, salt: b64(salt) }, ...seal(secret, wrapKey), createdAt: now };
    return { slot, verifier: formatVerifier(KDF, b64(salt), verifier) };
  } finally {
    wrapKey.fill(0);
  }
}

/** Opens a slot; on success also gives the login verifier of the same KDF run. */
export async function openWithPassphrase(slot: PassphraseSlot, passphrase: string): Promise<Uint8Array | null> {
  return (await openWithPassphraseAndVerifier(slot, passphrase))?.secret ?? null;
}

export async function openWithPassphraseAndVerifier(slot: PassphraseSlot, passphrase: string): Promise<{ secret: Uint8Array; verifier: string } | null> {
  const { wrapKey, verifier } = await stretch(passphrase, unb64(slot.kdf.salt), slot.kdf);
  try {
    const secret = unseal(slot, wrapKey);
    return secret ? { secret, verifier: formatVerifier(slot.kdf, slot.kdf.salt, verifier) } : null;
  } finally {
    wrapKey.fill(0);
  }
}

export function sealWithRecovery(recoveryKey: Uint8Array, secret: Uint8Array, now = Date.now()): RecoverySlot {
  const k = recoveryWrapKey(recoveryKey);
  try {
    return { v: 1, kind: 'recovery', ...seal(secret, k), createdAt: now };
  } finally {
    k.fill(0);
  }
}

export function openWithRecovery(slot: RecoverySlot, recoveryKey: Uint8Array): Uint8Array | null {
  const k = recoveryWrapKey(recoveryKey);
  try {
    return unseal(slot, k);
  } finally {
    k.fill(0);
  }
}

const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 1 && (n & (n - 1)) === 0;

/** Parses a slot file; undefined when it is damaged or its scrypt cost is outside what this box can afford. */
export function parseKeyslot(text: string): Keyslot | undefined {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof x !== 'object' || x === null) return undefined;
  const s = x as Record<string, unknown>;
  if (s.v !== 1 || typeof s.nonce !== 'string' || typeof s.box !== 'string') return undefined;
  if (s.kind === 'recovery') return s as unknown as RecoverySlot;
  if (s.kind !== 'passphrase' || typeof s.user !== 'string') return undefined;
  const k = s.kdf as Record<string, unknown> | undefined;
  if (!k || k.name !== 'scrypt' || typeof k.salt !== 'string') return undefined;
  const { N, r, p } = k;
  // Bounds keep a tampered slot from making unlock eat all memory or CPU.
  if (typeof N !== 'number' || !isPow2(N) || N > 1 << 20) return undefined;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 16) return undefined;
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 4) return undefined;
  return s as unknown as PassphraseSlot;
}
