// Shell: login, navigation (hash routes, so no token or state ever goes into a server-visible URL), the
// page life cycle (mount -> refresh every few seconds -> unmount) and the error banner.
import { api, get, getToken, loadRoutes, setToken, setUnauthorizedHandler } from './api.js';
import { describeError, field, fill, h } from './dom.js';
import { overviewPage } from './pages/overview.js';
import { slotsPage } from './pages/slots.js';
import { groupsPage } from './pages/groups.js';
import { proxiesPage } from './pages/proxies.js';
import { migrationsPage } from './pages/migrations.js';
import { rebalancePage } from './pages/rebalance.js';
import { splitsPage } from './pages/splits.js';
import { auditPage } from './pages/audit.js';

const PAGES = {
  overview: overviewPage,
  slots: slotsPage,
  groups: groupsPage,
  proxies: proxiesPage,
  migrations: migrationsPage,
  rebalance: rebalancePage,
  splits: splitsPage,
  audit: auditPage,
};

const main = document.getElementById('main');
const top = document.getElementById('top');
const errors = document.getElementById('errors');

let current = null; // { name, page, timer, stopped, banner }
let loginMessage = '';

// --- global errors ----------------------------------------------------------------------------------------

/** Shows an error in the banner until dismissed (key: replaces an earlier error with the same key). */
export function showError(text, key) {
  if (key) errors.querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
  const item = h('div.error-item', { 'data-key': key }, h('span', text), h('button.link', { type: 'button', 'aria-label': 'Dismiss error', onclick: () => item.remove() }, '×'));
  errors.appendChild(item);
}

export function clearError(key) {
  errors.querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
}

window.addEventListener('unhandledrejection', (ev) => showError(describeError(ev.reason, 'Unexpected'), 'unhandled'));
window.addEventListener('error', (ev) => showError(`Unexpected error in the UI: ${ev.message}`, 'uncaught'));

// --- login ------------------------------------------------------------------------------------------------

setUnauthorizedHandler((err) => {
  setToken('');
  loginMessage = `The dashboard refused the token: ${err.message}. Log in again.`;
  location.hash = '#/login';
  route();
});

function renderLogin() {
  stopPage();
  top.hidden = true;
  fill(errors);
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const msg = h('div.form-msg', { 'aria-live': 'polite' });
  if (loginMessage) msg.appendChild(h('p.error', { role: 'alert' }, loginMessage));
  loginMessage = '';
  const button = h('button', { type: 'submit' }, 'Log in');
  // method=post: even without JavaScript the token would never be put in a URL.
  const form = h(
    'form.login',
    { method: 'post', action: '#', 'aria-labelledby': 'login-title' },
    h('h1#login-title', 'redslot dashboard'),
    h('p.muted', 'Log in with a dashboard token. It is kept for this browser tab only and sent as an Authorization header.'),
    field('Dashboard token', input),
    button,
    msg,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    fill(msg, h('p.muted', 'Checking the token…'));
    try {
      await api('GET', '/api/v1/leader', undefined, { token, noAuthRedirect: true });
      setToken(token);
      location.hash = '#/overview';
      await route();
    } catch (err) {
      const text = err.status === 401 ? `Login failed: the dashboard refused this token (${err.code}: ${err.message}).` : describeError(err, 'Login');
      fill(msg, h('p.error', { role: 'alert' }, text));
      input.focus();
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  fill(main, form);
  input.focus();
}

document.getElementById('logout').addEventListener('click', () => {
  setToken('');
  loginMessage = '';
  location.hash = '#/login';
});

// --- pages --------------------------------------------------------------------------------------------------

function stopPage() {
  if (!current) return;
  current.stopped = true;
  clearTimeout(current.timer);
  try {
    current.page.unmount?.();
  } catch (err) {
    showError(describeError(err, 'Leaving the page'), 'unmount');
  }
  current = null;
}

const app = {
  showError,
  clearError,
  /** Refreshes the current page now (after an action). */
  refreshNow() {
    if (current) void tick(current);
  },
  navigate(hash) {
    location.hash = hash;
  },
};

async function tick(state) {
  if (state.stopped) return;
  if (state.running) {
    state.again = true;
    return;
  }
  clearTimeout(state.timer);
  state.running = true;
  try {
    await state.page.refresh();
    if (!state.stopped) {
      fill(state.banner);
      state.banner.hidden = true;
    }
  } catch (err) {
    // A failed refresh is shown (not swallowed) and retried; 401 already sent the user to the login page.
    if (!state.stopped && err.status !== 401) {
      state.banner.hidden = false;
      fill(state.banner, h('p', describeError(err, 'Refreshing this page')), h('p.muted', 'Retrying automatically.'));
    }
  } finally {
    state.running = false;
  }
  if (state.stopped) return;
  if (state.again) {
    state.again = false;
    return tick(state);
  }
  state.timer = setTimeout(() => void tick(state), state.page.intervalMs ?? 2000);
}

async function showPage(name) {
  stopPage();
  const def = PAGES[name];
  top.hidden = false;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const banner = h('div.refresh-error', { role: 'alert', hidden: true });
  const body = h('div.page-body');
  fill(main, h('h1.page-title', def.title), banner, body);
  document.title = `${def.title} · redslot`;
  const state = { name, page: def.mount(body, app), timer: undefined, stopped: false, banner };
  current = state;
  main.focus({ preventScroll: true });
  await tick(state);
}

async function route() {
  const name = (location.hash.replace(/^#\/?/, '').split(/[/?]/)[0] || 'overview').toLowerCase();
  if (!getToken() || name === 'login') {
    if (getToken() && name === 'login') {
      location.hash = '#/overview';
      return;
    }
    renderLogin();
    return;
  }
  if (!PAGES[name]) {
    location.hash = '#/overview';
    return;
  }
  if (current && current.name === name) return;
  await loadRoutes().catch((err) => showError(describeError(err, 'Reading the API description'), 'routes'));
  void refreshHeader();
  await showPage(name);
}

async function refreshHeader() {
  try {
    const s = await get('/api/v1/leader');
    const el = document.getElementById('leader-info');
    el.textContent = s.leader ? `leader ${s.leader.addr}${s.self.leader ? ' (this dashboard)' : ''}` : 'no leader elected';
    el.classList.toggle('warn-text', !s.leader);
    clearError('leader');
  } catch (err) {
    if (err.status !== 401) showError(describeError(err, 'Reading the leader'), 'leader');
  }
}

window.addEventListener('hashchange', () => void route());
setInterval(() => {
  if (getToken() && current) void refreshHeader();
}, 10_000);
void route();
