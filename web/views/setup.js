// First start: create the admin account, then show the recovery key exactly once.
import { t } from '../i18n.js';
import { h, field, errorBox, submitHandler } from '../dom.js';
import { post } from '../api.js';
import { ctx } from '../ctx.js';
import { getLang } from '../i18n.js';

export const MIN_PASSPHRASE = 8;

function recoveryPanel() {
  const key = ctx.pendingRecoveryKey;
  const check = h('input', { type: 'checkbox', testid: 'recovery-confirm', id: 'recovery-confirm' });
  const cont = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-primary btn-large',
      testid: 'recovery-continue',
      disabled: true,
      onclick: () => {
        if (!check.checked) return;
        ctx.pendingRecoveryKey = null;
        ctx.navigate('#/dashboard');
      },
    },
    t('recovery.continue'),
  );
  check.addEventListener('change', () => {
    cont.disabled = !check.checked;
  });
  return h(
    'section',
    { class: 'page page-narrow recovery' },
    h('h1', { tabindex: '-1' }, t('recovery.title')),
    h('p', { class: 'warning-box', role: 'note' }, t('recovery.warning')),
    h('p', { class: 'visually-hidden', id: 'recovery-label' }, t('recovery.label')),
    h('output', { class: 'recovery-key', testid: 'recovery-key', 'aria-labelledby': 'recovery-label' }, key),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn no-print', testid: 'recovery-print', onclick: () => window.print() }, t('recovery.print'))),
    h('div', { class: 'check-row no-print' }, check, h('label', { for: 'recovery-confirm' }, t('recovery.confirm'))),
    h('div', { class: 'actions no-print' }, cont),
  );
}

export default function setupView() {
  if (ctx.pendingRecoveryKey) return { el: recoveryPanel(), title: t('recovery.title') };

  // Proof of being the box's owner (issue 10): the code the box printed to its log, unless the save button was held.
  const buttonArmed = !!(ctx.state && ctx.state.claim && ctx.state.claim.buttonArmed);
  const claim = h('input', { type: 'text', name: 'claim', autocomplete: 'off', required: !buttonArmed, testid: 'setup-claim', autocapitalize: 'characters', spellcheck: 'false', placeholder: 'XXXXX-XXXXX' });
  const username = h('input', { type: 'text', name: 'username', value: 'admin', autocomplete: 'username', required: true, testid: 'setup-username', autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { type: 'password', name: 'passphrase', autocomplete: 'new-password', required: true, minlength: String(MIN_PASSPHRASE), testid: 'setup-passphrase' });
  const repeat = h('input', { type: 'password', name: 'repeat', autocomplete: 'new-password', required: true, minlength: String(MIN_PASSPHRASE), testid: 'setup-repeat' });
  const err = errorBox('setup-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-large', testid: 'setup-submit' }, t('setup.submit'));
  const page = h('section', { class: 'page page-narrow' });

  const form = h(
    'form',
    {
      class: 'form card',
      novalidate: true,
      onsubmit: submitHandler({
        err, submit, busyLabel: t('setup.busy'),
        checks: [
          [() => !buttonArmed && !claim.value.trim(), t('err.claimRequired'), claim],
          [() => !username.value.trim(), t('err.usernameRequired'), username],
          [() => pass.value.length < MIN_PASSPHRASE, t('err.tooShort'), pass],
          [() => pass.value !== repeat.value, t('err.mismatch'), repeat],
        ],
        run: async () => {
          const res = await post('/api/setup', { username: username.value.trim(), passphrase: pass.value, language: getLang(), ...(claim.value.trim() ? { claimCode: claim.value.trim() } : {}) });
          ctx.pendingRecoveryKey = res.recoveryKey;
          pass.value = '';
          repeat.value = '';
          await ctx.refreshState(); // new session: new CSRF token
          page.replaceWith(recoveryPanel());
          document.querySelector('.recovery h1')?.focus();
        },
      }),
    },
    buttonArmed ? h('p', { class: 'ok-box', role: 'status', testid: 'setup-button-armed' }, t('setup.buttonArmed')) : field(t('setup.claim'), claim, t('setup.claimHint')),
    field(t('setup.username'), username),
    field(t('setup.passphrase'), pass, t('setup.hint')),
    field(t('setup.repeat'), repeat),
    err,
    h('div', { class: 'actions' }, submit),
  );
  page.append(h('h1', { tabindex: '-1' }, t('setup.title')), h('p', { class: 'lead' }, t('setup.intro')), form);
  return { el: page, title: t('setup.title') };
}
