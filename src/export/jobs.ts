import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline as pipeStreams, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RvError } from '../errors.ts';
import { ensureDir } from '../archive/durable.ts';
import { checkExportable, writeBundle, type BundleResult, type ExportProgress, type ExportSigner, type ExportSource } from './bundle.ts';
import type { ExportLang } from './texts.ts';

export interface JobView {
  id: string;
  state: 'running' | 'done' | 'failed';
  request?: string;
  calls: number;
  progress: ExportProgress;
  startedAt: number;
  finishedAt?: number;
  /** bytes of the finished zip */
  size?: number;
  error?: { code: string; message: string };
  by: string;
}

interface Job extends JobView { path: string; key: Buffer; iv: Buffer; timer?: NodeJS.Timeout }

export interface ExportJobsOptions {
  /** temp folder for bundles being built or waiting for download */
  dir: string;
  source: ExportSource;
  signer: ExportSigner;
  now: () => number;
  /** a finished bundle is deleted this long after it was made; default 1 h */
  ttlMs?: number;
}

const JOB_ID = /^ex-[0-9a-f]{16}$/;

/**
 * Export bundles built in the background with progress, then downloaded. The zip holds audio in the clear,
 * so on disk it is encrypted (AES-256-CTR) under a key that exists only in this process: a restart or the
 * time-to-live leaves nothing readable, and leftovers are deleted at start.
 */
export class ExportJobs {
  private readonly jobs = new Map<string, Job>();
  private readonly ttlMs: number;

  constructor(private readonly o: ExportJobsOptions) {
    this.ttlMs = o.ttlMs ?? 3_600_000;
  }

  async open(): Promise<void> {
    await ensureDir(this.o.dir);
    for (const name of await readdir(this.o.dir)) await unlink(join(this.o.dir, name)).catch(() => undefined);
  }

  private view(j: Job): JobView {
    const { path: _p, key: _k, iv: _i, timer: _t, ...v } = j;
    return { ...v, progress: { ...v.progress } };
  }

  /** Throws what start() would (restricted, unknown, empty) without starting anything. */
  check(callIds: readonly string[]): void {
    checkExportable(this.o.source, callIds);
  }

  /** Checks the selection at once (restricted, unknown, empty), then builds in the background. */
  start(x: { callIds: readonly string[]; lang: ExportLang; request?: string; by: string; onDone?: (j: JobView) => Promise<void> }): JobView {
    const headers = checkExportable(this.o.source, x.callIds);
    const id = `ex-${randomBytes(8).toString('hex')}`;
    const job: Job = {
      id, state: 'running', calls: headers.length, by: x.by, startedAt: this.o.now(), ...(x.request ? { request: x.request } : {}),
      progress: { filesDone: 0, filesTotal: headers.length, bytesDone: 0, bytesTotal: 1 },
      path: join(this.o.dir, `${id}.zip.enc`), key: randomBytes(32), iv: randomBytes(16),
    };
    this.jobs.set(id, job);
    void this.run(job, x).catch(() => undefined);
    return this.view(job);
  }

  /** The job shows 'done' or 'failed' only after onDone has run, so a poller that sees it also sees the request updated. */
  private async run(job: Job, x: { callIds: readonly string[]; lang: ExportLang; request?: string; onDone?: (j: JobView) => Promise<void> }): Promise<BundleResult> {
    const cipher = createCipheriv('aes-256-ctr', job.key, job.iv);
    const file = createWriteStream(job.path, { mode: 0o600, flags: 'wx' });
    try {
      const [r] = await Promise.all([
        writeBundle(cipher, {
          source: this.o.source, signer: this.o.signer, callIds: x.callIds, lang: x.lang, createdAt: this.o.now(),
          ...(x.request ? { request: x.request } : {}),
          onProgress: (p) => { job.progress = p; },
        }),
        pipeline(cipher, file),
      ]);
      job.size = r.bytes;
      await x.onDone?.({ ...this.view(job), state: 'done' }).catch(() => undefined);
      job.state = 'done';
      return r;
    } catch (e) {
      cipher.destroy();
      job.error = { code: (e as RvError).code ?? 'RV_ERR_EXPORT', message: e instanceof RvError ? e.message : `The export failed: ${(e as Error).message}. Try again; the box log has details.` };
      job.key.fill(0);
      await unlink(job.path).catch(() => undefined);
      await x.onDone?.({ ...this.view(job), state: 'failed' }).catch(() => undefined);
      job.state = 'failed';
      throw e;
    } finally {
      job.finishedAt = this.o.now();
      job.timer = setTimeout(() => void this.drop(job.id), this.ttlMs);
      job.timer.unref();
    }
  }

  get(id: string): JobView {
    return this.view(this.must(id));
  }

  list(): JobView[] {
    return [...this.jobs.values()].map((j) => this.view(j));
  }

  private must(id: string): Job {
    const j = JOB_ID.test(id) ? this.jobs.get(id) : undefined;
    if (!j) throw new RvError('RV_ERR_NO_SUCH_EXPORT', `There is no export ${id}; finished exports are kept for ${Math.round(this.ttlMs / 60000)} minutes and not across a restart. Start it again.`, 404);
    return j;
  }

  /** The finished zip, decrypted as it is read. */
  download(id: string): { stream: Readable; size: number; filename: string } {
    const j = this.must(id);
    if (j.state === 'running') throw new RvError('RV_ERR_EXPORT_RUNNING', 'The export is still being made; wait until it is done.', 409);
    if (j.state === 'failed') throw new RvError('RV_ERR_EXPORT_FAILED', `The export failed: ${j.error?.message ?? 'unknown error'}`, 409);
    const decipher = createDecipheriv('aes-256-ctr', j.key, j.iv);
    // pipeline destroys both ends on an error, so a failed read ends the download instead of hanging it.
    const stream = pipeStreams(createReadStream(j.path), decipher, () => undefined);
    return { stream, size: j.size!, filename: `ringvault-${j.request ?? j.id}.zip` };
  }

  async drop(id: string): Promise<void> {
    const j = this.jobs.get(id);
    if (!j) return;
    clearTimeout(j.timer);
    this.jobs.delete(id);
    j.key.fill(0);
    await unlink(j.path).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const id of [...this.jobs.keys()]) await this.drop(id);
  }
}
