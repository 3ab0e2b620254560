import { createHash } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { RvError } from '../errors.ts';

export interface AuditEntry { seq: number; at: number; actor: string; action: string; target?: string; detail?: Record<string, unknown>; prev: string; hash: string }
type NewEntry = Pick<AuditEntry, 'actor' | 'action' | 'target' | 'detail'>;

const GENESIS = '0'.repeat(64);
const digest = (e: Omit<AuditEntry, 'hash'>): string =>
  createHash('sha256').update(JSON.stringify([e.seq, e.at, e.actor, e.action, e.target ?? null, e.detail ?? null, e.prev])).digest('hex');

/** Append-only, hash-chained log of who did what; each entry is fsync'd before the action is answered. */
export class AuditLog {
  private fh?: FileHandle;
  private seq = 0;
  /** bytes of whole entries in the file: where a failed append is cut back to */
  private size = 0;
  private prev = GENESIS;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string, private readonly clock: () => number = Date.now) {}

  async open(): Promise<void> {
    const entries = await this.readAll();
    const last = entries.at(-1);
    if (last) { this.seq = last.seq; this.prev = last.hash; }
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

  append(e: NewEntry): Promise<AuditEntry> {
    const run = async (): Promise<AuditEntry> => {
      if (!this.fh) throw new RvError('RV_ERR_AUDIT_CLOSED', 'The audit log is not open; restart the service.', 500);
      const body = { seq: this.seq + 1, at: this.clock(), actor: e.actor, action: e.action, ...(e.target ? { target: e.target } : {}), ...(e.detail ? { detail: e.detail } : {}), prev: this.prev };
      const entry: AuditEntry = { ...body, hash: digest(body) };
      const line = JSON.stringify(entry) + '\n';
      try {
        await this.fh.write(line);
        await this.fh.sync();
      } catch (e) {
        // A full disk can leave part of the line; cut it so the next entry starts on a clean line.
        await this.fh.truncate(this.size).catch(() => undefined);
        throw e;
      }
      this.size += Buffer.byteLength(line);
      this.seq = entry.seq;
      this.prev = entry.hash;
      return entry;
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
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

  /** Checks the chain; names the first entry that was edited, removed or reordered. */
  async verify(): Promise<{ ok: true; entries: number } | { ok: false; seq: number; reason: string }> {
    let text = '';
    try { text = await readFile(this.path, 'utf8'); } catch { return { ok: true, entries: 0 }; }
    let prev = GENESIS;
    let seq = 0;
    for (const line of text.split('\n').filter((l) => l.trim())) {
      let e: AuditEntry;
      try { e = JSON.parse(line) as AuditEntry; } catch { return { ok: false, seq: seq + 1, reason: 'entry is not valid JSON' }; }
      if (e.seq !== seq + 1) return { ok: false, seq: seq + 1, reason: `expected entry ${seq + 1}, found ${e.seq} (removed or reordered)` };
      if (e.prev !== prev) return { ok: false, seq: e.seq, reason: 'does not follow the entry before it (removed or reordered)' };
      const { hash, ...body } = e;
      if (digest(body) !== hash) return { ok: false, seq: e.seq, reason: 'content was edited' };
      prev = hash;
      seq = e.seq;
    }
    return { ok: true, entries: seq };
  }

  async close(): Promise<void> {
    await this.tail;
    await this.fh?.close();
    this.fh = undefined;
  }
}
