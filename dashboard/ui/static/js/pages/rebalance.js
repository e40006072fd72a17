// Rebalance: ask the dashboard for a plan, show it as a picture (the slot map before and after, which ranges
// go where and how many keys), and start it only after the operator confirms.
import { api, get } from '../api.js';
import { badge, confirmDialog, duration, fill, h, messageArea, morph, num, progressBar } from '../dom.js';
import { chip, slotStrip } from '../chart.js';
import { loadMigrations, migrationApi } from './migrations.js';

const pick = (o, ...keys) => {
  for (const k of keys) if (o && o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
};

/** The planner's Plan (moves, before, after, targets, ranges) from a preview answer, whatever wraps it. */
export function normalizePlan(res) {
  const plan = pick(res, 'plan') ?? res;
  const moves = (pick(plan, 'moves') ?? []).map((m) => ({ slot: m.slot, from: m.from, to: m.to, keys: m.keys }));
  let ranges = pick(plan, 'ranges');
  if (!ranges) {
    ranges = [];
    for (const m of [...moves].sort((a, b) => a.slot - b.slot)) {
      const l = ranges[ranges.length - 1];
      if (l && l.from === m.from && l.to === m.to && l.last === m.slot - 1) l.last = m.slot;
      else ranges.push({ from: m.from, to: m.to, first: m.slot, last: m.slot });
    }
  }
  return {
    moves,
    ranges,
    before: pick(plan, 'before') ?? {},
    after: pick(plan, 'after') ?? {},
    targets: pick(plan, 'targets') ?? {},
    inFlight: pick(plan, 'inFlight') ?? 0,
    keys: pick(plan, 'keys', 'keysToMove', 'estimatedKeys'),
    keysBySlot: pick(plan, 'keysBySlot', 'slotKeys'),
    revision: pick(res, 'revision', 'ifRevision') ?? pick(plan, 'revision'),
    token: pick(res, 'planId', 'id', 'token') ?? pick(plan, 'planId', 'id'),
  };
}

export const rebalancePage = {
  title: 'Rebalance',
  mount(root, app) {
    const groupsBox = h('fieldset.weights', h('legend', 'Groups and weights'));
    const weightsSel = h('select', { id: 'rb-weights', name: 'weights' }, h('option', { value: 'table' }, 'the weights below'), h('option', { value: 'maxmemory' }, "each master's maxmemory"));
    const previewBtn = h('button', { type: 'submit' }, 'Preview plan');
    const previewMsg = messageArea();
    const form = h('form.inline-form', { 'aria-labelledby': 'rb-title' }, h('h2#rb-title', 'Plan'), h('p.muted', 'Each included group gets slots in proportion to its weight; the plan moves as few slots as possible. Nothing changes until you confirm.'), h('div.field.narrow', h('label', { for: 'rb-weights' }, 'Share slots by'), weightsSel), groupsBox, h('div.buttons', previewBtn), previewMsg.el);
    const planBox = h('section.panel.plan', { 'aria-labelledby': 'plan-title', hidden: true });
    const runBox = h('section.panel.run', { 'aria-labelledby': 'run-title', hidden: true });
    const note = h('p.muted');
    root.append(note, h('section.panel', form), planBox, runBox);

    let groups = [];
    let slots = [];
    let stats = new Map();
    let plan = null;
    let request = null;
    // The rebalance being watched survives leaving the page (sessionStorage, this tab only).
    const WATCH_KEY = 'redslot.rebalance';
    let watching = null; // { ids: Set<slot>, total, job, started }
    try {
      const saved = JSON.parse(sessionStorage.getItem(WATCH_KEY) ?? 'null');
      if (saved) watching = { ...saved, ids: new Set(saved.ids) };
    } catch {
      sessionStorage.removeItem(WATCH_KEY);
    }
    const saveWatching = () => {
      if (watching) sessionStorage.setItem(WATCH_KEY, JSON.stringify({ ...watching, ids: [...watching.ids] }));
      else sessionStorage.removeItem(WATCH_KEY);
    };
    runBox.addEventListener('click', (ev) => {
      if (!ev.target.closest?.('button[data-dismiss]')) return;
      watching = null;
      saveWatching();
      runBox.hidden = true;
    });
    const weightInputs = new Map();

    function renderGroupInputs() {
      const existing = new Set(weightInputs.keys());
      const ids = groups.map((g) => g.id);
      if (ids.length === existing.size && ids.every((id) => existing.has(id))) {
        for (const g of groups) weightInputs.get(g.id).count.textContent = num(g.slotCount);
        return;
      }
      weightInputs.clear();
      const rows = groups.map((g) => {
        const hasMaster = g.servers.some((s) => s.role === 'master');
        const inc = h('input', { type: 'checkbox', id: `rb-inc-${g.id}`, checked: hasMaster });
        const w = h('input', { type: 'number', min: '0', step: 'any', id: `rb-w-${g.id}`, value: String(g.weight), inputmode: 'decimal', 'aria-label': `Weight of group ${g.id}` });
        const count = h('td.num', num(g.slotCount));
        weightInputs.set(g.id, { inc, w, count });
        return h(
          'tr.weight-row',
          { 'data-group': String(g.id) },
          h('td', inc),
          h('td', h('label', { for: inc.id }, chip(g.id), ` group ${g.id}`), hasMaster ? null : h('span.small.warn-text', ' (no master)')),
          h('td', w),
          count,
        );
      });
      fill(groupsBox,
        h('legend', 'Groups and weights'),
        h('table.data.weights-table', h('thead', h('tr', ['Include', 'Group', 'Weight', 'Slots now'].map((t) => h('th', { scope: 'col' }, t)))), h('tbody', rows)),
      );
    }

    weightsSel.addEventListener('change', () => {
      for (const { w } of weightInputs.values()) w.disabled = weightsSel.value === 'maxmemory';
    });

    function currentRequest() {
      const list = [];
      for (const [id, { inc, w }] of weightInputs) if (inc.checked) list.push({ id, weight: w.value === '' ? 1 : Number(w.value) });
      if (list.length === 0) throw new Error('include at least one group');
      if (weightsSel.value === 'maxmemory') return { mode: 'rebalance', weights: 'maxmemory', groups: list.map((g) => ({ id: g.id })) };
      return { mode: 'rebalance', groups: list };
    }

    function keysOf(slot, from) {
      if (plan?.keysBySlot && plan.keysBySlot[slot] !== undefined) return { n: plan.keysBySlot[slot], exact: true };
      const g = groups.find((x) => x.id === from);
      const st = stats.get(from);
      if (g && st && g.slotCount > 0) return { n: st.keys / g.slotCount, exact: false };
      return { n: 0, exact: false };
    }

    function renderPlan() {
      planBox.hidden = false;
      const before = slots.map((s) => (s.action ? s.action.target : s.group));
      const after = before.slice();
      for (const m of plan.moves) after[m.slot] = m.to;
      const moving = new Set(plan.moves.map((m) => m.slot));
      let keyTotal = 0;
      let exact = true;
      const rangeRows = plan.ranges.map((r) => {
        let k = 0;
        for (let s = r.first; s <= r.last; s++) {
          const e = keysOf(s, r.from);
          k += e.n;
          exact &&= e.exact;
        }
        keyTotal += k;
        const n = r.last - r.first + 1;
        return h(
          'tr',
          h('td', r.first === r.last ? String(r.first) : `${r.first}-${r.last}`),
          h('td.num', num(n)),
          h('td', chip(r.from), r.from ? ` group ${r.from}` : ' offline', h('span.arrow', { 'aria-label': 'to' }, ' → '), chip(r.to), ` group ${r.to}`),
          h('td.num', `${exact ? '' : '≈ '}${num(k)}`),
        );
      });
      if (typeof plan.keys === 'number') {
        keyTotal = plan.keys;
        exact = true;
      }
      const ids = [...new Set([...Object.keys(plan.before), ...Object.keys(plan.after), ...groups.map((g) => String(g.id))])].map(Number).sort((a, b) => a - b);
      const maxCount = Math.max(1, ...ids.map((id) => Math.max(plan.before[id] ?? 0, plan.after[id] ?? 0)));
      const bars = ids.map((id) => {
        const b = plan.before[id] ?? 0;
        const a = plan.after[id] ?? 0;
        const barB = h('div.hbar.before');
        barB.style.width = `${(100 * b) / maxCount}%`;
        const barA = h('div.hbar.after');
        barA.style.width = `${(100 * a) / maxCount}%`;
        return h(
          'tr',
          { 'data-group': String(id) },
          h('th', { scope: 'row' }, chip(id), id ? ` group ${id}` : ' offline'),
          h('td.num', num(b)),
          h('td.num', num(a)),
          h('td.num', a - b > 0 ? `+${a - b}` : String(a - b)),
          h('td.bars', { 'aria-hidden': 'true' }, barB, barA),
        );
      });
      const confirmBtn = h('button', { type: 'button', id: 'rb-confirm' }, `Start rebalance (${num(plan.moves.length)} slots)`);
      const cancelBtn = h('button.secondary', { type: 'button' }, 'Discard plan');
      const runMsg = messageArea();
      confirmBtn.disabled = plan.moves.length === 0 || !migrationApi().start;
      cancelBtn.addEventListener('click', () => {
        plan = null;
        planBox.hidden = true;
        fill(planBox);
      });
      confirmBtn.addEventListener('click', () => startPlan(confirmBtn, runMsg));
      fill(planBox,
        h('h2#plan-title', 'Plan preview'),
        plan.moves.length === 0
          ? h('p.ok', { role: 'status' }, 'The cluster is already balanced for these weights: nothing to move.')
          : h('p', { role: 'status', class: 'plan-summary' }, `${num(plan.moves.length)} slot(s) move in ${plan.ranges.length} range(s), ${exact ? '' : 'about '}${num(keyTotal)} key(s).${plan.inFlight ? ` ${plan.inFlight} slot(s) already in flight count toward their target.` : ''}`),
        h('figure.strips', h('figcaption.small', 'Slot map now (top) and after the plan (bottom); ticks mark the slots that move.'), slotStrip(before, { label: 'slot owners now' }), slotStrip(after, { label: 'slot owners after the plan', marks: moving })),
        h(
          'div.table-wrap',
          h(
            'table.data.plan-groups',
            h('caption', 'Slots per group'),
            h('thead', h('tr', ['Group', 'Now', 'After', 'Change', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', bars),
          ),
        ),
        plan.moves.length
          ? h(
              'div.table-wrap',
              h(
                'table.data.plan-ranges',
                h('caption', 'Moves'),
                h('thead', h('tr', ['Slots', 'Count', 'From → to', 'Keys'].map((t) => h('th', { scope: 'col' }, t)))),
                h('tbody', rangeRows),
              ),
            )
          : null,
        h('div.buttons', confirmBtn, cancelBtn),
        runMsg.el,
      );
    }

    async function startPlan(button, runMsg) {
      const r = migrationApi().start;
      const ok = await confirmDialog('Start rebalance', `Move ${plan.moves.length} slot(s) now? Clients keep working; keys move in the background.`, 'Start');
      if (!ok) return;
      button.disabled = true;
      runMsg.info('Starting the rebalance…');
      try {
        const body = { ...request, confirm: true };
        if (plan.revision !== undefined) body.ifRevision = plan.revision;
        if (plan.token !== undefined) body.planId = plan.token;
        const res = await api(r[0], r[1], body);
        const job = pick(res, 'job', 'id', 'jobId');
        watching = { ids: new Set(plan.moves.map((m) => m.slot)), total: plan.moves.length, job: typeof job === 'object' ? pick(job, 'id') : job, started: Date.now() };
        saveWatching();
        runMsg.ok(`Rebalance started${watching.job ? ` (job ${watching.job})` : ''}.`);
        plan = null;
        planBox.hidden = true;
        app.refreshNow();
      } catch (err) {
        runMsg.error(err, 'Starting the rebalance');
        button.disabled = false;
      }
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const r = migrationApi().preview;
      try {
        request = currentRequest();
        if (!r) throw new Error('this dashboard does not serve the migration API (no preview route in its OpenAPI document)');
      } catch (err) {
        previewMsg.error(err, 'Previewing the plan');
        return;
      }
      previewBtn.disabled = true;
      previewMsg.info('Asking the dashboard for a plan…');
      try {
        const res = await api(r[0], r[1], request);
        plan = normalizePlan(res);
        previewMsg.clear();
        renderPlan();
        planBox.querySelector('h2')?.scrollIntoView({ block: 'nearest' });
      } catch (err) {
        previewMsg.error(err, 'Previewing the plan');
      } finally {
        previewBtn.disabled = false;
      }
    });

    async function renderRun() {
      if (!watching) return;
      const m = await loadMigrations();
      const left = m.actions.filter((s) => watching.ids.has(s.id)).length;
      const job = watching.job ? m.jobs.find((j) => j.id === String(watching.job)) : undefined;
      // With the job (migration API): its state and fraction; else the slots of the plan still carrying an action.
      const state = job ? job.state : left === 0 ? 'done' : 'running';
      const done = state === 'done';
      const ended = done || state === 'aborted';
      const fraction = done ? 1 : job ? job.fraction : (watching.total - left) / watching.total;
      const owners = slots.map((s) => (s.action ? s.action.target : s.group));
      const title = done ? 'Rebalance finished' : state === 'aborted' ? 'Rebalance aborted' : state === 'aborting' ? 'Rebalance aborting' : m.paused ? 'Rebalance paused' : 'Rebalance in progress';
      const eta = job && job.keysPerSec > 0 && !m.paused ? ` · ETA ${duration(job.etaSeconds)}` : '';
      const text = done
        ? `Rebalance finished: ${watching.total} slot(s) moved${job ? `, ${num(job.keysMoved)} keys` : ''}.`
        : state === 'aborted'
          ? `Rebalance aborted: ${job ? job.done : watching.total - left} of ${watching.total} slot(s) had moved; the rest went back to their source.`
          : `${job ? job.done : watching.total - left} of ${watching.total} slot(s) done${job ? ` · ${num(job.keysMoved)} keys moved · ${num(job.keysPerSec)} keys/s${eta}` : ''}${m.paused ? ' · migrations are paused (resume them on the Migrations page)' : ''}.`;
      runBox.hidden = false;
      morph(
        runBox,
        h('div.job-head', h('h2#run-title', title), badge(done ? 'done' : state === 'aborted' ? 'aborted' : m.paused ? 'paused' : state, done ? 'good' : state === 'aborted' ? 'bad' : m.paused ? 'warn' : 'info'), watching.job ? h('span.muted.small', `job ${watching.job}`) : null),
        progressBar(fraction, 'Rebalance progress'),
        h('p.small.run-status', { 'aria-live': 'polite' }, text),
        job && job.errors.length ? h('ul.error-list', job.errors.slice(0, 10).map((e) => h('li.error-text', e))) : null,
        h('figure.strips', h('figcaption.small', 'Slot map now (queued and moving slots shown at their target)'), slotStrip(owners, { label: 'slot owners now' })),
        h('p', h('a', { href: '#/migrations' }, 'Details, pause, throttle and abort on the Migrations page')),
        ended ? h('button.secondary.small', { type: 'button', 'data-dismiss': '1' }, 'Dismiss') : null,
      );
    }

    return {
      intervalMs: 1500,
      async refresh() {
        const [gr, sl, ov] = await Promise.all([get('/api/v1/groups'), get('/api/v1/slots'), get('/api/v1/overview?history=false').catch(() => null)]);
        groups = gr.groups;
        slots = sl.slots;
        stats = new Map((ov?.current?.groups ?? []).map((g) => [g.id, g]));
        renderGroupInputs();
        const routes = migrationApi();
        note.textContent = routes.preview ? '' : 'This dashboard does not serve the migration API yet (no preview route in its OpenAPI document): plans cannot be computed here.';
        previewBtn.disabled = !routes.preview;
        await renderRun();
      },
    };
  },
};
