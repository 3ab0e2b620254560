// Call page: place a legal hold on this one recording (managers); release happens on the privacy page.
import { t } from '../i18n.js';
import { h, field, errorBox, showError, toast, busy } from '../dom.js';
import { ApiError } from '../api.js';

export function holdBox(call, post, done) {
  const reason = h('input', { type: 'text', maxlength: '500', testid: 'call-hold-reason' });
  const caseRef = h('input', { type: 'text', maxlength: '120', testid: 'call-hold-case' });
  const err = errorBox('call-hold-error');
  const submit = h('button', { type: 'submit', class: 'btn', testid: 'call-hold-place' }, t('hold.place'));
  return h(
    'form',
    {
      class: 'form card', novalidate: true, testid: 'call-hold',
      onsubmit: async (ev) => {
        ev.preventDefault();
        if (!reason.value.trim() || !caseRef.value.trim()) { showError(err, t('hold.needText')); (reason.value.trim() ? caseRef : reason).focus(); return; }
        showError(err, '');
        try {
          await busy(submit, () => post('/api/holds', { kind: 'call', callId: call.id, reason: reason.value.trim(), caseRef: caseRef.value.trim() }));
          toast(t('hold.placed', { n: 1 }), 'ok');
          done();
        } catch (e) {
          showError(err, e instanceof ApiError ? e.message : String(e));
        }
      },
    },
    h('h2', null, t('call.holdTitle')),
    h('p', { class: 'muted' }, t('call.holdIntro')),
    h('div', { class: 'form-grid' }, field(t('hold.reason'), reason), field(t('hold.caseRef'), caseRef)),
    err,
    h('div', { class: 'actions' }, submit),
  );
}
