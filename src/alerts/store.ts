import { readFile } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import { writeFileDurable } from '../archive/durable.ts';
import { RvError } from '../errors.ts';
import { NotificationsConfig } from './config.ts';

/**
 * The notification settings made on the Notifications page: one small JSON file (mode 0600 in the
 * 0700 data folder) that replaces the config file's `notifications` section as a whole. It holds the
 * channel secrets in the clear: the box must send alerts unattended, also while the vault is locked,
 * so nothing it could seal them with would be out of a thief's reach (see README).
 */
export class NotificationStore {
  private data?: NotificationsConfig;
  constructor(private readonly path: string) {}

  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    let raw: unknown;
    try { raw = JSON.parse(text); } catch (e) {
      throw new RvError('RV_ERR_SETTINGS', `${this.path}: not valid JSON (${(e as Error).message}); fix it or delete it (the config file's notifications then apply) and start again.`);
    }
    const withDefaults = Value.Default(NotificationsConfig, raw);
    if (!Value.Check(NotificationsConfig, withDefaults)) {
      const first = [...Value.Errors(NotificationsConfig, withDefaults)][0];
      throw new RvError('RV_ERR_SETTINGS', `${this.path}: ${first?.path.replaceAll('/', '.').replace(/^\./, '') ?? ''}: ${first?.message ?? 'invalid'}; fix it or delete the file and start again.`);
    }
    this.data = withDefaults as NotificationsConfig;
  }

  get(): NotificationsConfig | undefined { return this.data; }

  /** Written durably first; only then does the running box use it. */
  async save(n: NotificationsConfig): Promise<void> {
    await writeFileDurable(this.path, JSON.stringify(n, null, 2) + '\n', 0o600);
    this.data = n;
  }
}
