// Migrations: every running or pending slot action with progress, rate and ETA; pause, resume, abort,
// throttle. Slot actions come from GET /api/v1/slots (always there); jobs, progress and control from the
// migration routes, found in the OpenAPI document (see MIGRATION_ROUTES).
import { api, get, hasRoute } from '../api.js';
import { badge, bytes, compact, confirmDialog, duration, field, h, messageArea, morph, num, progressBar, rangesText, runAction } from '../dom.js';
import { chip } from '../chart.js';

/**
 * Where each migration operation lives. Several candidates per operation: the first one the dashboard's
 * OpenAPI document lists is used. `:job` is replaced by the job id.
 */
export const MIGRATION_ROUTES = {
  list: [['GET', '/api/v1/migrations']],
  preview: [['POST', '/api/v1/migrations/preview'], ['POST', '/api/v1/migrations/plan'], ['POST', '/api/v1/rebalance/preview']],
  start: [['POST', '/api/v1/migrations'], ['POST', '/api/v1/rebalance']],
  pause: [['POST', '/api/v1/migrations/:job/pause'], ['POST', '/api/v1/migrations/pause']],
  resume: [['POST', '/api/v1/migrations/:job/resume'], ['POST', '/api/v1/migrations/resume']],
  abort: [['POST', '/api/v1/migrations/:job/abort'], ['POST', '/api/v1/migrations/abort']],
  throttle: [['PUT', '/api/v1/migrations/throttle'], ['POST', '/api/v1/migrations/throttle'], ['PUT', '/api/v1/migrations/:job/throttle']],
};

/** The available migration routes: { list, preview, start, move, pause, resume, abort, throttle } → [method, path] | undefined. */
export function migrationApi() {
  const out = {};
  for (const [op, cands] of Object.entries(MIGRATION_ROUTES)) out[op] = cands.find(([m, p]) => hasRoute(m, p));
  out.move = out.start;
  return out;
}

function call(route, job, body) {
  const path = route[1].replace(':job', encodeURIComponent(job ?? ''));
  return api(route[0], path, route[0] === 'GET' || route[0] === 'DELETE' ? undefined : (body ?? {}));
}

const pick = (o, ...keys) => {
  for (const k of keys) if (o && o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
};

/** A job from the API in one shape the pages use (tolerant of field names). */
export function normalizeJob(j) {
  const p = pick(j, 'progress', 'totals') ?? j;
  const slots = pick(j, 'slots', 'moves') ?? [];
  const total = pick(p, 'slotsTotal', 'totalSlots') ?? pick(j, 'slotsTotal', 'totalSlots') ?? (Array.isArray(slots) ? slots.length : 0);
  const done = pick(p, 'slotsDone', 'doneSlots', 'finishedSlots') ?? pick(j, 'slotsDone', 'doneSlots') ?? (Array.isArray(slots) ? slots.filter((s) => ['done', 'finished', 'cleared'].includes(s.state)).length : 0);
  const errors = [];
  for (const s of Array.isArray(slots) ? slots : []) if (s && s.error) errors.push(`slot ${s.slot ?? s.id}: ${s.error.message ?? s.error}`);
  const jobErr = pick(j, 'error', 'lastError');
  if (jobErr) errors.push(typeof jobErr === 'string' ? jobErr : jobErr.message ?? JSON.stringify(jobErr));
  return {
    id: String(pick(j, 'id', 'job', 'jobId') ?? '?'),
    kind: pick(j, 'kind', 'mode', 'type') ?? 'move',
    state: String(pick(j, 'state', 'status') ?? 'running'),
    paused: Boolean(pick(j, 'paused') ?? pick(p, 'paused')),
    createdAt: pick(j, 'createdAt', 'startedAt', 'created'),
    total,
    done,
    keysMoved: pick(p, 'keysMoved') ?? 0,
    bytesMoved: pick(p, 'bytesMoved') ?? 0,
    keysPerSec: pick(p, 'keysPerSec', 'rate') ?? 0,
    bytesPerSec: pick(p, 'bytesPerSec') ?? 0,
    keysRemaining: pick(p, 'keysRemaining') ?? null,
    etaSeconds: pick(p, 'etaSeconds', 'eta') ?? null,
    fraction: pick(p, 'fraction', 'percent') !== undefined ? (pick(p, 'fraction') ?? pick(p, 'percent') / 100) : total ? done / total : 0,
    slots: Array.isArray(slots) ? slots : [],
    throttle: pick(j, 'throttle') ?? pick(p, 'throttle'),
    errors,
    raw: j,
  };
}

const FINISHED = new Set(['done', 'finished', 'completed', 'succeeded', 'aborted', 'failed', 'cancelled', 'canceled']);

/**
 * Migration state for the Overview and this page: slot actions from /slots plus jobs from the API.
 * activeSlots counts slots carrying an action.
 */
export async function loadMigrations() {
  const r = migrationApi();
  const [sl, list] = await Promise.all([get('/api/v1/slots'), r.list ? call(r.list) : Promise.resolve(undefined)]);
  const actions = sl.slots.filter((s) => s.action);
  const rawJobs = list ? (Array.isArray(list) ? list : pick(list, 'jobs', 'migrations') ?? []) : [];
  const jobs = rawJobs.map(normalizeJob);
  return {
    available: Boolean(r.list),
    routes: r,
    jobs,
    activeJobs: jobs.filter((j) => !FINISHED.has(j.state)),
    actions,
    activeSlots: actions.length,
    errors: jobs.filter((j) => !FINISHED.has(j.state) || j.state === 'failed').flatMap((j) => j.errors),
    throttle: list ? pick(list, 'throttle') : undefined,
    paused: list ? Boolean(pick(list, 'paused')) : false,
    raw: list,
  };
}

/** Starts moving slots from..to to a group (used by the slot map). Resolves with { summary }. */
export async function startMove(from, to, group) {
  const r = migrationApi();
  if (!r.start) throw new Error('this dashboard does not serve the migration API (no move route in its OpenAPI document)');
  const res = await call(r.start, undefined, { mode: 'range', from, to, group });
  const job = pick(res, 'job', 'id', 'jobId');
  return { summary: `slots ${from}-${to} to group ${group}${job ? ` (job ${typeof job === 'object' ? pick(job, 'id') : job})` : ''}`, res };
}

const STATE_PCT = { pending: 0, preparing: 0.05, prepared: 0.1, migrating: 0.15, finished: 0.95 };

export const migrationsPage = {
  title: 'Migrations',
  mount(root, app) {
    const msg = messageArea();
    const controls = h('div.controls');
    const jobsBox = h('div.jobs');
    const slotsBox = h('div.table-wrap');
    const note = h('p.muted.small');
    const keysIn = h('input', { type: 'number', min: '0', step: '1', name: 'keysPerSec', inputmode: 'numeric', placeholder: '0 = unlimited' });
    const bytesIn = h('input', { type: 'number', min: '0', step: '1', name: 'mbPerSec', inputmode: 'decimal', placeholder: '0 = unlimited' });
    const throttleBtn = h('button', { type: 'submit' }, 'Set throttle');
    const throttleForm = h('form.inline-form', { 'aria-labelledby': 'throttle-title' }, h('h2#throttle-title', 'Throttle'), h('div.row', field('Keys per second', keysIn), field('MiB per second', bytesIn)), h('div.buttons', throttleBtn));
    root.append(
      msg.el,
      h('section.panel', { 'aria-labelledby': 'jobs-title' }, h('h2#jobs-title', 'Jobs'), note, controls, jobsBox),
      h('section.panel', throttleForm),
      h('section.panel', { 'aria-labelledby': 'actions-title' }, h('h2#actions-title', 'Slot actions'), slotsBox),
    );
    let last = null;
    // Slots seen per job during this visit: progress stays meaningful when the API has no job list.
    const seen = new Map();

    async function control(op, job, button) {
      const r = migrationApi()[op];
      if (!r) {
        msg.error(new Error(`this dashboard has no ${op} route`), op);
        return;
      }
      const what = `${op[0].toUpperCase()}${op.slice(1)}${job ? ` job ${job}` : ' migrations'}`;
      if (op === 'abort' && !(await confirmDialog('Abort migration', `Abort ${job ? `job ${job}` : 'every migration'}? Slots go back to their source group and keys already moved are moved back.`, 'Abort'))) return;
      await runAction(button, msg, what, () => call(r, job, {}), `${what}: done.`);
      app.refreshNow();
    }

    throttleForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const r = migrationApi().throttle;
      if (!r) {
        msg.error(new Error('this dashboard has no throttle route'), 'Setting the throttle');
        return;
      }
      const keysPerSec = keysIn.value === '' ? 0 : Number(keysIn.value);
      const bytesPerSec = bytesIn.value === '' ? 0 : Math.round(Number(bytesIn.value) * 1024 * 1024);
      const job = last?.activeJobs?.[0]?.id;
      await runAction(throttleBtn, msg, 'Setting the throttle', () => call(r, job, { keysPerSec, bytesPerSec }), `Throttle set to ${keysPerSec ? `${num(keysPerSec)} keys/s` : 'unlimited keys/s'} and ${bytesPerSec ? `${bytes(bytesPerSec)}/s` : 'unlimited bytes/s'}.`);
      app.refreshNow();
    });

    // Buttons are re-rendered in place every second: one delegated handler reads what to do from data-*.
    const busy = new Set();
    root.addEventListener('click', (ev) => {
      const b = ev.target.closest?.('button[data-op]');
      if (!b || b.disabled) return;
      const key = `${b.dataset.op}:${b.dataset.job ?? ''}`;
      busy.add(key);
      void control(b.dataset.op, b.dataset.job || undefined, b).finally(() => busy.delete(key));
    });

    function button(label, op, job, aria) {
      const has = Boolean(migrationApi()[op]);
      return h(
        'button.small' + (op === 'abort' ? '.danger' : '.secondary'),
        { type: 'button', 'aria-label': aria, 'data-op': op, 'data-job': job, disabled: !has || busy.has(`${op}:${job ?? ''}`), title: has ? undefined : `no ${op} route on this dashboard` },
        label,
      );
    }

    function renderJob(j) {
      const finished = FINISHED.has(j.state);
      const pct = finished && j.state !== 'failed' && j.state !== 'aborted' ? 1 : j.fraction;
      return h(
        'article.job',
        { 'data-job': j.id, 'data-state': j.state, 'data-key': j.id },
        h('div.job-head', h('h3', `Job ${j.id}`), badge(j.paused ? 'paused' : j.state, j.paused ? 'warn' : finished ? (j.state === 'failed' || j.state === 'aborted' ? 'bad' : 'good') : 'info'), h('span.muted.small', `${j.kind}${j.createdAt ? ` · started ${new Date(j.createdAt).toLocaleTimeString(undefined, { hour12: false })}` : ''}`)),
        progressBar(pct, `Progress of job ${j.id}`),
        h(
          'p.small.job-stats',
          `${num(j.done)} / ${num(j.total)} slots · ${num(j.keysMoved)} keys (${bytes(j.bytesMoved)}) moved · ${compact(j.keysPerSec)} keys/s, ${bytes(j.bytesPerSec)}/s · ETA ${finished ? '–' : duration(j.etaSeconds)}${j.keysRemaining !== null && !finished ? ` · ≈ ${num(j.keysRemaining)} keys left` : ''}`,
        ),
        j.errors.length ? h('ul.error-list', j.errors.map((e) => h('li.error-text', { role: 'alert' }, e))) : null,
        finished ? null : h('div.buttons', j.paused ? button('Resume', 'resume', j.id, `Resume job ${j.id}`) : button('Pause', 'pause', j.id, `Pause job ${j.id}`), button('Abort', 'abort', j.id, `Abort job ${j.id}`)),
      );
    }

    return {
      intervalMs: 1000,
      async refresh() {
        const m = await loadMigrations();
        last = m;
        const routes = m.routes;
        note.textContent = m.available ? '' : 'This dashboard does not serve the migration API (no /api/v1/migrations in its OpenAPI document): slot actions are shown from the slot table, without keys, rate or controls.';
        // Global controls when the API pauses/resumes everything (routes without :job).
        const global = [];
        if (routes.pause && !routes.pause[1].includes(':job')) global.push(button('Pause all', 'pause', undefined, 'Pause every migration'));
        if (routes.resume && !routes.resume[1].includes(':job')) global.push(button('Resume all', 'resume', undefined, 'Resume every migration'));
        if (routes.abort && !routes.abort[1].includes(':job')) global.push(button('Abort all', 'abort', undefined, 'Abort every migration'));
        morph(controls, ...global);
        throttleBtn.disabled = !routes.throttle;
        if (m.throttle && document.activeElement !== keysIn && document.activeElement !== bytesIn) {
          keysIn.placeholder = m.throttle.keysPerSec ? `now ${num(m.throttle.keysPerSec)}` : 'now unlimited';
          bytesIn.placeholder = m.throttle.bytesPerSec ? `now ${(m.throttle.bytesPerSec / 1048576).toFixed(1)}` : 'now unlimited';
        }

        // Jobs: from the API, else derived from slot actions grouped by job id.
        let jobs = m.jobs;
        if (!m.available) {
          const byJob = new Map();
          for (const s of m.actions) {
            const id = s.action.job ?? '(no job id)';
            if (!byJob.has(id)) byJob.set(id, []);
            byJob.get(id).push(s);
          }
          for (const [id, list] of byJob) seen.set(id, new Set([...(seen.get(id) ?? []), ...list.map((s) => s.id)]));
          jobs = [...seen.entries()].map(([id, all]) => {
            const left = byJob.get(id) ?? [];
            const total = all.size;
            const partial = left.reduce((a, s) => a + (STATE_PCT[s.action.state] ?? 0), 0);
            return { id, kind: 'slot actions', state: left.length ? 'running' : 'finished', paused: false, total, done: total - left.length, keysMoved: 0, bytesMoved: 0, keysPerSec: 0, bytesPerSec: 0, keysRemaining: null, etaSeconds: null, fraction: total ? (total - left.length + partial) / total : 1, slots: [], errors: [] };
          });
        }
        const active = jobs.filter((j) => !FINISHED.has(j.state));
        const done = jobs.filter((j) => FINISHED.has(j.state)).slice(0, 10);
        morph(
          jobsBox,
          ...(jobs.length ? [...active, ...done].map(renderJob) : [h('p', 'No migration is running or pending.')]),
        );

        // Slot actions table (progress per slot when the API reports it).
        const perSlot = new Map();
        for (const j of m.jobs) for (const s of j.slots) perSlot.set(s.slot ?? s.id, s);
        if (m.actions.length === 0) {
          morph(
          slotsBox, h('p', 'No slot carries an action.'));
          return;
        }
        const rows = m.actions
          .slice()
          .sort((a, b) => a.action.index - b.action.index)
          .slice(0, 300)
          .map((s) => {
            const p = perSlot.get(s.id);
            const keysMoved = p ? pick(p, 'keysMoved') ?? 0 : undefined;
            const keysFound = p ? pick(p, 'keysFound', 'keysRemaining') ?? 0 : undefined;
            let frac = STATE_PCT[s.action.state] ?? 0;
            if (p && s.action.state === 'migrating' && keysMoved + keysFound > 0) frac = 0.15 + 0.8 * (keysMoved / (keysMoved + keysFound));
            return h(
              'tr',
              { 'data-slot': String(s.id), 'data-key': String(s.id) },
              h('td.num', String(s.id)),
              h('td', chip(s.group), ` ${s.group}`, ' → ', chip(s.action.target), ` ${s.action.target}`),
              h('td', badge(`${s.action.aborted ? 'aborting: ' : ''}${s.action.state}`, s.action.state === 'migrating' ? 'info' : 'muted')),
              h('td', progressBar(frac, `slot ${s.id}`)),
              h('td.num', keysMoved === undefined ? '–' : num(keysMoved)),
              h('td', p && p.error ? h('span.error-text', p.error.message ?? String(p.error)) : s.action.job ?? ''),
            );
          });
        morph(
          slotsBox,
          h('p.small', `${m.actions.length} slot(s) with an action: ${rangesText(m.actions.map((s) => s.id))}${m.actions.length > 300 ? ' (first 300 shown)' : ''}`),
          h(
            'table.data',
            h('caption.visually-hidden', 'Slot actions in queue order'),
            h('thead', h('tr', ['Slot', 'Source → target', 'State', 'Progress', 'Keys moved', 'Job / error'].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', rows),
          ),
        );
      },
    };
  },
};
