import { RvError } from './errors.ts';
import type { Vault } from './vault/vault.ts';
import type { SettingsStore } from './config/settings.ts';
import type { AuditLog } from './audit/audit.ts';
import type { PassphraseStrength } from './vault/strength.ts';
import { checkPassword, hashPassword } from './http/passwords.ts';

export interface PassphraseDeps { vault: Vault; settings: SettingsStore; audit: AuditLog; strength: PassphraseStrength }

/**
 * Changes one's own passphrase, shared by the web page and `ringvault passwd`: checks the current
 * one, refuses a weak new one, rewraps the user's keyslot (the old passphrase opens it, so the vault
 * may be locked) and stores the verifier of the new slot's KDF run.
 */
export async function changeOwnPassphrase(d: PassphraseDeps, username: string, current: string, next: string): Promise<void> {
  const user = d.settings.users.find((u) => u.name === username);
  if (!user) throw new RvError('RV_ERR_NO_SUCH_USER', `There is no user "${username}".`, 404);
  if (!(await checkPassword(current, user.passHash)).ok) {
    await d.audit.append({ actor: username, action: 'user.passphrase.change.failed' });
    throw new RvError('RV_ERR_WRONG_PASSPHRASE', 'The current passphrase is not right; check Caps Lock and the keyboard layout, and try again.', 401);
  }
  if (current === next) throw new RvError('RV_ERR_SAME_PASSPHRASE', 'The new passphrase is the same as the current one; choose a different one.', 422);
  d.strength.require(next, [username]);
  const verifier = (await d.vault.hasKeyslot(username)) ? await d.vault.changePassphrase(username, current, next) : await hashPassword(next);
  await d.settings.update((s) => { const u = s.users.find((x) => x.name === username); if (u) u.passHash = verifier; }, () => d.audit.append({ actor: username, action: 'user.passphrase.change' }));
}
