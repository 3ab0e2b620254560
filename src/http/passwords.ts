import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

// Login hashes are separate from vault keyslots so a login check never touches key material.
const N = 1 << 14;
const derive = (pass: string, salt: Buffer): Promise<Buffer> =>
  new Promise((res, rej) => scrypt(pass.normalize('NFKC'), salt, 32, { N, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (e, k) => (e ? rej(e) : res(k))));

export async function hashPassword(pass: string): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt$${N}$${salt.toString('base64')}$${(await derive(pass, salt)).toString('base64')}`;
}

export async function checkPassword(pass: string, stored: string): Promise<boolean> {
  const [kind, , salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !hash) return false;
  const got = await derive(pass, Buffer.from(salt, 'base64'));
  const want = Buffer.from(hash, 'base64');
  return got.length === want.length && timingSafeEqual(got, want);
}
