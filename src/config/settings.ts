import { readFile } from 'node:fs/promises';
import { Low } from 'lowdb';
import { Value } from '@sinclair/typebox/value';
import { prepareFileDurable, writeFileDurable } from '../archive/durable.ts';
import { RvError } from '../errors.ts';
import type { SealedExclusions } from '../vault/exclusions.ts';
import { SettingsPatch, type Config, type LineConfig } from './schema.ts';

export type Role = 'admin' | 'manager' | 'reviewer' | 'staff';
export const ROLES: readonly Role[] = ['admin', 'manager', 'reviewer', 'staff'];

export interface StoredUser {
  name: string; role: Role; extension?: string; passHash: string; createdAt: number;
  /** who made the account (absent for the first administrator): a two-manager release needs an independent second manager */
  createdBy?: string;
  /** everyone other than the user who later changed the account (role, passphrase reset, extension) */
  changedBy?: string[];
}
/** `exclusions`: the exclusion list hashed and sealed (issue 10); the numbers are never in this file in the clear */
export interface SettingsData { version: 1; users: StoredUser[]; overrides: SettingsPatch; exclusions?: SealedExclusions }

/** lowdb adapter whose writes survive a power cut (steno renames but never fsyncs). */
class DurableJsonFile<T> {
  constructor(private readonly path: string) {}
  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new RvError('RV_ERR_SETTINGS', `${this.path}: the settings file is not valid JSON (${(e as Error).message}); restore it from a backup or fix the syntax.`);
    }
  }
  async write(data: T): Promise<void> {
    await writeFileDurable(this.path, JSON.stringify(data, null, 2) + '\n');
  }
  prepare(data: T) {
    return prepareFileDurable(this.path, JSON.stringify(data, null, 2) + '\n');
  }
}

/** Settings edited in the UI and the user table; small and rarely written, so a whole-file rewrite is fine. */
export class SettingsStore {
  private readonly db: Low<SettingsData>;
  private readonly file: DurableJsonFile<SettingsData>;
  /** updates run one at a time, each on the state the previous one left */
  private tail: Promise<unknown> = Promise.resolve();
  constructor(path: string) {
    this.file = new DurableJsonFile<SettingsData>(path);
    this.db = new Low<SettingsData>(this.file, { version: 1, users: [], overrides: {} });
  }

  async load(): Promise<void> {
    await this.db.read();
    const data = this.db.data;
    if (!Value.Check(SettingsPatch, data.overrides ?? {})) {
      const first = [...Value.Errors(SettingsPatch, data.overrides)][0];
      throw new RvError('RV_ERR_SETTINGS', `settings.json: overrides${first?.path.replaceAll('/', '.') ?? ''}: ${first?.message ?? 'invalid'}; fix or delete the key and start again.`);
    }
    data.users ??= [];
  }

  get users(): readonly StoredUser[] { return this.db.data.users; }
  get overrides(): SettingsPatch { return this.db.data.overrides; }
  get exclusions(): SealedExclusions | undefined { return this.db.data.exclusions; }

  /**
   * Changes the settings only once the change is durable and, when `audit` is given, audited: `fn` edits a
   * copy, the copy is written and fsync'd beside settings.json, `audit` runs, and only then is the file
   * renamed into place and the copy made the running state. A failure at any step (a full disk) changes
   * nothing, in memory or on disk, and leaves no audit entry for a change that did not happen.
   */
  update(fn: (d: SettingsData) => void, audit?: () => Promise<unknown>): Promise<void> {
    const run = async (): Promise<void> => {
      const next = structuredClone(this.db.data);
      fn(next);
      const prepared = await this.file.prepare(next);
      try {
        await audit?.();
      } catch (e) {
        await prepared.abort();
        throw e;
      }
      await prepared.commit();
      this.db.data = next;
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** The running config: file config with the UI's overrides on top. */
  effective(base: Config): Config { return applyOverrides(base, this.db.data.overrides); }
}

export function applyOverrides(base: Config, o: SettingsPatch): Config {
  const lines: LineConfig[] = base.lines.map((l) => ({ ...l, ...(o.lines?.find((x) => x.id === l.id) ?? {}) }));
  return {
    ...base,
    lines,
    graceSeconds: o.graceSeconds ?? base.graceSeconds,
    exclusions: o.exclusions ?? base.exclusions,
    language: o.language ?? base.language,
    retention: o.retention ?? base.retention,
    rolePurposes: o.rolePurposes ?? base.rolePurposes,
  };
}
