import { randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 10 Crockford characters = 50 bits: with 5 tries a minute per address, guessing is hopeless. */
const LENGTH = 10;
/** How long a long press of the save button lets setup go ahead without the code. */
export const BUTTON_CLAIM_MS = 10 * 60_000;

/** Accepts any case, spaces and dashes, and the look-alikes I, L (1) and O (0). */
export const normalizeClaimCode = (text: string): string =>
  text.toUpperCase().replace(/[\s_-]+/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');

/**
 * Proof that whoever sets up a fresh box can see or touch it: a one-time code the box prints to its
 * console (the journal on a real box), made at every start and held only in memory, or a long press
 * of the save button. Without one of them a stranger on the LAN could claim the box first.
 */
export class ClaimCode {
  readonly code: string;
  private buttonUntil = 0;

  constructor(private readonly now: () => number = Date.now) {
    const bytes = randomBytes(LENGTH);
    const raw = [...bytes].map((b) => ALPHABET[b & 31]).join('');
    this.code = `${raw.slice(0, 5)}-${raw.slice(5)}`;
  }

  /** A long press of a save button on a box that is not set up yet. */
  pressed(): void { this.buttonUntil = this.now() + BUTTON_CLAIM_MS; }

  get buttonArmed(): boolean { return this.now() < this.buttonUntil; }

  accepts(text: string | undefined): boolean {
    if (this.buttonArmed) return true;
    if (typeof text !== 'string' || text.length > 64) return false;
    const want = Buffer.from(normalizeClaimCode(this.code));
    const got = Buffer.from(normalizeClaimCode(text));
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
