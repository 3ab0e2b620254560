import { createHash } from 'node:crypto';
import { appendFile, open, readFile, type FileHandle } from 'node:fs/promises';
import { RvError } from '../errors.ts';
import { checkpointSignatureOk, parseCheckpoint, signCheckpoint, type Checkpoint, type CheckpointSigner } from './checkpoint.ts';

export interface AuditEntry { seq: number; at: number; actor: string; action: string; target?: string; detail?: Record<string, unknown>; prev: string; hash: string }
type NewEntry = Pick<AuditEntry, 'actor' | 'action' | 'target' | 'detail'>;

const GENESIS = '0'.repeat(64);
const digest = (e: Omit<AuditEntry, 'hash'>): string =>
  createHash('sha256').update(JSON.stringify([e.seq, e.at, e.actor, e.action, e.target ?? null, e.detail ?? null, e.prev])).digest('hex');

/** Anything that takes a copy of the log or of recordings off the box: each one anchors the chain first. */
export const CHECKPOINT_ON = new Set(['audit.export', 'export.download', 'export.cli', 'export.create']);
export const CHECKPOINT_ACTION = 'audit.checkpoint';

export type AuditVerdict =
  | { ok: true; entries: number; checkpoints?: { count: number; last: { count: number; at: number }; unanchored: number; signatures: 'checked' | 'unchecked' } }
  | { ok: false; seq: number; reason: string };

/**
 * Append-only, hash-chained log of who did what; each entry is fsync'd before the action is answered.
 * With a signer (the box's Ed25519 key), checkpoint() anchors the chain; it runs at intervals and
 * before every export (CHECKPOINT_ON).
 */
export class AuditLog {
  private fh?: FileHandle;
  private seq = 0;
  /** bytes of whole entries in the file: where a failed append is cut back to */
  private size = 0;
  private prev = GENESIS;
  private lastAnchored = 0;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string, private readonly clock: () => number = Date.now, private readonly signer?: () => Promise<CheckpointSigner | undefined>) {}

  get checkpointsPath(): string { return `${this.path}.checkpoints`; }

  async open(): Promise<void> {
    const entries = await this.readAll();
    const last = entries.at(-1);
    if (last) { this.seq = last.seq; this.prev = last.hash; }
    this.lastAnchored = (await this.readCheckpoints()).at(-1)?.count ?? 0;
    this.fh = await open(this.path, 'a', 0o600);
    // A line without its newline was torn by a power cut or a full disk before its fsync, so it was never
    // acknowledged; cut it off, or every later entry would be glued to it and the chain would not verify.
    const text = await readFile(this.path, 'utf8');
    this.size = Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1));
    if (this.size !== Buffer.byteLength(text)) {
      await this.fh.truncate(this.size);
      await this.fh.sync();
    }
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async write(e: NewEntry): Promise<AuditEntry> {
    if (!this.fh) throw new RvError('RV_ERR_AUDIT_CLOSED', 'The audit log is not open; restart the service.', 500);
    const body = { seq: this.seq + 1, at: this.clock(), actor: e.actor, action: e.action, ...(e.target ? { target: e.target } : {}), ...(e.detail ? { detail: e.detail } : {}), prev: this.prev };
    const entry: AuditEntry = { ...body, hash: digest(body) };
    const line = JSON.stringify(entry) + '\n';
    try {
      await this.fh.write(line);
      await this.fh.sync();
    } catch (err) {
      // A full disk can leave part of the line; cut it so the next entry starts on a clean line.
      await this.fh.truncate(this.size).catch(() => undefined);
      throw err;
    }
    this.size += Buffer.byteLength(line);
    this.seq = entry.seq;
    this.prev = entry.hash;
    return entry;
  }

  append(e: NewEntry): Promise<AuditEntry> {
    return this.serial(async () => {
      const entry = await this.write(e);
      if (CHECKPOINT_ON.has(e.action)) await this.anchor();
      return entry;
    });
  }

  /** Signs a checkpoint of the chain as it is now (nothing when nothing changed or no key exists yet). */
  checkpoint(): Promise<Checkpoint | undefined> {
    return this.serial(() => this.anchor());
  }

  private async anchor(): Promise<Checkpoint | undefined> {
    if (this.seq === 0 || this.seq === this.lastAnchored) return undefined;
    const signer = await this.signer?.();
    if (!signer) return undefined;
    const cp = await signCheckpoint(signer, { count: this.seq, head: this.prev, at: this.clock() });
    await appendFile(this.checkpointsPath, JSON.stringify(cp) + '\n', { mode: 0o600, flush: true });
    // The same checkpoint in the chain, so an exported copy of the log carries its anchors.
    // The key rides along so a copy checked elsewhere can be pinned to the box with --key.
    await this.write({ actor: 'box', action: CHECKPOINT_ACTION, detail: { ...cp, key: Buffer.from(await signer.signPublicKey()).toString('base64') } });
    this.lastAnchored = this.seq;
    return cp;
  }

  async readCheckpoints(): Promise<Checkpoint[]> {
    let text = '';
    try { text = await readFile(this.checkpointsPath, 'utf8'); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
    const out: Checkpoint[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try { const c = parseCheckpoint(JSON.parse(line)); if (c) out.push(c); } catch { /* a torn last line after a power cut */ }
    }
    return out;
  }

  async readAll(): Promise<AuditEntry[]> {
    let text = '';
    try { text = await readFile(this.path, 'utf8'); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
    const out: AuditEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try { out.push(JSON.parse(line) as AuditEntry); } catch { /* a torn last line after a power cut; verify() reports it */ }
    }
    return out;
  }

  async recent(limit: number): Promise<AuditEntry[]> {
    return (await this.readAll()).slice(-limit).reverse();
  }

  /**
   * Checks the chain; names the first entry that was edited, removed or reordered. With the box's
   * signing key it also checks every checkpoint (in the chain and in the checkpoints file): a chain
   * rewritten before a checkpoint, or cut short of one, fails; entries after the last checkpoint
   * are counted as `unanchored` (a cut there cannot be seen).
   */
  async verify(publicKey?: Uint8Array): Promise<AuditVerdict> {
    let text = '';
    try { text = await readFile(this.path, 'utf8'); } catch { text = ''; }
    return verifyChain(text, await this.readCheckpoints(), publicKey);
  }
  async close(): Promise<void> {
    await this.tail;
    await this.fh?.close();
    this.fh = undefined;
  }
}

const when = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';

/** The chain check on a log's text (an exported copy too), with the checkpoints kept beside it. */
export function verifyChain(text: string, fileCheckpoints: Checkpoint[], publicKey?: Uint8Array): AuditVerdict {
  let prev = GENESIS;
  let seq = 0;
  const hashes: string[] = [];
  const inChain: Checkpoint[] = [];
  for (const line of text.split('\n').filter((l) => l.trim())) {
    let e: AuditEntry;
    try { e = JSON.parse(line) as AuditEntry; } catch { return { ok: false, seq: seq + 1, reason: 'entry is not valid JSON' }; }
    if (e.seq !== seq + 1) return { ok: false, seq: seq + 1, reason: `expected entry ${seq + 1}, found ${e.seq} (removed or reordered)` };
    if (e.prev !== prev) return { ok: false, seq: e.seq, reason: 'does not follow the entry before it (removed or reordered)' };
    const { hash, ...body } = e;
    if (digest(body) !== hash) return { ok: false, seq: e.seq, reason: 'content was edited' };
    if (e.action === CHECKPOINT_ACTION) {
      const c = parseCheckpoint(e.detail);
      if (!c) return { ok: false, seq: e.seq, reason: 'a checkpoint entry is malformed' };
      inChain.push(c);
    }
    hashes.push(hash);
    prev = hash;
    seq = e.seq;
  }
  // The same checkpoint is usually in both places; count it once.
  const all = [...new Map([...fileCheckpoints, ...inChain].map((c) => [c.sig, c])).values()];
  for (const c of all) {
    if (publicKey && !checkpointSignatureOk(c, publicKey)) {
      return { ok: false, seq: c.count, reason: `the checkpoint of ${when(c.at)} (entry ${c.count}) is not signed by this box's key: it was forged or altered` };
    }
    if (c.count > seq) {
      return { ok: false, seq: seq + 1, reason: `entries ${seq + 1} to ${c.count} are missing: the log was cut after entry ${seq}, but a checkpoint signed at ${when(c.at)} covers ${c.count} entries` };
    }
    if (hashes[c.count - 1] !== c.head) {
      return { ok: false, seq: c.count, reason: `entry ${c.count} does not match the checkpoint signed at ${when(c.at)}: the chain up to it was rewritten` };
    }
  }
  if (all.length === 0) return { ok: true, entries: seq };
  const last = all.reduce((a, b) => (b.count > a.count ? b : a));
  // The checkpoint entry itself follows the entries it anchors.
  const anchoredThrough = Math.min(seq, last.count + (inChain.some((c) => c.count === last.count) ? 1 : 0));
  return { ok: true, entries: seq, checkpoints: { count: all.length, last: { count: last.count, at: last.at }, unanchored: seq - anchoredThrough, signatures: publicKey ? 'checked' : 'unchecked' } };
}
