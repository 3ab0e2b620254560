import { randomBytes } from 'node:crypto';
import { SECRETBOX_NONCE_BYTES, secretbox, secretboxOpen } from '../crypto/secretbox.ts';
import { RvError } from '../errors.ts';
import { DATA_KEY_BYTES, type CallMeta } from './format.ts';

const NONCE = SECRETBOX_NONCE_BYTES;

export const tampered = (id: string, what: string): RvError =>
  new RvError('RV_ERR_ARCHIVE_TAMPERED', `Kept call ${id} failed its integrity check (${what}); the archive files were altered or damaged. Restore them from a backup and check the audit log.`, 500);

export function wrapDataKey(dataKey: Uint8Array, epochKey: Uint8Array): { wrappedKey: string; wrapNonce: string } {
  const nonce = randomBytes(NONCE);
  return { wrappedKey: Buffer.from(secretbox(dataKey, nonce, epochKey)).toString('base64'), wrapNonce: nonce.toString('base64') };
}

export function unwrapDataKey(h: { id: string; wrappedKey: string; wrapNonce: string }, epochKey: Uint8Array): Uint8Array {
  const key = secretboxOpen(Buffer.from(h.wrappedKey, 'base64'), Buffer.from(h.wrapNonce, 'base64'), epochKey);
  if (!key || key.length !== DATA_KEY_BYTES) throw tampered(h.id, 'the wrapped data key does not open');
  return key;
}

export function sealMeta(meta: CallMeta, dataKey: Uint8Array): string {
  const nonce = randomBytes(NONCE);
  const box = secretbox(Buffer.from(JSON.stringify(meta), 'utf8'), nonce, dataKey);
  return Buffer.concat([nonce, box]).toString('base64');
}

export function openMeta(id: string, sealed: string, dataKey: Uint8Array): CallMeta {
  const raw = Buffer.from(sealed, 'base64');
  const plain = raw.length > NONCE ? secretboxOpen(raw.subarray(NONCE), raw.subarray(0, NONCE), dataKey) : null;
  if (!plain) throw tampered(id, 'the sealed metadata does not open');
  const meta = JSON.parse(Buffer.from(plain).toString('utf8')) as unknown;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw tampered(id, 'the sealed metadata is not an object');
  return meta as CallMeta;
}
