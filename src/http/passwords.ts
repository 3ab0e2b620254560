import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { formatVerifier, KDF, stretch, type KdfParams } from '../vault/keyslot.ts';

/**
 * Login verifiers in settings.json. A verifier is never cheaper to attack than a keyslot: it is the
 * second half of the keyslot's own scrypt run (same salt, same cost), and a user without a keyslot
 * (staff) gets a verifier at the same cost. Verifiers from before (`scrypt$16384$…`, half the cost)
 * are still accepted once and replaced at that login (`legacy: true`).
 */
export type PasswordCheck = { ok: boolean; legacy: boolean };

const LEGACY_N = 1 << 14;
const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 1 && (n & (n - 1)) === 0;

/** A verifier's KDF cost; undefined when the string is not one. Bounds keep a tampered file from costing the box all its memory. */
export function verifierParams(stored: string): (KdfParams & { salt: string; hash: string; legacy: boolean }) | undefined {
  const f = stored.split('$');
  if (f[0] === 'rv1' && f[1] === 'scrypt' && f.length === 7) {
    const [N, r, p] = [Number(f[2]), Number(f[3]), Number(f[4])];
    if (!isPow2(N) || N > 1 << 20 || !Number.isInteger(r) || r < 1 || r > 16 || !Number.isInteger(p) || p < 1 || p > 4) return undefined;
    return { N, r, p, salt: f[5]!, hash: f[6]!, legacy: false };
  }
  if (f[0] === 'scrypt' && f.length === 4 && f[2] && f[3]) return { N: LEGACY_N, r: 8, p: 1, salt: f[2], hash: f[3], legacy: true };
  return undefined;
}

/** A verifier for a user without a keyslot (staff), at the keyslot's cost. */
export async function hashPassword(pass: string): Promise<string> {
  const salt = randomBytes(16);
  const { wrapKey, verifier } = await stretch(pass, salt, KDF);
  wrapKey.fill(0);
  return formatVerifier(KDF, salt.toString('base64'), verifier);
}

/** A verifier to check against when the user name is unknown, so timing does not tell which names exist. */
export const DUMMY_VERIFIER = formatVerifier(KDF, Buffer.alloc(16).toString('base64'), Buffer.alloc(32));

const legacyDerive = (pass: string, salt: Buffer): Promise<Buffer> =>
  new Promise((res, rej) => scrypt(pass.normalize('NFKC'), salt, 32, { N: LEGACY_N, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (e, k) => (e ? rej(e) : res(k))));

export async function checkPassword(pass: string, stored: string): Promise<PasswordCheck> {
  const v = verifierParams(stored);
  if (!v) return { ok: false, legacy: false };
  const salt = Buffer.from(v.salt, 'base64');
  let got: Buffer;
  if (v.legacy) got = await legacyDerive(pass, salt);
  else {
    const r = await stretch(pass, salt, v);
    r.wrapKey.fill(0);
    got = r.verifier;
  }
  const want = Buffer.from(v.hash, 'base64');
  return { ok: got.length === want.length && timingSafeEqual(got, want), legacy: v.legacy };
}
