import { randomBytes } from 'node:crypto';
import { EXCLUSION_KDF, hashNumber } from '../src/vault/exclusions.ts';
import { KDF, stretch } from '../src/vault/keyslot.ts';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Issue 10: what the slow hashes cost the box. An exclusion check runs once per new number as a call
 * starts (it blocks the event loop that long), a login or unlock runs the keyslot KDF once.
 */
export async function benchSecrets(): Promise<void> {
  const kdf = { name: 'scrypt' as const, ...EXCLUSION_KDF, salt: randomBytes(16).toString('base64') };
  const ex: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t = process.hrtime.bigint();
    hashNumber(`+316${String(10_000_000 + i)}`, kdf);
    ex.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const login: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    (await stretch('correct horse battery staple', randomBytes(16), KDF)).wrapKey.fill(0);
    login.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  console.log('secrets at rest (issue 10)');
  console.log(`  exclusion check, scrypt N=2^${Math.log2(EXCLUSION_KDF.N)} r=${EXCLUSION_KDF.r}: ${median(ex).toFixed(1)} ms per new number (median of ${ex.length}), once per call start`);
  console.log(`  login/unlock KDF, scrypt N=2^${Math.log2(KDF.N)} r=${KDF.r} (verifier and keyslot, one run): ${median(login).toFixed(0)} ms (median of ${login.length})`);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchSecrets();
