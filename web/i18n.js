// Language choice, translation lookup and Intl formatting.
import en from './i18n/en.js';
import nl from './i18n/nl.js';

const DICTS = { en, nl };
export const LANGS = /** @type {const} */ (['nl', 'en']);
const STORAGE_KEY = 'ringvault.lang';
const listeners = new Set();

function readStored() {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return v === 'nl' || v === 'en' ? v : null;
  } catch {
    return null;
  }
}

function fromNavigator() {
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  const first = String(langs[0] || 'en').toLowerCase();
  return first === 'nl' || first.startsWith('nl-') ? 'nl' : 'en';
}

let lang = readStored() ?? fromNavigator();

export const getLang = () => lang;
export const locale = () => (lang === 'nl' ? 'nl-NL' : 'en-GB');

export function setLang(next) {
  if (next !== 'nl' && next !== 'en') return;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  if (next === lang) return;
  lang = next;
  document.documentElement.lang = lang;
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Translate `key`, filling `{name}` placeholders from `params`. */
export function t(key, params) {
  let s = DICTS[lang][key] ?? DICTS.en[key];
  if (s === undefined) {
    console.warn(`ringvault: missing UI string ${key}`);
    s = key;
  }
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

const cache = new Map();
function cached(kind, opts, make) {
  const k = `${lang}|${kind}|${JSON.stringify(opts)}`;
  let f = cache.get(k);
  if (!f) {
    f = make(locale(), opts);
    cache.set(k, f);
  }
  return f;
}
const dtf = (opts) => cached('dt', opts, (l, o) => new Intl.DateTimeFormat(l, o));
const nf = (opts) => cached('nf', opts, (l, o) => new Intl.NumberFormat(l, o));

export const fmtDateTime = (ms) => dtf({ dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(ms));
export const fmtDateTimeShort = (ms) => dtf({ dateStyle: 'short', timeStyle: 'short' }).format(new Date(ms));
export const fmtNumber = (n, opts = {}) => nf(opts).format(n);

/** Split a span of milliseconds into whole hours, minutes and seconds. */
function parts(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  return { hours: Math.floor(total / 3600), minutes: Math.floor((total % 3600) / 60), seconds: total % 60 };
}

/** Clock-style duration for live counters: 1:05, 12:40, 1:02:03 (digits in the chosen locale). */
export function fmtClock(ms) {
  const p = parts(ms);
  const two = nf({ minimumIntegerDigits: 2, useGrouping: false });
  const one = nf({ useGrouping: false });
  return p.hours > 0
    ? `${one.format(p.hours)}:${two.format(p.minutes)}:${two.format(p.seconds)}`
    : `${one.format(p.minutes)}:${two.format(p.seconds)}`;
}

/** Readable duration for tables: "1 min, 5 sec" / "1 min en 5 s" via Intl.DurationFormat when present. */
export function fmtDuration(ms) {
  const p = parts(ms);
  const value = {};
  if (p.hours) value.hours = p.hours;
  if (p.hours || p.minutes) value.minutes = p.minutes;
  value.seconds = p.seconds;
  if (typeof Intl.DurationFormat === 'function') {
    return cached('du', { style: 'short' }, (l, o) => new Intl.DurationFormat(l, o)).format(value);
  }
  const unit = (u, n) => nf({ style: 'unit', unit: u, unitDisplay: 'short' }).format(n);
  const out = [];
  if (value.hours !== undefined) out.push(unit('hour', value.hours));
  if (value.minutes !== undefined) out.push(unit('minute', value.minutes));
  out.push(unit('second', value.seconds));
  return out.join(' ');
}

/** Check that both dictionaries carry the same keys; returns the differences. */
export function dictionaryDiff() {
  const a = Object.keys(en);
  const b = Object.keys(nl);
  return { onlyEn: a.filter((k) => !(k in nl)), onlyNl: b.filter((k) => !(k in en)) };
}
