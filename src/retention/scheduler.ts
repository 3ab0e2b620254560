import type { Archive, CallHeader } from '../archive/archive.ts';
import type { AuditLog } from '../audit/audit.ts';
import type { Clock } from '../clock.ts';
import { RvError } from '../errors.ts';
import type { Log } from '../log.ts';
import { CallDeleter, DELETED_NOT_AUDITED } from './delete-call.ts';
import type { RetentionPolicies } from './policy.ts';
import { decide, expiryOf } from './rules.ts';

export const DEFAULT_RETENTION_INTERVAL_MS = 3_600_000;

export interface RetentionDeps {
  /** only list(), get() and shred() are used, so a test may pass a wrapper */
  archive: Pick<Archive, 'list' | 'get' | 'shred'>;
  audit: Pick<AuditLog, 'append'>;
  clock: Clock;
  log: Log;
  /** read at every run, so a settings change applies at the next run without a restart */
  policy: () => RetentionPolicies;
  /** true when a legal hold on the caller's number covers the call */
  numberHeld?: (callId: string) => boolean;
  /** ms between runs; default 1 h */
  intervalMs?: number;
  /** the box's one delete path (holds, shred, catalog, audit); default: one over archive, audit and numberHeld */
  deleter?: Pick<CallDeleter, 'delete'>;
}

export interface RetentionRun {
  /** calls looked at in this run (0 when the run was skipped) */
  checked: number;
  /** ids shredded in this run */
  shredded: string[];
  /** checked − shredded: calls still on disk after this run, including those with errors */
  kept: number;
  /** set when the run shredded nothing on purpose, e.g. an unsynchronised clock */
  skippedReason?: string;
  /** per-call failures; each such call was kept (or, if only its audit entry failed, is named in shredded too) */
  errors: { id: string; message: string }[];
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The I/O side of retention: walks the archive, asks the pure rules (expiryOf, decide) per call,
 * shreds what they say and audits each shred. Any doubt keeps the call; the next run tries again.
 */
export class RetentionScheduler {
  private readonly d: RetentionDeps;
  private readonly intervalMs: number;
  private readonly deleter: Pick<CallDeleter, 'delete'>;
  /** the run in progress, shared so two callers never walk the archive at once */
  private running?: Promise<RetentionRun>;
  private timer?: NodeJS.Timeout;

  constructor(d: RetentionDeps) {
    const ms = d.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS;
    if (!Number.isSafeInteger(ms) || ms < 1000) {
      throw new RvError('RV_ERR_RETENTION', `The retention interval must be whole ms of at least 1000, got ${String(d.intervalMs)}.`, 500);
    }
    this.d = d;
    this.intervalMs = ms;
    this.deleter = d.deleter ?? new CallDeleter({ archive: d.archive, audit: d.audit, maybeHeld: d.numberHeld });
  }

  /** One pass over the archive; while a pass runs, further calls get that pass's result. */
  runOnce(): Promise<RetentionRun> {
    if (!this.running) {
      const p = this.run().finally(() => {
        if (this.running === p) this.running = undefined;
      });
      this.running = p;
    }
    return this.running;
  }

  /** Runs now, then every intervalMs until stop(); the timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      this.runOnce().catch((e: unknown) => this.d.log.error({ error: messageOf(e) }, 'retention: run failed; will retry at the next interval'));
    };
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
    tick();
  }

  /** Stops the timer and resolves once a run in progress has finished, so shutdown never cuts a shred short. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private async run(): Promise<RetentionRun> {
    const { archive, clock, log } = this.d;
    const calls = archive.list();
    const skip = (reason: string): RetentionRun => {
      log.warn({ calls: calls.length }, `retention: nothing shredded: ${reason}`);
      return { checked: 0, shredded: [], kept: calls.length, skippedReason: reason, errors: [] };
    };
    // One answer per run: asking per call could shred some calls on a clock that went bad halfway.
    const clockSynced = clock.synced();
    if (!clockSynced) return skip('clock not synchronised: never shred on an unknown time');
    const now = clock.now();
    let policy: RetentionPolicies;
    try {
      policy = this.d.policy();
    } catch (e) {
      return skip(`retention policy unavailable: ${messageOf(e)}`);
    }
    const out: RetentionRun = { checked: 0, shredded: [], kept: 0, errors: [] };
    for (const listed of calls) {
      // Re-read: a hold or purpose change made while earlier calls were shredded must count.
      const h = archive.get(listed.id);
      if (!h) continue;
      out.checked++;
      try {
        await this.one(h, policy, { now, clockSynced }, out);
      } catch (e) {
        out.errors.push({ id: h.id, message: messageOf(e) });
        log.error({ id: h.id, error: messageOf(e) }, 'retention: call kept after an error; will retry at the next run');
      }
    }
    out.kept = out.checked - out.shredded.length;
    log.info({ checked: out.checked, shredded: out.shredded.length, kept: out.kept, errors: out.errors.length }, 'retention: run done');
    return out;
  }

  private async one(h: CallHeader, policy: RetentionPolicies, ctx: { now: number; clockSynced: boolean }, out: RetentionRun): Promise<void> {
    const { expiresAt } = expiryOf({ keptAt: h.keptAt, purposes: [...h.purposes] }, policy);
    const numberHolds = this.d.numberHeld?.(h.id);
    const decision = decide({ holds: h.holds, restricted: h.restricted, clockSynced: h.clockSynced, expiresAt }, { ...ctx, numberHolds });
    if (decision.action !== 'shred') return;
    try {
      await this.deleter.delete(h.id, { actor: 'retention', action: 'call.expired', detail: { purposes: [...h.purposes], reason: decision.reason } });
    } catch (e) {
      if (!(e instanceof RvError && e.code === DELETED_NOT_AUDITED)) throw e;
      // The call is gone either way; say so loudly, since the audit trail now misses this shred.
      out.shredded.push(h.id);
      out.errors.push({ id: h.id, message: `shredded, but the audit entry failed: ${messageOf(e)}` });
      this.d.log.error({ id: h.id, error: messageOf(e) }, 'retention: call shredded but not audited');
      return;
    }
    out.shredded.push(h.id);
  }
}
