import { randomBytes } from 'node:crypto';
import { open as openFile, readFile, unlink } from 'node:fs/promises';
import { SAMPLE_RATE, isCallRate, type CallRate } from '../audio/frame.ts';
import { RvError } from '../errors.ts';
import type { Vault } from '../vault/vault.ts';
import { ensureDir, fsyncDir, writeFileDurable } from './durable.ts';
import { signHeader } from './finalize.ts';
import {
  DATA_KEY_BYTES, KEPT_BY, headerDigest, headerJson, isTime, parseCallHeader, pickHeader,
  type CallHeader, type CallMeta, type KeptBy, type OpenHeader,
} from './format.ts';
import { SORTABLE_ID, newSortableId } from './ids.ts';
import { callPaths } from './paths.ts';
import { decryptChunks, sha256File } from './reader.ts';
import { scanArchive, type RecoveredCall } from './recover.ts';
import { replaceHeaderFile, scrubWrappedKey } from './scrub.ts';
import { openMeta, sealMeta, unwrapDataKey, wrapDataKey } from './sealing.ts';
import { CallWriter, type KeptCallWriter } from './writer.ts';

export type { CallHeader, CallMeta, KeptBy, KeptCallWriter };

export interface ArchiveOptions { dir: string; vault: Vault; log?: (msg: string, extra?: object) => void }

export interface BeginCall {
  /** only for imports that bring their own id; it must look like a generated one */
  id?: string;
  line: string;
  startedAt: number;
  channels: 1 | 2;
  /** samples per second per channel (default 8000); a wideband call is kept at 16000 */
  sampleRate?: CallRate;
  meta: CallMeta;
  purposes: string[];
  keptBy: KeptBy;
  clockSynced: boolean;
}

export type HeaderPatch = Partial<Pick<CallHeader, 'purposes' | 'holds' | 'restricted'>> & { meta?: CallMeta };

const isEnoent = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';
const isStringList = (x: unknown, max: number): x is string[] =>
  Array.isArray(x) && x.length <= 32 && x.every((s) => typeof s === 'string' && s.length > 0 && s.length <= max);
const isMeta = (x: unknown): x is CallMeta => typeof x === 'object' && x !== null && !Array.isArray(x);
const badCall = (what: string): RvError => new RvError('RV_ERR_BAD_CALL', `Cannot keep the call: ${what}.`, 400);

/** Catalog entries are frozen, so a caller editing a listed header cannot change the catalog behind the files' back. */
const freeze = (h: CallHeader): CallHeader => {
  const c = pickHeader(h);
  Object.freeze(c.purposes);
  Object.freeze(c.holds);
  return Object.freeze(c);
};

function checkBegin(init: BeginCall): void {
  if (typeof init.line !== 'string' || init.line.length === 0 || init.line.length > 128) throw badCall('the line id must be 1 to 128 characters');
  if (!isTime(init.startedAt)) throw badCall(`the start time ${init.startedAt} is not a valid time`);
  if (init.channels !== 1 && init.channels !== 2) throw badCall('channels must be 1 or 2');
  if (init.sampleRate !== undefined && !isCallRate(init.sampleRate)) throw badCall('the sample rate must be 8000 or 16000 Hz');
  if (!isMeta(init.meta)) throw badCall('meta must be an object');
  if (!isStringList(init.purposes, 64)) throw badCall('purposes must be a list of at most 32 names');
  if (!KEPT_BY.includes(init.keptBy)) throw badCall(`keptBy must be one of ${KEPT_BY.join(', ')}`);
  if (typeof init.clockSynced !== 'boolean') throw badCall('clockSynced must be true or false');
  if (init.id !== undefined && !SORTABLE_ID.test(init.id)) throw badCall(`the id "${init.id}" is not of the form yyyyMMddTHHmmss-<hex>`);
}

/**
 * The durable archive of kept calls. Per call, in `<dir>/<yyyy-MM>/`: `<id>.audio` (append-only sealed
 * chunks), `<id>.open.json` while live, `<id>.json` once finished. The files are the truth; the catalog
 * in memory is rebuilt from them at open(). Nothing is rewritten per call that grows with the number of calls.
 */
/** The listing order: newest first, ties by id. */
export const newestFirst = (a: CallHeader, b: CallHeader): number => b.startedAt - a.startedAt || (a.id < b.id ? 1 : -1);

export class Archive {
  private readonly catalog = new Map<string, CallHeader>();
  private readonly live = new Set<string>();
  private readonly log: (msg: string, extra?: object) => void;
  private epoch?: Promise<{ id: string; sharedKey: Uint8Array }>;
  private opened = false;
  /** header rewrites and shreds run one at a time */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ArchiveOptions) {
    this.log = opts.log ?? (() => undefined);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Calls a power cut left open that open() finished and marked (for the audit log). */
  recoveredCalls: readonly RecoveredCall[] = [];

  async open(): Promise<{ calls: number; recovered: number; quarantined: number }> {
    if (this.opened) throw new RvError('RV_ERR_ARCHIVE_OPEN', 'The archive is already open; use the running instance.', 500);
    await ensureDir(this.opts.dir);
    const scan = await scanArchive({ root: this.opts.dir, vault: this.opts.vault, log: this.log });
    for (const h of scan.headers) this.catalog.set(h.id, freeze(h));
    this.opened = true;
    // Before first-start setup there is no box key yet; the epoch is then made at the first keep.
    if (await this.opts.vault.isInitialized().catch(() => false)) {
      await this.currentEpoch().catch((e: Error) => this.log('archive: could not start a key epoch; will retry at the first keep', { error: e.message }));
    }
    this.recoveredCalls = scan.recoveredCalls;
    return { calls: this.catalog.size, recovered: scan.recovered, quarantined: scan.quarantined };
  }

  /** One epoch per run: every call kept in this run wraps its data key under the same shared key. */
  private currentEpoch(): Promise<{ id: string; sharedKey: Uint8Array }> {
    if (!this.epoch) {
      const p = this.opts.vault.newEpoch();
      this.epoch = p;
      p.catch(() => { if (this.epoch === p) this.epoch = undefined; });
    }
    return this.epoch;
  }

  private requireOpen(): void {
    if (!this.opened) throw new RvError('RV_ERR_ARCHIVE_CLOSED', 'The archive is not open yet; wait for the box to finish starting.', 503);
  }

  /** Resolves once the open header (with the wrapped data key) and the empty audio file are durable. */
  async beginCall(init: BeginCall): Promise<KeptCallWriter> {
    this.requireOpen();
    checkBegin(init);
    const epoch = await this.currentEpoch();
    for (let attempt = 0; ; attempt++) {
      const id = init.id ?? newSortableId(init.startedAt);
      if (this.catalog.has(id) || this.live.has(id)) {
        if (init.id !== undefined) throw new RvError('RV_ERR_CALL_EXISTS', `There is already a kept call ${id}.`, 409);
        continue;
      }
      this.live.add(id);
      try {
        return await this.create(id, init, epoch);
      } catch (e) {
        this.live.delete(id);
        // A random tail can collide with a file the catalog does not list (say, a quarantined call); pick another.
        const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
        if (exists && init.id === undefined && attempt < 5) continue;
        if (exists) throw new RvError('RV_ERR_CALL_EXISTS', `There are already files for kept call ${id}.`, 409);
        throw e;
      }
    }
  }

  private async create(id: string, init: BeginCall, epoch: { id: string; sharedKey: Uint8Array }): Promise<KeptCallWriter> {
    const paths = callPaths(this.opts.dir, id);
    await ensureDir(paths.dir);
    const dataKey = new Uint8Array(randomBytes(DATA_KEY_BYTES));
    const open: OpenHeader = {
      v: 1, id, line: init.line, startedAt: init.startedAt, channels: init.channels, sampleRate: init.sampleRate ?? SAMPLE_RATE,
      purposes: [...init.purposes], keptBy: init.keptBy, keptAt: Date.now(), clockSynced: init.clockSynced,
      holds: [], restricted: false, epoch: epoch.id, ...wrapDataKey(dataKey, epoch.sharedKey), metaSealed: sealMeta(init.meta, dataKey),
    };
    const fh = await openFile(paths.audio, 'wx', 0o600).catch((e: unknown) => { dataKey.fill(0); throw e; });
    try {
      // The folder fsync inside writeFileDurable makes the new audio file's entry durable too.
      await writeFileDurable(paths.open, headerJson(open));
    } catch (e) {
      await fh.close().catch(() => undefined);
      await unlink(paths.audio).catch(() => undefined);
      dataKey.fill(0);
      throw e;
    }
    return new CallWriter({
      vault: this.opts.vault, paths, open, dataKey, fh,
      onDone: (h) => {
        this.live.delete(id);
        if (h) this.catalog.set(id, freeze(h));
      },
    });
  }

  /** Finished calls, in no particular order, without copying or sorting the index. */
  headers(): IterableIterator<CallHeader> {
    return this.catalog.values();
  }

  /** Finished calls only, newest first. */
  list(): CallHeader[] {
    return [...this.catalog.values()].sort(newestFirst);
  }

  get(id: string): CallHeader | undefined {
    return this.catalog.get(id);
  }

  private mustGet(id: string): CallHeader {
    const h = this.catalog.get(id);
    if (!h) throw new RvError('RV_ERR_NO_SUCH_CALL', `There is no kept call ${id}; it may have been deleted or expired.`, 404);
    return h;
  }

  private async dataKey(h: CallHeader): Promise<Uint8Array> {
    return unwrapDataKey(h, await this.opts.vault.epochKey(h.epoch));
  }

  async meta(id: string): Promise<CallMeta> {
    const h = this.mustGet(id);
    const key = await this.dataKey(h);
    try {
      return openMeta(id, h.metaSealed, key);
    } finally {
      key.fill(0);
    }
  }

  async *readPcm(id: string, fromChunk = 0): AsyncGenerator<{ at: number; pcm: Buffer }> {
    const h = this.mustGet(id);
    if (!Number.isInteger(fromChunk) || fromChunk < 0) throw new RvError('RV_ERR_BAD_RANGE', `Chunk ${fromChunk} is not a chunk number.`, 416);
    const key = await this.dataKey(h);
    try {
      yield* decryptChunks(callPaths(this.opts.dir, id).audio, h, key, fromChunk);
    } finally {
      key.fill(0);
    }
  }

  /** Checks the header signature and the audio file hash against the files on disk; needs no unlock. */
  async verify(id: string): Promise<{ ok: boolean; reason?: string }> {
    const known = this.mustGet(id);
    const p = callPaths(this.opts.dir, id);
    let text: string;
    try {
      text = await readFile(p.header, 'utf8');
    } catch (e) {
      if (isEnoent(e)) return { ok: false, reason: 'the header file is missing' };
      throw e;
    }
    const parsed = parseCallHeader(text, id);
    if (!parsed.ok) return { ok: false, reason: `the header is malformed: ${parsed.reason}` };
    const { signature, ...body } = parsed.value;
    const digest = headerDigest(body);
    if (!(await this.opts.vault.verify(digest, Buffer.from(signature, 'base64')))) return { ok: false, reason: 'the header signature does not match' };
    if (!Buffer.from(digest).equals(Buffer.from(headerDigest(known)))) return { ok: false, reason: 'the header on disk differs from the one loaded at start' };
    let sha: string;
    try {
      sha = await sha256File(p.audio);
    } catch (e) {
      if (isEnoent(e)) return { ok: false, reason: 'the audio file is missing' };
      throw e;
    }
    if (sha !== parsed.value.audioSha256) return { ok: false, reason: 'the audio file does not match its signed hash' };
    return { ok: true };
  }

  /** Rewrites the header durably and signs it again; a new `meta` needs the vault unlocked. */
  updateHeader(id: string, patch: HeaderPatch): Promise<CallHeader> {
    return this.serial(async () => {
      const h = this.mustGet(id);
      if (patch.purposes !== undefined && !isStringList(patch.purposes, 64)) throw badCall('purposes must be a list of at most 32 names');
      if (patch.holds !== undefined && !isStringList(patch.holds, 128)) throw badCall('holds must be a list of at most 32 names');
      if (patch.restricted !== undefined && typeof patch.restricted !== 'boolean') throw badCall('restricted must be true or false');
      if (patch.meta !== undefined && !isMeta(patch.meta)) throw badCall('meta must be an object');
      let metaSealed = h.metaSealed;
      if (patch.meta !== undefined) {
        const key = await this.dataKey(h);
        try {
          metaSealed = sealMeta(patch.meta, key);
        } finally {
          key.fill(0);
        }
      }
      const { signature: _old, ...body } = pickHeader(h);
      const next = await signHeader(this.opts.vault, {
        ...body,
        purposes: [...(patch.purposes ?? h.purposes)],
        holds: [...(patch.holds ?? h.holds)],
        restricted: patch.restricted ?? h.restricted,
        metaSealed,
      });
      // The replaced version's wrapped key is overwritten too, so a later shred leaves no copy in free space.
      await replaceHeaderFile(callPaths(this.opts.dir, id).header, headerJson(next));
      const frozen = freeze(next);
      this.catalog.set(id, frozen);
      return frozen;
    });
  }

  /** Destroys a call: its wrapped key is overwritten in place first, so the audio and metadata can never be opened again. */
  shred(id: string): Promise<void> {
    return this.serial(async () => {
      const h = this.mustGet(id);
      if (h.holds.length > 0) throw new RvError('RV_ERR_ON_HOLD', `Kept call ${id} is under legal hold; release the hold before deleting it.`, 409);
      const p = callPaths(this.opts.dir, id);
      await scrubWrappedKey(p.header);
      this.catalog.delete(id);
      // Audio first: if the power fails in between, open() sees the scrubbed header and finishes the shred.
      await unlink(p.audio).catch((e: unknown) => { if (!isEnoent(e)) throw e; });
      await unlink(p.header);
      await fsyncDir(p.dir);
    });
  }
}
