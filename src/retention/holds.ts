import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import nacl from 'tweetnacl';
import type { Archive, CallHeader } from '../archive/archive.ts';
import { writeFileDurable } from '../archive/durable.ts';
import type { AuditLog } from '../audit/audit.ts';
import { RvError } from '../errors.ts';
import { normalizeNumber } from '../policy/keep.ts';
import type { Vault } from '../vault/vault.ts';

/**
 * Legal holds: on one recording, or on every recording of a phone number. A hold is materialised as its
 * id in each covered call's header `holds`, which the retention scheduler, Archive.shred and erasure
 * requests all honour. Personal fields (number, reason, case reference) are sealed under a vault key
 * epoch, so the box can place and apply holds while locked but only an unlocked vault can read them.
 *
 * Matching a held number needs the number in the clear. The box never stores it so: after an unlock (or
 * when a hold is placed) it keeps only an HMAC of each held number under a key made at start and held in
 * memory, so calls kept later, even after the vault is locked again, are matched from the live call's
 * parties. Calls kept before the first unlock after a restart cannot be matched; they count as "maybe
 * held" (retention keeps them) until the next unlock sweeps the whole archive.
 */

export type HoldKind = 'call' | 'number';
export type HoldStatus = 'active' | 'release-proposed' | 'released';

interface HoldRecord {
  id: string;
  kind: HoldKind;
  /** plain for call holds: call ids carry a time and random tail, nothing personal */
  callId?: string;
  placedBy: string;
  placedAt: number;
  /** vault key epoch + secretbox(JSON {number?, reason, caseRef}) */
  epoch: string;
  nonce: string;
  sealed: string;
  release?: { proposedBy: string; proposedAt: number; confirmedBy?: string; confirmedAt?: number };
}

interface HoldFile { v: 1; holds: HoldRecord[]; sweptAt?: number }

interface Sealed { number?: string; reason: string; caseRef: string }

/** What the API shows; personal fields only while the vault is unlocked. */
export interface HoldView {
  id: string; kind: HoldKind; status: HoldStatus; callId?: string; placedBy: string; placedAt: number;
  calls: number; proposedBy?: string; proposedAt?: number; releasedBy?: string; releasedAt?: number;
  sealed: boolean; number?: string; reason?: string; caseRef?: string;
}

export interface HoldDeps {
  path: string;
  archive: Pick<Archive, 'list' | 'get' | 'updateHeader'>;
  vault: Pick<Vault, 'newEpoch' | 'epochKey' | 'unlocked'>;
  audit: Pick<AuditLog, 'append'>;
  now: () => number;
  /** the unlocked catalog's caller and called number for a call, or undefined when unknown */
  partiesOf: (callId: string) => { caller?: string; called?: string } | undefined;
  /** the user account behind a name, so a release is confirmed only by an independent manager; absent in tools */
  accountOf?: (name: string) => HoldAccount | undefined;
}

/** What a release needs to know of the confirming manager's account. */
export interface HoldAccount { createdAt: number; createdBy?: string; changedBy?: readonly string[] }

/**
 * Why `actor` may not confirm a release `proposer` proposed at `proposedAt`, or undefined when they may. The second
 * manager must be a person the proposer does not control: an account that existed before the proposal and that the
 * proposer neither made nor changed (else one administrator could make a manager and confirm their own release).
 */
export function independenceProblem(actor: string, proposer: string, proposedAt: number, acct: HoldAccount | undefined): string | undefined {
  if (actor === proposer) return 'same manager';
  if (!acct) return 'unknown account';
  if (!(acct.createdAt < proposedAt)) return 'account made after the proposal';
  if (acct.createdBy === proposer) return 'account made by the proposer';
  if (acct.changedBy?.includes(proposer)) return 'account changed by the proposer';
  return undefined;
}

const HOLD_ID = /^hold-[0-9a-f]{12}$/;
const fail = (code: `RV_ERR_${string}`, msg: string, status: number): never => { throw new RvError(code, msg, status); };
const statusOf = (h: HoldRecord): HoldStatus => (h.release?.confirmedBy ? 'released' : h.release ? 'release-proposed' : 'active');

function checkText(field: string, v: unknown, max: number): string {
  if (typeof v !== 'string' || !v.trim()) fail('RV_ERR_BAD_HOLD', `A legal hold needs a ${field}; fill it in.`, 422);
  const s = (v as string).trim();
  if (s.length > max) fail('RV_ERR_BAD_HOLD', `The ${field} is ${s.length} characters; keep it to ${max}.`, 422);
  return s;
}

export class HoldStore {
  private file: HoldFile = { v: 1, holds: [] };
  private epoch?: Promise<{ id: string; sharedKey: Uint8Array }>;
  /** per-run key for the in-memory number index; never written anywhere */
  private readonly indexKey = randomBytes(32);
  /** hold id → HMAC of its normalised number, for active number holds whose number this run has seen */
  private readonly numberIndex = new Map<string, string>();
  /** calls this run has matched against every active number hold */
  private readonly checked = new Set<string>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: HoldDeps) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Loads the holds and repairs headers a power cut left half-done; needs no unlock. */
  async open(): Promise<void> {
    let text: string | undefined;
    try {
      text = await readFile(this.d.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text !== undefined) {
      let parsed: HoldFile;
      try {
        parsed = JSON.parse(text) as HoldFile;
      } catch (e) {
        throw new RvError('RV_ERR_HOLDS_FILE', `${this.d.path}: the legal holds file is not valid JSON (${(e as Error).message}); restore it from a backup. Nothing is deleted meanwhile.`, 500);
      }
      if (parsed?.v !== 1 || !Array.isArray(parsed.holds)) throw new RvError('RV_ERR_HOLDS_FILE', `${this.d.path}: not a legal holds file (version 1); restore it from a backup.`, 500);
      this.file = parsed;
    }
    await this.serial(() => this.reconcile());
  }

  /** Released holds leave every header; active call holds are on their call. Unknown ids stay: a person must look. */
  private async reconcile(): Promise<void> {
    const released = new Set(this.file.holds.filter((h) => statusOf(h) === 'released').map((h) => h.id));
    for (const c of this.d.archive.list()) {
      if (c.holds.some((x) => released.has(x))) await this.d.archive.updateHeader(c.id, { holds: c.holds.filter((x) => !released.has(x)) });
    }
    for (const h of this.file.holds) {
      if (h.kind !== 'call' || statusOf(h) === 'released' || !h.callId) continue;
      const c = this.d.archive.get(h.callId);
      if (c && !c.holds.includes(h.id)) await this.d.archive.updateHeader(c.id, { holds: [...c.holds, h.id] });
    }
  }

  /** Edits one hold and saves; a save that fails (a full disk) puts the hold back as it was. */
  private async change(h: HoldRecord, edit: () => void): Promise<void> {
    const before = structuredClone(h);
    edit();
    try {
      await this.save();
    } catch (e) {
      for (const k of Object.keys(h) as (keyof HoldRecord)[]) delete h[k];
      Object.assign(h, before);
      throw e;
    }
  }

  private async save(): Promise<void> {
    await writeFileDurable(this.d.path, JSON.stringify(this.file) + '\n');
  }

  private currentEpoch(): Promise<{ id: string; sharedKey: Uint8Array }> {
    if (!this.epoch) {
      const p = this.d.vault.newEpoch();
      this.epoch = p;
      p.catch(() => { if (this.epoch === p) this.epoch = undefined; });
    }
    return this.epoch;
  }

  private async seal(s: Sealed): Promise<Pick<HoldRecord, 'epoch' | 'nonce' | 'sealed'>> {
    const ep = await this.currentEpoch();
    const nonce = randomBytes(nacl.secretbox.nonceLength);
    const box = nacl.secretbox(Buffer.from(JSON.stringify(s), 'utf8'), nonce, ep.sharedKey);
    return { epoch: ep.id, nonce: nonce.toString('base64'), sealed: Buffer.from(box).toString('base64') };
  }

  private async unseal(h: HoldRecord): Promise<Sealed> {
    const key = await this.d.vault.epochKey(h.epoch);
    const plain = nacl.secretbox.open(Buffer.from(h.sealed, 'base64'), Buffer.from(h.nonce, 'base64'), key);
    if (!plain) throw new RvError('RV_ERR_HOLDS_FILE', `Legal hold ${h.id} does not open; the holds file was altered. Restore it from a backup.`, 500);
    return JSON.parse(Buffer.from(plain).toString('utf8')) as Sealed;
  }

  private mac(n: string): string {
    return createHmac('sha256', this.indexKey).update(normalizeNumber(n)).digest('base64');
  }

  private activeNumberHolds(): HoldRecord[] {
    return this.file.holds.filter((h) => h.kind === 'number' && statusOf(h) !== 'released');
  }

  private mustGet(id: string): HoldRecord {
    if (!HOLD_ID.test(id)) fail('RV_ERR_NO_SUCH_HOLD', `"${id}" is not a legal hold id (hold-…).`, 404);
    const h = this.file.holds.find((x) => x.id === id);
    if (!h) return fail('RV_ERR_NO_SUCH_HOLD', `There is no legal hold ${id}.`, 404);
    return h;
  }

  private async addToCall(c: CallHeader, holdId: string): Promise<void> {
    if (!c.holds.includes(holdId)) await this.d.archive.updateHeader(c.id, { holds: [...c.holds, holdId] });
  }

  /** Ids of the held numbers this number matches (needs the index, i.e. an unlock or placement this run). */
  private matching(parties: { caller?: string; called?: string }): string[] {
    const macs = new Set([parties.caller, parties.called].filter((n): n is string => !!n && /\d{3}/.test(n)).map((n) => this.mac(n)));
    return [...this.numberIndex].filter(([id, m]) => macs.has(m) && this.activeNumberHolds().some((h) => h.id === id)).map(([id]) => id);
  }

  /** Whether every active number hold's number is known this run, so a call can be matched. */
  private canMatch(): boolean {
    return this.activeNumberHolds().every((h) => this.numberIndex.has(h.id));
  }

  async place(actor: string, x: { kind: HoldKind; callId?: string; number?: string; reason: unknown; caseRef: unknown }): Promise<HoldView> {
    const reason = checkText('reason', x.reason, 500);
    const caseRef = checkText('case reference', x.caseRef, 120);
    return this.serial(async () => {
      const id = `hold-${randomBytes(6).toString('hex')}`;
      let covered: CallHeader[];
      let secret: Sealed;
      if (x.kind === 'call') {
        const c = x.callId ? this.d.archive.get(x.callId) : undefined;
        if (!c) return fail('RV_ERR_NO_SUCH_CALL', `There is no kept call ${x.callId ?? '(none given)'}; it may have been deleted or expired.`, 404);
        if (c.holds.length >= 32) fail('RV_ERR_BAD_HOLD', `Kept call ${c.id} already carries 32 holds; release one first.`, 409);
        covered = [c];
        secret = { reason, caseRef };
      } else if (x.kind === 'number') {
        if (!this.d.vault.unlocked) fail('RV_ERR_VAULT_LOCKED', 'Numbers are encrypted; unlock the vault to put a number on hold.', 423);
        const number = typeof x.number === 'string' ? x.number.trim() : '';
        if (!/^\+?[0-9][0-9 ()-]{2,30}$/.test(number) || number.replace(/\D/g, '').length < 3) fail('RV_ERR_BAD_HOLD', `"${number}" is not a phone number; give it as +31…, 0… or 00…, digits only.`, 422);
        covered = [];
        secret = { number: normalizeNumber(number), reason, caseRef };
      } else {
        return fail('RV_ERR_BAD_HOLD', 'A hold is on a "call" or on a "number".', 422);
      }
      const rec: HoldRecord = { id, kind: x.kind, ...(x.kind === 'call' ? { callId: covered[0]!.id } : {}), placedBy: actor, placedAt: this.d.now(), ...(await this.seal(secret)) };
      // The hold is durable before any header names it, so a header never carries an id the file lacks.
      this.file.holds.push(rec);
      await this.save().catch((e: unknown) => { this.file.holds.pop(); throw e; });
      let calls = covered.length;
      for (const c of covered) await this.addToCall(this.d.archive.get(c.id) ?? c, id);
      if (secret.number) {
        this.numberIndex.set(id, this.mac(secret.number));
        calls = (await this.applyIndex()).filter((a) => a.id === id).length;
      }
      await this.d.audit.append({ actor, action: 'hold.place', target: id, detail: { kind: x.kind, ...(rec.callId ? { call: rec.callId } : {}), calls } });
      return this.view(rec);
    });
  }

  async proposeRelease(actor: string, id: string): Promise<HoldView> {
    return this.serial(async () => {
      const h = this.mustGet(id);
      const st = statusOf(h);
      if (st === 'released') fail('RV_ERR_HOLD_RELEASED', `Legal hold ${id} is already released.`, 409);
      if (st === 'release-proposed') {
        fail('RV_ERR_RELEASE_PENDING', h.release!.proposedBy === actor
          ? `You already proposed releasing ${id}; a second, different manager must now confirm it.`
          : `${h.release!.proposedBy} already proposed releasing ${id}; confirm it or withdraw the proposal.`, 409);
      }
      await this.change(h, () => { h.release = { proposedBy: actor, proposedAt: this.d.now() }; });
      await this.d.audit.append({ actor, action: 'hold.release.propose', target: id });
      return this.view(h);
    });
  }

  async withdrawRelease(actor: string, id: string): Promise<HoldView> {
    return this.serial(async () => {
      const h = this.mustGet(id);
      if (statusOf(h) !== 'release-proposed') fail('RV_ERR_NO_RELEASE_PENDING', `No release of ${id} is waiting for confirmation.`, 409);
      const by = h.release!.proposedBy;
      await this.change(h, () => { delete h.release; });
      await this.d.audit.append({ actor, action: 'hold.release.withdraw', target: id, detail: { proposedBy: by } });
      return this.view(h);
    });
  }

  /** The second manager's step: only then does the hold leave the headers. */
  async confirmRelease(actor: string, id: string): Promise<HoldView> {
    return this.serial(async () => {
      const h = this.mustGet(id);
      const st = statusOf(h);
      if (st === 'released') fail('RV_ERR_HOLD_RELEASED', `Legal hold ${id} is already released.`, 409);
      if (st === 'active') fail('RV_ERR_NO_RELEASE_PENDING', `Nobody has proposed releasing ${id} yet; one manager proposes, a second, different manager confirms.`, 409);
      const proposer = h.release!.proposedBy;
      if (proposer === actor) {
        await this.d.audit.append({ actor, action: 'hold.release.refused', target: id, detail: { why: 'same manager' } });
        fail('RV_ERR_SAME_MANAGER', `You proposed releasing ${id} yourself; a second, different manager must confirm the release.`, 409);
      }
      const why = this.d.accountOf ? independenceProblem(actor, proposer, h.release!.proposedAt, this.d.accountOf(actor)) : undefined;
      if (why) {
        await this.d.audit.append({ actor, action: 'hold.release.refused', target: id, detail: { why, proposedBy: proposer } });
        const said = { 'account made after the proposal': `your account was made after ${proposer} proposed the release`, 'account made by the proposer': `${proposer}, who proposed the release, made your account`, 'account changed by the proposer': `${proposer}, who proposed the release, changed your account` }[why] ?? 'the box does not know your account';
        fail('RV_ERR_NOT_INDEPENDENT', `You cannot confirm releasing ${id}: ${said}. A manager whose account existed before the proposal and was not made or changed by ${proposer} must confirm it; or withdraw the proposal so that another manager proposes and ${proposer} confirms.`, 409);
      }
      // Durable first: after a power cut open() finishes taking the id off the headers.
      await this.change(h, () => { h.release = { ...h.release!, confirmedBy: actor, confirmedAt: this.d.now() }; });
      this.numberIndex.delete(id);
      let calls = 0;
      for (const c of this.d.archive.list()) {
        if (!c.holds.includes(id)) continue;
        await this.d.archive.updateHeader(c.id, { holds: c.holds.filter((x) => x !== id) });
        calls++;
      }
      await this.d.audit.append({ actor, action: 'hold.release.confirm', target: id, detail: { proposedBy: h.release!.proposedBy, calls } });
      return this.view(h);
    });
  }

  /**
   * After an unlock: learn every held number and put each number hold on all its calls, those kept while
   * locked included. `parties` must work (the catalog unlocked).
   */
  async sweep(): Promise<{ applied: number }> {
    return this.serial(async () => {
      const active = this.activeNumberHolds();
      for (const h of active) {
        const s = await this.unseal(h);
        if (s.number) this.numberIndex.set(h.id, this.mac(s.number));
      }
      if (active.length === 0) {
        for (const c of this.d.archive.list()) this.checked.add(c.id);
        return { applied: 0 };
      }
      const applied = (await this.applyIndex()).length;
      if (applied) await this.d.audit.append({ actor: 'box', action: 'hold.apply', detail: { by: 'unlock sweep', calls: applied } });
      return { applied };
    });
  }

  /**
   * Matches every call in the archive (parties from the unlocked catalog) against every indexed number hold and
   * adds what is missing. When the index is complete, every call kept so far is checked: sweptAt moves on.
   */
  private async applyIndex(): Promise<{ id: string; call: string }[]> {
    const complete = this.canMatch();
    const startedAt = Date.now();
    const added: { id: string; call: string }[] = [];
    for (const listed of this.d.archive.list()) {
      const p = this.d.partiesOf(listed.id);
      if (!p) continue;
      const c = this.d.archive.get(listed.id) ?? listed;
      const ids = this.matching(p).filter((id) => !c.holds.includes(id));
      if (ids.length) await this.d.archive.updateHeader(c.id, { holds: [...c.holds, ...ids] });
      for (const id of ids) added.push({ id, call: c.id });
      if (complete) this.checked.add(c.id);
    }
    if (complete) {
      this.file.sweptAt = startedAt;
      await this.save();
    }
    return added;
  }

  /** A call just landed in the archive: put every number hold matching its live parties on it. */
  async onKept(callId: string, parties: { caller?: string; called?: string }): Promise<string[]> {
    return this.serial(async () => {
      if (this.activeNumberHolds().length === 0) { this.checked.add(callId); return []; }
      if (!this.canMatch()) return [];
      const ids = this.matching(parties);
      const c = this.d.archive.get(callId);
      if (!c) return [];
      const add = ids.filter((id) => !c.holds.includes(id));
      if (add.length) {
        await this.d.archive.updateHeader(callId, { holds: [...c.holds, ...add] });
        await this.d.audit.append({ actor: 'box', action: 'hold.apply', target: callId, detail: { holds: add } });
      }
      this.checked.add(callId);
      return add;
    });
  }

  /**
   * For the retention scheduler: true when a number hold might cover the call but this run could not check
   * (kept before the first unlock after a restart). Doubt keeps.
   */
  maybeHeld(callId: string): boolean {
    if (this.checked.has(callId)) return false;
    const active = this.activeNumberHolds();
    if (active.length === 0) return false;
    const c = this.d.archive.get(callId);
    if (!c) return false;
    // A sweep saw every call kept before it (keptAt and sweptAt are both wall-clock ms); later ones are in doubt.
    return c.keptAt >= (this.file.sweptAt ?? 0);
  }

  /** Calls carrying each hold id, in one pass over the archive. */
  private counts(): Map<string, number> {
    const m = new Map<string, number>();
    for (const c of this.d.archive.list()) for (const id of c.holds) m.set(id, (m.get(id) ?? 0) + 1);
    return m;
  }

  private async view(h: HoldRecord, counts = this.counts()): Promise<HoldView> {
    const st = statusOf(h);
    const v: HoldView = {
      id: h.id, kind: h.kind, status: st, ...(h.callId ? { callId: h.callId } : {}), placedBy: h.placedBy, placedAt: h.placedAt,
      calls: counts.get(h.id) ?? 0,
      ...(h.release ? { proposedBy: h.release.proposedBy, proposedAt: h.release.proposedAt } : {}),
      ...(h.release?.confirmedBy ? { releasedBy: h.release.confirmedBy, releasedAt: h.release.confirmedAt } : {}),
      sealed: true,
    };
    if (this.d.vault.unlocked) {
      const s = await this.unseal(h);
      Object.assign(v, { sealed: false, reason: s.reason, caseRef: s.caseRef, ...(s.number ? { number: s.number } : {}) });
    }
    return v;
  }

  /** Active and proposed holds first, newest first; released ones stay listed as history. */
  async list(): Promise<HoldView[]> {
    const order = { active: 0, 'release-proposed': 0, released: 1 } as const;
    const hs = [...this.file.holds].sort((a, b) => order[statusOf(a)] - order[statusOf(b)] || b.placedAt - a.placedAt);
    const counts = this.counts();
    return Promise.all(hs.map((h) => this.view(h, counts)));
  }

  /** Hold ids in force on a call (for the call page). */
  activeOn(callId: string): string[] {
    const c = this.d.archive.get(callId);
    return c ? c.holds.filter((x) => this.file.holds.some((h) => h.id === x && statusOf(h) !== 'released')) : [];
  }
}
