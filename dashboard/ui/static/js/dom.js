// DOM and formatting helpers. Elements are built with h() (never innerHTML with data), so names, keys and
// messages coming from the cluster are always text.

/**
 * h('div.card#id', { attrs }, children...) — attrs: on* (listeners), class, dataset keys via data-*, aria-*,
 * boolean true sets the attribute, false/null/undefined skips it. Children: strings, numbers, nodes, arrays.
 */
export function h(tag, attrs, ...children) {
  let name = tag;
  const classes = [];
  let id;
  const m = /^([a-z0-9-]+)((?:[.#][A-Za-z0-9_-]+)*)$/i.exec(tag);
  if (m) {
    name = m[1];
    for (const part of m[2].match(/[.#][A-Za-z0-9_-]+/g) ?? []) {
      if (part[0] === '.') classes.push(part.slice(1));
      else id = part.slice(1);
    }
  }
  const el = SVG_TAGS.has(name) ? document.createElementNS(SVG_NS, name) : document.createElement(name);
  if (id) el.id = id;
  if (classes.length) el.setAttribute('class', classes.join(' '));
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = undefined;
  }
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.setAttribute('class', [...classes, v].filter(Boolean).join(' '));
    else if (k === 'value' && 'value' in el && !(el instanceof SVGElement)) el.value = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_TAGS = new Set(['svg', 'g', 'path', 'line', 'rect', 'text', 'polyline', 'title', 'circle', 'defs', 'pattern', 'desc']);

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// --- formatting -------------------------------------------------------------------------------------------

const nf = new Intl.NumberFormat('en-US');
export function num(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return nf.format(Math.round(n));
}

export function compact(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  return nf.format(Math.round(n));
}

export function bytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function duration(sec) {
  if (sec === null || sec === undefined || !Number.isFinite(sec)) return '–';
  if (sec < 1) return '< 1 s';
  if (sec < 90) return `${Math.round(sec)} s`;
  if (sec < 5400) return `${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s`;
  return `${Math.floor(sec / 3600)} h ${Math.round((sec % 3600) / 60)} min`;
}

export function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { hour12: false });
}

/** "3-7, 9, 12-20" from sorted or unsorted slot ids. */
export function rangesText(ids) {
  const s = [...ids].sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

// --- small components ------------------------------------------------------------------------------------

export function badge(text, kind) {
  return h(`span.badge.${kind}`, text);
}

export function card(label, value, sub, kind) {
  return h('div.card' + (kind ? `.${kind}` : ''), h('div.card-label', label), h('div.card-value', value), sub ? h('div.card-sub', sub) : null);
}

/** A progress bar with an accessible name and value. */
export function progressBar(fraction, label) {
  const pct = Math.max(0, Math.min(100, Math.round((fraction ?? 0) * 100)));
  const bar = h('div.bar', { role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(pct), 'aria-label': label, title: `${pct} %` });
  const fill = h('div.bar-fill');
  fill.style.width = `${pct}%`;
  bar.append(fill, h('span.bar-text', `${pct} %`));
  return bar;
}

/** A labelled form control: <label for> + control + optional hint. */
export function field(label, control, hint) {
  if (!control.id) control.id = `f-${Math.random().toString(36).slice(2, 9)}`;
  const hintEl = hint ? h('small.hint', { id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div.field', h('label', { for: control.id }, label), control, hintEl);
}

/** Message area for a form: role=status for success, role=alert for errors. */
export function messageArea() {
  const el = h('div.form-msg', { 'aria-live': 'polite' });
  return {
    el,
    ok(text) {
      el.replaceChildren(h('p.ok', { role: 'status' }, text));
    },
    error(err, what) {
      el.replaceChildren(h('p.error', { role: 'alert' }, describeError(err, what)));
    },
    info(text) {
      el.replaceChildren(h('p.muted', text));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

/** An error in words: "<what> failed: <message> (<code>, HTTP <status>)". */
export function describeError(err, what) {
  const parts = [];
  const msg = err && err.message ? err.message : String(err);
  const code = err && err.code ? err.code : undefined;
  const status = err && err.status ? err.status : undefined;
  let tail = '';
  if (code || status) tail = ` (${[code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ')})`;
  parts.push(what ? `${what} failed: ${msg}${tail}` : `${msg}${tail}`);
  return parts.join(' ');
}

/** Native <dialog> confirm: resolves true on Confirm, false on Cancel / Escape. */
export function confirmDialog(title, text, okLabel = 'Confirm') {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  return new Promise((resolve) => {
    const onClose = () => {
      dlg.removeEventListener('close', onClose);
      resolve(dlg.returnValue === 'ok');
    };
    dlg.returnValue = '';
    dlg.addEventListener('close', onClose);
    dlg.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/** Runs an async action from a button: disables it meanwhile, reports the outcome in `msg`. */
export async function runAction(button, msg, what, fn, okText) {
  if (button) button.disabled = true;
  msg?.info(`${what}…`);
  try {
    const r = await fn();
    const text = typeof okText === 'function' ? okText(r) : okText;
    if (text) msg?.ok(text);
    else msg?.clear();
    return r;
  } catch (err) {
    if (msg) msg.error(err, what);
    else throw err;
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Replaces a <select>'s options only when they changed (an open list is not closed by a refresh). */
export function syncOptions(select, options, placeholder = 'choose…') {
  const want = [['', placeholder], ...options];
  const have = [...select.options].map((o) => [o.value, o.textContent]);
  if (have.length === want.length && have.every((o, i) => o[0] === want[i][0] && o[1] === want[i][1])) return;
  const prev = select.value;
  select.replaceChildren(...want.map(([v, t]) => h('option', { value: v }, t)));
  if (want.some(([v]) => v === prev)) select.value = prev;
}

/** el.replaceChildren for h()-style children: arrays flattened, null/undefined/false skipped. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Updates `target`'s children in place to match `children` (built with h()): nodes of the same kind are
 * kept and their attributes and text updated, so focus, an open <select> and a half-done click survive a
 * refresh. Listeners of the KEPT nodes stay, new nodes' listeners are dropped with them: handlers inside a
 * morphed region must be delegated (read data-* at click time). A data-key attribute pins identity.
 */
export function morph(target, ...children) {
  const next = document.createElement('div');
  append(next, children);
  morphChildren(target, next);
  return target;
}

function sameKind(a, b) {
  if (a.nodeType !== b.nodeType || a.nodeName !== b.nodeName) return false;
  if (a.nodeType === 1 && a.getAttribute('data-key') !== b.getAttribute('data-key')) return false;
  return true;
}

function morphChildren(a, b) {
  const an = [...a.childNodes];
  const bn = [...b.childNodes];
  for (let i = 0; i < bn.length; i++) {
    const x = an[i];
    const y = bn[i];
    if (!x) a.appendChild(y);
    else if (!sameKind(x, y)) a.replaceChild(y, x);
    else if (x.nodeType === 3 || x.nodeType === 8) {
      if (x.nodeValue !== y.nodeValue) x.nodeValue = y.nodeValue;
    } else if (x.nodeType === 1) {
      morphAttrs(x, y);
      morphChildren(x, y);
    } else a.replaceChild(y, x);
  }
  for (let i = an.length - 1; i >= bn.length; i--) an[i].remove();
}

function morphAttrs(x, y) {
  for (const { name, value } of [...y.attributes]) {
    if (name === 'style') {
      // CSSOM, not setAttribute: the CSP forbids inline style attributes.
      if (x.style.cssText !== y.style.cssText) x.style.cssText = y.style.cssText;
    } else if (x.getAttribute(name) !== value) x.setAttribute(name, value);
  }
  for (const { name } of [...x.attributes]) {
    if (y.hasAttribute(name)) continue;
    if (name === 'open' && x instanceof HTMLDetailsElement) continue; // the user opened it
    if (name === 'style') x.style.cssText = '';
    else x.removeAttribute(name);
  }
  if ((x instanceof HTMLInputElement || x instanceof HTMLSelectElement) && document.activeElement !== x && x.value !== y.value) x.value = y.value;
}
