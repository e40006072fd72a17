// Splits: split a group by replication into a new, empty group. Preview first (guard rails, warnings), start
// only after the operator confirms; every split is listed with its step, sync / purge progress, the hold time
// at the switch, and an Abort button while abort is still possible (before the switch).
import { get, post } from '../api.js';
import { badge, bytes, confirmDialog, field, fill, h, messageArea, morph, num, progressBar, syncOptions } from '../dom.js';

const ABORTABLE = ['syncing', 'locked', 'promoting'];
const KIND = { done: 'good', aborted: 'bad', failed: 'bad', aborting: 'warn', purging: 'info', attaching: 'info', syncing: 'info', locked: 'warn', promoting: 'warn', switching: 'warn' };

const rangesText = (ranges) => ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ');

function progressOf(s) {
  const p = s.progress;
  if (s.step === 'done') return { f: 1, text: `done: slots held ${s.holdMs ?? '?'} ms at the switch; purged ${num(s.purge?.sourceDeleted ?? 0)} key(s) from group ${s.source}, ${num(s.purge?.targetDeleted ?? 0)} from group ${s.target}` };
  if (!p) return { f: 0, text: s.running ? '' : 'waiting for the leader to run it' };
  if (s.step === 'syncing') {
    if (p.lagBytes < 0) return { f: p.syncTotalBytes > 0 ? p.syncReadBytes / p.syncTotalBytes : 0, text: `full sync: ${bytes(p.syncReadBytes)}${p.syncTotalBytes > 0 ? ` of ${bytes(p.syncTotalBytes)}` : ''}` };
    return { f: 1, text: `replicating, ${bytes(p.lagBytes)} behind` };
  }
  if (s.step === 'purging') {
    const total = (p.purgeSourceKeys + p.purgeTargetKeys) / 2;
    const done = p.purgedSource + p.purgedTarget;
    return { f: total > 0 ? done / total : 0, text: `purging leftovers: ${num(done)} key(s) deleted; slots were held ${s.holdMs ?? '?'} ms` };
  }
  if (s.step === 'attaching') return { f: 1, text: `attaching the replicas of group ${s.target} to its master` };
  return { f: 0.5, text: `switching (${s.step})` };
}

// The new group's replicas: the outcome once done, else their live state (chained during the sync).
function replicasText(s) {
  if (s.replicas) return s.replicas.map((o) => `replica ${o.addr}: ${o.attached ? 'attached' : `not attached${o.detail ? ` (${o.detail})` : ''}`}`);
  return (s.progress?.replicas ?? []).map((x) => {
    if (x.error !== undefined) return `replica ${x.addr}: unreachable`;
    const state = x.role !== 'slave' ? x.role : x.syncing ? 'full sync' : x.linkUp ? `${bytes(x.lagBytes)} behind` : 'link down';
    return `replica ${x.addr}: ${state}`;
  });
}

export const splitsPage = {
  title: 'Splits',
  mount(root, app) {
    const sourceSel = h('select', { id: 'sp-source', name: 'source' });
    const targetSel = h('select', { id: 'sp-target', name: 'target' });
    const fromIn = h('input', { type: 'number', id: 'sp-from', min: '0', max: '1023', inputmode: 'numeric' });
    const toIn = h('input', { type: 'number', id: 'sp-to', min: '0', max: '1023', inputmode: 'numeric' });
    const previewBtn = h('button', { type: 'submit' }, 'Preview split');
    const msg = messageArea();
    const form = h(
      'form.inline-form',
      { 'aria-labelledby': 'sp-title' },
      h('h2#sp-title', 'Split a group'),
      h('p.muted', "The new group's master (empty) replicates the source, the moving slots are held for a moment at every proxy while it is promoted, then the leftovers are purged on both sides. Nothing changes until you confirm."),
      field('Group to split', sourceSel),
      field('New group (empty, with a master)', targetSel),
      field('First slot (optional)', fromIn, 'default: the upper half of the group'),
      field('Last slot (optional)', toIn),
      h('div.buttons', previewBtn),
      msg.el,
    );
    const planBox = h('section.panel.plan', { 'aria-labelledby': 'sp-plan-title', hidden: true });
    const listBox = h('section.panel', { 'aria-labelledby': 'sp-list-title' });
    const listMsg = messageArea();
    root.append(h('section.panel', form), planBox, listBox, listMsg.el);
    let request = null;

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      request = { source: Number(sourceSel.value), target: Number(targetSel.value) };
      if (fromIn.value !== '' || toIn.value !== '') Object.assign(request, { from: Number(fromIn.value || 0), to: Number(toIn.value || 1023) });
      previewBtn.disabled = true;
      msg.info('Checking the guard rails…');
      try {
        const res = await post('/api/v1/splits', request);
        msg.clear();
        renderPlan(res.plan, res.revision);
      } catch (err) {
        planBox.hidden = true;
        msg.error(err, 'Previewing the split');
      } finally {
        previewBtn.disabled = false;
      }
    });

    function renderPlan(p, revision) {
      const start = h('button', { type: 'button', id: 'sp-confirm' }, `Start split (${num(p.slotCount)} slots)`);
      const runMsg = messageArea();
      start.addEventListener('click', async () => {
        if (!(await confirmDialog('Start split', `Move ${p.slotCount} slot(s) of group ${p.source} to group ${p.target} by replication? Requests for them are held briefly at the switch.`, 'Start'))) return;
        start.disabled = true;
        try {
          await post('/api/v1/splits', { ...request, confirm: true, ifRevision: revision });
          planBox.hidden = true;
          app.refreshNow();
        } catch (err) {
          runMsg.error(err, 'Starting the split');
          start.disabled = false;
        }
      });
      planBox.hidden = false;
      fill(
        planBox,
        h('h2#sp-plan-title', 'Split preview'),
        h('p.plan-summary', { role: 'status' }, `${num(p.slotCount)} slot(s) (${rangesText(p.slots)}) go from group ${p.source} (${p.sourceMaster}) to group ${p.target} (${p.targetMaster}); group ${p.source} keeps ${num(p.keeps)}.`),
        h('p.small', `Source dataset ${bytes(p.sourceUsedMemory)}, ${num(p.sourceKeys)} key(s); new master maxmemory ${p.targetMaxmemory > 0 ? bytes(p.targetMaxmemory) : 'unlimited'}; repl-backlog-size ${bytes(p.replBacklogBytes)}.`),
        p.targetReplicas?.length ? h('p.small', `Replicas of group ${p.target}: ${p.targetReplicas.join(', ')} (they follow its master during the sync and after the switch).`) : null,
        p.warnings.length ? h('ul.warn-list', p.warnings.map((w) => h('li.warn-text', w))) : null,
        h('div.buttons', start),
        runMsg.el,
      );
    }

    listBox.addEventListener('click', async (ev) => {
      const b = ev.target.closest?.('button[data-abort]');
      if (!b) return;
      const source = b.getAttribute('data-abort');
      if (!(await confirmDialog('Abort split', `Abort the split of group ${source}? The new group is detached and flushed; nothing else changes.`, 'Abort'))) return;
      b.disabled = true;
      try {
        await post(`/api/v1/splits/${source}/abort`, {});
        listMsg.ok(`Split of group ${source} aborting.`);
        app.refreshNow();
      } catch (err) {
        listMsg.error(err, 'Aborting the split');
        b.disabled = false;
      }
    });

    return {
      intervalMs: 1000,
      async refresh() {
        const [gr, sp] = await Promise.all([get('/api/v1/groups'), get('/api/v1/splits')]);
        const withMaster = gr.groups.filter((g) => g.servers.some((s) => s.role === 'master'));
        syncOptions(sourceSel, withMaster.filter((g) => g.slotCount > 0).map((g) => [String(g.id), `group ${g.id} (${g.slotCount} slots)`]));
        syncOptions(targetSel, withMaster.filter((g) => g.slotCount === 0).map((g) => [String(g.id), `group ${g.id}`]));
        const rows = sp.splits.map((s) => {
          const pr = progressOf(s);
          return h(
            'tr.split-row',
            { 'data-key': s.id, 'data-source': String(s.source) },
            h('td', `${s.source} → ${s.target}`),
            h('td', rangesText(s.slots)),
            h('td', badge(s.step, KIND[s.step] ?? 'info')),
            h('td', progressBar(pr.f, `Split of group ${s.source}`), h('div.small', pr.text), ...replicasText(s).map((t) => h('div.small.muted', t)), s.reason ? h('div.small.error-text', s.reason) : null, s.progress?.lastError ? h('div.small.warn-text', s.progress.lastError.message) : null),
            h('td', ABORTABLE.includes(s.step) ? h('button.secondary.small', { type: 'button', 'data-abort': String(s.source), 'aria-label': `Abort the split of group ${s.source}` }, 'Abort') : null),
          );
        });
        morph(
          listBox,
          h('h2#sp-list-title', 'Splits'),
          rows.length === 0
            ? h('p.muted', 'No split yet.')
            : h('div.table-wrap', h('table.data.splits', h('thead', h('tr', ['Groups', 'Slots', 'Step', 'Progress', ''].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', rows))),
        );
      },
    };
  },
};
