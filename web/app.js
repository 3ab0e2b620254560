// ringvault admin UI: boot, hash router, header, banners and the live event stream.
import { t, getLang, setLang, onLangChange } from './i18n.js';
import { h, clear, append, toast } from './dom.js';
import { getState, post, get, setUnauthorizedHandler, ApiError } from './api.js';
import { ctx } from './ctx.js';
import { startLive, stopLive } from './live.js';
import setupView from './views/setup.js';
import loginView from './views/login.js';
import unlockView from './views/unlock.js';
import dashboardView from './views/dashboard.js';
import callsView from './views/calls.js';
import callView from './views/call.js';
import settingsView from './views/settings.js';
import usersView from './views/users.js';
import auditView from './views/audit.js';
import privacyView from './views/privacy.js';
import myCallsView from './views/mycalls.js';
import policyView from './views/policy.js';
import requestsView from './views/requests.js';
import notificationsView from './views/notifications.js';
import accountView from './views/account.js';
import aboutView from './views/about.js';

const ALL = ['admin', 'manager', 'reviewer', 'staff'];
const ROUTES = {
  setup: { view: setupView, public: true },
  login: { view: loginView, public: true },
  unlock: { view: unlockView, roles: ['admin', 'manager', 'reviewer'] },
  dashboard: { view: dashboardView, roles: ALL, nav: 'nav.dashboard' },
  calls: { view: callsView, detail: callView, roles: ALL, nav: 'nav.calls' },
  settings: { view: settingsView, roles: ['admin'], nav: 'nav.settings' },
  users: { view: usersView, roles: ['admin'], nav: 'nav.users' },
  audit: { view: auditView, roles: ['admin'], nav: 'nav.audit' },
  privacy: { view: privacyView, roles: ['admin', 'manager'], nav: 'nav.privacy' },
  mycalls: { view: myCallsView, roles: ALL, nav: 'nav.mycalls' },
  policy: { view: policyView, roles: ALL, nav: 'nav.policy' },
  requests: { view: requestsView, roles: ['admin', 'manager'], nav: 'nav.requests' },
  notifications: { view: notificationsView, roles: ['admin'], nav: 'nav.notifications' },
  account: { view: accountView, roles: ALL },
  about: { view: aboutView, roles: ALL, nav: 'nav.about' },
};
const NAV = ['dashboard', 'calls', 'settings', 'users', 'audit'];
NAV.push('privacy', 'mycalls', 'policy');
NAV.push('requests');
NAV.push('notifications');
NAV.push('about');

const headerEl = document.getElementById('app-header');
const bannersEl = document.getElementById('banners');
const mainEl = document.getElementById('main');

let current = null; // { name, destroy }
let lastStateKey = '';

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [name = '', ...rest] = raw.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { name, rest };
}

function renderHeader() {
  const user = ctx.state?.user ?? null;
  const { name } = parseHash();
  const nav = user
    ? h(
        'nav',
        { class: 'nav', 'aria-label': t('nav.label') },
        h(
          'ul',
          null,
          NAV.filter((r) => ROUTES[r].roles.includes(user.role)).map((r) =>
            h('li', null, h('a', { href: `#/${r}`, testid: `nav-${r}`, 'aria-current': name === r ? 'page' : null }, t(ROUTES[r].nav))),
          ),
        ),
      )
    : null;

  const langGroup = h(
    'div',
    { class: 'lang-toggle', role: 'group', 'aria-label': t('header.language') },
    ['nl', 'en'].map((l) =>
      h(
        'button',
        {
          type: 'button',
          class: 'lang-btn',
          lang: l,
          testid: `lang-${l}`,
          'aria-pressed': String(getLang() === l),
          'aria-label': t(`lang.${l}`),
          title: t(`lang.${l}`),
          onclick: () => setLang(l),
        },
        l.toUpperCase(),
      ),
    ),
  );

  const userBox = user
    ? h(
        'div',
        { class: 'user-box' },
        h('span', { class: 'user-name', testid: 'current-user', title: t('header.signedIn', { name: user.name, role: t(`role.${user.role}`) }) }, t('header.signedIn', { name: user.name, role: t(`role.${user.role}`) })),
        ctx.state.vault === 'unlocked' && ['admin', 'manager'].includes(user.role)
          ? h('button', { type: 'button', class: 'btn btn-small btn-quiet', testid: 'lock', onclick: lockVault }, t('header.lock'))
          : null,
        h('a', { href: '#/account', class: 'btn btn-small btn-quiet', testid: 'account-link' }, t('header.account')),
        h('button', { type: 'button', class: 'btn btn-small btn-quiet', testid: 'logout', onclick: logout }, t('header.logout')),
      )
    : null;

  append(clear(headerEl), [
    h('div', { class: 'header-top' }, h('a', { class: 'brand', href: user ? '#/dashboard' : '#/' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), t('app.name')), userBox, langGroup),
    nav,
  ]);
  const skip = document.getElementById('skip-link');
  if (skip) skip.textContent = t('app.skip');
}

function renderBanners() {
  clear(bannersEl);
  const st = ctx.state;
  if (!st || !st.user) return;
  const { name } = parseHash();
  if (st.vault === 'locked' && ['admin', 'manager', 'reviewer'].includes(st.user.role)) {
    bannersEl.append(
      h(
        'div',
        { class: 'banner banner-warn', role: 'status', testid: 'locked-banner' },
        h('span', { class: 'banner-text' }, t('banner.locked')),
        name === 'unlock' ? null : h('a', { href: '#/unlock', class: 'banner-link', testid: 'unlock-link' }, t('banner.unlock')),
      ),
    );
  }
  if (st.clockSynced === false) {
    bannersEl.append(h('div', { class: 'banner banner-info', role: 'status', testid: 'clock-banner' }, h('span', { class: 'banner-text' }, t('banner.clock'), ' ', t('banner.clockHelp'))));
  }
  if (ctx.liveLost) {
    bannersEl.append(h('div', { class: 'banner banner-info', role: 'status', testid: 'offline-banner' }, t('banner.offline')));
  }
}

function renderChrome() {
  renderHeader();
  renderBanners();
}

async function lockVault() {
  try {
    await post('/api/lock');
    await refreshState();
    route(true);
  } catch (e) {
    toast(e.message, 'error');
  }
}

async function logout() {
  try {
    await post('/api/logout');
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) toast(e.message, 'error');
  }
  stopLive();
  ctx.lines = [];
  await refreshState();
  location.hash = '#/login';
}

export async function refreshState() {
  const st = await getState();
  ctx.state = st;
  const key = JSON.stringify([st.initialized, st.user, st.vault, st.sim, st.clockSynced]);
  if (st.user) startLive();
  else stopLive();
  if (key !== lastStateKey) {
    lastStateKey = key;
    renderChrome();
  }
  return st;
}

function mount(view, name, params) {
  if (current && current.destroy) {
    try {
      current.destroy();
    } catch (e) {
      console.warn(e);
    }
  }
  clear(mainEl);
  const out = view(params) || {};
  current = { name, destroy: out.destroy };
  if (out.el) mainEl.append(out.el);
  document.title = out.title ? `${out.title} · ${t('app.name')}` : t('app.name');
}

/** Resolve the hash to a view, redirecting to setup/login as the box's state demands. */
function route(keepFocus = false) {
  const st = ctx.state;
  if (!st) return;
  const { name, rest } = parseHash();
  let target = name || 'dashboard';
  if (!st.initialized || ctx.pendingRecoveryKey) target = 'setup';
  else if (!st.user) target = 'login';
  else if (target === 'setup' || target === 'login') target = 'dashboard';
  if (target !== name) {
    location.replace(`#/${target}`);
    return;
  }
  renderChrome();
  const r = ROUTES[name];
  if (!r) {
    mount(() => ({ el: h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, t('common.notFound'))) }), name, {});
  } else if (!r.public && !r.roles.includes(st.user.role)) {
    mount(() => ({ el: h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, t('common.forbidden'))) }), name, {});
  } else if (rest.length && r.detail) {
    mount(r.detail, name, { id: rest[0] });
  } else {
    mount(r.view, name, {});
  }
  if (!keepFocus) {
    const h1 = mainEl.querySelector('h1');
    if (h1 && document.activeElement && document.activeElement !== document.body && !mainEl.contains(document.activeElement)) h1.focus({ preventScroll: true });
  }
}

ctx.refreshState = refreshState;
ctx.navigate = (hash) => {
  if (location.hash === hash) route();
  else location.hash = hash;
};
ctx.rerender = () => route(true);
ctx.renderBanners = renderBanners;

setUnauthorizedHandler(async () => {
  try {
    await refreshState();
  } catch {
    /* network trouble: leave the page as it is */
  }
  route();
});

window.addEventListener('hashchange', () => route());
onLangChange(() => {
  route(true);
});

let stateTimer = null;
async function boot() {
  document.documentElement.lang = getLang();
  renderHeader();
  try {
    await refreshState();
  } catch (e) {
    clear(mainEl).append(
      h(
        'section',
        { class: 'page' },
        h('h1', null, t('app.name')),
        h('p', { class: 'form-error', role: 'alert' }, t('common.error', { message: e.message })),
        h('button', { type: 'button', class: 'btn', onclick: () => location.reload() }, t('common.retry')),
      ),
    );
    return;
  }
  route(true);
  // Pick up changes made elsewhere (vault locked by a colleague, session ended).
  stateTimer = setInterval(async () => {
    if (document.hidden) return;
    try {
      const before = lastStateKey;
      await refreshState();
      if (lastStateKey !== before) route(true);
    } catch {
      /* try again next round */
    }
  }, 30000);
}

// Keep the line list in step for views that want it before the stream delivers.
ctx.loadLines = async () => {
  const { lines } = await get('/api/lines');
  ctx.setLines(lines);
  return lines;
};

boot();
export { stateTimer };
