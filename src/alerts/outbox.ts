import { readFile } from 'node:fs/promises';
import { writeFileDurable } from '../archive/durable.ts';
import type { KeyState } from './dedupe.ts';
import type { Delivery } from './payload.ts';

export type QueuedChannel = 'email' | 'webhook';
export interface Pending { delivery: Delivery; attempts: number }
interface Saved { v: 1; keys: Record<string, KeyState>; queues: Record<QueuedChannel, Pending[]>; dropped: Record<QueuedChannel, number> }

/**
 * What the alerts must not forget across a restart: what was last said per problem (so a restart
 * neither repeats nor loses a recovery) and the alerts not yet delivered per channel (bounded; the
 * oldest go first, and the next delivery says how many were dropped). Alerts carry no personal data,
 * so the file is plain JSON; it is rewritten whole, which is fine at its size.
 */
export class Outbox {
  readonly keys = new Map<string, KeyState>();
  readonly queues: Record<QueuedChannel, Pending[]> = { email: [], webhook: [] };
  readonly dropped: Record<QueuedChannel, number> = { email: 0, webhook: 0 };
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(private readonly path: string, private readonly max: () => number) {}

  async load(): Promise<void> {
    let s: Saved;
    try {
      s = JSON.parse(await readFile(this.path, 'utf8')) as Saved;
    } catch {
      return; // none yet, or damaged: start empty (an alert may repeat, none is invented)
    }
    if (s?.v !== 1) return;
    for (const [k, v] of Object.entries(s.keys ?? {})) this.keys.set(k, { ...v, active: false });
    for (const ch of ['email', 'webhook'] as const) {
      this.queues[ch] = Array.isArray(s.queues?.[ch]) ? s.queues[ch] : [];
      this.dropped[ch] = Number(s.dropped?.[ch]) || 0;
    }
  }

  push(ch: QueuedChannel, d: Delivery): void {
    const q = this.queues[ch];
    q.push({ delivery: d, attempts: 0 });
    while (q.length > this.max()) { q.shift(); this.dropped[ch]++; }
  }

  clear(ch: QueuedChannel): void { this.queues[ch] = []; this.dropped[ch] = 0; }

  /** Coalesces bursts of changes into sequential whole-file writes. */
  save(): Promise<void> {
    this.dirty = true;
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const s: Saved = { v: 1, keys: Object.fromEntries(this.keys), queues: this.queues, dropped: this.dropped };
      await writeFileDurable(this.path, JSON.stringify(s), 0o600);
    }).catch(() => {
      // A full or failing disk must not stop alerts (they are about exactly that): keep them in memory.
      this.dirty = true;
    });
    return this.writing;
  }
}
