// Admin settings: per-line keep policy, sample N, announced purposes, name; grace period; language.
import { t } from '../i18n.js';
import { h, field, errorBox, showError, toast, nextId } from '../dom.js';
import { get, put, ApiError } from '../api.js';
import { ctx } from '../ctx.js';

export const PURPOSES = ['training', 'evaluation', 'complaint', 'evidence', 'legal-obligation'];
const KEEP = ['all', 'sample', 'on-demand', 'never'];

function lineFieldset(line, purposesKey, stored, digitsKept) {
  const name = h('input', { type: 'text', value: line.name, required: true, maxlength: '60', testid: `settings-name-${line.id}` });
  const keep = h('select', { testid: `settings-keep-${line.id}` }, KEEP.map((k) => h('option', { value: k, selected: line.keep === k }, t(`settings.keep.${k}`))));
  keep.value = line.keep;
  const sampleN = h('input', { type: 'number', min: '2', max: '1000', step: '1', inputmode: 'numeric', value: String(line.sampleN ?? 10), testid: `settings-sample-${line.id}` });
  const sampleField = field(t('settings.sampleN'), sampleN);
  const syncSample = () => {
    sampleField.hidden = keep.value !== 'sample';
  };
  keep.addEventListener('change', syncSample);
  syncSample();
  const have = new Set(line.purposes || []);
  const boxes = PURPOSES.map((p) => {
    const id = nextId('purpose');
    const box = h('input', { type: 'checkbox', id, value: p, checked: have.has(p), testid: `settings-purpose-${line.id}-${p}` });
    return { p, box, el: h('div', { class: 'check-row' }, box, h('label', { for: id }, t(`purpose.${p}`))) };
  });
  // Keyed digits (card numbers, PINs) are stored as count and times only, unless the line needs them (order entry).
  const digitsId = nextId('digits');
  const keepDigits = h('input', { type: 'checkbox', id: digitsId, checked: digitsKept === true, testid: `settings-keep-digits-${line.id}`, 'aria-describedby': `${digitsId}-hint` });
  const fs = h(
    'fieldset',
    { class: 'card fieldset', testid: `settings-line-${line.id}` },
    h('legend', null, `${line.name} (${line.id})`),
    h('div', { class: 'form-grid' }, field(t('settings.name'), name), field(t('settings.keep'), keep), sampleField),
    h('fieldset', { class: 'checks' }, h('legend', null, t('settings.purposes')), boxes.map((b) => b.el)),
    h('div', { class: 'check-row' }, keepDigits, h('label', { for: digitsId }, t('settings.keepDigits'))),
    h('p', { class: 'muted', id: `${digitsId}-hint` }, t('settings.keepDigitsHint')),
  );
  return {
    el: fs,
    value: () => {
      const announced = boxes.filter((b) => b.box.checked).map((b) => b.p);
      // Every field is sent, always: a partial line would leave the server to fill in the rest.
      const out = { id: line.id, name: name.value.trim(), keep: keep.value, sampleN: Math.round(Number(sampleN.value)), [purposesKey]: announced, keepDigits: keepDigits.checked };
      if (stored && Array.isArray(stored.keepPurposes)) {
        // A call may only be kept for a purpose the line announces.
        out.keepPurposes = stored.keepPurposes.filter((p) => announced.includes(p));
      }
      return out;
    },
    validate: () => {
      if (!name.value.trim()) return name;
      const n = Number(sampleN.value);
      if (keep.value === 'sample' && !(Number.isInteger(n) && n >= 2 && n <= 1000)) return sampleN;
      return null;
    },
  };
}

export default function settingsView() {
  const page = h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, t('settings.title')));
  const body = h('div', null, h('p', { class: 'muted' }, t('app.loading')));
  page.append(body);

  (async () => {
    let settings;
    let lines;
    try {
      [{ settings }, { lines }] = await Promise.all([get('/api/settings'), get('/api/lines')]);
    } catch (e) {
      body.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, e instanceof ApiError ? e.message : String(e)));
      return;
    }
    settings = settings || {};
    // docs/http-api.md names the announced purposes `purposes`; a server that reports its
    // settings with `announced` (the config schema's name) is answered in its own terms.
    const purposesKey = Array.isArray(settings.lines) && settings.lines.some((l) => l && 'announced' in l && !('purposes' in l)) ? 'announced' : 'purposes';
    const storedLines = Array.isArray(settings.lines) ? settings.lines : [];
    const lineForms = lines.map((l) => lineFieldset(l, purposesKey, purposesKey === 'announced' ? storedLines.find((x) => x && x.id === l.id) : null, storedLines.find((x) => x && x.id === l.id)?.keepDigits));
    const grace = h('input', { type: 'number', min: '0', max: '3600', step: '1', inputmode: 'numeric', value: String(settings.graceSeconds ?? 120), testid: 'settings-grace' });
    const language = h('select', { testid: 'settings-language' }, ['nl', 'en'].map((l) => h('option', { value: l, lang: l, selected: settings.language === l }, t(`lang.${l}`))));
    if (settings.language) language.value = settings.language;
    const err = errorBox('settings-error');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-large', testid: 'settings-save' }, t('settings.save'));
    const form = h(
      'form',
      {
        class: 'form',
        novalidate: true,
        onsubmit: async (ev) => {
          ev.preventDefault();
          for (const lf of lineForms) {
            const bad = lf.validate();
            if (bad) {
              bad.reportValidity();
              bad.focus();
              return;
            }
          }
          const g = Number(grace.value);
          if (!(Number.isInteger(g) && g >= 0 && g <= 3600)) {
            grace.reportValidity();
            grace.focus();
            return;
          }
          showError(err, '');
          submit.disabled = true;
          try {
            await put('/api/settings', { lines: lineForms.map((lf) => lf.value()), graceSeconds: g, language: language.value });
            toast(t('settings.saved'), 'ok');
            ctx.loadLines().catch(() => {});
          } catch (e) {
            showError(err, e instanceof ApiError ? e.message : String(e));
          } finally {
            submit.disabled = false;
          }
        },
      },
      h('h2', null, t('settings.lines')),
      lineForms.map((lf) => lf.el),
      h('h2', null, t('settings.general')),
      h('div', { class: 'card' }, h('div', { class: 'form-grid' }, field(t('settings.grace'), grace, t('settings.graceHint')), field(t('settings.language'), language))),
      err,
      h('div', { class: 'actions' }, submit),
    );
    body.replaceChildren(form);
  })();

  return { el: page, title: t('settings.title') };
}
