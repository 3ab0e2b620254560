import { randomBytes } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { RvError } from '../errors.ts';
import { ensureDir, isTempName, writeFileDurable } from '../archive/durable.ts';
import { SORTABLE_ID } from '../archive/ids.ts';
import type { Vault } from '../vault/vault.ts';

export type RequestKind = 'access' | 'erasure' | 'note' | 'restriction';
export const REQUEST_KINDS: readonly RequestKind[] = ['access', 'erasure', 'note', 'restriction'];
export type RequestStatus = 'open' | 'in-progress' | 'done' | 'rejected';
export const REQUEST_STATUSES: readonly RequestStatus[] = ['open', 'in-progress', 'done', 'rejected'];

/** What happened to one recording when a request was acted on, and why. */
export interface RecordingResult {
  callId: string;
  action: 'exported' | 'erased' | 'kept' | 'noted' | 'restricted' | 'lifted' | 'failed';
  reason?: string;
}

/** Everything personal about a request: only ever on disk sealed to the box key. */
export interface RequestPersonal {
  subject: { kind: 'customer'; numbers: string[] } | { kind: 'staff'; extension: string };
  name?: string;
  details?: string;
  /** the supplementary note to attach (kind note) */
  note?: string;
  /** what the manager wrote as the answer */
  outcome?: string;
  /** what the box did, in a sentence (English, for the API and logs; the UI words it from `results`) */
  summary?: string;
  handledBy?: string;
  results?: RecordingResult[];
}

/** The plain part the dashboard needs while the vault is locked. */
export interface RequestPlain {
  id: string;
  kind: RequestKind;
  /** YYYY-MM-DD the request came in */
  received: string;
  /** YYYY-MM-DD: one month after received (Art. 12(3) GDPR) */
  deadline: string;
  status: RequestStatus;
  createdAt: number;
  updatedAt: number;
}

interface StoredRequest extends RequestPlain { v: 1; epoch: string; sealed: string }

export interface DataRequest extends RequestPlain {
  overdue: boolean;
  /** absent while the vault is locked */
  personal?: RequestPersonal;
}

export interface NewRequest {
  kind: RequestKind;
  received: string;
  subject: { numbers?: string[]; extension?: string };
  name?: string;
  details?: string;
  note?: string;
  handledBy: string;
}

export interface RegisterOptions { dir: string; vault: Pick<Vault, 'newEpoch' | 'epochKey'>; now: () => number }

const ID = /^RQ-\d{8}-[0-9a-f]{6}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const NUMBER = /^\+?[0-9][0-9 ()\-.]{2,24}$/;
const EXTENSION = /^[0-9]{1,8}$/;
const NONCE = nacl.secretbox.nonceLength;

const bad = (msg: string, status = 422): RvError => new RvError('RV_ERR_BAD_REQUEST_ENTRY', msg, status);
const isoDay = (t: number): string => new Date(t).toISOString().slice(0, 10);

function parseDay(s: string, field: string): Date {
  const d = DATE.test(s) ? new Date(`${s}T00:00:00Z`) : new Date(NaN);
  if (Number.isNaN(d.getTime()) || isoDay(d.getTime()) !== s) throw bad(`${field} "${s}" is not a date; use YYYY-MM-DD.`);
  return d;
}

/** The same day one month later; the 31st of January becomes the last day of February. */
export function deadlineOf(received: string): string {
  const d = parseDay(received, 'received');
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return isoDay(Date.UTC(y, m, Math.min(d.getUTCDate(), last)));
}

export const isOverdue = (r: Pick<RequestPlain, 'status' | 'deadline'>, today: string): boolean =>
  (r.status === 'open' || r.status === 'in-progress') && today > r.deadline;

function checkText(v: unknown, field: string, max: number): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw bad(`${field} must be text of at most ${max} characters.`);
  return v;
}

function parseStored(text: string, file: string): StoredRequest {
  const x = JSON.parse(text) as StoredRequest;
  const ok = x && x.v === 1 && ID.test(x.id) && REQUEST_KINDS.includes(x.kind) && REQUEST_STATUSES.includes(x.status) &&
    DATE.test(x.received) && DATE.test(x.deadline) && SORTABLE_ID.test(x.epoch) && typeof x.sealed === 'string' &&
    Number.isFinite(x.createdAt) && Number.isFinite(x.updatedAt) && `${x.id}.json` === file;
  if (!ok) throw new Error('fields missing or invalid');
  return x;
}

/**
 * The register of data-subject requests: one small file per request, written durably. Personal fields
 * are sealed under a key epoch of the vault (so a request can be added while the vault is locked and read
 * once it is unlocked); only id, kind, dates and status are plain, which is what the dashboard shows.
 */
export class RequestRegister {
  private readonly byId = new Map<string, StoredRequest>();
  private epoch?: Promise<{ id: string; sharedKey: Uint8Array }>;
  private tail: Promise<unknown> = Promise.resolve();
  /** files that could not be read at open, so a person can be told */
  readonly damaged: string[] = [];

  constructor(private readonly o: RegisterOptions) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  async open(): Promise<void> {
    await ensureDir(this.o.dir);
    for (const name of await readdir(this.o.dir)) {
      if (isTempName(name)) { await unlink(join(this.o.dir, name)).catch(() => undefined); continue; }
      if (!name.endsWith('.json')) continue;
      try {
        const r = parseStored(await readFile(join(this.o.dir, name), 'utf8'), name);
        this.byId.set(r.id, r);
      } catch {
        this.damaged.push(name);
      }
    }
  }

  private currentEpoch(): Promise<{ id: string; sharedKey: Uint8Array }> {
    if (!this.epoch) {
      const p = this.o.vault.newEpoch();
      this.epoch = p;
      p.catch(() => { if (this.epoch === p) this.epoch = undefined; });
    }
    return this.epoch;
  }

  private async seal(p: RequestPersonal): Promise<{ epoch: string; sealed: string }> {
    const e = await this.currentEpoch();
    const nonce = randomBytes(NONCE);
    const box = nacl.secretbox(Buffer.from(JSON.stringify(p), 'utf8'), nonce, e.sharedKey);
    return { epoch: e.id, sealed: Buffer.concat([nonce, box]).toString('base64') };
  }

  /** Needs the vault unlocked (RV_ERR_VAULT_LOCKED otherwise). */
  private async open1(r: StoredRequest): Promise<RequestPersonal> {
    const key = await this.o.vault.epochKey(r.epoch);
    const raw = Buffer.from(r.sealed, 'base64');
    const plain = raw.length > NONCE ? nacl.secretbox.open(raw.subarray(NONCE), raw.subarray(0, NONCE), key) : null;
    if (!plain) throw new RvError('RV_ERR_REQUEST_DAMAGED', `Request ${r.id} cannot be opened (its file was altered or damaged); restore ${r.id}.json from a backup.`, 500);
    return JSON.parse(Buffer.from(plain).toString('utf8')) as RequestPersonal;
  }

  private async write(r: StoredRequest): Promise<void> {
    await writeFileDurable(join(this.o.dir, `${r.id}.json`), JSON.stringify(r) + '\n');
    this.byId.set(r.id, r);
  }

  private view(r: StoredRequest, personal?: RequestPersonal): DataRequest {
    const { v: _v, epoch: _e, sealed: _s, ...plain } = r;
    return { ...plain, overdue: isOverdue(r, isoDay(this.o.now())), ...(personal ? { personal } : {}) };
  }

  private must(id: string): StoredRequest {
    const r = this.byId.get(id);
    if (!r) throw new RvError('RV_ERR_NO_SUCH_REQUEST', `There is no request ${id}.`, 404);
    return r;
  }

  /** Still-open requests first, the nearest deadline on top, then closed ones; personal fields only when `unlocked`. */
  async list(unlocked: boolean): Promise<DataRequest[]> {
    const out: DataRequest[] = [];
    const closed = (r: StoredRequest) => (r.status === 'done' || r.status === 'rejected' ? 1 : 0);
    const order = (a: StoredRequest, b: StoredRequest) => closed(a) - closed(b) || (a.deadline < b.deadline ? -1 : a.deadline > b.deadline ? 1 : a.id < b.id ? -1 : 1);
    for (const r of [...this.byId.values()].sort(order)) {
      out.push(this.view(r, unlocked ? await this.open1(r).catch(() => undefined) : undefined));
    }
    return out;
  }

  async get(id: string, unlocked: boolean): Promise<DataRequest> {
    const r = this.must(id);
    return this.view(r, unlocked ? await this.open1(r) : undefined);
  }

  /** Counts for the dashboard; needs no unlock. */
  summary(): { open: number; overdue: number } {
    const today = isoDay(this.o.now());
    let open = 0;
    let overdue = 0;
    for (const r of this.byId.values()) {
      if (r.status === 'open' || r.status === 'in-progress') open++;
      if (isOverdue(r, today)) overdue++;
    }
    return { open, overdue };
  }

  /** Adding works while the vault is locked: the personal part is sealed to the box key. */
  create(n: NewRequest): Promise<DataRequest> {
    return this.serial(async () => {
      if (!REQUEST_KINDS.includes(n.kind)) throw bad(`kind must be one of ${REQUEST_KINDS.join(', ')}.`);
      const received = parseDay(n.received, 'received');
      if (received.getTime() > this.o.now() + 86_400_000) throw bad(`The received date ${n.received} is in the future; use the date the request came in.`);
      const numbers = (n.subject.numbers ?? []).map((x) => x.trim()).filter(Boolean);
      const extension = n.subject.extension?.trim() || undefined;
      if ((numbers.length > 0) === (extension !== undefined)) throw bad('Give the customer\'s phone number(s) or the staff member\'s extension (one of the two).');
      if (numbers.length > 10) throw bad('At most 10 phone numbers per request; file another request for more.');
      for (const x of numbers) if (!NUMBER.test(x)) throw bad(`"${x}" is not a phone number; use digits, optionally with + and spaces.`);
      if (extension !== undefined && !EXTENSION.test(extension)) throw bad(`"${extension}" is not an extension; use 1 to 8 digits.`);
      const note = checkText(n.note, 'note', 4000);
      if (n.kind === 'note' && !note) throw bad('A note request needs the text of the supplementary note.');
      const personal: RequestPersonal = {
        subject: extension !== undefined ? { kind: 'staff', extension } : { kind: 'customer', numbers },
        ...(checkText(n.name, 'name', 200) ? { name: n.name } : {}),
        ...(checkText(n.details, 'details', 4000) ? { details: n.details } : {}),
        ...(note ? { note } : {}),
        handledBy: n.handledBy,
      };
      const now = this.o.now();
      let id: string;
      do id = `RQ-${isoDay(now).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`; while (this.byId.has(id));
      const r: StoredRequest = {
        v: 1, id, kind: n.kind, received: n.received, deadline: deadlineOf(n.received), status: 'open', createdAt: now, updatedAt: now,
        ...(await this.seal(personal)),
      };
      await this.write(r);
      return this.view(r, personal);
    });
  }

  /** Changes status and/or the personal part; changing the personal part needs the vault unlocked. */
  update(id: string, patch: { status?: RequestStatus; personal?: (p: RequestPersonal) => RequestPersonal }): Promise<DataRequest> {
    return this.serial(async () => {
      const r = this.must(id);
      if (patch.status !== undefined && !REQUEST_STATUSES.includes(patch.status)) throw bad(`status must be one of ${REQUEST_STATUSES.join(', ')}.`);
      let personal: RequestPersonal | undefined;
      let sealed = { epoch: r.epoch, sealed: r.sealed };
      if (patch.personal) {
        personal = patch.personal(await this.open1(r));
        sealed = await this.seal(personal);
      }
      const next: StoredRequest = { ...r, ...sealed, status: patch.status ?? r.status, updatedAt: this.o.now() };
      await this.write(next);
      return this.view(next, personal);
    });
  }
}
