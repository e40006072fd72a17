// The dashboard API from the browser. The token lives in sessionStorage (this tab only) and travels only in
// the Authorization header, never in a URL. Errors carry the dashboard's { error: { code, message } }.

const TOKEN_KEY = 'redslot.token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Called with the ApiError when the dashboard answers 401 (the token is gone or wrong). */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * One API call. Resolves with the parsed JSON of a 2xx; rejects with ApiError (HTTP error with the
 * dashboard's message, or status 0 when the dashboard could not be reached at all).
 */
export async function api(method, path, body, opts = {}) {
  const token = opts.token ?? getToken();
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
      signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
    });
  } catch (err) {
    const reason = err && err.name === 'TimeoutError' ? 'no answer in time' : (err && err.message) || String(err);
    throw new ApiError(0, 'UNREACHABLE', `the dashboard could not be reached (${method} ${path}): ${reason}`);
  }
  const text = await res.text();
  let parsed;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = parsed && parsed.error;
    const err = new ApiError(
      res.status,
      (e && e.code) || `HTTP_${res.status}`,
      (e && e.message) || `${method} ${path}: HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`,
    );
    if (res.status === 401 && !opts.noAuthRedirect) onUnauthorized(err);
    throw err;
  }
  return parsed;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body ?? {}, opts);
export const put = (path, body, opts) => api('PUT', path, body ?? {}, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);

// --- capabilities: which routes this dashboard serves (from its public OpenAPI document) ---------------------

let routes = null;

/** Loads the route list once per session (the OpenAPI document is public). */
export async function loadRoutes(force = false) {
  if (routes && !force) return routes;
  const doc = await get('/api/v1/openapi.json', { noAuthRedirect: true });
  const set = new Set();
  for (const [p, ops] of Object.entries(doc.paths ?? {})) {
    for (const m of Object.keys(ops)) set.add(`${m.toUpperCase()} ${p.replace(/\{([^}]+)\}/g, ':$1')}`);
  }
  routes = set;
  return routes;
}

/** True if the dashboard serves METHOD PATH (path with :params as in fastify, e.g. /api/v1/groups/:gid). */
export function hasRoute(method, path) {
  return routes ? routes.has(`${method} ${path}`) : false;
}

/** The first route of a list that exists (used where the API grew over time), or undefined. */
export function firstRoute(candidates) {
  return candidates.find(([m, p]) => hasRoute(m, p));
}
