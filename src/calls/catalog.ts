import type { Archive, CallHeader, CallMeta } from '../archive/archive.ts';
import { normalizeNumber } from '../policy/keep.ts';

export interface CallSummary {
  id: string; line: string; startedAt: number; endedAt: number; durationMs: number; channels: 1 | 2;
  purposes: string[]; keptBy: CallHeader['keptBy']; clockSynced: boolean; restricted: boolean; holds: string[];
  direction?: 'in' | 'out'; caller?: string; called?: string; extension?: string; digits?: string;
}

export interface CallQuery { number?: string; from?: number; to?: number; line?: string; extension?: string }

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/**
 * Search over kept calls. Plain fields come from the archive's headers; the sealed personal
 * fields are opened once at unlock and held in memory only while the vault is unlocked.
 */
export class Catalog {
  private metas = new Map<string, CallMeta>();
  private open = false;

  constructor(private readonly archive: Archive) {}

  async unlock(): Promise<void> {
    const next = new Map<string, CallMeta>();
    for (const h of this.archive.list()) next.set(h.id, await this.archive.meta(h.id));
    this.metas = next;
    this.open = true;
  }

  lock(): void {
    this.metas = new Map();
    this.open = false;
  }

  get unlocked(): boolean { return this.open; }

  /** Called when a call lands in the archive or its metadata changes. */
  async refresh(id: string): Promise<void> {
    if (this.open && this.archive.get(id)) this.metas.set(id, await this.archive.meta(id));
  }

  forget(id: string): void { this.metas.delete(id); }

  summary(h: CallHeader): CallSummary {
    const m = this.metas.get(h.id);
    const base: CallSummary = {
      id: h.id, line: h.line, startedAt: h.startedAt, endedAt: h.endedAt, durationMs: h.durationMs, channels: h.channels,
      purposes: [...h.purposes], keptBy: h.keptBy, clockSynced: h.clockSynced, restricted: h.restricted, holds: [...h.holds],
    };
    if (!m) return base;
    const dir = m.direction === 'in' || m.direction === 'out' ? m.direction : undefined;
    return { ...base, direction: dir, caller: str(m.caller), called: str(m.called), extension: str(m.extension), digits: str(m.digits) };
  }

  search(q: CallQuery): CallSummary[] {
    const num = q.number ? normalizeNumber(q.number) : undefined;
    const digits = q.number?.replace(/\D/g, '');
    const out: CallSummary[] = [];
    for (const h of this.archive.list()) {
      if (q.line && h.line !== q.line) continue;
      if (q.from !== undefined && h.startedAt < q.from) continue;
      if (q.to !== undefined && h.startedAt > q.to) continue;
      const s = this.summary(h);
      if (q.extension !== undefined && s.extension !== q.extension) continue;
      if (num !== undefined) {
        const hit = [s.caller, s.called].some((n) => n !== undefined && (normalizeNumber(n) === num || (!!digits && digits.length >= 4 && n.replace(/\D/g, '').includes(digits))));
        if (!hit) continue;
      }
      out.push(s);
    }
    return out;
  }
}
