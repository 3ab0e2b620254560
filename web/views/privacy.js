// Privacy: legal holds (place on a number, propose / confirm / withdraw release), retention per purpose,
// exclusion list and the role → purposes matrix. Managers see it all; only administrators change settings.
import { t, fmtDateTime } from '../i18n.js';
import { h, field, errorBox, showError, toast, busy, confirmDialog, nextId } from '../dom.js';
import { get, post, put, ApiError } from '../api.js';
import { ctx } from '../ctx.js';
import { PURPOSES } from './settings.js';

const LEGAL_YEARS = [[5, 1826], [6, 2191], [7, 2557]];
const ROLES = ['admin', 'manager', 'reviewer'];
const errText = (e) => (e instanceof ApiError ? e.message : String(e));

function holdsSection() {
  const err = errorBox('holds-error');
  const status = h('p', { class: 'muted', role: 'status' }, t('app.loading'));
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'table', testid: 'holds-table', hidden: true },
    h('thead', null, h('tr', null, ['hold.id', 'hold.target', 'hold.reason', 'hold.caseRef', 'hold.placedAt', 'hold.calls', 'hold.status', 'hold.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
    tbody,
  );
  const me = () => ctx.state?.user?.name;

  const act = async (btn, path, okKey) => {
    showError(err, '');
    try {
      await busy(btn, () => post(path));
      toast(t(okKey), 'ok');
      await load();
    } catch (e) {
      showError(err, errText(e));
    }
  };

  function row(hd) {
    const sealed = h('span', { class: 'muted' }, t('hold.sealed'));
    const target = hd.kind === 'call'
      ? h('span', null, `${t('hold.kind.call')} `, h('a', { href: `#/calls/${encodeURIComponent(hd.callId)}`, class: 'mono' }, hd.callId))
      : h('span', null, `${t('hold.kind.number')} `, hd.number ? h('span', { class: 'mono' }, hd.number) : sealed.cloneNode(true));
    const statusText = [t(`hold.status.${hd.status}`)];
    if (hd.status === 'release-proposed') statusText.push(` (${t('hold.proposedBy', { name: hd.proposedBy })})`);
    if (hd.status === 'released') statusText.push(` (${t('hold.releasedBy', { name: hd.releasedBy })})`);
    const actions = [];
    if (hd.status === 'active') {
      const b = h('button', { type: 'button', class: 'btn btn-small', testid: `hold-propose-${hd.id}` }, t('hold.propose'));
      b.addEventListener('click', () => act(b, `/api/holds/${hd.id}/propose-release`, 'hold.proposed'));
      actions.push(b);
    } else if (hd.status === 'release-proposed') {
      // The proposer sees the confirm button too: the server refuses with the reason, which is clearer than a missing button.
      const c = h('button', { type: 'button', class: 'btn btn-small btn-danger', testid: `hold-confirm-${hd.id}`, title: hd.proposedBy === me() ? t('hold.proposed') : null }, t('hold.confirm'));
      c.addEventListener('click', async () => {
        if (!(await confirmDialog(t('hold.confirmQ', { id: hd.id }), t('hold.confirm')))) return;
        await act(c, `/api/holds/${hd.id}/confirm-release`, 'hold.released');
      });
      const w = h('button', { type: 'button', class: 'btn btn-small btn-quiet', testid: `hold-withdraw-${hd.id}` }, t('hold.withdraw'));
      w.addEventListener('click', () => act(w, `/api/holds/${hd.id}/withdraw-release`, 'hold.withdrawn'));
      actions.push(c, ' ', w);
    }
    const cell = (k, ...c) => h('td', { dataset: { label: t(k) } }, ...c);
    return h(
      'tr',
      { testid: `hold-row-${hd.id}`, dataset: { status: hd.status, kind: hd.kind } },
      cell('hold.id', h('span', { class: 'mono' }, hd.id)),
      cell('hold.target', target),
      cell('hold.reason', hd.sealed ? sealed.cloneNode(true) : hd.reason),
      cell('hold.caseRef', hd.sealed ? sealed.cloneNode(true) : hd.caseRef),
      cell('hold.placedAt', fmtDateTime(hd.placedAt), ' ', h('span', { class: 'muted' }, t('hold.by', { name: hd.placedBy }))),
      cell('hold.calls', String(hd.calls)),
      cell('hold.status', h('span', { testid: `hold-status-${hd.id}` }, ...statusText)),
      cell('hold.actions', ...actions),
    );
  }

  async function load() {
    try {
      const { holds, locked } = await get('/api/holds');
      tbody.replaceChildren(...holds.map(row));
      table.hidden = holds.length === 0;
      wrap.hidden = table.hidden;
      status.hidden = holds.length > 0 && !locked;
      status.textContent = holds.length === 0 ? t('privacy.holdsEmpty') : locked ? t('privacy.holdsLocked') : '';
    } catch (e) {
      status.hidden = true;
      showError(err, errText(e));
    }
  }

  // A hold on one recording is placed from its call page; a number hold from here.
  const number = h('input', { type: 'tel', maxlength: '32', autocomplete: 'off', testid: 'hold-number' });
  const reason = h('input', { type: 'text', maxlength: '500', testid: 'hold-reason' });
  const caseRef = h('input', { type: 'text', maxlength: '120', testid: 'hold-case' });
  const placeErr = errorBox('hold-place-error');
  const placeBtn = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'hold-place' }, t('hold.place'));
  const locked = ctx.state?.vault !== 'unlocked';
  const form = h(
    'form',
    {
      class: 'form card', novalidate: true,
      onsubmit: async (ev) => {
        ev.preventDefault();
        if (!number.value.trim()) { showError(placeErr, t('hold.needNumber')); number.focus(); return; }
        if (!reason.value.trim() || !caseRef.value.trim()) { showError(placeErr, t('hold.needText')); (reason.value.trim() ? caseRef : reason).focus(); return; }
        showError(placeErr, '');
        try {
          const { hold } = await busy(placeBtn, () => post('/api/holds', { kind: 'number', number: number.value.trim(), reason: reason.value.trim(), caseRef: caseRef.value.trim() }));
          toast(t('hold.placed', { n: hold.calls }), 'ok');
          number.value = '';
          reason.value = '';
          caseRef.value = '';
          await load();
        } catch (e) {
          showError(placeErr, errText(e));
        }
      },
    },
    h('h3', null, t('hold.placeNumber')),
    locked ? h('p', { class: 'hint-box' }, t('hold.numberLocked')) : null,
    h('div', { class: 'form-grid' }, field(t('hold.number'), number, t('hold.numberHint')), field(t('hold.reason'), reason), field(t('hold.caseRef'), caseRef)),
    placeErr,
    h('div', { class: 'actions' }, placeBtn),
  );
  const wrap = h('div', { class: 'table-wrap card card-flush', hidden: true }, table);
  load();
  return h('section', { 'aria-labelledby': 'holds-h' }, h('h2', { id: 'holds-h' }, t('privacy.holds')), h('p', { class: 'lead' }, t('privacy.holdsIntro')), err, status, wrap, form);
}

/** One purpose's retention editor; value() gives the policy object validateRetention expects. */
function retentionRow(purpose, policy, readOnly) {
  const dis = readOnly || null;
  if (purpose === 'legal-obligation') {
    const days = policy.kind === 'days' ? policy.days : 1826;
    const known = LEGAL_YEARS.some(([, d]) => d === days);
    const sel = h('select', { testid: 'ret-legal-years', disabled: dis },
      LEGAL_YEARS.map(([y, d]) => h('option', { value: String(d), selected: d === days }, t('ret.years', { n: y }))),
      known ? null : h('option', { value: String(days), selected: true }, t('ret.custom', { n: days })));
    sel.value = String(days);
    return { el: h('fieldset', { class: 'card fieldset', testid: `ret-${purpose}` }, h('legend', null, t(`purpose.${purpose}`)), field(t('ret.legal'), sel, t('ret.legalHint'))), value: () => ({ kind: 'days', days: Number(sel.value) }), validate: () => null };
  }
  const kinds = ['days', 'until-date', 'until-released'];
  const kind = h('select', { testid: `ret-kind-${purpose}`, disabled: dis }, kinds.map((k) => h('option', { value: k, selected: policy.kind === k }, t(`ret.kind.${k}`))));
  kind.value = policy.kind;
  const days = h('input', { type: 'number', min: '1', max: '2557', step: '1', inputmode: 'numeric', value: String(policy.kind === 'days' ? policy.days : 90), testid: `ret-days-${purpose}`, disabled: dis });
  const dateVal = policy.kind === 'until-date' && policy.date !== undefined ? new Date(policy.date).toISOString().slice(0, 10) : '';
  const date = h('input', { type: 'date', value: dateVal, testid: `ret-date-${purpose}`, disabled: dis });
  const review = h('input', { type: 'number', min: '1', max: '2557', step: '1', inputmode: 'numeric', value: policy.kind === 'until-released' && policy.reviewEvery ? String(policy.reviewEvery) : '', testid: `ret-review-${purpose}`, disabled: dis });
  const fDays = field(t('ret.days'), days);
  const fDate = field(t('ret.date'), date, t('ret.dateHint'));
  const fReview = field(t('ret.review'), review, t('ret.reviewHint'));
  const sync = () => { fDays.hidden = kind.value !== 'days'; fDate.hidden = kind.value !== 'until-date'; fReview.hidden = kind.value !== 'until-released'; };
  kind.addEventListener('change', sync);
  sync();
  const whole = (el) => { const n = Number(el.value); return Number.isInteger(n) && n >= 1 && n <= 2557; };
  return {
    el: h('fieldset', { class: 'card fieldset', testid: `ret-${purpose}` }, h('legend', null, t(`purpose.${purpose}`)), h('div', { class: 'form-grid' }, field(t('ret.kind'), kind), fDays, fDate, fReview)),
    value: () => {
      if (kind.value === 'days') return { kind: 'days', days: Number(days.value) };
      if (kind.value === 'until-date') return date.value ? { kind: 'until-date', date: Date.parse(`${date.value}T00:00:00Z`) } : { kind: 'until-date' };
      return review.value ? { kind: 'until-released', reviewEvery: Number(review.value) } : { kind: 'until-released' };
    },
    validate: () => (kind.value === 'days' && !whole(days) ? days : kind.value === 'until-released' && review.value && !whole(review) ? review : null),
  };
}

function settingsSection(settings, readOnly) {
  const err = errorBox('privacy-error');
  const rows = PURPOSES.map((p) => retentionRow(p, settings.retention[p], readOnly));

  // Exclusion list: numbers are added and removed here and saved with the rest.
  const exclusions = [...settings.exclusions];
  // The list is sealed on the box (issue 10): while the vault is locked its numbers cannot be shown or changed.
  const exLocked = !!settings.exclusionsLocked;
  const list = h('ul', { class: 'plain-list', testid: 'exclusion-list' });
  const drawList = () => {
    list.replaceChildren(...(exclusions.length ? exclusions.map((n) => h('li', { testid: `exclusion-${n}` }, h('span', { class: 'mono' }, n), ' ',
      readOnly || exLocked ? null : h('button', { type: 'button', class: 'btn btn-small btn-quiet', testid: `exclusion-remove-${n}`, 'aria-label': t('privacy.exclusionRemove', { number: n }), onclick: () => { exclusions.splice(exclusions.indexOf(n), 1); drawList(); } }, '×'))) : [h('li', { class: 'muted', testid: exLocked ? 'exclusions-locked' : null }, t(exLocked ? 'privacy.exclusionsLocked' : 'privacy.exclusionsEmpty'))]));
  };
  drawList();
  const exInput = h('input', { type: 'tel', maxlength: '21', testid: 'exclusion-input', disabled: readOnly || exLocked || null });
  const exAdd = h('button', { type: 'button', class: 'btn', testid: 'exclusion-add', disabled: readOnly || exLocked || null }, t('privacy.exclusionAdd'));
  exAdd.addEventListener('click', () => {
    const v = exInput.value.replace(/[\s\-().]/g, '');
    if (!/^\+?[0-9]{3,20}$/.test(v)) { showError(err, t('privacy.exclusionBad')); exInput.focus(); return; }
    showError(err, '');
    if (!exclusions.includes(v)) exclusions.push(v);
    exInput.value = '';
    drawList();
  });

  // Role matrix: one checkbox per role and purpose; staff is a fixed row.
  const boxes = {};
  const matrix = h(
    'table',
    { class: 'table', testid: 'role-matrix' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('privacy.rolePurpose')), [...ROLES, 'staff'].map((r) => h('th', { scope: 'col' }, t(`role.${r}`))))),
    h('tbody', null, PURPOSES.map((p) => h('tr', null, h('th', { scope: 'row' }, t(`purpose.${p}`)),
      ROLES.map((r) => {
        const id = nextId('rp');
        const b = h('input', { type: 'checkbox', id, checked: settings.rolePurposes[r].includes(p), testid: `role-${r}-${p}`, disabled: readOnly || null, 'aria-label': `${t(`role.${r}`)}: ${t(`purpose.${p}`)}` });
        (boxes[r] ??= []).push([p, b]);
        return h('td', null, b);
      }),
      h('td', { class: 'muted' }, t('privacy.staffFixed'))))),
  );

  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-large', testid: 'privacy-save' }, t('privacy.save'));
  const form = h(
    'form',
    {
      class: 'form', novalidate: true,
      onsubmit: async (ev) => {
        ev.preventDefault();
        for (const r of rows) {
          const bad = r.validate();
          if (bad) { showError(err, t('ret.badDays')); bad.focus(); return; }
        }
        showError(err, '');
        const retention = Object.fromEntries(PURPOSES.map((p, i) => [p, rows[i].value()]));
        const rolePurposes = Object.fromEntries(ROLES.map((r) => [r, boxes[r].filter(([, b]) => b.checked).map(([p]) => p)]));
        try {
          await busy(submit, () => put('/api/privacy/settings', { retention, exclusions, rolePurposes }));
          toast(t('privacy.saved'), 'ok');
        } catch (e) {
          showError(err, errText(e));
        }
      },
    },
    h('h2', { id: 'ret-h' }, t('privacy.retention')),
    h('p', { class: 'lead' }, t('privacy.retentionIntro')),
    rows.map((r) => r.el),
    h('h2', null, t('privacy.exclusions')),
    h('div', { class: 'card' }, h('p', null, t('privacy.exclusionsIntro')), list, h('div', { class: 'inline-form' }, field(t('privacy.exclusionNumber'), exInput), exAdd)),
    h('h2', null, t('privacy.roles')),
    h('p', { class: 'lead' }, t('privacy.rolesIntro')),
    h('div', { class: 'table-wrap card card-flush' }, matrix),
    err,
    readOnly ? h('p', { class: 'hint-box', testid: 'privacy-readonly' }, t('privacy.readOnly')) : h('div', { class: 'actions' }, submit),
  );
  return form;
}

export default function privacyView() {
  const body = h('div', null, h('p', { class: 'muted' }, t('app.loading')));
  const page = h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, t('privacy.title')), holdsSection(), body);
  (async () => {
    try {
      const { settings } = await get('/api/privacy/settings');
      body.replaceChildren(settingsSection(settings, !ctx.can(['admin'])));
    } catch (e) {
      body.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, errText(e)));
    }
  })();
  return { el: page, title: t('privacy.title') };
}
