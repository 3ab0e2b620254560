import { unlink } from 'node:fs/promises';
import type { Vault } from '../vault/vault.ts';
import { writeFileDurable } from './durable.ts';
import { headerDigest, headerJson, type CallHeader, type OpenHeader } from './format.ts';
import type { CallPaths } from './paths.ts';
import { scrubWrappedKey } from './scrub.ts';

/** What the audio file holds, counted while writing or by scanning it after a power cut. */
export interface AudioTally { chunks: number; samples: number; lastEnd?: number; audioSha256: string }

const ignoreEnoent = (e: unknown): void => {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
};

export async function signHeader(vault: Vault, body: Omit<CallHeader, 'signature'>): Promise<CallHeader> {
  const signature = Buffer.from(await vault.sign(headerDigest(body))).toString('base64');
  return { ...body, signature };
}

/** Only the known fields are carried over, so nothing unsigned rides along from a file. */
export function finalBody(o: OpenHeader, t: AudioTally, endedAt: number | undefined): Omit<CallHeader, 'signature'> {
  return {
    v: 1, id: o.id, line: o.line, startedAt: o.startedAt, endedAt: endedAt ?? t.lastEnd ?? o.startedAt,
    durationMs: Math.round((t.samples * 1000) / o.sampleRate), samples: t.samples, channels: o.channels, sampleRate: o.sampleRate,
    chunks: t.chunks, purposes: [...o.purposes], keptBy: o.keptBy, keptAt: o.keptAt, clockSynced: o.clockSynced,
    holds: [...o.holds], restricted: o.restricted, epoch: o.epoch, wrappedKey: o.wrappedKey, wrapNonce: o.wrapNonce,
    metaSealed: o.metaSealed, audioSha256: t.audioSha256,
    ...(o.missing?.length ? { missing: o.missing.map((m) => ({ from: m.from, to: m.to, reason: m.reason })) } : {}),
  };
}

/** Writes the signed final header durably, then retires the open header. */
export async function finalizeCall(vault: Vault, paths: CallPaths, o: OpenHeader, t: AudioTally, endedAt?: number): Promise<CallHeader> {
  const header = await signHeader(vault, finalBody(o, t, endedAt));
  await writeFileDurable(paths.header, headerJson(header));
  await retireOpenHeader(paths.open);
  return header;
}

/**
 * Overwrites the open header's copy of the wrapped key before unlinking it, so a later shred leaves no copy.
 * No folder fsync: if the unlink is lost, open() finds the scrubbed open header beside the final one and removes it.
 */
export async function retireOpenHeader(path: string): Promise<void> {
  await scrubWrappedKey(path).catch(ignoreEnoent);
  await unlink(path).catch(ignoreEnoent);
}
