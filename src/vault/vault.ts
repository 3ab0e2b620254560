import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { RvError } from '../errors.ts';
import { ensureDir, fsyncDir, isTempName, writeFileDurable } from '../archive/durable.ts';
import { SORTABLE_ID, newSortableId } from '../archive/ids.ts';
import { formatRecoveryKey, parseRecoveryKey, RECOVERY_KEY_BYTES } from './recovery-key.ts';
import {
  openWithPassphrase, openWithPassphraseAndVerifier, openWithRecovery, parseKeyslot, sealWithPassphrase, sealWithRecovery,
  type Keyslot, type PassphraseSlot, type RecoverySlot,
} from './keyslot.ts';

/** vault.json: the public half of the box, written last at init so its presence means "initialized". */
interface VaultInfo { v: 1; createdAt: number; boxPublicKey: Uint8Array; signPublicKey: Uint8Array }

const MIN_PASSPHRASE = 8;
const MAX_SECRET = 1024;
const SLOT_PREFIX = 'user-';
const RECOVERY_SLOT = 'recovery.json';

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
const isEnoent = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** User names may hold any character, so slot files are named by a hash of the name. */
const slotFileOf = (user: string): string => `${SLOT_PREFIX}${createHash('sha256').update(user, 'utf8').digest('hex').slice(0, 32)}.json`;

const locked = (): RvError => new RvError('RV_ERR_VAULT_LOCKED', 'The vault is locked; unlock it with a passphrase or the recovery key first.', 423);
const uninitialized = (): RvError => new RvError('RV_ERR_VAULT_UNINITIALIZED', 'The vault is not set up yet; run the first-start setup (web page or `ringvault init`).', 409);

function checkPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string' || [...passphrase].length < MIN_PASSPHRASE) {
    throw new RvError('RV_ERR_WEAK_PASSPHRASE', `A passphrase needs at least ${MIN_PASSPHRASE} characters; a few random words are best.`, 400);
  }
  if (passphrase.length > MAX_SECRET) throw new RvError('RV_ERR_WEAK_PASSPHRASE', `A passphrase may be at most ${MAX_SECRET} characters; choose a shorter one.`, 400);
}

function checkUser(user: string): void {
  if (typeof user !== 'string' || user.length === 0 || user.length > 128) {
    throw new RvError('RV_ERR_BAD_USERNAME', 'A keyslot needs a user name of 1 to 128 characters.', 400);
  }
}

/**
 * Holds the box's keys. The X25519 public key is in the clear so calls are kept unattended;
 * the secret key exists on disk only wrapped in keyslots and in memory only while unlocked.
 *
 * Files in `dir`: vault.json, sign.key (0600), keyslots/user-<hash>.json, keyslots/recovery.json, epochs/<id>.pub.
 */
export class Vault {
  private secretKey?: Uint8Array;
  private readonly epochKeys = new Map<string, Uint8Array>();
  private info?: VaultInfo;
  private signer?: nacl.SignKeyPair;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly dir: string) {}

  private get infoPath(): string { return join(this.dir, 'vault.json'); }
  private get signKeyPath(): string { return join(this.dir, 'sign.key'); }
  private get slotsDir(): string { return join(this.dir, 'keyslots'); }
  private get epochsDir(): string { return join(this.dir, 'epochs'); }

  get unlocked(): boolean { return this.secretKey !== undefined; }

  /** Runs changes to the keyslots one after another, so two admins cannot interleave them. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      await this.sweepTemps();
      return fn();
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** A temp slot file left by a power cut holds a wrapped key under a passphrase that may since have been retired. */
  private async sweepTemps(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.slotsDir);
    } catch (e) {
      if (isEnoent(e)) return;
      throw e;
    }
    for (const name of names.filter(isTempName)) await unlink(join(this.slotsDir, name)).catch(() => undefined);
  }

  async isInitialized(): Promise<boolean> {
    try {
      await this.loadInfo();
      return true;
    } catch (e) {
      if (e instanceof RvError && e.code === 'RV_ERR_VAULT_UNINITIALIZED') return false;
      throw e;
    }
  }

  private async loadInfo(): Promise<VaultInfo> {
    if (this.info) return this.info;
    let text: string;
    try {
      text = await readFile(this.infoPath, 'utf8');
    } catch (e) {
      if (isEnoent(e)) throw uninitialized();
      throw e;
    }
    let info: VaultInfo;
    try {
      const j = JSON.parse(text) as Record<string, unknown>;
      const box = Buffer.from(String(j.boxPublicKey), 'base64');
      const sign = Buffer.from(String(j.signPublicKey), 'base64');
      if (j.v !== 1 || box.length !== nacl.box.publicKeyLength || sign.length !== nacl.sign.publicKeyLength) throw new Error('bad fields');
      info = { v: 1, createdAt: Number(j.createdAt), boxPublicKey: new Uint8Array(box), signPublicKey: new Uint8Array(sign) };
    } catch {
      throw new RvError('RV_ERR_VAULT_CORRUPT', `${this.infoPath} is damaged; restore the vault folder from a backup.`, 500);
    }
    this.info = info;
    return info;
  }

  /** `verifier`: the admin's login verifier, from the same KDF run as their keyslot. */
  init(user: string, passphrase: string): Promise<{ recoveryKey: string; verifier: string }> {
    return this.serial(async () => {
      checkUser(user);
      checkPassphrase(passphrase);
      if (await this.isInitialized()) throw new RvError('RV_ERR_VAULT_EXISTS', 'The vault is already set up; unlock it instead, or use the recovery key.', 409);
      await ensureDir(this.slotsDir);
      await ensureDir(this.epochsDir);
      // Slots left by an init that a power cut interrupted wrap a key nothing was ever encrypted to.
      for (const name of await readdir(this.slotsDir)) await unlink(join(this.slotsDir, name));
      const box = nacl.box.keyPair.fromSecretKey(randomBytes(nacl.box.secretKeyLength));
      const seed = randomBytes(nacl.sign.seedLength);
      const signer = nacl.sign.keyPair.fromSeed(seed);
      const recovery = randomBytes(RECOVERY_KEY_BYTES);
      try {
        // Stored in the clear (0600) because the box signs unattended; it guards integrity, and a thief with the box could feed it audio anyway.
        await writeFileDurable(this.signKeyPath, seed, 0o600);
        const { slot, verifier } = await sealWithPassphrase(user, passphrase, box.secretKey);
        await this.writeSlot(slotFileOf(user), slot);
        await this.writeSlot(RECOVERY_SLOT, sealWithRecovery(recovery, box.secretKey));
        const now = Date.now();
        await writeFileDurable(this.infoPath, JSON.stringify({ v: 1, createdAt: now, boxPublicKey: b64(box.publicKey), signPublicKey: b64(signer.publicKey) }, null, 2) + '\n');
        this.info = { v: 1, createdAt: now, boxPublicKey: box.publicKey, signPublicKey: signer.publicKey };
        this.signer = signer;
        this.setSecret(box.secretKey);
        return { recoveryKey: formatRecoveryKey(recovery), verifier };
      } finally {
        seed.fill(0);
        recovery.fill(0);
      }
    });
  }

  private async writeSlot(name: string, slot: Keyslot): Promise<void> {
    await writeFileDurable(join(this.slotsDir, name), JSON.stringify(slot, null, 2) + '\n', 0o600);
  }

  private async readSlot(name: string): Promise<Keyslot | undefined> {
    try {
      return parseKeyslot(await readFile(join(this.slotsDir, name), 'utf8'));
    } catch (e) {
      if (isEnoent(e)) return undefined;
      throw e;
    }
  }

  private async passphraseSlots(): Promise<{ name: string; slot: PassphraseSlot | undefined }[]> {
    let names: string[];
    try {
      names = await readdir(this.slotsDir);
    } catch (e) {
      if (isEnoent(e)) return [];
      throw e;
    }
    const out: { name: string; slot: PassphraseSlot | undefined }[] = [];
    for (const name of names.sort()) {
      if (!name.startsWith(SLOT_PREFIX) || isTempName(name)) continue;
      const s = await this.readSlot(name);
      out.push({ name, slot: s?.kind === 'passphrase' ? s : undefined });
    }
    return out;
  }

  async unlock(secret: string): Promise<{ via: 'passphrase' | 'recovery'; user?: string }> {
    const info = await this.loadInfo();
    const wrong = (typo: boolean): RvError => new RvError('RV_ERR_WRONG_PASSPHRASE', typo
      ? 'That recovery key has a typo (its check characters do not match); compare it group by group with the printed copy.'
      : 'That passphrase or recovery key does not open the vault; check Caps Lock and the keyboard layout, and try again.', 401);
    if (typeof secret !== 'string' || secret.length === 0 || secret.length > MAX_SECRET) throw wrong(false);
    const parsed = parseRecoveryKey(secret);
    let unreadable = 0;
    let found: { sk: Uint8Array; via: 'passphrase' | 'recovery'; user?: string } | undefined;
    if (parsed.ok) {
      const slot = await this.readSlot(RECOVERY_SLOT);
      const sk = slot?.kind === 'recovery' ? openWithRecovery(slot, parsed.key) : null;
      parsed.key.fill(0);
      if (sk) found = { sk, via: 'recovery' };
    }
    const slots = found ? [] : await this.passphraseSlots();
    for (const { slot } of slots) {
      if (found) break;
      if (!slot) { unreadable++; continue; }
      const sk = await openWithPassphrase(slot, secret);
      if (sk) found = { sk, via: 'passphrase', user: slot.user };
    }
    if (!found) {
      if (slots.length > 0 && unreadable === slots.length) {
        throw new RvError('RV_ERR_VAULT_CORRUPT', `Every keyslot in ${this.slotsDir} is damaged; restore the vault folder from a backup, then use the recovery key.`, 500);
      }
      throw wrong(!parsed.ok && parsed.reason === 'typo');
    }
    if (!equal(nacl.box.keyPair.fromSecretKey(found.sk).publicKey, info.boxPublicKey)) {
      found.sk.fill(0);
      throw new RvError('RV_ERR_VAULT_CORRUPT', `The keyslot opened but its key does not match ${this.infoPath}; restore the vault folder from one backup, not mixed files.`, 500);
    }
    this.setSecret(found.sk);
    return found.user === undefined ? { via: found.via } : { via: found.via, user: found.user };
  }

  /** A second unlock keeps the key already held, so epoch keys handed out stay valid. */
  private setSecret(sk: Uint8Array): void {
    if (this.secretKey) sk.fill(0);
    else this.secretKey = sk;
  }

  /** Zeroes the secret key and every cached epoch key, including the arrays epochKey() handed out. */
  lock(): void {
    this.secretKey?.fill(0);
    this.secretKey = undefined;
    for (const k of this.epochKeys.values()) k.fill(0);
    this.epochKeys.clear();
  }

  private requireUnlocked(): Uint8Array {
    if (!this.secretKey) throw locked();
    return this.secretKey;
  }

  /** Gives `user` a keyslot; returns their login verifier, from the same KDF run. */
  addKeyslot(user: string, passphrase: string): Promise<string> {
    return this.serial(async () => {
      checkUser(user);
      checkPassphrase(passphrase);
      await this.loadInfo();
      const sk = this.requireUnlocked();
      const { slot, verifier } = await sealWithPassphrase(user, passphrase, sk);
      if (this.secretKey !== sk) throw locked();
      await this.writeSlot(slotFileOf(user), slot);
      return verifier;
    });
  }

  /**
   * Rewraps a user's own keyslot under a new passphrase. The old passphrase opens the slot, so this
   * works while the vault is locked too. Returns the new login verifier (same KDF run as the slot).
   */
  changePassphrase(user: string, current: string, next: string): Promise<string> {
    return this.serial(async () => {
      checkUser(user);
      checkPassphrase(next);
      const info = await this.loadInfo();
      const old = await this.readSlot(slotFileOf(user));
      if (old?.kind !== 'passphrase' || old.user !== user) throw new RvError('RV_ERR_NO_KEYSLOT', `"${user}" has no keyslot in this vault.`, 404);
      const sk = await openWithPassphrase(old, current);
      if (!sk) throw new RvError('RV_ERR_WRONG_PASSPHRASE', 'The current passphrase is not right; check Caps Lock and the keyboard layout, and try again.', 401);
      try {
        if (!equal(nacl.box.keyPair.fromSecretKey(sk).publicKey, info.boxPublicKey)) {
          throw new RvError('RV_ERR_VAULT_CORRUPT', `The keyslot of "${user}" opened but its key does not match ${this.infoPath}; restore the vault folder from a backup.`, 500);
        }
        const { slot, verifier } = await sealWithPassphrase(user, next, sk);
        // Written in place (temp, fsync, rename): the old wrapping is gone once the new one is durable.
        await this.writeSlot(slotFileOf(user), slot);
        return verifier;
      } finally {
        sk.fill(0);
      }
    });
  }

  /** The login verifier that belongs to a user's keyslot (for verifiers made before they shared the slot's KDF run). */
  async verifierFor(user: string, passphrase: string): Promise<string | undefined> {
    const slot = await this.readSlot(slotFileOf(user));
    if (slot?.kind !== 'passphrase' || slot.user !== user) return undefined;
    const r = await openWithPassphraseAndVerifier(slot, passphrase);
    r?.secret.fill(0);
    return r?.verifier;
  }

  removeKeyslot(user: string): Promise<void> {
    return this.serial(async () => {
      checkUser(user);
      const name = slotFileOf(user);
      const slots = await this.passphraseSlots();
      if (!slots.some((s) => s.name === name)) return;
      if (slots.filter((s) => s.slot).length <= 1) {
        throw new RvError('RV_ERR_LAST_KEYSLOT', `This is the last passphrase that opens the vault; give another user a keyslot before removing "${user}".`, 409);
      }
      await unlink(join(this.slotsDir, name));
      await fsyncDir(this.slotsDir);
    });
  }

  async hasKeyslot(user: string): Promise<boolean> {
    const s = await this.readSlot(slotFileOf(user));
    return s?.kind === 'passphrase' && s.user === user;
  }

  newRecoveryKey(): Promise<string> {
    return this.serial(async () => {
      await this.loadInfo();
      const sk = this.requireUnlocked();
      const recovery = randomBytes(RECOVERY_KEY_BYTES);
      try {
        const slot: RecoverySlot = sealWithRecovery(recovery, sk);
        await this.writeSlot(RECOVERY_SLOT, slot);
        return formatRecoveryKey(recovery);
      } finally {
        recovery.fill(0);
      }
    });
  }

  async boxPublicKey(): Promise<Uint8Array> {
    return new Uint8Array((await this.loadInfo()).boxPublicKey);
  }

  /**
   * Starts a key epoch: a throw-away X25519 key agrees a shared key with the box key and is then
   * forgotten, so the box can wrap call keys while locked and unlocking costs one X25519 per epoch.
   */
  async newEpoch(): Promise<{ id: string; sharedKey: Uint8Array }> {
    const info = await this.loadInfo();
    const eph = nacl.box.keyPair.fromSecretKey(randomBytes(nacl.box.secretKeyLength));
    const sharedKey = nacl.box.before(info.boxPublicKey, eph.secretKey);
    eph.secretKey.fill(0);
    const id = newSortableId(Date.now());
    await ensureDir(this.epochsDir);
    await writeFileDurable(join(this.epochsDir, `${id}.pub`), eph.publicKey, 0o600);
    return { id, sharedKey };
  }

  /** The shared key of an epoch. The array is the vault's cached copy: lock() zeroes it, so do not keep it. */
  async epochKey(epochId: string): Promise<Uint8Array> {
    const sk = this.requireUnlocked();
    const cached = this.epochKeys.get(epochId);
    if (cached) return cached;
    if (!SORTABLE_ID.test(epochId)) throw new RvError('RV_ERR_EPOCH_MISSING', `"${epochId}" is not a key epoch id; the call header is damaged.`, 500);
    let pub: Buffer;
    try {
      pub = await readFile(join(this.epochsDir, `${epochId}.pub`));
    } catch (e) {
      if (!isEnoent(e)) throw e;
      pub = Buffer.alloc(0);
    }
    if (pub.length !== nacl.box.publicKeyLength) {
      throw new RvError('RV_ERR_EPOCH_MISSING', `Key epoch ${epochId} is missing or damaged in ${this.epochsDir}; restore the vault folder from a backup.`, 500);
    }
    if (this.secretKey !== sk) throw locked();
    const again = this.epochKeys.get(epochId);
    if (again) return again;
    const key = nacl.box.before(pub, sk);
    this.epochKeys.set(epochId, key);
    return key;
  }

  private async loadSigner(): Promise<nacl.SignKeyPair> {
    if (this.signer) return this.signer;
    const info = await this.loadInfo();
    let seed: Buffer;
    try {
      seed = await readFile(this.signKeyPath);
    } catch (e) {
      if (!isEnoent(e)) throw e;
      seed = Buffer.alloc(0);
    }
    const signer = seed.length === nacl.sign.seedLength ? nacl.sign.keyPair.fromSeed(seed) : undefined;
    seed.fill(0);
    if (!signer || !equal(signer.publicKey, info.signPublicKey)) {
      throw new RvError('RV_ERR_VAULT_CORRUPT', `${this.signKeyPath} is missing or does not match vault.json; restore the vault folder from a backup.`, 500);
    }
    this.signer = signer;
    return signer;
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    return nacl.sign.detached(message, (await this.loadSigner()).secretKey);
  }

  async verify(message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const { signPublicKey } = await this.loadInfo();
    if (signature.length !== nacl.sign.signatureLength) return false;
    return nacl.sign.detached.verify(message, signature, signPublicKey);
  }

  async signPublicKey(): Promise<Uint8Array> {
    return new Uint8Array((await this.loadInfo()).signPublicKey);
  }
}
