import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';

/** The signed list of files in an export bundle; `manifest.sig` holds the raw 64-byte Ed25519 signature over manifest.json's bytes. */
export interface Manifest {
  format: 'ringvault-export/1';
  /** fingerprint of the signing key: the first 16 hex digits of its SHA-256 */
  boxId: string;
  createdAt: string;
  request?: string;
  calls: number;
  signing: { algorithm: 'Ed25519'; publicKey: string; publicKeyPem: string };
  files: { name: string; bytes: number; sha256: string }[];
}

export const MANIFEST = 'manifest.json';
export const SIGNATURE = 'manifest.sig';
export const FORMAT = 'ringvault-export/1';

/** A stable, short name for a box: derived from its signing key, so it cannot be claimed by another key. */
export const boxIdOf = (publicKey: Uint8Array): string => createHash('sha256').update(publicKey).digest('hex').slice(0, 16);

/**
 * The full SHA-256 of the signing key, in groups of four hex digits: what a recipient compares with the
 * box's About page (`verify-export --key`). It starts with the box id, which is its first 16 digits.
 */
export const keyFingerprintOf = (publicKey: Uint8Array): string =>
  (createHash('sha256').update(publicKey).digest('hex').match(/.{4}/g) ?? []).join(' ');

/** A fingerprint or box id as typed: any case, spaces, colons or dashes between the digits. */
export const normalizeFingerprint = (text: string): string => text.toLowerCase().replace(/[\s:-]+/g, '');

/** SubjectPublicKeyInfo of an Ed25519 key (RFC 8410), so `openssl pkeyutl -verify` can check the signature too. */
export function ed25519Pem(publicKey: Uint8Array): string {
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(publicKey)]);
  return `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;
}

export const verifySignature = (manifestBytes: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean =>
  signature.length === nacl.sign.signatureLength && publicKey.length === nacl.sign.publicKeyLength &&
  nacl.sign.detached.verify(manifestBytes, signature, publicKey);
