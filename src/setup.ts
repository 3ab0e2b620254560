import { RvError } from './errors.ts';
import type { Vault } from './vault/vault.ts';
import type { SettingsStore, StoredUser } from './config/settings.ts';
import type { AuditLog } from './audit/audit.ts';
import type { PassphraseStrength } from './vault/strength.ts';

export const USERNAME = /^[a-zA-Z0-9._-]{1,32}$/;

/** First-run setup, shared by the web page and `ringvault init`: vault, admin user, audit entry. */
export async function firstRunSetup(
  d: { vault: Vault; settings: SettingsStore; audit: AuditLog; now: () => number; strength: PassphraseStrength },
  username: string,
  passphrase: string,
  via: 'web' | 'cli',
): Promise<{ recoveryKey: string; user: StoredUser }> {
  if (await d.vault.isInitialized()) throw new RvError('RV_ERR_ALREADY_SET_UP', 'This box is already set up; log in instead (or restore with the recovery key).', 409);
  if (!USERNAME.test(username)) throw new RvError('RV_ERR_BAD_USERNAME', 'A user name is 1–32 letters, digits, dots, dashes or underscores.', 422);
  d.strength.require(passphrase, [username]);
  // The login verifier is the second half of the keyslot's own KDF run: no cheaper oracle exists.
  const { recoveryKey, verifier } = await d.vault.init(username, passphrase);
  const user: StoredUser = { name: username, role: 'admin', passHash: verifier, createdAt: d.now() };
  await d.settings.update((s) => { s.users = [user]; }, () => d.audit.append({ actor: username, action: 'box.setup', detail: { via } }));
  return { recoveryKey, user };
}
