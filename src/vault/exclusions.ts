import { randomBytes, scryptSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { normalizeNumber } from '../policy/keep.ts';
import { RvError } from '../errors.ts';
import type { Vault } from './vault.ts';

/**
 * The exclusion list (staff members' private numbers) as settings.json keeps it: no number in the
 * clear. The box must match calls against it while locked, so each entry is a slow salted hash
 * (scrypt, one salt per box) of the normalised number, and a call costs one hash per new number.
 * For the admin's page the list is also sealed under a vault epoch key, readable only when unlocked.
 * A thief with a GPU can still try every phone number against the hashes: see the README.
 */
export interface SealedExclusions {
  v: 1;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  hashes: string[];
  epoch: string;
  nonce: string;
  sealed: string;
}

/** 4 MiB and about 10 ms on a laptop core, 30–60 ms on a Pi 4 (npm run bench -- exclusions), once per new number. */
export const EXCLUSION_KDF = { N: 1 << 12, r: 8, p: 1 } as const;

export function hashNumber(n: string, kdf: SealedExclusions['kdf']): string {
  return scryptSync(normalizeNumber(n), Buffer.from(kdf.salt, 'base64'), 16, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r }).toString('base64');
}

export async function sealExclusions(numbers: readonly string[], vault: Pick<Vault, 'newEpoch'>, salt = randomBytes(16).toString('base64')): Promise<SealedExclusions> {
  const kdf = { name: 'scrypt' as const, ...EXCLUSION_KDF, salt };
  const list = [...new Set(numbers)];
  const ep = await vault.newEpoch();
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  const sealed = nacl.secretbox(Buffer.from(JSON.stringify(list), 'utf8'), nonce, ep.sharedKey);
  ep.sharedKey.fill(0);
  // Sorted, so the file does not keep the order in which numbers were added.
  const hashes = [...new Set(list.map((n) => hashNumber(n, kdf)))].sort();
  return { v: 1, kdf, hashes, epoch: ep.id, nonce: nonce.toString('base64'), sealed: Buffer.from(sealed).toString('base64') };
}

export async function openExclusions(s: SealedExclusions, vault: Pick<Vault, 'epochKey'>): Promise<string[]> {
  const key = await vault.epochKey(s.epoch);
  const plain = nacl.secretbox.open(Buffer.from(s.sealed, 'base64'), Buffer.from(s.nonce, 'base64'), key);
  if (!plain) throw new RvError('RV_ERR_SETTINGS', 'The sealed exclusion list in settings.json does not open; the file was altered. Enter the list again on the Privacy page.', 500);
  return JSON.parse(Buffer.from(plain).toString('utf8')) as string[];
}

/**
 * Answers "is this number excluded?" synchronously (the recorder decides as a call starts): the
 * config file's plain list, or the hashed list from settings.json. A number's answer is cached in
 * memory, so a call's numbers cost one hash each however often they are checked.
 */
export class ExclusionMatcher {
  private cache = new Map<string, boolean>();
  private cachedFor?: SealedExclusions;

  constructor(private readonly stored: () => SealedExclusions | undefined, private readonly plain: () => readonly string[]) {}

  matches(n: string): boolean {
    const s = this.stored();
    if (!s || s.hashes.length === 0) {
      if (s) return false;
      const list = this.plain();
      return list.length > 0 && list.some((x) => normalizeNumber(x) === normalizeNumber(n));
    }
    if (this.cachedFor !== s) { this.cache = new Map(); this.cachedFor = s; }
    const key = normalizeNumber(n);
    let hit = this.cache.get(key);
    if (hit === undefined) {
      hit = s.hashes.includes(hashNumber(key, s.kdf));
      // Bounded: a trunk sees many numbers; the oldest answers go first.
      if (this.cache.size >= 1024) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, hit);
    }
    return hit;
  }
}
