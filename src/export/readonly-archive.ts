import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Vault } from '../vault/vault.ts';
import { pickHeader, parseCallHeader, type CallHeader, type CallMeta } from '../archive/format.ts';
import { HEADER_EXT, MONTH_DIR, OPEN_EXT, callPaths } from '../archive/paths.ts';
import { decryptChunks } from '../archive/reader.ts';
import { isScrubbed } from '../archive/scrub.ts';
import { openMeta, unwrapDataKey } from '../archive/sealing.ts';
import { RvError } from '../errors.ts';
import type { ExportSource } from './bundle.ts';

/**
 * The finished calls of an archive, read without changing a byte: for the CLI export beside a running
 * box, which owns recovery, quarantine and shredding. Live and damaged calls are skipped and counted.
 */
export class ReadonlyArchive implements ExportSource {
  private readonly headers = new Map<string, CallHeader>();
  skipped = 0;

  constructor(private readonly dir: string, private readonly vault: Vault) {}

  async load(): Promise<this> {
    let months: string[];
    try {
      months = (await readdir(this.dir)).filter((n) => MONTH_DIR.test(n));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this;
      throw e;
    }
    for (const month of months) {
      for (const name of await readdir(join(this.dir, month))) {
        if (!name.endsWith(HEADER_EXT) || name.endsWith(OPEN_EXT)) continue;
        const id = name.slice(0, -HEADER_EXT.length);
        const text = await readFile(join(this.dir, month, name), 'utf8').catch(() => undefined);
        const parsed = text === undefined ? undefined : parseCallHeader(text, id);
        if (!parsed?.ok || isScrubbed(parsed.value.wrappedKey)) { this.skipped++; continue; }
        this.headers.set(id, pickHeader(parsed.value));
      }
    }
    return this;
  }

  list(): CallHeader[] {
    return [...this.headers.values()].sort((a, b) => a.startedAt - b.startedAt);
  }

  get(id: string): CallHeader | undefined {
    return this.headers.get(id);
  }

  private mustGet(id: string): CallHeader {
    const h = this.headers.get(id);
    if (!h) throw new RvError('RV_ERR_NO_SUCH_CALL', `There is no kept call ${id}.`, 404);
    return h;
  }

  async meta(id: string): Promise<CallMeta> {
    const h = this.mustGet(id);
    const key = unwrapDataKey(h, await this.vault.epochKey(h.epoch));
    try {
      return openMeta(id, h.metaSealed, key);
    } finally {
      key.fill(0);
    }
  }

  async *readPcm(id: string): AsyncGenerator<{ at: number; pcm: Buffer }> {
    const h = this.mustGet(id);
    const key = unwrapDataKey(h, await this.vault.epochKey(h.epoch));
    try {
      yield* decryptChunks(callPaths(this.dir, id).audio, h, key, 0);
    } finally {
      key.fill(0);
    }
  }
}
