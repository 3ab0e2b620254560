import { newestFirst, type Archive, type CallHeader, type CallMeta } from '../archive/archive.ts';
import { normalizeNumber } from '../policy/keep.ts';

export interface CallSummary {
  id: string; line: string; startedAt: number; endedAt: number; durationMs: number; channels: 1 | 2;
  purposes: string[]; keptBy: CallHeader['keptBy']; clockSynced: boolean; restricted: boolean; holds: string[];
  direction?: 'in' | 'out'; caller?: string; called?: string; extension?: string;
  /** the keyed digits, only from a line set to keep them */
  digits?: string;
  /** how many digits were keyed and when (ms into the call) */
  keyed?: { count: number; atMs: number[] };
  /** stretches of the call that are not stored, and why (a full disk, a power cut) */
  missing?: NonNullable<CallHeader['missing']>;
  /** what the recorder noticed about the call's media (early media, a second sender dropped, two streams in one direction) */
  notes?: string[];
  /** samples per second of the kept audio: 8000, or 16000 for a wideband call */
  sampleRate: number;
  /** codecs the box could not decode on this call ("not decodable: CODEC"); their RTP is sealed with the call */
  undecodable?: string[];
}

export interface CallQuery { number?: string; from?: number; to?: number; line?: string; extension?: string }

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const keyedOf = (v: unknown): CallSummary['keyed'] => {
  const k = v as { count?: unknown; atMs?: unknown } | undefined;
  if (!k || typeof k.count !== 'number' || !Array.isArray(k.atMs)) return undefined;
  return { count: k.count, atMs: k.atMs.filter((x): x is number => typeof x === 'number') };
};

/** Adds `id` to the set under `key`. */
function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(id);
}

/**
 * Search over kept calls. Plain fields come from the archive's headers; the sealed personal
 * fields are opened once at unlock and held in memory only while the vault is unlocked, with an
 * index by normalised number and by extension so a search does not visit every call.
 */
export class Catalog {
  private metas = new Map<string, CallMeta>();
  private byNumber = new Map<string, Set<string>>();
  private byExtension = new Map<string, Set<string>>();
  /** per call: caller and called digits joined by '|', for partial-number search */
  private digits = new Map<string, string>();
  private open = false;

  constructor(private readonly archive: Archive) {}

  async unlock(): Promise<void> {
    const metas = new Map<string, CallMeta>();
    for (const h of this.archive.headers()) metas.set(h.id, await this.archive.meta(h.id));
    this.clear();
    for (const [id, m] of metas) this.index(id, m);
    this.open = true;
  }

  lock(): void {
    this.clear();
    this.open = false;
  }

  get unlocked(): boolean { return this.open; }

  /** Whether this call's personal fields are held in memory (a deleted call's must not be). */
  holds(id: string): boolean { return this.metas.has(id); }

  /** Called when a call lands in the archive or its metadata changes. */
  async refresh(id: string): Promise<void> {
    if (!this.open || !this.archive.get(id)) return;
    const m = await this.archive.meta(id);
    this.forget(id);
    this.index(id, m);
  }

  forget(id: string): void {
    const m = this.metas.get(id);
    if (!m) return;
    this.metas.delete(id);
    this.digits.delete(id);
    for (const n of [str(m.caller), str(m.called)]) if (n) this.byNumber.get(normalizeNumber(n))?.delete(id);
    const ext = str(m.extension);
    if (ext) this.byExtension.get(ext)?.delete(id);
  }

  private clear(): void {
    this.metas = new Map();
    this.byNumber = new Map();
    this.byExtension = new Map();
    this.digits = new Map();
  }

  private index(id: string, m: CallMeta): void {
    this.metas.set(id, m);
    const caller = str(m.caller);
    const called = str(m.called);
    for (const n of [caller, called]) if (n) addTo(this.byNumber, normalizeNumber(n), id);
    this.digits.set(id, `${caller?.replace(/\D/g, '') ?? ''}|${called?.replace(/\D/g, '') ?? ''}`);
    const ext = str(m.extension);
    if (ext) addTo(this.byExtension, ext, id);
  }

  summary(h: CallHeader): CallSummary {
    const m = this.metas.get(h.id);
    const base: CallSummary = {
      id: h.id, line: h.line, startedAt: h.startedAt, endedAt: h.endedAt, durationMs: h.durationMs, channels: h.channels,
      purposes: [...h.purposes], keptBy: h.keptBy, clockSynced: h.clockSynced, restricted: h.restricted, holds: [...h.holds], sampleRate: h.sampleRate,
      ...(h.missing?.length ? { missing: h.missing.map((m) => ({ ...m })) } : {}),
    };
    if (!m) return base;
    const dir = m.direction === 'in' || m.direction === 'out' ? m.direction : undefined;
    const notes = Array.isArray(m.notes) ? m.notes.filter((x): x is string => typeof x === 'string').slice(0, 32) : undefined;
    const undecodable = Array.isArray(m.undecodable) ? m.undecodable.filter((x): x is string => typeof x === 'string').slice(0, 16) : undefined;
    return { ...base, direction: dir, caller: str(m.caller), called: str(m.called), extension: str(m.extension), digits: str(m.digits), keyed: keyedOf(m.keyed), ...(notes?.length ? { notes } : {}), ...(undecodable?.length ? { undecodable } : {}) };
  }

  /**
   * Calls matching every given field, newest first. A number matches in any notation (0…, 0031…, +31…),
   * and four or more digits also match as part of a number.
   */
  search(q: CallQuery): CallSummary[] {
    let ids: Set<string> | undefined;
    const narrow = (next: Set<string>): void => { ids = ids ? new Set([...ids].filter((id) => next.has(id))) : next; };
    if (q.number !== undefined) {
      const hits = new Set(this.byNumber.get(normalizeNumber(q.number)));
      const digits = q.number.replace(/\D/g, '');
      if (digits.length >= 4) for (const [id, d] of this.digits) if (d.includes(digits)) hits.add(id);
      narrow(hits);
    }
    if (q.extension !== undefined) narrow(this.byExtension.get(q.extension) ?? new Set());
    const headers = ids ? [...ids].map((id) => this.archive.get(id)).filter((h): h is CallHeader => h !== undefined) : this.archive.headers();
    const out: CallHeader[] = [];
    for (const h of headers) {
      if (q.line && h.line !== q.line) continue;
      if (q.from !== undefined && h.startedAt < q.from) continue;
      if (q.to !== undefined && h.startedAt > q.to) continue;
      out.push(h);
    }
    return out.sort(newestFirst).map((h) => this.summary(h));
  }
}
