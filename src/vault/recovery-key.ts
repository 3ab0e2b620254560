import { createHash } from 'node:crypto';

/**
 * The recovery key as people see it: `RV1-` then 56 Crockford base32 characters in groups of 4.
 * The 56 characters carry the 32-byte key and a 3-byte check, so a typo is told apart from a wrong key.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const PREFIX = 'RV1';
export const RECOVERY_KEY_BYTES = 32;
const CHECK_BYTES = 3;
const CHARS = ((RECOVERY_KEY_BYTES + CHECK_BYTES) * 8) / 5;
const GROUP = 4;

const check = (key: Uint8Array): Buffer =>
  createHash('sha256').update('ringvault-recovery-check/1').update(key).digest().subarray(0, CHECK_BYTES);

function encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

function decode(chars: string): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const c of chars) {
    acc = (acc << 5) | ALPHABET.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 255);
    }
    acc &= (1 << bits) - 1;
  }
  return Buffer.from(out);
}

export function formatRecoveryKey(key: Uint8Array): string {
  if (key.length !== RECOVERY_KEY_BYTES) throw new Error(`a recovery key is ${RECOVERY_KEY_BYTES} bytes`);
  const body = encode(Buffer.concat([key, check(key)]));
  const groups = body.match(new RegExp(`.{${GROUP}}`, 'g')) ?? [];
  return [PREFIX, ...groups].join('-');
}

export type ParsedRecoveryKey = { ok: true; key: Buffer } | { ok: false; reason: 'shape' | 'typo' };

/** Accepts any case, spaces or dashes anywhere or none, the prefix or not, and the look-alikes I, L and O. */
export function parseRecoveryKey(text: string): ParsedRecoveryKey {
  let s = text.toUpperCase().replace(/[\s_-]+/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (s.length === PREFIX.length + CHARS && s.startsWith(PREFIX)) s = s.slice(PREFIX.length);
  if (s.length !== CHARS || [...s].some((c) => !ALPHABET.includes(c))) return { ok: false, reason: 'shape' };
  const raw = decode(s);
  const key = raw.subarray(0, RECOVERY_KEY_BYTES);
  if (!check(key).equals(raw.subarray(RECOVERY_KEY_BYTES))) return { ok: false, reason: 'typo' };
  return { ok: true, key: Buffer.from(key) };
}
