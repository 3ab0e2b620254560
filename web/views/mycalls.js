// Staff view: which of my calls were kept this week / month, and for what; no audio, no numbers.
import { t, fmtDateTime, fmtDuration } from '../i18n.js';
import { h, errorBox, showError } from '../dom.js';
import { get, ApiError } from '../api.js';
import { purposesText, keptByText, directionText } from './format.js';

export default function myCallsView() {
  const err = errorBox('mycalls-error');
  const status = h('p', { class: 'muted', role: 'status', testid: 'mycalls-status' }, t('app.loading'));
  const intro = h('p', { class: 'lead' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'table', testid: 'mycalls-table', hidden: true },
    h('thead', null, h('tr', null, ['mycalls.when', 'call.duration', 'call.direction', 'call.purposes', 'mycalls.why', 'mycalls.held'].map((k) => h('th', { scope: 'col' }, t(k))))),
    tbody,
  );
  const periods = ['week', 'month'];
  let period = 'week';
  const tabs = h('div', { class: 'lang-toggle', role: 'group' }, periods.map((p) => h('button', {
    type: 'button', class: 'lang-btn', testid: `mycalls-${p}`, 'aria-pressed': String(p === period),
    onclick: (ev) => { period = p; for (const b of tabs.children) b.setAttribute('aria-pressed', String(b === ev.currentTarget)); load(); },
  }, t(`mycalls.${p}`))));

  async function load() {
    showError(err, '');
    try {
      const r = await get(`/api/mycalls?period=${period}`);
      intro.textContent = r.extension ? t('mycalls.intro', { ext: r.extension }) : '';
      const cell = (k, v) => h('td', { dataset: { label: t(k) } }, v);
      tbody.replaceChildren(...r.calls.map((c) => h(
        'tr', { testid: 'mycall-row', dataset: { id: c.id, keptBy: c.keptBy } },
        cell('mycalls.when', fmtDateTime(c.startedAt)),
        cell('call.duration', fmtDuration(c.durationMs)),
        cell('call.direction', directionText(c.direction)),
        cell('call.purposes', purposesText(c.purposes)),
        cell('mycalls.why', c.keptBy === 'sample' ? t('mycalls.sampled') : keptByText(c.keptBy)),
        cell('mycalls.held', c.held ? t('common.yes') : t('common.no')),
      )));
      table.hidden = r.calls.length === 0;
      wrap.hidden = table.hidden;
      status.textContent = !r.extension ? t('mycalls.noExtension') : r.locked ? t('mycalls.locked') : r.calls.length ? t('mycalls.count', { n: r.calls.length }) : t('mycalls.empty');
    } catch (e) {
      status.textContent = '';
      showError(err, e instanceof ApiError ? e.message : String(e));
    }
  }
  const wrap = h('div', { class: 'table-wrap card card-flush', hidden: true }, table);
  load();
  return { el: h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, t('mycalls.title')), intro, tabs, err, status, wrap), title: t('mycalls.title') };
}
