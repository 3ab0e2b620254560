// Server-Sent Events from /api/events with reconnect and back-off.
import { ctx } from './ctx.js';
import { t } from './i18n.js';
import { h, toast } from './dom.js';

let es = null;
let retryTimer = null;
let lostTimer = null;
let delay = 1000;
let wanted = false;
const keptListeners = new Set();
const healthListeners = new Set();
let lastHealth = null;

export const onKept = (fn) => {
  keptListeners.add(fn);
  return () => keptListeners.delete(fn);
};

/** The box health from the last `health` event (sent on connecting and on every change), or null before it. */
export const currentHealth = () => lastHealth;
export const onHealth = (fn) => {
  healthListeners.add(fn);
  return () => healthListeners.delete(fn);
};

function setLost(lost) {
  if (lostTimer) {
    clearTimeout(lostTimer);
    lostTimer = null;
  }
  if (!lost) {
    if (ctx.liveLost) {
      ctx.liveLost = false;
      ctx.renderBanners();
    }
    document.documentElement.dataset.live = 'on';
    return;
  }
  document.documentElement.dataset.live = 'off';
  // Only bother people when the interruption lasts.
  lostTimer = setTimeout(() => {
    if (wanted && !ctx.liveLost) {
      ctx.liveLost = true;
      ctx.renderBanners();
    }
  }, 4000);
}

function connect() {
  retryTimer = null;
  if (!wanted) return;
  es = new EventSource('/api/events');
  es.addEventListener('open', () => {
    delay = 1000;
    setLost(false);
  });
  es.addEventListener('lines', (ev) => {
    try {
      const data = JSON.parse(ev.data);
      ctx.setLines(data.lines);
    } catch (e) {
      console.warn('ringvault: bad lines event', e);
    }
  });
  es.addEventListener('health', (ev) => {
    let report;
    try {
      report = JSON.parse(ev.data);
    } catch (e) {
      console.warn('ringvault: bad health event', e);
      return;
    }
    if (!report || typeof report !== 'object') return;
    lastHealth = report;
    // The clock banner follows the box: it goes away once the clock is synchronised, without a reload.
    const synced = !(report.issues || []).some((i) => i.code === 'RV_ERR_CLOCK_UNSYNCED');
    if (ctx.state && ctx.state.user && ctx.state.clockSynced !== synced) {
      ctx.state.clockSynced = synced;
      ctx.renderBanners();
    }
    for (const fn of healthListeners) fn(report);
  });
  es.addEventListener('kept', (ev) => {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return;
    }
    for (const fn of keptListeners) fn(data);
    if (data.callId) {
      if (ctx.announcedKept.has(data.callId)) return;
      ctx.announcedKept.add(data.callId);
    }
    const canOpen = ctx.can(['admin', 'manager', 'reviewer']) && data.callId;
    toast(
      t('dash.keptEvent', { line: ctx.lineName(data.line) }),
      'ok',
      canOpen ? h('a', { href: `#/calls/${encodeURIComponent(data.callId)}`, class: 'toast-link' }, t('dash.openCall')) : null,
    );
  });
  es.addEventListener('error', () => {
    setLost(true);
    if (!es || es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    es.close();
    es = null;
    // Closed for good (e.g. 401 after the session ended): check the session, then retry with back-off.
    retryTimer = setTimeout(async () => {
      try {
        const st = await ctx.refreshState();
        if (!st || !st.user) {
          ctx.rerender();
          return;
        }
      } catch {
        /* box unreachable: keep trying */
      }
      if (wanted && !es) connect();
    }, delay);
    delay = Math.min(delay * 2, 30000);
  });
}

export function startLive() {
  if (wanted) return;
  wanted = true;
  delay = 1000;
  connect();
}

export function stopLive() {
  wanted = false;
  if (retryTimer) clearTimeout(retryTimer);
  retryTimer = null;
  if (es) es.close();
  es = null;
  lastHealth = null;
  setLost(false);
  delete document.documentElement.dataset.live;
}
