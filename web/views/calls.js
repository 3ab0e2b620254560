// Kept calls: filters (number when unlocked, date range, line) and a table linking to each call.
import { t, fmtDateTime, fmtDuration } from '../i18n.js';
import { h, clear, field, errorBox, showError } from '../dom.js';
import { get, ApiError } from '../api.js';
import { ctx } from '../ctx.js';
import { purposesText, keptByText, directionText, numbersText, unsyncedBadge } from './format.js';

// Filters survive going to a call and back.
const filters = { number: '', from: '', to: '', line: '' };

/** A date input's YYYY-MM-DD as the start (or end) of that day in local time, ISO 8601. */
export function dayBound(value, end) {
  if (!value) return '';
  const d = new Date(`${value}T${end ? '23:59:59.999' : '00:00:00.000'}`);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export default function callsView() {
  const unlocked = ctx.state.vault === 'unlocked';
  // Staff get only what My calls shows: no other party's number, so no number filter or column either.
  const staff = !ctx.can(['admin', 'manager', 'reviewer']);
  const number = h('input', { type: 'search', inputmode: 'tel', autocomplete: 'off', testid: 'filter-number', value: unlocked ? filters.number : '', disabled: !unlocked, 'aria-describedby': unlocked ? null : 'calls-locked-hint' });
  const from = h('input', { type: 'date', testid: 'filter-from', value: filters.from });
  const to = h('input', { type: 'date', testid: 'filter-to', value: filters.to });
  const line = h('select', { testid: 'filter-line' }, h('option', { value: '' }, t('calls.allLines')));
  const fillLines = () => {
    const keep = filters.line;
    while (line.options.length > 1) line.remove(1);
    for (const l of ctx.lines) line.append(h('option', { value: l.id, selected: l.id === keep }, l.name));
    line.value = keep;
  };
  fillLines();
  if (!ctx.lines.length) ctx.loadLines().then(fillLines, () => {});

  const err = errorBox('calls-error');
  const summary = h('p', { class: 'muted', role: 'status', testid: 'calls-summary' });
  const lockedHint = h('p', { class: 'hint-box', id: 'calls-locked-hint', testid: 'calls-locked-hint', hidden: unlocked }, t('calls.numberLocked'), ' ', h('a', { href: '#/unlock' }, t('banner.unlock')));
  if (!ctx.can(['admin', 'manager', 'reviewer'])) lockedHint.lastChild.remove();
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'table calls-table', testid: 'calls-table' },
    h('thead', null, h('tr', null, ['col.date', 'col.line', 'col.direction', staff ? null : 'col.numbers', 'col.duration', 'col.purposes', 'col.keptBy'].filter(Boolean).map((k) => h('th', { scope: 'col' }, t(k))))),
    tbody,
  );
  const searchBtn = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'calls-search' }, t('calls.search'));

  async function load() {
    filters.number = unlocked && !staff ? number.value.trim() : '';
    filters.from = from.value;
    filters.to = to.value;
    filters.line = line.value;
    const q = new URLSearchParams();
    if (filters.number) q.set('number', filters.number);
    if (filters.from) q.set('from', dayBound(filters.from, false));
    if (filters.to) q.set('to', dayBound(filters.to, true));
    if (filters.line) q.set('line', filters.line);
    showError(err, '');
    searchBtn.disabled = true;
    try {
      const qs = q.toString();
      const res = await get(`/api/calls${qs ? `?${qs}` : ''}`);
      renderRows(res.calls || [], Boolean(res.locked));
    } catch (e) {
      showError(err, e instanceof ApiError ? e.message : String(e));
    } finally {
      searchBtn.disabled = false;
    }
  }

  function renderRows(calls, locked) {
    clear(tbody);
    summary.textContent = calls.length ? t('calls.count', { n: calls.length }) : t('calls.empty');
    if (locked) summary.textContent += ` ${t('calls.hiddenNumbers')}`;
    table.hidden = calls.length === 0;
    for (const c of calls) {
      const href = `#/calls/${encodeURIComponent(c.id)}`;
      const nums = numbersText(c);
      const cell = (labelKey, ...content) => h('td', { dataset: { label: t(labelKey) } }, ...content);
      const row = h(
        'tr',
        { testid: 'call-row', dataset: { callId: c.id }, class: 'clickable' },
        cell('col.date', h('a', { href, class: 'row-link' }, fmtDateTime(c.startedAt)), c.clockSynced === false ? [' ', unsyncedBadge()] : null),
        cell('col.line', ctx.lineName(c.line)),
        cell('col.direction', directionText(c.direction)),
        staff ? null : cell('col.numbers', nums ? h('span', { class: 'mono' }, nums) : h('span', { class: 'muted' }, t('common.none'))),
        cell('col.duration', fmtDuration(c.durationMs)),
        cell('col.purposes', purposesText(c.purposes)),
        cell('col.keptBy', keptByText(c.keptBy), c.restricted ? [' ', h('span', { class: 'badge' }, t('calls.restricted'))] : null),
      );
      row.addEventListener('click', (ev) => {
        if (ev.target instanceof Element && ev.target.closest('a')) return;
        if (window.getSelection && String(window.getSelection()).length) return;
        ctx.navigate(href);
      });
      tbody.append(row);
    }
  }

  const form = h(
    'form',
    {
      class: 'filters card',
      role: 'search',
      'aria-label': t('calls.filters'),
      onsubmit: (ev) => {
        ev.preventDefault();
        load();
      },
    },
    h(
      'div',
      { class: 'filter-grid' },
      staff ? null : field(t('calls.number'), number),
      field(t('calls.from'), from),
      field(t('calls.to'), to),
      field(t('calls.line'), line),
    ),
    h(
      'div',
      { class: 'actions' },
      searchBtn,
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn-quiet',
          testid: 'calls-clear',
          onclick: () => {
            number.value = '';
            from.value = '';
            to.value = '';
            line.value = '';
            load();
          },
        },
        t('calls.clear'),
      ),
    ),
  );
  line.addEventListener('change', () => load());

  load();
  return {
    el: h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, t('calls.title')), lockedHint, form, err, summary, h('div', { class: 'table-wrap' }, table)),
    title: t('calls.title'),
  };
}
