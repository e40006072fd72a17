// Groups and servers: role, link, memory, keys, ops/s per server; add/remove group and server; promote.
import { del, get, post } from '../api.js';
import { badge, bytes, compact, confirmDialog, field, h, messageArea, morph, num, progressBar, runAction, syncOptions } from '../dom.js';
import { chip } from '../chart.js';
import { failoverHead, replicaNote } from './failover-view.js';

export const groupsPage = {
  title: 'Groups and servers',
  mount(root, app) {
    const list = h('div.groups');
    const msg = messageArea();
    msg.el.id = 'groups-msg';

    // Create group.
    const gidIn = h('input', { type: 'number', min: '1', max: '9999', required: true, name: 'gid', inputmode: 'numeric' });
    const weightIn = h('input', { type: 'number', min: '0.001', step: 'any', name: 'weight', placeholder: '1', inputmode: 'decimal' });
    const createBtn = h('button', { type: 'submit' }, 'Create group');
    const createMsg = messageArea();
    const createForm = h('form.inline-form', { 'aria-labelledby': 'create-title' }, h('h2#create-title', 'New group'), h('div.row', field('Group id (1-9999)', gidIn), field('Weight', weightIn, 'Share of slots in a rebalance (default 1)')), h('div.buttons', createBtn), createMsg.el);
    createForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const id = Number(gidIn.value);
      const body = { id };
      if (weightIn.value !== '') body.weight = Number(weightIn.value);
      await runAction(createBtn, createMsg, `Creating group ${id}`, () => post('/api/v1/groups', body), `Group ${id} created. Add its master next.`);
      app.refreshNow();
    });

    // Add server.
    const groupSel = h('select', { name: 'group', required: true });
    const addrIn = h('input', { type: 'text', required: true, name: 'addr', placeholder: '127.0.0.1:7001', autocomplete: 'off', spellcheck: 'false', pattern: '.+:[0-9]{1,5}' });
    const forceIn = h('input', { type: 'checkbox', name: 'force' });
    const addBtn = h('button', { type: 'submit' }, 'Add server');
    const addMsg = messageArea();
    const addForm = h(
      'form.inline-form',
      { 'aria-labelledby': 'add-title' },
      h('h2#add-title', 'Add a server'),
      h('div.row', field('Group', groupSel), field('Address (host:port)', addrIn, 'The first server of a group is its master; later ones become replicas.')),
      h('div.check', forceIn, h('label', { for: (forceIn.id = 'add-force') }, 'Force: allow turning a master that holds keys into a replica (its data is discarded)')),
      h('div.buttons', addBtn),
      addMsg.el,
    );
    addForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const gid = Number(groupSel.value);
      const addr = addrIn.value.trim();
      if (!gid) {
        addMsg.error(new Error('choose a group'), 'Adding a server');
        return;
      }
      const body = { addr };
      if (forceIn.checked) body.force = true;
      await runAction(addBtn, addMsg, `Adding ${addr} to group ${gid}`, () => post(`/api/v1/groups/${gid}/servers`, body), (r) => `Added ${addr} to group ${gid}${r.detail ? `: ${r.detail}` : ''}.`);
      app.refreshNow();
    });

    root.append(msg.el, list, h('div.forms', h('section.panel', createForm), h('section.panel', addForm)));

    // Current data for the delegated button handlers (the list is morphed in place on every refresh).
    let current = { groups: [], stats: new Map(), failover: new Map() };
    const busy = new Set();
    list.addEventListener('click', (ev) => {
      const b = ev.target.closest?.('button[data-act]');
      if (!b || b.disabled) return;
      const g = current.groups.find((x) => String(x.id) === b.dataset.gid);
      if (!g) return;
      const s = g.servers.find((x) => x.addr === b.dataset.addr);
      const key = `${b.dataset.act}:${g.id}:${b.dataset.addr ?? ''}`;
      const run = async (fn) => {
        busy.add(key);
        try {
          await fn();
        } finally {
          busy.delete(key);
        }
      };
      if (b.dataset.act === 'rm-group') void run(() => removeGroup(g, b));
      else if (b.dataset.act === 'rm-server' && s) void run(() => removeServer(g, s, b));
      else if (b.dataset.act === 'promote' && s) {
        const st = current.stats.get(g.id)?.servers.find((x) => x.addr === s.addr);
        void run(() => promote(g, s, b, st));
      }
    });

    async function removeGroup(g, button) {
      if (!(await confirmDialog('Remove group', `Remove group ${g.id}? Only possible when it owns no slots.`, 'Remove'))) return;
      await runAction(button, msg, `Removing group ${g.id}`, () => del(`/api/v1/groups/${g.id}`), `Group ${g.id} removed.`);
      app.refreshNow();
    }
    async function removeServer(g, s, button) {
      if (!(await confirmDialog('Remove server', `Remove ${s.addr} (${s.role}) from group ${g.id}? The redis-server keeps running; only the model changes.`, 'Remove'))) return;
      await runAction(button, msg, `Removing ${s.addr} from group ${g.id}`, () => del(`/api/v1/groups/${g.id}/servers/${encodeURIComponent(s.addr)}`), `Removed ${s.addr} from group ${g.id}.`);
      app.refreshNow();
    }
    async function promote(g, s, button, stats) {
      const lagging = stats && (!stats.up || stats.masterLinkStatus !== 'up');
      const text = `Promote ${s.addr} to master of group ${g.id}? Proxies hold the group's requests while it switches.${lagging ? ' Its link to the master is not up: promoting it may lose writes (force).' : ''}`;
      if (!(await confirmDialog('Promote replica', text, 'Promote'))) return;
      const body = { addr: s.addr };
      if (lagging) body.force = true;
      await runAction(button, msg, `Promoting ${s.addr} in group ${g.id}`, () => post(`/api/v1/groups/${g.id}/promote`, body), (r) => `Promoted ${s.addr}: ${r.steps.join('; ')}${r.warnings.length ? `. Warnings: ${r.warnings.join('; ')}` : ''}`);
      app.refreshNow();
    }

    function renderGroup(g, gs, fg) {
      const statsByAddr = new Map((gs?.servers ?? []).map((s) => [s.addr, s]));
      const rmGroup = h('button.secondary.small', { type: 'button', 'aria-label': `Remove group ${g.id}`, 'data-act': 'rm-group', 'data-gid': String(g.id), disabled: busy.has(`rm-group:${g.id}:`) }, 'Remove group');
      const health = gs ? (gs.healthy ? badge('healthy', 'good') : badge('unhealthy', 'bad')) : badge('no stats yet', 'muted');
      const rows = g.servers.map((s) => {
        const st = statsByAddr.get(s.addr);
        const actions = h('div.actions');
        const data = { 'data-gid': String(g.id), 'data-addr': s.addr };
        if (s.role === 'replica') {
          actions.appendChild(h('button.small', { type: 'button', 'aria-label': `Promote ${s.addr} to master`, 'data-act': 'promote', ...data, disabled: busy.has(`promote:${g.id}:${s.addr}`) }, 'Promote'));
        }
        actions.appendChild(h('button.secondary.small', { type: 'button', 'aria-label': `Remove server ${s.addr}`, 'data-act': 'rm-server', ...data, disabled: busy.has(`rm-server:${g.id}:${s.addr}`) }, 'Remove'));
        const link = !st ? '–' : !st.up ? badge('down', 'bad') : s.role === 'master' ? (st.actualRole === 'master' ? badge('master ok', 'good') : badge(`is ${st.actualRole}`, 'bad')) : st.masterLinkStatus === 'up' ? badge('link up', 'good') : badge(`link ${st.masterLinkStatus ?? '?'}`, 'bad');
        const mem = !st ? '–' : st.maxmemory > 0 ? [progressBar(st.usedMemory / st.maxmemory, `memory of ${s.addr}`), h('span.small', `${bytes(st.usedMemory)} / ${bytes(st.maxmemory)}`)] : h('span', `${bytes(st.usedMemory)} / no limit`);
        return h(
          'tr',
          { 'data-addr': s.addr, 'data-key': s.addr },
          h('th', { scope: 'row' }, h('code', s.addr)),
          h('td', s.role === 'master' ? badge('master', 'info') : badge('replica', 'muted')),
          h('td', link, s.role === 'replica' ? replicaNote(fg, s.addr) : null, st && !st.up && st.error ? h('div.small.error-text', st.error) : null),
          h('td.mem', mem),
          h('td.num', st ? num(st.keys) : '–'),
          h('td.num', st ? compact(st.opsPerSec) : '–'),
          h('td.num', st ? num(st.connectedClients) : '–'),
          h('td', actions),
        );
      });
      return h(
        'section.panel.group',
        { 'aria-labelledby': `g-${g.id}-title`, 'data-group': String(g.id), 'data-key': `g${g.id}` },
        h(
          'div.group-head',
          h('h2', { id: `g-${g.id}-title` }, chip(g.id), ` Group ${g.id}`),
          health,
          h('span.muted', `${g.slotCount} slots · weight ${g.weight} · ${gs ? `${num(gs.keys)} keys · ${compact(gs.opsPerSec)} ops/s · ${bytes(gs.usedMemory)}` : 'no stats yet'}`),
          g.promoting ? badge(`promoting ${g.promoting.newMaster}: ${g.promoting.state}`, 'warn') : null,
          failoverHead(fg),
          rmGroup,
        ),
        g.servers.length
          ? h(
              'div.table-wrap',
              h(
                'table.data',
                h('caption.visually-hidden', `Servers of group ${g.id}`),
                h('thead', h('tr', ['Server', 'Role', 'Link', 'Memory used / max', 'Keys', 'Ops/s', 'Clients', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
                h('tbody', rows),
              ),
            )
          : h('p.muted', 'No servers yet: add a master below.'),
      );
    }

    return {
      intervalMs: 2000,
      async refresh() {
        const [gr, ov, fo] = await Promise.all([get('/api/v1/groups'), get('/api/v1/overview?history=false'), get('/api/v1/failover').catch(() => null)]);
        const stats = new Map((ov.current?.groups ?? []).map((g) => [g.id, g]));
        const failover = new Map((fo?.groups ?? []).map((g) => [g.gid, g]));
        current = { groups: gr.groups, stats, failover };
        morph(list, ...(gr.groups.length ? gr.groups.map((g) => renderGroup(g, stats.get(g.id), failover.get(g.id))) : [h('p.panel', 'No groups yet. Create one below.')]));
        syncOptions(groupSel, gr.groups.map((g) => [String(g.id), `group ${g.id}`]));
        if (!gidIn.value && document.activeElement !== gidIn) gidIn.placeholder = String(Math.max(0, ...gr.groups.map((g) => g.id)) + 1);
      },
    };
  },
};
