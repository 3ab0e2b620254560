import { RvError } from '../errors.ts';
import type { Archive, CallHeader } from '../archive/archive.ts';
import type { AuditLog } from '../audit/audit.ts';
import type { Catalog } from '../calls/catalog.ts';
import type { Clock } from '../clock.ts';
import type { RetentionPolicies } from '../retention/policy.ts';
import { erasureDecision } from '../retention/rules.ts';
import { DELETED_NOT_AUDITED, type CallDeleter } from '../retention/delete-call.ts';
import { notesOf, type SupplementaryNote } from '../export/bundle.ts';
import type { ExportJobs, JobView } from '../export/jobs.ts';
import { matchesSubject } from '../export/select.ts';
import type { ExportLang } from '../export/texts.ts';
import type { DataRequest, RecordingResult, RequestPersonal, RequestRegister } from './register.ts';

export interface RequestActionDeps {
  register: RequestRegister;
  archive: Pick<Archive, 'list' | 'get' | 'meta' | 'updateHeader'>;
  catalog: Pick<Catalog, 'unlocked' | 'summary' | 'refresh' | 'forget'>;
  audit: Pick<AuditLog, 'append'>;
  clock: Clock;
  exports: ExportJobs;
  /** the retention settings in force (legal-obligation period) */
  policy: () => RetentionPolicies;
  /** a legal hold on the caller's number that is not yet in the header */
  numberHeld?: (callId: string) => boolean;
  /** the box's one delete path (holds incl. maybe-held, shred, catalog, audit) */
  deleter: Pick<CallDeleter, 'delete'>;
}

export type ActOptions = {
  lang?: ExportLang;
  lift?: boolean;
  /** whether the acting person's role may open a recording kept for these purposes (privacy settings, role matrix) */
  mayOpen?: (purposes: readonly string[]) => boolean;
};
export type ActResult = { request: DataRequest; job?: JobView };

const subjectOf = (p: RequestPersonal) => (p.subject.kind === 'staff' ? { extension: p.subject.extension } : { numbers: p.subject.numbers });

/** Carries out a request on the recordings of its subject; every step is audited, every recording gets a result. */
export class RequestActions {
  constructor(private readonly d: RequestActionDeps) {}

  /** The kept calls of the subject, oldest first; matching needs the unlocked catalog (numbers are sealed). */
  matching(p: RequestPersonal): CallHeader[] {
    if (!this.d.catalog.unlocked) throw new RvError('RV_ERR_VAULT_LOCKED', 'Numbers are encrypted; unlock the vault to act on a request.', 423);
    const s = subjectOf(p);
    return this.d.archive.list().filter((h) => matchesSubject(this.d.catalog.summary(h) as unknown as Record<string, unknown>, s)).reverse();
  }

  async act(id: string, actor: string, o: ActOptions = {}): Promise<ActResult> {
    const req = await this.d.register.get(id, true);
    if (req.status === 'rejected') throw new RvError('RV_ERR_REQUEST_CLOSED', `Request ${id} was rejected; reopen it (status open) before acting on it.`, 409);
    const p = req.personal!;
    const calls = this.matching(p);
    const audit = (detail: Record<string, unknown>) => this.d.audit.append({ actor, action: 'request.act', target: id, detail: { kind: req.kind, ...detail } });
    // Handing over or annotating a recording uses its content, so purpose binding applies; erasing and restricting do not.
    if ((req.kind === 'access' || req.kind === 'note') && o.mayOpen) {
      const refused = calls.filter((c) => !o.mayOpen!(c.purposes));
      if (refused.length > 0) {
        throw new RvError('RV_ERR_PURPOSE_NOT_ALLOWED', `${refused.length} of the ${calls.length} recordings were kept for purposes your role may not use (${[...new Set(refused.flatMap((c) => c.purposes))].join(', ')}); ask an administrator to carry out this request.`, 403);
      }
    }
    switch (req.kind) {
      case 'access': return this.access(req, actor, calls, o.lang ?? 'nl', audit);
      case 'erasure': return { request: await this.erase(req, actor, calls, audit) };
      case 'note': return { request: await this.note(req, actor, calls, p.note ?? '', audit) };
      case 'restriction': return { request: await this.restrict(req, actor, calls, !o.lift, audit) };
    }
  }

  private async access(req: DataRequest, actor: string, calls: CallHeader[], lang: ExportLang, audit: (d: Record<string, unknown>) => Promise<unknown>): Promise<ActResult> {
    if (calls.length === 0) {
      // Nothing kept is an answer too: the person is told no recording of them exists.
      const request = await this.finish(req.id, actor, 'done', [], 'No kept recordings of this subject; nothing to hand over.');
      await audit({ calls: 0 });
      return { request };
    }
    const ids = calls.map((c) => c.id);
    // Refused selections (a restricted recording) are not audited as exports; accepted ones are audited before a byte is written.
    this.d.exports.check(ids);
    await audit({ calls: ids.length, ids: ids.slice(0, 100) });
    const job = this.d.exports.start({
      callIds: ids, lang, request: req.id, by: actor,
      onDone: async (j) => {
        const results: RecordingResult[] = ids.map((callId) => ({ callId, action: j.state === 'done' ? 'exported' : 'failed', ...(j.error ? { reason: j.error.message } : {}) }));
        await this.finish(req.id, actor, j.state === 'done' ? 'done' : 'in-progress', results,
          j.state === 'done' ? `Export of ${ids.length} recording(s) made (${j.id}); hand the download to the person.` : `Export failed: ${j.error?.message}`);
      },
    });
    await this.d.audit.append({ actor, action: 'export.start', target: req.id, detail: { export: job.id, calls: ids.length } });
    const request = await this.d.register.update(req.id, { status: 'in-progress', personal: (p) => ({ ...p, handledBy: actor }) });
    return { request, job };
  }

  private async erase(req: DataRequest, actor: string, calls: CallHeader[], audit: (d: Record<string, unknown>) => Promise<unknown>): Promise<DataRequest> {
    const results: RecordingResult[] = [];
    const now = this.d.clock.now();
    const ctx = { now, clockSynced: this.d.clock.synced(), policy: this.d.policy() };
    for (const h of calls) {
      const d = erasureDecision(h, { ...ctx, numberHolds: this.d.numberHeld?.(h.id) ?? false });
      if (!d.erase) { results.push({ callId: h.id, action: 'kept', reason: d.reason }); continue; }
      try {
        await this.d.deleter.delete(h.id, { actor, action: 'call.delete', detail: { request: req.id, reason: 'erasure request' } });
        results.push({ callId: h.id, action: 'erased', reason: d.reason });
      } catch (e) {
        const code = e instanceof RvError ? e.code : undefined;
        // Gone, though unaudited: the person must hear it was erased; the request's own audit entry names it.
        if (code === DELETED_NOT_AUDITED) { results.push({ callId: h.id, action: 'erased', reason: d.reason }); continue; }
        // A hold placed a moment ago, for instance: the recording stays and the person is told why.
        results.push({ callId: h.id, action: 'kept', reason: code === 'RV_ERR_ON_HOLD' || code === 'RV_ERR_MAYBE_HELD' ? 'legal hold' : `could not be deleted: ${(e as Error).message}` });
      }
    }
    const erased = results.filter((r) => r.action === 'erased').length;
    await audit({ calls: calls.length, erased, kept: calls.length - erased });
    return this.finish(req.id, actor, 'done', results, `${erased} recording(s) erased, ${calls.length - erased} kept (the reason is given per recording).`);
  }

  private async note(req: DataRequest, actor: string, calls: CallHeader[], text: string, audit: (d: Record<string, unknown>) => Promise<unknown>): Promise<DataRequest> {
    const results: RecordingResult[] = [];
    for (const h of calls) {
      const meta = await this.d.archive.meta(h.id);
      const notes = notesOf(meta);
      if (notes.some((n) => n.request === req.id)) { results.push({ callId: h.id, action: 'noted', reason: 'already attached' }); continue; }
      const note: SupplementaryNote = { at: this.d.clock.now(), text, request: req.id };
      await this.d.archive.updateHeader(h.id, { meta: { ...meta, notes: [...notes, note] } });
      await this.d.catalog.refresh(h.id);
      await this.d.audit.append({ actor, action: 'call.note', target: h.id, detail: { request: req.id } });
      results.push({ callId: h.id, action: 'noted' });
    }
    await audit({ calls: calls.length });
    return this.finish(req.id, actor, 'done', results, `Supplementary note attached to ${calls.length} recording(s).`);
  }

  private async restrict(req: DataRequest, actor: string, calls: CallHeader[], on: boolean, audit: (d: Record<string, unknown>) => Promise<unknown>): Promise<DataRequest> {
    const results: RecordingResult[] = [];
    for (const h of calls) {
      if (h.restricted !== on) {
        await this.d.archive.updateHeader(h.id, { restricted: on });
        await this.d.audit.append({ actor, action: on ? 'call.restrict' : 'call.unrestrict', target: h.id, detail: { request: req.id } });
      }
      results.push({ callId: h.id, action: on ? 'restricted' : 'lifted' });
    }
    await audit({ calls: calls.length, restricted: on });
    return this.finish(req.id, actor, 'done', results, on
      ? `${calls.length} recording(s) restricted: no playback or export until the restriction is lifted.`
      : `Restriction lifted on ${calls.length} recording(s).`);
  }

  /** `summary` is the box's own account; `outcome` stays the manager's words (say, why a request was rejected). */
  private finish(id: string, actor: string, status: DataRequest['status'], results: RecordingResult[], summary: string): Promise<DataRequest> {
    return this.d.register.update(id, { status, personal: (p) => ({ ...p, handledBy: actor, results, summary }) });
  }
}
