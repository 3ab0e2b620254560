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

const KDF = { N: 1 << 15, r: 8, p: 1 } as const;
const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const unb64 = (s: string): Buffer => Buffer.from(s, 'base64');

function derive(passphrase: string, salt: Uint8Array, p: { N: number; r: number; p: number }): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; twice that leaves room for the rest of its bookkeeping.
  const maxmem = 256 * p.N * p.r;
  return new Promise((res, rej) =>
    scrypt(passphrase.normalize('NFKC'), salt, nacl.secretbox.keyLength, { N: p.N, r: p.r, p: p.p, maxmem }, (e, k) => (e ? rej(e) : res(k))));
}

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

export async function sealWithPassphrase(user: string, passphrase: string, secret: Uint8Array, now = Date.now()): Promise<PassphraseSlot> {
  const salt = randomBytes(16);
  const k = await derive(passphrase, salt, KDF);
  try {
    return { v: 1, kind: 'passphrase', user, kdf: { name: 'scrypt', ...KDF, salt: b64(salt) }, ...seal(secret, k), createdAt: now };
  } finally {
    k.fill(0);
  }
}

export async function openWithPassphrase(slot: PassphraseSlot, passphrase: string): Promise<Uint8Array | null> {
  const k = await derive(passphrase, unb64(slot.kdf.salt), slot.kdf);
  try {
    return unseal(slot, k);
  } finally {
    k.fill(0);
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
