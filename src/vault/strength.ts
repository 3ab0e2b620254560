import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';
import * as nl from '@zxcvbn-ts/language-nl-be';
import { RvError } from '../errors.ts';

/**
 * Guesses a passphrase must withstand (zxcvbn's top score). Against the keyslot's scrypt, a thief with
 * one high-end graphics card tries about GUESSES_PER_SECOND passphrases a second (hashcat, scrypt
 * N=2^15 r=8), so 10^10 guesses is decades of GPU time; 10^8 (zxcvbn's "good") would be days.
 */
export const MIN_GUESSES_LOG10 = 10;
export const GUESSES_PER_SECOND = 10_000;
export const MIN_LENGTH = 8;
export const MAX_LENGTH = 1024;

export type Lang = 'nl' | 'en';
export interface StrengthVerdict { ok: boolean; guessesLog10: number; reason?: Record<Lang, string> }

type Translations = typeof en.translations;
/** zxcvbn hands back whatever its translation table holds: a table of the keys lets us word the reason in both languages. */
const keysOf = (t: Translations): Translations =>
  Object.fromEntries(Object.entries(t).map(([group, m]) => [group, Object.fromEntries(Object.keys(m).map((k) => [k, k]))])) as Translations;

function crackTime(seconds: number, lang: Lang): string {
  const units: [number, string, string][] = [[31_536_000, 'jaar', 'years'], [86_400, 'dagen', 'days'], [3600, 'uur', 'hours'], [60, 'minuten', 'minutes']];
  for (const [s, nlName, enName] of units) {
    if (seconds >= s) return `${lang === 'nl' ? 'in ongeveer' : 'in about'} ${Math.round(seconds / s)} ${lang === 'nl' ? nlName : enName}`;
  }
  return lang === 'nl' ? 'in minder dan een minuut' : 'in less than a minute';
}

/**
 * Estimates how guessable a passphrase is with zxcvbn-ts and its English and Dutch dictionaries;
 * refuses one that is too easy with a sentence saying why and what to do. The dictionaries take
 * about half a second to load, so they are loaded on first use and kept by the instance.
 */
export class PassphraseStrength {
  private z?: ZxcvbnFactory;

  private factory(): ZxcvbnFactory {
    this.z ??= new ZxcvbnFactory({
      dictionary: { ...common.dictionary, ...en.dictionary, ...nl.dictionary },
      graphs: common.adjacencyGraphs,
      translations: keysOf(en.translations),
    });
    return this.z;
  }

  /** Loads the dictionaries now (half a second), e.g. before a terminal prompt rather than after it. */
  warm(): void { this.factory(); }

  /** `context`: words a guesser would try first for this box (the user name, "ringvault"). */
  judge(passphrase: string, context: string[] = []): StrengthVerdict {
    const chars = [...passphrase].length;
    if (chars < MIN_LENGTH) {
      return { ok: false, guessesLog10: 0, reason: {
        en: `A passphrase needs at least ${MIN_LENGTH} characters; four or more unrelated words are best.`,
        nl: `Een wachtwoordzin heeft minstens ${MIN_LENGTH} tekens nodig; vier of meer losse woorden zijn het best.`,
      } };
    }
    if (passphrase.length > MAX_LENGTH) {
      return { ok: false, guessesLog10: 0, reason: {
        en: `A passphrase may be at most ${MAX_LENGTH} characters; choose a shorter one.`,
        nl: `Een wachtwoordzin mag hoogstens ${MAX_LENGTH} tekens hebben; kies een kortere.`,
      } };
    }
    // zxcvbn's cost grows fast with length; past 100 characters the passphrase is long enough anyway.
    const r = this.factory().check(passphrase.slice(0, 100), ['ringvault', 'recorder', ...context]);
    if (r.guessesLog10 >= MIN_GUESSES_LOG10) return { ok: true, guessesLog10: r.guessesLog10 };
    const seconds = 10 ** r.guessesLog10 / GUESSES_PER_SECOND;
    const warning = r.feedback.warning as keyof Translations['warnings'] | null;
    const why = (lang: Lang): string => {
      const w = warning ? (lang === 'nl' ? nl.translations : en.translations).warnings[warning] : undefined;
      return w ? ` ${w}` : '';
    };
    return { ok: false, guessesLog10: r.guessesLog10, reason: {
      en: `This passphrase is too easy to guess: a thief with the box's memory card and one graphics card would find it ${crackTime(seconds, 'en')}.${why('en')} Use four or more unrelated words, not a known phrase, name or date.`,
      nl: `Deze wachtwoordzin is te makkelijk te raden: een dief met het geheugenkaartje van de box en één grafische kaart vindt hem ${crackTime(seconds, 'nl')}.${why('nl')} Gebruik vier of meer losse woorden, geen bekende zin, naam of datum.`,
    } };
  }

  /** Throws RV_ERR_WEAK_PASSPHRASE (English message, both languages in `localized`) for a passphrase too easy to guess. */
  require(passphrase: string, context: string[] = []): void {
    const v = this.judge(passphrase, context);
    if (!v.ok) throw new RvError('RV_ERR_WEAK_PASSPHRASE', v.reason!.en, 422, v.reason);
  }
}
