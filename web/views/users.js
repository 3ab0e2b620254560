// Admin: list, add and delete users.
import { t } from '../i18n.js';
import { h, clear, field, errorBox, showError, toast, confirmDialog, busy, submitHandler } from '../dom.js';
import { get, post, del, ApiError } from '../api.js';
import { ctx } from '../ctx.js';
import { MIN_PASSPHRASE } from './setup.js';

const ROLES = ['admin', 'manager', 'reviewer', 'staff'];

export default function usersView() {
  const tbody = h('tbody');
  const listErr = errorBox('users-list-error');
  const table = h(
    'table',
    { class: 'table', testid: 'users-table' },
    h('thead', null, h('tr', null, ['users.name', 'users.role', 'users.extension', 'users.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
    tbody,
  );

  async function load() {
    try {
      const { users } = await get('/api/users');
      clear(tbody);
      if (!users.length) tbody.append(h('tr', null, h('td', { colspan: '4', class: 'muted' }, t('users.empty'))));
      for (const u of users) {
        const me = ctx.state.user && ctx.state.user.name === u.name;
        const delBtn = me
          ? null
          : h('button', { type: 'button', class: 'btn btn-small btn-danger', testid: `delete-user-${u.name}` }, t('users.delete'));
        if (delBtn) {
          delBtn.addEventListener('click', async () => {
            if (!(await confirmDialog(t('users.deleteConfirm', { name: u.name }), t('users.delete')))) return;
            try {
              await busy(delBtn, () => del(`/api/users/${encodeURIComponent(u.name)}`));
              toast(t('users.deleted', { name: u.name }), 'ok');
              load();
            } catch (e) {
              toast(e instanceof ApiError ? e.message : String(e), 'error');
            }
          });
        }
        tbody.append(
          h(
            'tr',
            { testid: 'user-row' },
            h('td', { dataset: { label: t('users.name') } }, u.name, me ? [' ', h('span', { class: 'muted' }, t('users.you'))] : null),
            h('td', { dataset: { label: t('users.role') } }, t(`role.${u.role}`)),
            h('td', { dataset: { label: t('users.extension') } }, u.extension || t('common.none')),
            h('td', { dataset: { label: t('users.actions') } }, delBtn),
          ),
        );
      }
      showError(listErr, '');
    } catch (e) {
      showError(listErr, e instanceof ApiError ? e.message : String(e));
    }
  }

  const unlocked = ctx.state.vault === 'unlocked';
  const username = h('input', { type: 'text', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', testid: 'user-name' });
  const pass = h('input', { type: 'password', required: true, minlength: String(MIN_PASSPHRASE), autocomplete: 'new-password', testid: 'user-passphrase' });
  const role = h('select', { testid: 'user-role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'staff' }, t(`role.${r}`))));
  role.value = 'staff';
  const ext = h('input', { type: 'text', inputmode: 'numeric', pattern: '[0-9]{1,8}', maxlength: '8', autocomplete: 'off', testid: 'user-extension' });
  const err = errorBox('user-add-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'user-add', disabled: !unlocked }, t('users.submit'));
  const form = h(
    'form',
    {
      class: 'form card',
      novalidate: true,
      onsubmit: submitHandler({
        err, submit,
        checks: [
          [() => !username.value.trim(), t('err.usernameRequired'), username],
          [() => pass.value.length < MIN_PASSPHRASE, t('err.tooShort'), pass],
        ],
        run: async () => {
          const name = username.value.trim();
          const body = { username: name, passphrase: pass.value, role: role.value };
          if (ext.value.trim()) body.extension = ext.value.trim();
          await post('/api/users', body);
          toast(t('users.added', { name }), 'ok');
          username.value = '';
          pass.value = '';
          ext.value = '';
          load();
        },
      }),
    },
    h('h2', null, t('users.add')),
    unlocked ? null : h('p', { class: 'hint-box' }, t('users.lockedHint'), ' ', h('a', { href: '#/unlock' }, t('banner.unlock'))),
    h('div', { class: 'form-grid' }, field(t('users.name'), username), field(t('users.passphrase'), pass, t('setup.hint')), field(t('users.role'), role), field(t('users.extensionOptional'), ext)),
    err,
    h('div', { class: 'actions' }, submit),
  );

  load();
  return {
    el: h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, t('users.title')), h('h2', null, t('users.list')), listErr, h('div', { class: 'table-wrap card card-flush' }, table), form),
    title: t('users.title'),
  };
}
