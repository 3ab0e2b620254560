// Unlock the vault with a passphrase or the recovery key.
import { t } from '../i18n.js';
import { h, field, errorBox, toast, submitHandler } from '../dom.js';
import { post } from '../api.js';
import { ctx } from '../ctx.js';

export default function unlockView() {
  const page = h('section', { class: 'page page-narrow' }, h('h1', { tabindex: '-1' }, t('unlock.title')));
  if (ctx.state.vault === 'unlocked') {
    page.append(h('p', { class: 'ok-box', role: 'status' }, t('unlock.already')), h('p', null, h('a', { href: '#/dashboard', class: 'btn' }, t('unlock.toDashboard'))));
    return { el: page, title: t('unlock.title') };
  }
  const secret = h('input', { type: 'password', name: 'secret', autocomplete: 'current-password', required: true, testid: 'unlock-secret', spellcheck: 'false', autocapitalize: 'none' });
  const err = errorBox('unlock-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-large', testid: 'unlock-submit' }, t('unlock.submit'));
  const form = h(
    'form',
    {
      class: 'form card',
      novalidate: true,
      onsubmit: submitHandler({
        err, submit, busyLabel: t('unlock.busy'),
        checks: [[() => !secret.value.trim(), t('err.secretRequired'), secret]],
        run: async () => {
          await post('/api/unlock', { secret: secret.value.trim() });
          secret.value = '';
          await ctx.refreshState();
          toast(t('unlock.done'), 'ok');
          ctx.rerender();
        },
        onError: () => secret.select(),
      }),
    },
    h('p', { class: 'lead' }, t('unlock.intro')),
    // lets password managers tell whose passphrase this is
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: ctx.state.user ? ctx.state.user.name : '', hidden: true, readOnly: true, tabindex: '-1', 'aria-hidden': 'true' }),
    field(t('unlock.secret'), secret),
    err,
    h('div', { class: 'actions' }, submit),
  );
  page.append(form);
  queueMicrotask(() => secret.focus());
  return { el: page, title: t('unlock.title') };
}
