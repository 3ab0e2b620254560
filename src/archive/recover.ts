import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { msOf } from '../audio/frame.ts';
import type { Vault } from '../vault/vault.ts';
import { ensureDir, fsyncDir, isTempName, writeFileDurable } from './durable.ts';
import { finalizeCall, retireOpenHeader, type AudioTally } from './finalize.ts';
import { RECORD_PREFIX, framesOf, isTime, parseCallHeader, parseOpenHeader, pickHeader, type CallHeader, type OpenHeader } from './format.ts';
import { SORTABLE_ID } from './ids.ts';
import { AUDIO_EXT, HEADER_EXT, MONTH_DIR, OPEN_EXT, QUARANTINE_DIR, callPaths, classify, type CallPaths } from './paths.ts';
import { readRecordAt } from './reader.ts';
import { discardLeftover, isScrubbed } from './scrub.ts';

export interface ScanContext { root: string; vault: Vault; log: (msg: string, extra?: object) => void }
/** A call a power cut (or crash) left open, finished at start: what was stored and where it stops. */
export interface RecoveredCall { id: string; storedMs: number; stoppedAt: number }
export interface ScanResult { headers: CallHeader[]; recovered: number; quarantined: number; recoveredCalls: RecoveredCall[] }
type Kind = 'header' | 'open' | 'audio';

const EXT: Record<Kind, string> = { header: HEADER_EXT, open: OPEN_EXT, audio: AUDIO_EXT };

/**
 * Rebuilds the catalog from the archive's own files at start: finished headers are loaded, calls a
 * power cut left open are finished, leftovers of interrupted writes are removed, and anything that
 * cannot be trusted or recovered is moved to quarantine/ with a logged reason. Never throws for bad content.
 */
export async function scanArchive(c: ScanContext): Promise<ScanResult> {
  const out: ScanResult = { headers: [], recovered: 0, quarantined: 0, recoveredCalls: [] };
  for (const e of await readdir(c.root, { withFileTypes: true })) {
    if (e.isFile() && isTempName(e.name)) {
      await discardLeftover(c.root, e.name);
      c.log('archive: removed a temp file left by an interrupted write', { file: e.name });
    } else if (e.isDirectory() && MONTH_DIR.test(e.name)) {
      await scanMonth(c, join(c.root, e.name), out);
    }
  }
  return out;
}

async function scanMonth(c: ScanContext, dir: string, out: ScanResult): Promise<void> {
  const calls = new Map<string, Set<Kind>>();
  let removed = false;
  for (const name of (await readdir(dir)).sort()) {
    if (isTempName(name)) {
      await discardLeftover(dir, name);
      c.log('archive: removed a temp file left by an interrupted write', { file: name });
      removed = true;
      continue;
    }
    const k = classify(name);
    if (!k || !SORTABLE_ID.test(k.id) || callPaths(c.root, k.id).dir !== dir) {
      await quarantine(c, dir, [name], 'the file name is not one the archive writes');
      out.quarantined++;
      continue;
    }
    const kinds = calls.get(k.id) ?? new Set<Kind>();
    kinds.add(k.kind);
    calls.set(k.id, kinds);
  }
  for (const [id, kinds] of calls) {
    try {
      removed = (await scanCall(c, id, kinds, out)) || removed;
    } catch (e) {
      // One unreadable call must not keep the box from starting; it stays on disk, out of the catalog.
      c.log('archive: could not check a kept call; left in place and not listed', { id, error: (e as Error).message });
    }
  }
  if (removed) await fsyncDir(dir);
}

/** Returns true when it unlinked files in the month folder. */
async function scanCall(c: ScanContext, id: string, kinds: Set<Kind>, out: ScanResult): Promise<boolean> {
  const p = callPaths(c.root, id);
  const files = [...kinds].map((k) => id + EXT[k]);
  const reject = async (reason: string): Promise<false> => {
    await quarantine(c, p.dir, files, reason);
    out.quarantined++;
    return false;
  };
  if (kinds.has('header')) {
    const parsed = parseCallHeader(await readFile(p.header, 'utf8'), id);
    if (!parsed.ok) return reject(`malformed header: ${parsed.reason}`);
    if (isScrubbed(parsed.value.wrappedKey)) {
      for (const f of [p.audio, p.open, p.header]) await unlink(f).catch(() => undefined);
      c.log('archive: finished a shred that a power cut interrupted', { id });
      return true;
    }
    if (kinds.has('open')) await retireOpenHeader(p.open);
    if (!kinds.has('audio')) return reject('its audio file is missing');
    out.headers.push(pickHeader(parsed.value));
    return kinds.has('open');
  }
  if (kinds.has('open')) {
    const parsed = parseOpenHeader(await readFile(p.open, 'utf8'), id);
    if (!parsed.ok) return reject(`malformed open header, so no durable wrapped key: ${parsed.reason}`);
    if (isScrubbed(parsed.value.wrappedKey)) return reject('the open header has no wrapped key');
    const header = await recoverOpenCall(c, p, parsed.value, kinds.has('audio'));
    out.headers.push(header);
    out.recovered++;
    out.recoveredCalls.push({ id, storedMs: header.durationMs, stoppedAt: header.endedAt });
    c.log('archive: finished a kept call that a power cut left open', { id, chunks: header.chunks });
    return true;
  }
  if ((await stat(p.audio)).size === 0) {
    await unlink(p.audio);
    c.log('archive: removed the empty audio file of a keep whose header never became durable', { id });
    return true;
  }
  return reject('audio without a header, so no wrapped key');
}

/** Cuts a torn last record off the audio file, counts what is whole, and finishes the call. */
async function recoverOpenCall(c: ScanContext, p: CallPaths, o: OpenHeader, hasAudio: boolean): Promise<CallHeader> {
  if (!hasAudio) await writeFileDurable(p.audio, new Uint8Array(0));
  const fh = await open(p.audio, 'r+');
  const tally: Omit<AudioTally, 'audioSha256'> = { chunks: 0, samples: 0 };
  const hash = createHash('sha256');
  try {
    const { size } = await fh.stat();
    let offset = 0;
    let problem: string | undefined;
    for (;;) {
      const step = await readRecordAt(fh, offset, size);
      if (step.kind === 'end') break;
      if (step.kind === 'bad') { problem = step.reason; break; }
      const frames = framesOf(step.length - RECORD_PREFIX, o.channels);
      const at = step.record.readDoubleLE(4);
      if (!Number.isInteger(frames) || !isTime(at)) { problem = `impossible record at byte ${offset}`; break; }
      hash.update(step.record);
      tally.chunks++;
      tally.samples += frames;
      tally.lastEnd = at + msOf(frames, o.sampleRate);
      offset += step.length;
    }
    if (offset < size) {
      await fh.truncate(offset);
      await fh.datasync();
      c.log('archive: cut the torn end off a kept call', { id: o.id, bytes: size - offset, reason: problem });
    }
  } finally {
    await fh.close();
  }
  // The box stopped while this call was kept: what came after the last stored second is not known, so the
  // call says so (signed) instead of looking complete, and ends where its stored audio ends.
  const stoppedAt = tally.lastEnd ?? o.startedAt;
  const missing = [...(o.missing ?? []), { from: stoppedAt, to: null, reason: 'box-stopped' as const }];
  return finalizeCall(c.vault, p, { ...o, missing }, { ...tally, audioSha256: hash.digest('hex') }, stoppedAt);
}

async function quarantine(c: ScanContext, dir: string, names: string[], reason: string): Promise<void> {
  const q = join(c.root, QUARANTINE_DIR);
  await ensureDir(q);
  const moved: string[] = [];
  for (const name of names) {
    let target = join(q, name);
    // Never overwrite an earlier quarantined file of the same name.
    if (await stat(target).then(() => true, () => false)) target += `.${randomBytes(4).toString('hex')}`;
    await rename(join(dir, name), target);
    moved.push(target);
  }
  await fsyncDir(q);
  await fsyncDir(dir);
  c.log('archive: moved files to quarantine; they are not listed', { files: moved, reason });
}
