// Admin: the audit log.
import { t, fmtDateTime } from '../i18n.js';
import { h, errorBox, showError } from '../dom.js';
import { get, ApiError } from '../api.js';

function detailText(d) {
  if (d === undefined || d === null || d === '') return t('common.none');
  if (typeof d === 'string') return d;
  if (typeof d === 'object' && !Array.isArray(d)) {
    return Object.entries(d)
      .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(', ');
  }
  return JSON.stringify(d);
}

export default function auditView() {
  const tbody = h('tbody');
  const err = errorBox('audit-error');
  const status = h('p', { class: 'muted', role: 'status' }, t('app.loading'));
  const table = h(
    'table',
    { class: 'table audit-table', testid: 'audit-table', hidden: true },
    h('thead', null, h('tr', null, ['audit.seq', 'audit.at', 'audit.actor', 'audit.action', 'audit.target', 'audit.detail'].map((k) => h('th', { scope: 'col' }, t(k))))),
    tbody,
  );
  (async () => {
    try {
      const { entries } = await get('/api/audit?limit=200');
      status.textContent = entries.length ? '' : t('audit.empty');
      status.hidden = entries.length > 0;
      table.hidden = entries.length === 0;
      for (const e of entries) {
        const at = typeof e.at === 'number' || /^\d+$/.test(String(e.at)) ? Number(e.at) : Date.parse(e.at);
        tbody.append(
          h(
            'tr',
            { testid: 'audit-row' },
            h('td', { dataset: { label: t('audit.seq') }, class: 'num' }, String(e.seq)),
            h('td', { dataset: { label: t('audit.at') } }, Number.isNaN(at) ? String(e.at) : fmtDateTime(at)),
            h('td', { dataset: { label: t('audit.actor') } }, e.actor || t('common.none')),
            h('td', { dataset: { label: t('audit.action') } }, h('code', null, e.action)),
            h('td', { dataset: { label: t('audit.target') } }, e.target ? h('span', { class: 'mono' }, e.target) : t('common.none')),
            h('td', { dataset: { label: t('audit.detail') }, class: 'detail' }, detailText(e.detail)),
          ),
        );
      }
    } catch (e) {
      status.hidden = true;
      showError(err, e instanceof ApiError ? e.message : String(e));
    }
  })();
  return {
    el: h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, t('audit.title')), h('p', { class: 'lead' }, t('audit.intro')), h('p', null, h('a', { href: '/api/audit/export', class: 'btn', download: '', testid: 'audit-export' }, t('audit.export'))), err, status, h('div', { class: 'table-wrap card card-flush' }, table)),
    title: t('audit.title'),
  };
}
