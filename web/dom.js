// Tiny DOM helpers. Text always goes in via textContent, never via HTML strings.
import { t } from './i18n.js';
import { ApiError } from './api.js';

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'required', 'readOnly', 'multiple', 'open']);

/**
 * h('button', { class: 'btn', testid: 'save-line1', onclick: fn }, 'Save')
 * Attributes named on* with a function become listeners; `testid` becomes data-testid.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
      else if (k === 'testid') el.dataset.testid = String(v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (PROPS.has(k)) el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false || c === true) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let uid = 0;
export const nextId = (prefix = 'f') => `${prefix}-${++uid}`;

/** A labelled form field: label + control (+ optional hint), ids wired for accessibility. */
export function field(labelText, control, hint) {
  const id = control.id || nextId('in');
  control.id = id;
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), control, hintEl);
}

/** A visually separated error line under a form (role=alert so screen readers say it). */
export function errorBox(testid) {
  return h('p', { class: 'form-error', role: 'alert', testid, hidden: true });
}
export function showError(box, message) {
  box.textContent = message || '';
  box.hidden = !message;
}

export function toast(message, kind = 'info', action) {
  const host = document.getElementById('toasts');
  if (!host) return;
  const el = h('div', { class: ['toast', `toast-${kind}`], role: kind === 'error' ? 'alert' : 'status' }, h('span', null, message), action ?? null);
  host.append(el);
  setTimeout(() => el.classList.add('toast-out'), kind === 'error' ? 7000 : 4000);
  setTimeout(() => el.remove(), kind === 'error' ? 7600 : 4600);
}

/** Accessible confirm dialog built on <dialog>; resolves true when confirmed. */
export function confirmDialog(message, confirmLabel) {
  const dlg = document.getElementById('confirm-dialog');
  if (!dlg || typeof dlg.showModal !== 'function') return Promise.resolve(window.confirm(message));
  document.getElementById('confirm-message').textContent = message;
  document.getElementById('confirm-cancel').textContent = t('common.cancel');
  document.getElementById('confirm-ok').textContent = confirmLabel || t('common.confirm');
  dlg.returnValue = '';
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/** Disable a button while an async action runs. */
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.removeAttribute('aria-busy');
    button.disabled = false;
  }
}

/**
 * onsubmit for a form that talks to the API: field checks in order (first failure shown and
 * focused), then `run` with the button busy; an API error lands in the form's error box.
 */
export function submitHandler({ err, submit, checks = [], run, onError, busyLabel }) {
  return async (ev) => {
    ev.preventDefault();
    for (const [bad, message, el] of checks) {
      if (bad()) { showError(err, message); el?.focus(); return; }
    }
    showError(err, '');
    const label = submit.textContent;
    if (busyLabel) submit.textContent = busyLabel;
    try {
      await busy(submit, run);
    } catch (e) {
      showError(err, e instanceof ApiError ? e.message : String(e));
      onError?.();
    } finally {
      if (busyLabel) submit.textContent = label;
    }
  };
}
