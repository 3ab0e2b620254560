import nacl from 'tweetnacl';

/**
 * A signed anchor of the audit chain: how many entries there were, the hash of the last one, and when.
 * Without anchors a cut tail or a chain rewritten from some entry on (hashes recomputed) still
 * verifies; with them, it is named. Kept twice: as lines in `audit.log.checkpoints`, and as an
 * `audit.checkpoint` entry in the chain itself, so an exported copy of the log carries them.
 */
export interface Checkpoint { count: number; head: string; at: number; sig: string }

const message = (c: Omit<Checkpoint, 'sig'>): Uint8Array =>
  new TextEncoder().encode(`ringvault-audit-checkpoint/1\n${c.count}\n${c.head}\n${c.at}`);

export interface CheckpointSigner { sign(message: Uint8Array): Promise<Uint8Array>; signPublicKey(): Promise<Uint8Array> }

export async function signCheckpoint(signer: CheckpointSigner, c: Omit<Checkpoint, 'sig'>): Promise<Checkpoint> {
  return { ...c, sig: Buffer.from(await signer.sign(message(c))).toString('base64') };
}

export function checkpointSignatureOk(c: Checkpoint, publicKey: Uint8Array): boolean {
  const sig = Buffer.from(String(c.sig), 'base64');
  return sig.length === nacl.sign.signatureLength && publicKey.length === nacl.sign.publicKeyLength &&
    nacl.sign.detached.verify(message(c), sig, publicKey);
}

export function parseCheckpoint(x: unknown): Checkpoint | undefined {
  const c = x as Partial<Checkpoint> | null;
  if (!c || typeof c !== 'object' || !Number.isInteger(c.count) || typeof c.head !== 'string' || !Number.isFinite(c.at) || typeof c.sig !== 'string') return undefined;
  return { count: c.count!, head: c.head, at: c.at!, sig: c.sig };
}
