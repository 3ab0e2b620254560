import type { Archive, CallHeader } from '../archive/archive.ts';
import type { AuditLog } from '../audit/audit.ts';
import type { Catalog } from '../calls/catalog.ts';
import { RvError } from '../errors.ts';

export interface DeleteCallDeps {
  archive: Pick<Archive, 'get' | 'shred'>;
  /** the in-memory personal fields of the call are dropped with it; absent in tools that have no catalog */
  catalog?: Pick<Catalog, 'forget'>;
  audit: Pick<AuditLog, 'append'>;
  /** true when a hold on a phone number might cover the call but could not be checked yet (kept while locked) */
  maybeHeld?: (callId: string) => boolean;
}

/** Why a call goes: who asked, the audit action ('call.delete' by a person or request, 'call.expired' by retention). */
export interface DeleteReason {
  actor: string;
  action: 'call.delete' | 'call.expired';
  detail?: Record<string, unknown>;
}

/** Thrown after the call is gone when only its audit entry failed: the caller must not report the call as kept. */
export const DELETED_NOT_AUDITED = 'RV_ERR_DELETED_NOT_AUDITED';

/**
 * The one way a kept call is deleted, whoever asks (the web route, an erasure request, retention): check every
 * kind of legal hold, the "maybe held" doubt included, shred the files, drop the personal fields from memory,
 * audit. Only the recorder shreds otherwise: a call made private while it was being kept, never shown to anyone.
 */
export class CallDeleter {
  constructor(private readonly d: DeleteCallDeps) {}

  /** Why the call may not be deleted now, or undefined when it may. */
  blocker(h: Pick<CallHeader, 'id' | 'holds'>): RvError | undefined {
    if (h.holds.length > 0) {
      return new RvError('RV_ERR_ON_HOLD', `Kept call ${h.id} is under legal hold (${h.holds.join(', ')}); release the hold before deleting it.`, 409);
    }
    if (this.d.maybeHeld?.(h.id)) {
      return new RvError('RV_ERR_MAYBE_HELD', `Kept call ${h.id} was kept while the vault was locked, so the box could not yet check it against the legal holds on phone numbers; unlock the vault (the box then checks it) and try again.`, 409);
    }
    return undefined;
  }

  async delete(id: string, why: DeleteReason): Promise<CallHeader> {
    const h = this.d.archive.get(id);
    if (!h) throw new RvError('RV_ERR_NO_SUCH_CALL', `There is no kept call ${id}; it may have been deleted or expired.`, 404);
    const no = this.blocker(h);
    if (no) throw no;
    // Archive.shred checks the header's holds again inside its queue, so a hold placed a moment ago still wins.
    await this.d.archive.shred(id);
    this.d.catalog?.forget(id);
    try {
      await this.d.audit.append({ actor: why.actor, action: why.action, target: id, ...(why.detail ? { detail: why.detail } : {}) });
    } catch (e) {
      throw new RvError(DELETED_NOT_AUDITED, `Kept call ${id} was deleted, but its audit entry could not be written (${(e as Error).message}); check the disk and the audit log.`, 500);
    }
    return h;
  }
}
