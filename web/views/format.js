// Shared bits for showing calls.
import { t } from '../i18n.js';
import { h } from '../dom.js';

export const purposesText = (list) => (list && list.length ? list.map((p) => t(`purpose.${p}`)).join(', ') : t('common.none'));

export const keptByText = (k) => (k ? t(`keptBy.${k}`) : t('common.none'));

export const directionText = (d) => (d ? t(`dir.${d}`) : t('common.none'));

/** "caller → called", or the one that is known; null when none is known (locked vault). */
export function numbersText(call) {
  const a = call.caller;
  const b = call.called;
  if (a && b) return `${a} → ${b}`;
  return a || b || null;
}

export function unsyncedBadge() {
  return h('span', { class: 'badge badge-warn', title: t('calls.unsyncedHint'), testid: 'unsynced' }, t('calls.unsynced'));
}
