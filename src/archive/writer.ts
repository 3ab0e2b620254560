import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { BYTES_PER_SAMPLE, msOf } from '../audio/frame.ts';
import { RvError } from '../errors.ts';
import { isDiskError } from './disk-errors.ts';
import type { Vault } from '../vault/vault.ts';
import { replaceHeaderFile } from './scrub.ts';
import { finalizeCall } from './finalize.ts';
import { MAX_CHUNK_PCM, headerJson, isTime, sealRecord, type CallHeader, type CallMeta, type Missing, type OpenHeader } from './format.ts';
import type { CallPaths } from './paths.ts';
import { sealMeta } from './sealing.ts';

export interface KeptCallWriter {
  readonly id: string;
  /** ms of audio durable in the archive (every append that resolved) */
  readonly durableMs: number;
  append(chunk: { at: number; pcm: Buffer }): Promise<void>;
  setMeta(meta: CallMeta): Promise<void>;
  /** Records, durably in the open header, stretches of the call that will not be stored (a disk that was full). */
  setMissing(missing: readonly Missing[]): Promise<void>;
  finish(endedAt?: number): Promise<CallHeader>;
}

export interface WriterContext {
  vault: Vault;
  paths: CallPaths;
  /** the durable open header; the writer owns it from here on */
  open: OpenHeader;
  dataKey: Uint8Array;
  /** the audio file, created empty, opened for positional writes */
  fh: FileHandle;
  /** called once when the call is finished (header) or its finish failed (undefined) */
  onDone: (h: CallHeader | undefined) => void;
}

/**
 * Appends one live kept call chunk by chunk, each fsync'd before its promise resolves. A write the disk
 * refuses (full, failing) is cut back off at once, so the writer stays usable: the caller keeps the audio
 * elsewhere and appends it again when the disk takes writes. finish() may likewise be retried.
 */
export class CallWriter implements KeptCallWriter {
  private tail: Promise<unknown> = Promise.resolve();
  private size = 0;
  private chunks = 0;
  private samples = 0;
  private lastEnd?: number;
  private readonly hash = createHash('sha256');
  /** a failed write may have left bytes past `size`; finish() cuts them off */
  private torn = false;
  private finishing?: Promise<CallHeader>;
  private closed = false;

  constructor(private readonly c: WriterContext) {}

  get id(): string { return this.c.open.id; }

  get durableMs(): number { return msOf(this.samples, this.c.open.sampleRate); }

  /** Appends may be issued without awaiting; the chain keeps them in call order. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  private finishedError(): RvError {
    return new RvError('RV_ERR_CALL_FINISHED', `Kept call ${this.id} is already finished; start a new keep for more audio.`, 409);
  }

  append(chunk: { at: number; pcm: Buffer }): Promise<void> {
    if (this.finishing) return Promise.reject(this.finishedError());
    const frameBytes = BYTES_PER_SAMPLE * this.c.open.channels;
    const pcm = chunk?.pcm;
    if (!isTime(chunk?.at) || !(pcm instanceof Uint8Array) || pcm.length === 0 || pcm.length > MAX_CHUNK_PCM || pcm.length % frameBytes !== 0) {
      return Promise.reject(new RvError('RV_ERR_BAD_CHUNK', `A chunk for kept call ${this.id} must have a time and 1 to ${MAX_CHUNK_PCM} bytes of ${this.c.open.channels}-channel 16-bit PCM.`, 500));
    }
    // Copied now: the caller may reuse its buffer before the queued write runs.
    const copy = Buffer.from(pcm);
    return this.enqueue(() => this.write(chunk.at, copy));
  }

  private async write(at: number, pcm: Buffer): Promise<void> {
    const rec = sealRecord(this.c.dataKey, this.chunks, at, pcm);
    pcm.fill(0);
    try {
      // A record cut short by an earlier failure is cut off before the next one goes where it began.
      if (this.torn) {
        await this.c.fh.truncate(this.size);
        this.torn = false;
      }
      const { bytesWritten } = await this.c.fh.write(rec, 0, rec.length, this.size);
      // A full disk first shows as a short write, and only the next write fails with ENOSPC.
      if (bytesWritten !== rec.length) throw Object.assign(new Error(`short write: ${bytesWritten} of ${rec.length} bytes`), { code: 'ENOSPC' });
      await this.c.fh.datasync();
    } catch (e) {
      this.torn = true;
      await this.c.fh.truncate(this.size).then(() => { this.torn = false; }, () => undefined);
      throw Object.assign(new RvError('RV_ERR_ARCHIVE_WRITE', `Could not store a chunk of kept call ${this.id} (${(e as Error).message}); check the disk for space and errors.`, 507), { cause: e });
    }
    const frames = pcm.length / (BYTES_PER_SAMPLE * this.c.open.channels);
    this.size += rec.length;
    this.chunks++;
    this.samples += frames;
    this.hash.update(rec);
    this.lastEnd = at + msOf(frames, this.c.open.sampleRate);
  }

  setMeta(meta: CallMeta): Promise<void> {
    if (this.finishing) return Promise.reject(this.finishedError());
    return this.enqueue(async () => {
      this.c.open.metaSealed = sealMeta(meta, this.c.dataKey);
      // The replaced version's wrapped key is overwritten, so a later shred leaves no copy in free space.
      await replaceHeaderFile(this.c.paths.open, headerJson(this.c.open));
    });
  }

  setMissing(missing: readonly Missing[]): Promise<void> {
    if (this.finishing) return Promise.reject(this.finishedError());
    return this.enqueue(async () => {
      const before = this.c.open.missing;
      this.c.open.missing = missing.map((m) => ({ ...m }));
      await replaceHeaderFile(this.c.paths.open, headerJson(this.c.open)).catch((e: unknown) => { this.c.open.missing = before; throw e; });
    });
  }

  /**
   * Idempotent: a second call returns the first one's result, unless the first failed on a disk that
   * refused the header (full): then it tries again, so a call is completed once space returns.
   */
  finish(endedAt?: number): Promise<CallHeader> {
    if (this.finishing) return this.finishing;
    if (endedAt !== undefined && !isTime(endedAt)) {
      return Promise.reject(new RvError('RV_ERR_BAD_CHUNK', `The end time ${endedAt} of kept call ${this.id} is not a valid time.`, 500));
    }
    const attempt = this.enqueue(async () => {
      if (!this.closed) {
        if (this.torn) {
          await this.c.fh.truncate(this.size);
          await this.c.fh.datasync();
        }
        await this.c.fh.close();
        this.closed = true;
      }
      const header = await finalizeCall(this.c.vault, this.c.paths, this.c.open,
        { chunks: this.chunks, samples: this.samples, lastEnd: this.lastEnd, audioSha256: this.hash.copy().digest('hex') }, endedAt);
      this.c.dataKey.fill(0);
      this.c.onDone(header);
      return header;
    });
    this.finishing = attempt;
    attempt.catch(async (e: unknown) => {
      if (isDiskError(e)) {
        // Retryable: finish() may be called again; the audio file is complete and closed or still open.
        if (this.finishing === attempt) this.finishing = undefined;
        return;
      }
      // The open header stays on disk, so the next open() recovers this call.
      if (!this.closed) await this.c.fh.close().catch(() => undefined);
      this.closed = true;
      this.c.dataKey.fill(0);
      this.c.onDone(undefined);
    });
    return attempt;
  }
}
