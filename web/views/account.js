// Change one's own passphrase: rewraps the keyslot on the box and ends this user's other sessions.
import { t } from '../i18n.js';
import { h, field, errorBox, toast, submitHandler } from '../dom.js';
import { post } from '../api.js';
import { ctx } from '../ctx.js';
import { MIN_PASSPHRASE } from './setup.js';

export default function accountView() {
  const page = h('section', { class: 'page page-narrow' }, h('h1', { tabindex: '-1' }, t('account.title')));
  const current = h('input', { type: 'password', name: 'current', autocomplete: 'current-password', required: true, testid: 'account-current' });
  const next = h('input', { type: 'password', name: 'next', autocomplete: 'new-password', required: true, minlength: String(MIN_PASSPHRASE), testid: 'account-next' });
  const repeat = h('input', { type: 'password', name: 'repeat', autocomplete: 'new-password', required: true, minlength: String(MIN_PASSPHRASE), testid: 'account-repeat' });
  const err = errorBox('account-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'account-submit' }, t('account.submit'));
  const form = h(
    'form',
    {
      class: 'form card',
      novalidate: true,
      onsubmit: submitHandler({
        err, submit, busyLabel: t('account.busy'),
        checks: [
          [() => !current.value, t('err.secretRequired'), current],
          [() => next.value.length < MIN_PASSPHRASE, t('err.tooShort'), next],
          [() => next.value !== repeat.value, t('err.mismatch'), repeat],
        ],
        run: async () => {
          await post('/api/me/passphrase', { current: current.value, next: next.value });
          current.value = '';
          next.value = '';
          repeat.value = '';
          toast(t('account.done'), 'ok');
        },
      }),
    },
    h('p', { class: 'lead' }, t('account.intro')),
    // lets password managers tell whose passphrase this is
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: ctx.state.user ? ctx.state.user.name : '', hidden: true, readOnly: true, tabindex: '-1', 'aria-hidden': 'true' }),
    field(t('account.current'), current),
    field(t('account.next'), next, t('setup.hint')),
    field(t('account.repeat'), repeat),
    err,
    h('div', { class: 'actions' }, submit),
  );
  page.append(form);
  return { el: page, title: t('account.title') };
}
