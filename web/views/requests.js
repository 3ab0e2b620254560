// Managers: the register of data-subject requests (access, erasure, note, restriction) with deadlines and exports.
import { t, fmtNumber, locale } from '../i18n.js';
import { h, clear, append, field, errorBox, showError, toast, confirmDialog, busy, submitHandler } from '../dom.js';
import { get, post, api, ApiError } from '../api.js';
import { ctx } from '../ctx.js';

const KINDS = ['access', 'erasure', 'note', 'restriction'];
const MANAGERS = ['admin', 'manager'];
/** export job per request, kept while the page is open in this tab */
const jobs = new Map();

const fmtDay = (day) => new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(`${day}T00:00:00Z`));
const today = () => new Date().toISOString().slice(0, 10);
const daysBetween = (a, b) => Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
const errText = (e) => (e instanceof ApiError ? e.message : String(e));

/** The box gives reasons in English; the common ones are shown in the page's language. */
function reasonText(reason) {
  if (!reason) return '';
  let m = /^legal obligation: kept until (\d{4}-\d{2}-\d{2})/.exec(reason);
  if (m) return t('req.reason.legal', { date: fmtDay(m[1]) });
  if (/^legal obligation: kept until released/.test(reason)) return t('req.reason.legalOpen');
  m = /^legal hold(?:: (.*))?$/.exec(reason);
  if (m) return t('req.reason.hold');
  if (reason === 'no legal obligation or legal hold stops erasure') return t('req.reason.free');
  return reason;
}

/** Dashboard notice: how many requests are past their deadline (managers only; no unlock needed). */
export function overdueNotice() {
  const el = h('p', { class: 'banner banner-warn', role: 'status', testid: 'requests-overdue', hidden: true });
  if (!ctx.can(MANAGERS)) return el;
  get('/api/requests/summary').then((s) => {
    if (!s || !s.overdue) return;
    el.append(h('span', { class: 'banner-text' }, t('dash.overdueRequests', { n: fmtNumber(s.overdue) })), ' ', h('a', { href: '#/requests', class: 'banner-link' }, t('dash.toRequests')));
    el.hidden = false;
  }, () => undefined);
  return el;
}

function subjectText(r) {
  const p = r.personal;
  if (!p) return t('req.hidden');
  const who = p.subject.kind === 'staff' ? t('req.extensionShort', { ext: p.subject.extension }) : p.subject.numbers.join(', ');
  return p.name ? `${p.name} · ${who}` : who;
}

function deadlineCell(r) {
  const left = daysBetween(today(), r.deadline);
  const open = r.status === 'open' || r.status === 'in-progress';
  return h(
    'span',
    null,
    h('span', { testid: `deadline-${r.id}` }, fmtDay(r.deadline)),
    ' ',
    r.overdue
      ? h('span', { class: 'badge badge-bad', testid: `overdue-${r.id}` }, t('req.overdue'))
      : open ? h('span', { class: left <= 7 ? 'badge badge-warn' : 'badge' }, t('req.daysLeft', { n: fmtNumber(left) })) : null,
  );
}

function resultsList(r) {
  const res = r.personal && r.personal.results;
  if (!res || !res.length) return null;
  return h(
    'ul',
    { class: 'request-results', testid: `results-${r.id}` },
    res.map((x) => h('li', { 'data-action': x.action, testid: `result-${x.callId}` },
      h('a', { href: `#/calls/${encodeURIComponent(x.callId)}`, class: 'mono' }, x.callId), ': ',
      h('strong', null, t(`req.result.${x.action}`)),
      x.reason && x.action !== 'erased' ? [' — ', reasonText(x.reason)] : null)),
  );
}

export default function requestsView() {
  const unlocked = ctx.state.vault === 'unlocked';
  const tbody = h('tbody');
  const listErr = errorBox('requests-error');
  const status = h('p', { class: 'muted', role: 'status' }, t('app.loading'));
  const timers = new Set();
  let alive = true;

  function exportBox(requestId, job) {
    const bar = h('progress', { max: '1', value: '0', testid: `progress-${requestId}` });
    const text = h('span', { class: 'muted', role: 'status' });
    const boxEl = h('div', { class: 'export-progress', testid: `export-${requestId}` }, bar, ' ', text);
    const show = (j) => {
      const p = j.progress;
      bar.max = String(Math.max(1, p.bytesTotal));
      bar.value = String(p.bytesDone);
      text.textContent = t('req.progress', { files: fmtNumber(p.filesDone), total: fmtNumber(p.filesTotal), mb: fmtNumber(p.bytesDone / 1e6, { maximumFractionDigits: 1 }) });
      if (j.state === 'done') {
        bar.value = bar.max;
        boxEl.append(' ', h('a', { class: 'btn btn-small btn-primary', href: `/api/exports/${j.id}/download`, download: '', testid: `download-${requestId}` }, t('req.download')));
      } else if (j.state === 'failed') {
        text.textContent = t('req.exportFailed', { message: j.error ? j.error.message : '' });
      }
    };
    show(job);
    const poll = async () => {
      if (!alive) return;
      try {
        const { job: j } = await get(`/api/exports/${job.id}`);
        jobs.set(requestId, j);
        // Once finished the whole list is redrawn: the request's status and results changed with it.
        if (j.state === 'running') { show(j); const tm = setTimeout(poll, 400); timers.add(tm); } else void load(false);
      } catch (e) {
        text.textContent = errText(e);
      }
    };
    if (job.state === 'running') { const tm = setTimeout(poll, 300); timers.add(tm); }
    return boxEl;
  }

  async function act(r, btn, body) {
    if (r.kind === 'erasure' && !(await confirmDialog(t('req.confirmErase'), t('req.act.erasure')))) return;
    try {
      const out = await busy(btn, () => post(`/api/requests/${r.id}/act`, body));
      if (out.job) jobs.set(r.id, out.job);
      toast(t('req.acted', { id: r.id }), 'ok');
      await load(false);
    } catch (e) {
      toast(errText(e), 'error');
    }
  }

  function actions(r) {
    const out = [];
    if (!unlocked) return t('req.needsUnlock');
    const open = r.status === 'open' || r.status === 'in-progress';
    const restricted = r.kind === 'restriction' && r.personal && (r.personal.results || []).some((x) => x.action === 'restricted');
    if (open || r.kind === 'access') {
      const btn = h('button', { type: 'button', class: 'btn btn-small btn-primary', testid: `act-${r.id}` }, t(`req.act.${r.kind}`));
      let lang = null;
      if (r.kind === 'access') {
        lang = h('select', { testid: `lang-${r.id}`, 'aria-label': t('req.exportLang') }, ['nl', 'en'].map((l) => h('option', { value: l }, t(`lang.${l}`))));
        out.push(lang, ' ');
      }
      btn.addEventListener('click', () => act(r, btn, lang ? { lang: lang.value } : {}));
      if (r.status !== 'rejected') out.push(btn);
    }
    if (restricted) {
      const lift = h('button', { type: 'button', class: 'btn btn-small', testid: `lift-${r.id}` }, t('req.act.lift'));
      lift.addEventListener('click', () => act(r, lift, { lift: true }));
      out.push(' ', lift);
    }
    const edit = h('button', { type: 'button', class: 'btn btn-small btn-quiet', testid: `outcome-edit-${r.id}` }, t('req.outcomeEdit'));
    edit.addEventListener('click', () => {
      const row = edit.closest('tr');
      if (!row || (row.nextElementSibling && row.nextElementSibling.classList.contains('outcome-form-row'))) return;
      const text = h('textarea', { rows: '2', maxlength: '4000', testid: `outcome-text-${r.id}`, 'aria-label': t('req.outcome') });
      text.value = (r.personal && r.personal.outcome) || '';
      const save = h('button', { type: 'submit', class: 'btn btn-small btn-primary', testid: `outcome-save-${r.id}` }, t('req.outcomeSave'));
      const form = h('form', {
        class: 'form', onsubmit: async (ev) => {
          ev.preventDefault();
          try {
            await busy(save, () => api('PATCH', `/api/requests/${r.id}`, { outcome: text.value.trim() }));
            await load(false);
          } catch (e) {
            toast(errText(e), 'error');
          }
        },
      }, field(t('req.outcome'), text), save);
      row.after(h('tr', { class: 'outcome-form-row' }, h('td', { colspan: '7' }, form)));
      text.focus();
    });
    out.push(' ', edit);
    if (open) {
      const rej = h('button', { type: 'button', class: 'btn btn-small btn-quiet', testid: `reject-${r.id}` }, t('req.reject'));
      rej.addEventListener('click', async () => {
        if (!(await confirmDialog(t('req.confirmReject', { id: r.id }), t('req.reject')))) return;
        try {
          await busy(rej, () => api('PATCH', `/api/requests/${r.id}`, { status: 'rejected' }));
          await load(false);
        } catch (e) {
          toast(errText(e), 'error');
        }
      });
      out.push(' ', rej);
    }
    return out;
  }

  async function load(first = true) {
    try {
      const { requests } = await get('/api/requests');
      if (!alive) return;
      clear(tbody);
      status.hidden = requests.length > 0;
      status.textContent = requests.length ? '' : t('req.empty');
      for (const r of requests) {
        const job = jobs.get(r.id);
        const detail = [r.personal && r.personal.outcome ? h('p', { testid: `outcome-${r.id}` }, h('strong', null, t('req.outcome')), ': ', r.personal.outcome) : null, resultsList(r), job ? exportBox(r.id, job) : null].filter(Boolean);
        append(tbody, [
          h('tr', { testid: 'request-row', 'data-id': r.id, class: r.overdue ? 'row-overdue' : null },
            h('td', { dataset: { label: t('req.id') }, class: 'mono' }, r.id),
            h('td', { dataset: { label: t('req.kind') } }, t(`req.kind.${r.kind}`)),
            h('td', { dataset: { label: t('req.subject') } }, subjectText(r)),
            h('td', { dataset: { label: t('req.received') } }, fmtDay(r.received)),
            h('td', { dataset: { label: t('req.deadline') } }, deadlineCell(r)),
            h('td', { dataset: { label: t('req.status') }, testid: `status-${r.id}` }, t(`req.status.${r.status}`)),
            h('td', { dataset: { label: t('req.actions') } }, actions(r)),
          ),
          detail.length ? h('tr', { class: 'request-detail' }, h('td', { colspan: '7' }, detail)) : null,
        ]);
      }
      showError(listErr, '');
    } catch (e) {
      status.hidden = true;
      if (first || alive) showError(listErr, errText(e));
    }
  }

  // New request form.
  const kind = h('select', { testid: 'req-kind' }, KINDS.map((k) => h('option', { value: k }, t(`req.kind.${k}`))));
  const who = h('select', { testid: 'req-who' }, h('option', { value: 'customer' }, t('req.subject.customer')), h('option', { value: 'staff' }, t('req.subject.staff')));
  const numbers = h('input', { type: 'text', inputmode: 'tel', autocomplete: 'off', testid: 'req-numbers' });
  const ext = h('input', { type: 'text', inputmode: 'numeric', maxlength: '8', autocomplete: 'off', testid: 'req-extension' });
  const name = h('input', { type: 'text', maxlength: '200', autocomplete: 'off', testid: 'req-name' });
  const received = h('input', { type: 'date', value: today(), max: today(), required: true, testid: 'req-received' });
  const details = h('textarea', { rows: '2', maxlength: '4000', testid: 'req-details' });
  const note = h('textarea', { rows: '3', maxlength: '4000', testid: 'req-note' });
  const numbersField = field(t('req.numbers'), numbers, t('req.numbersHint'));
  const extField = field(t('req.extension'), ext);
  const noteField = field(t('req.note'), note);
  const deadlineHint = h('p', { class: 'hint', testid: 'req-deadline-hint' });
  const sync = () => {
    numbersField.hidden = who.value !== 'customer';
    extField.hidden = who.value !== 'staff';
    noteField.hidden = kind.value !== 'note';
    const d = /^\d{4}-\d{2}-\d{2}$/.test(received.value) ? new Date(`${received.value}T00:00:00Z`) : null;
    if (d) {
      const y = d.getUTCFullYear();
      const m = d.getUTCMonth() + 1;
      const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
      deadlineHint.textContent = t('req.deadlineHint', { date: fmtDay(new Date(Date.UTC(y, m, Math.min(d.getUTCDate(), last))).toISOString().slice(0, 10)) });
    }
  };
  for (const el of [kind, who, received]) el.addEventListener('change', sync);
  sync();
  const err = errorBox('req-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'req-create' }, t('req.create'));
  const form = h(
    'form',
    {
      class: 'form card', novalidate: true, testid: 'req-form',
      onsubmit: submitHandler({
        err, submit,
        checks: [
          [() => !received.value, t('req.err.received'), received],
          [() => (who.value === 'customer' ? !numbers.value.trim() : !ext.value.trim()), t('req.err.subject'), who.value === 'customer' ? numbers : ext],
          [() => kind.value === 'note' && !note.value.trim(), t('req.err.note'), note],
        ],
        run: async () => {
          const body = { kind: kind.value, received: received.value };
          if (who.value === 'customer') body.numbers = numbers.value.split(/[,;]/).map((s) => s.trim()).filter(Boolean);
          else body.extension = ext.value.trim();
          if (name.value.trim()) body.name = name.value.trim();
          if (details.value.trim()) body.details = details.value.trim();
          if (kind.value === 'note') body.note = note.value.trim();
          const { request } = await post('/api/requests', body);
          toast(t('req.created', { id: request.id, date: fmtDay(request.deadline) }), 'ok');
          for (const el of [numbers, ext, name, details, note]) el.value = '';
          await load(false);
        },
      }),
    },
    h('h2', null, t('req.new')),
    h('div', { class: 'form-grid' }, field(t('req.kind'), kind), field(t('req.subjectType'), who), numbersField, extField, field(t('req.name'), name), field(t('req.received'), received)),
    deadlineHint,
    field(t('req.details'), details),
    noteField,
    err,
    h('div', { class: 'actions' }, submit),
  );

  const table = h(
    'table',
    { class: 'table', testid: 'requests-table' },
    h('thead', null, h('tr', null, ['req.id', 'req.kind', 'req.subject', 'req.received', 'req.deadline', 'req.status', 'req.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
    tbody,
  );
  void load();
  return {
    el: h(
      'section',
      { class: 'page' },
      h('h1', { tabindex: '-1' }, t('req.title')),
      h('p', { class: 'lead' }, t('req.intro')),
      unlocked ? null : h('p', { class: 'banner banner-info', testid: 'req-locked' }, t('req.locked')),
      listErr,
      status,
      h('div', { class: 'table-wrap card card-flush' }, table),
      form,
    ),
    title: t('req.title'),
    destroy: () => {
      alive = false;
      for (const tm of timers) clearTimeout(tm);
    },
  };
}
