// Proxies: address, version, acknowledged revision, fenced or ready, ops/s, connections.
import { del, get } from '../api.js';
import { badge, compact, confirmDialog, h, messageArea, morph, num, runAction, time } from '../dom.js';

export const proxiesPage = {
  title: 'Proxies',
  mount(root, app) {
    const msg = messageArea();
    const summary = h('p.muted');
    const body = h('div.table-wrap');
    root.append(h('section.panel', summary, msg.el, body));

    let proxies = [];
    const busy = new Set();
    body.addEventListener('click', (ev) => {
      const b = ev.target.closest?.('button[data-proxy-id]');
      const p = b && proxies.find((x) => x.id === b.dataset.proxyId);
      if (!p || b.disabled) return;
      busy.add(p.id);
      void remove(p, b).finally(() => busy.delete(p.id));
    });

    async function remove(p, button) {
      const text = p.live
        ? `Proxy ${p.addr} is live: removing its registration makes it fence itself until it registers again. Continue?`
        : `Delete the registration of dead proxy ${p.addr} (${p.id}) so barriers stop waiting for it?`;
      if (!(await confirmDialog('Remove proxy', text, 'Remove'))) return;
      await runAction(button, msg, `Removing proxy ${p.id}`, () => del(`/api/v1/proxies/${encodeURIComponent(p.id)}`), `Proxy ${p.id} removed.`);
      app.refreshNow();
    }

    return {
      intervalMs: 2000,
      async refresh() {
        const [px, ov] = await Promise.all([get('/api/v1/proxies'), get('/api/v1/overview?history=false')]);
        const stats = new Map((ov.current?.proxies ?? []).map((p) => [p.id, p]));
        proxies = px.proxies;
        const ready = px.proxies.filter((p) => p.live && !p.fenced && p.upToDate).length;
        summary.textContent = `${px.proxies.length} registered proxy(ies), ${ready} ready. Topology revision ${px.revision}.`;
        if (px.proxies.length === 0) {
          morph(body, h('p', 'No proxy is registered with this cluster.'));
          return;
        }
        const rows = px.proxies.map((p) => {
          const st = stats.get(p.id);
          const state = !p.live ? badge('not live', 'bad') : p.fenced ? badge('fenced', 'bad') : p.upToDate ? badge('ready', 'good') : badge('behind', 'warn');
          const b = h('button.secondary.small', { type: 'button', 'aria-label': `Remove proxy ${p.id}`, 'data-proxy-id': p.id, disabled: busy.has(p.id) }, 'Remove');
          return h(
            'tr',
            { 'data-proxy': p.id, 'data-key': p.id },
            h('th', { scope: 'row' }, h('code', p.addr), h('div.small.muted', p.id)),
            h('td', h('code', p.adminAddr)),
            h('td', p.version),
            h('td.num', p.ackedRevision === null ? '–' : num(p.ackedRevision), ' ', p.upToDate ? h('span.small.muted', '(current)') : h('span.small.warn-text', '(behind)')),
            h('td', state),
            h('td.num', st ? compact(st.opsPerSec) : '–'),
            h('td.num', st ? num(st.connections) : '–', st && !st.up ? h('div.small.error-text', `admin API: ${st.error ?? 'no answer'}`) : p.statsError ? h('div.small.error-text', p.statsError) : null),
            h('td', h('span.small', `${p.hostname} pid ${p.pid}`), h('div.small.muted', `since ${time(p.startedAt)}`)),
            h('td', b),
          );
        });
        morph(
          body,
          h(
            'table.data',
            h('caption.visually-hidden', 'Proxies'),
            h('thead', h('tr', ['Address', 'Admin', 'Version', 'Acked revision', 'State', 'Ops/s', 'Connections', 'Process', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', rows),
          ),
        );
      },
    };
  },
};
