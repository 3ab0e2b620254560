import { readFile } from 'node:fs/promises';
import { Low } from 'lowdb';
import { Value } from '@sinclair/typebox/value';
import { writeFileDurable } from '../archive/durable.ts';
import { RvError } from '../errors.ts';
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
export interface SettingsData { version: 1; users: StoredUser[]; overrides: SettingsPatch }

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
}

/** Settings edited in the UI and the user table; small and rarely written, so a whole-file rewrite is fine. */
export class SettingsStore {
  private readonly db: Low<SettingsData>;
  constructor(path: string) {
    this.db = new Low<SettingsData>(new DurableJsonFile<SettingsData>(path), { version: 1, users: [], overrides: {} });
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

  async update(fn: (d: SettingsData) => void): Promise<void> {
    fn(this.db.data);
    await this.db.write();
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
