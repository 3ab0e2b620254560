// Log in; errors (wrong passphrase, 429 too many attempts) come from the API message.
import { t } from '../i18n.js';
import { h, field, errorBox, submitHandler } from '../dom.js';
import { post } from '../api.js';
import { ctx } from '../ctx.js';

export default function loginView() {
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true, testid: 'login-username', autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { type: 'password', name: 'passphrase', autocomplete: 'current-password', required: true, testid: 'login-passphrase' });
  const err = errorBox('login-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-large', testid: 'login-submit' }, t('login.submit'));
  const form = h(
    'form',
    {
      class: 'form card',
      novalidate: true,
      onsubmit: submitHandler({
        err, submit, busyLabel: t('login.busy'),
        checks: [[() => !username.value.trim(), t('err.usernameRequired'), username]],
        run: async () => {
          await post('/api/login', { username: username.value.trim(), passphrase: pass.value });
          pass.value = '';
          await ctx.refreshState();
          ctx.navigate('#/dashboard');
        },
        onError: () => pass.select(),
      }),
    },
    field(t('login.username'), username),
    field(t('login.passphrase'), pass),
    err,
    h('div', { class: 'actions' }, submit),
  );
  queueMicrotask(() => username.focus());
  return { el: h('section', { class: 'page page-narrow' }, h('h1', { tabindex: '-1' }, t('login.title')), form), title: t('login.title') };
}
