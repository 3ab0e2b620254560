// JSON API client: CSRF header on every state-changing request, errors as ApiError.
import { t, getLang } from './i18n.js';

let csrfToken = null;
let onUnauthorized = null;
let onState = null;
let clockOffset = 0;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export const setCsrfToken = (tok) => { csrfToken = tok || null; };
/** Called on a 401 from anything but the login/unlock/setup forms (session ran out). */
export const setUnauthorizedHandler = (fn) => { onUnauthorized = fn; };
export const setStateHandler = (fn) => { onState = fn; };

/** Server time estimate: the box's clock may differ from this device's. */
export const serverNow = () => Date.now() + (Math.abs(clockOffset) > 2000 ? clockOffset : 0);

const FORM_PATHS = ['/api/login', '/api/unlock', '/api/setup'];

async function raw(method, path, body) {
  const headers = { accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET' && method !== 'HEAD') {
    if (csrfToken) headers['x-csrf-token'] = csrfToken;
    if (method !== 'DELETE' || body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body ?? {});
    }
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'RV_ERR_NETWORK', t('err.network'));
  }
  const date = res.headers.get('date');
  if (date) {
    const d = Date.parse(date);
    if (!Number.isNaN(d)) clockOffset = d + 500 - Date.now();
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    // Some errors (a weak passphrase) come worded in both UI languages.
    const message = (err.localized && err.localized[getLang()]) || err.message;
    throw new ApiError(res.status, err.code || `RV_ERR_HTTP_${res.status}`, message || `${res.status} ${res.statusText}`);
  }
  return data;
}

export async function getState() {
  const st = await raw('GET', '/api/state');
  setCsrfToken(st.csrfToken);
  if (onState) onState(st);
  return st;
}

export async function api(method, path, body) {
  try {
    return await raw(method, path, body);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    // A stale CSRF token (new session, server restart): fetch a fresh one and try once more.
    if (e.status === 403 && /CSRF/i.test(e.code) && method !== 'GET') {
      await getState();
      return raw(method, path, body);
    }
    if (e.status === 401 && !FORM_PATHS.includes(path) && onUnauthorized) onUnauthorized();
    throw e;
  }
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);
