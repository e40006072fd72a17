// Migrations: every running or pending slot action with progress, rate and ETA; pause, resume, abort,
// throttle. Slot actions come from GET /api/v1/slots (always there); jobs, movers, progress and control from
// the migration routes (dashboard/routes/migrations.ts), used only when the dashboard's OpenAPI document lists
// them: a dashboard without the migration plugin still shows the slot actions and says what is missing.
import { api, get, hasRoute } from '../api.js';
import { badge, bytes, compact, confirmDialog, duration, field, h, messageArea, morph, num, progressBar, rangesText, runAction } from '../dom.js';
import { chip } from '../chart.js';

/** The migration routes this UI uses. */
export const MIGRATION_ROUTES = {
  status: ['GET', '/api/v1/migrations'],
  preview: ['POST', '/api/v1/migrations/preview'],
  start: ['POST', '/api/v1/migrations'],
  pause: ['POST', '/api/v1/migrations/pause'],
  resume: ['POST', '/api/v1/migrations/resume'],
  abort: ['POST', '/api/v1/migrations/abort'],
  abortJob: ['POST', '/api/v1/migrations/:job/abort'],
  throttle: ['PUT', '/api/v1/migrations/throttle'],
};

/** { op: [method, path] | undefined } for the routes the dashboard serves. */
export function migrationApi() {
  const out = {};
  for (const [op, r] of Object.entries(MIGRATION_ROUTES)) out[op] = hasRoute(r[0], r[1]) ? r : undefined;
  return out;
}

function call(route, job, body) {
  const path = route[1].replace(':job', encodeURIComponent(job ?? ''));
  return api(route[0], path, route[0] === 'GET' ? undefined : (body ?? {}));
}

const FINISHED = new Set(['done', 'aborted']);
const n0 = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A job of GET /api/v1/migrations (JobSchema) with defaults, and its errors as sentences. */
export function normalizeJob(j) {
  const p = j.progress ?? {};
  const errors = (j.errors ?? []).map((e) => `slot ${e.slot}: ${e.message} (${e.code})`);
  for (const s of j.slots ?? []) if (s.error && !(j.errors ?? []).some((e) => e.slot === s.slot)) errors.push(`slot ${s.slot}: ${s.error.message} (${s.error.code})`);
  return {
    id: String(j.id),
    kind: j.kind ?? 'move',
    description: j.description ?? '',
    state: String(j.state ?? 'running'),
    paused: Boolean(j.paused),
    createdAt: j.createdAt,
    createdBy: j.createdBy,
    finishedAt: j.finishedAt,
    total: n0(p.slotsTotal),
    done: n0(p.slotsDone),
    inFlight: n0(p.slotsInFlight),
    fraction: typeof p.fraction === 'number' ? p.fraction : p.slotsTotal ? n0(p.slotsDone) / p.slotsTotal : 0,
    keysMoved: n0(p.keysMoved),
    bytesMoved: n0(p.bytesMoved),
    keysPerSec: n0(p.keysPerSec),
    bytesPerSec: n0(p.bytesPerSec),
    keysRemaining: p.keysRemaining ?? null,
    etaSeconds: p.etaSeconds ?? null,
    slots: j.slots ?? [],
    moved: (j.slots ?? []).filter((x) => x.state === 'done').length,
    returned: (j.slots ?? []).filter((x) => x.state === 'returned').length,
    errors,
  };
}

/**
 * Migration state for the Overview, Rebalance and Migrations pages: slot actions from /slots plus the
 * migration status when the dashboard serves it.
 */
export async function loadMigrations() {
  const r = migrationApi();
  const [sl, st] = await Promise.all([get('/api/v1/slots'), r.status ? call(r.status) : Promise.resolve(undefined)]);
  const actions = sl.slots.filter((s) => s.action);
  const jobs = (st?.jobs ?? []).map(normalizeJob);
  const errors = (st?.errors ?? []).map((e) => `slot ${e.slot}: ${e.message} (${e.code})`);
  return {
    available: Boolean(st),
    routes: r,
    status: st,
    jobs,
    activeJobs: jobs.filter((j) => !FINISHED.has(j.state)),
    actions,
    activeSlots: actions.length,
    errors,
    paused: Boolean(st?.paused),
    throttle: st?.throttle,
  };
}

/** Starts moving slots from..to to a group with its keys (slot map). Resolves with { summary }. */
export async function startMove(from, to, group) {
  const r = migrationApi().start;
  if (!r) throw new Error('this dashboard does not serve the migration API (POST /api/v1/migrations is not in its OpenAPI document)');
  const res = await call(r, undefined, { mode: 'range', from, to, group });
  const job = res.job;
  return { summary: `${res.plan?.moves?.length ?? to - from + 1} slot(s) queued${job ? ` as job ${job.id}` : ''}`, res };
}

const STATE_PCT = { pending: 0, preparing: 0.05, prepared: 0.1, migrating: 0.15, finished: 0.95 };

export const migrationsPage = {
  title: 'Migrations',
  mount(root, app) {
    const msg = messageArea();
    msg.el.id = 'migrations-msg';
    const summary = h('div.mig-summary');
    const controls = h('div.controls');
    const jobsBox = h('div.jobs');
    const moversBox = h('div.table-wrap');
    const bigBox = h('div');
    const slotsBox = h('div.table-wrap');
    const note = h('p.muted.small');
    const keysIn = h('input', { type: 'number', min: '0', step: '1', name: 'keysPerSec', inputmode: 'numeric', placeholder: '0 = unlimited' });
    const bytesIn = h('input', { type: 'number', min: '0', step: 'any', name: 'mbPerSec', inputmode: 'decimal', placeholder: '0 = unlimited' });
    const parallelIn = h('input', { type: 'number', min: '1', max: '1024', step: '1', name: 'parallelSlots', inputmode: 'numeric' });
    const throttleBtn = h('button', { type: 'submit' }, 'Apply');
    const throttleMsg = messageArea();
    const throttleForm = h(
      'form.inline-form',
      { 'aria-labelledby': 'throttle-title' },
      h('h2#throttle-title', 'Throttle'),
      h('p.muted.small', 'Applied to running moves at once. Empty fields keep their current value; 0 means unlimited.'),
      h('div.row', field('Keys per second', keysIn), field('MiB per second', bytesIn), field('Slots in parallel', parallelIn)),
      h('div.buttons', throttleBtn),
      throttleMsg.el,
    );
    root.append(
      msg.el,
      h('section.panel', { 'aria-labelledby': 'jobs-title' }, h('h2#jobs-title', 'Jobs'), note, summary, controls, jobsBox),
      h('section.panel', throttleForm),
      h('section.panel', { 'aria-labelledby': 'movers-title' }, h('h2#movers-title', 'Movers (one per source master)'), moversBox, bigBox),
      h('section.panel', { 'aria-labelledby': 'actions-title' }, h('h2#actions-title', 'Slot actions'), slotsBox),
    );

    const LABELS = { pause: 'Pausing every migration', resume: 'Resuming every migration', abort: 'Aborting every migration', abortJob: 'Aborting job' };
    async function control(op, job, button) {
      const r = migrationApi()[op];
      const what = `${LABELS[op]}${job ? ` ${job}` : ''}`;
      if (!r) {
        msg.error(new Error(`this dashboard has no ${op} route`), what);
        return;
      }
      if ((op === 'abort' || op === 'abortJob') && !(await confirmDialog('Abort migration', `Abort ${job ? `job ${job}` : 'every migration'}? Its slots go back to their source group and keys already moved are moved back.`, 'Abort'))) return;
      await runAction(button, msg, what, () => call(r, job, {}), (res) =>
        op === 'pause' ? 'Every migration is paused.' : op === 'resume' ? 'Migrations resumed.' : `${what}: ${res.cancelled.length} slot(s) cancelled, ${res.reversed.length} moving back${res.refused.length ? `, refused: ${res.refused.map((x) => `slot ${x.slot} (${x.reason})`).join(', ')}` : ''}.`,
      );
      app.refreshNow();
    }

    throttleForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const r = migrationApi().throttle;
      const body = {};
      if (keysIn.value !== '') body.keysPerSec = Number(keysIn.value);
      if (bytesIn.value !== '') body.bytesPerSec = Math.round(Number(bytesIn.value) * 1024 * 1024);
      if (parallelIn.value !== '') body.parallelSlots = Number(parallelIn.value);
      if (!r) {
        throttleMsg.error(new Error('this dashboard has no throttle route'), 'Setting the throttle');
        return;
      }
      if (Object.keys(body).length === 0) {
        throttleMsg.error(new Error('enter at least one value'), 'Setting the throttle');
        return;
      }
      const ok = await runAction(throttleBtn, throttleMsg, 'Setting the throttle', () => call(r, undefined, body), (s) =>
        `Throttle now ${s.keysPerSec ? `${num(s.keysPerSec)} keys/s` : 'unlimited keys/s'}, ${s.bytesPerSec ? `${bytes(s.bytesPerSec)}/s` : 'unlimited bytes/s'}, ${s.parallelSlots} slot(s) in parallel.`,
      );
      if (ok) {
        keysIn.value = '';
        bytesIn.value = '';
        parallelIn.value = '';
      }
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
        'button.small' + (op === 'abort' || op === 'abortJob' ? '.danger' : '.secondary'),
        { type: 'button', 'aria-label': aria, 'data-op': op, 'data-job': job, disabled: !has || busy.has(`${op}:${job ?? ''}`), title: has ? undefined : `no ${op} route on this dashboard` },
        label,
      );
    }

    function renderJob(j, paused) {
      const finished = FINISHED.has(j.state);
      const stateBadge = paused && !finished ? badge('paused', 'warn') : badge(j.state, finished ? (j.state === 'aborted' ? 'bad' : 'good') : j.state === 'aborting' ? 'warn' : 'info');
      return h(
        'article.job',
        { 'data-job': j.id, 'data-state': j.state, 'data-key': j.id },
        h('div.job-head', h('h3', `Job ${j.id}`), stateBadge, h('span.small', j.description), h('span.muted.small', `${j.createdBy ? `by ${j.createdBy} ` : ''}${j.createdAt ? `at ${new Date(j.createdAt).toLocaleTimeString(undefined, { hour12: false })}` : ''}`)),
        progressBar(j.state === 'done' ? 1 : j.state === 'aborted' || j.state === 'aborting' ? (j.total ? j.moved / j.total : 0) : j.fraction, `Progress of job ${j.id}`),
        h(
          'p.small.job-stats',
          j.state === 'aborted' || j.state === 'aborting'
            ? `${j.state === 'aborting' ? 'Aborting: ' : 'Aborted: '}${num(j.moved)} of ${num(j.total)} slot(s) had moved, ${num(j.returned)} returned to their source · ${num(j.keysMoved)} keys moved`
            : `${num(j.done)} / ${num(j.total)} slots done${j.inFlight ? `, ${num(j.inFlight)} in flight` : ''} · ${num(j.keysMoved)} keys (${bytes(j.bytesMoved)}) moved · ${finished ? '' : `${compact(j.keysPerSec)} keys/s, ${bytes(j.bytesPerSec)}/s${j.keysPerSec > 0 && !paused ? ` · ETA ${duration(j.etaSeconds)}` : ''}`}${j.keysRemaining && !finished ? ` · ≈ ${num(j.keysRemaining)} keys left` : ''}${finished && j.finishedAt ? `finished ${new Date(j.finishedAt).toLocaleTimeString(undefined, { hour12: false })}` : ''}`,
        ),
        j.errors.length ? h('ul.error-list', j.errors.slice(0, 10).map((e) => h('li.error-text', e))) : null,
        finished || j.state === 'aborting' ? null : h('div.buttons', button('Abort job', 'abortJob', j.id, `Abort job ${j.id}`)),
      );
    }

    return {
      intervalMs: 1000,
      async refresh() {
        const m = await loadMigrations();
        const st = m.status;
        note.textContent = m.available ? '' : 'This dashboard does not serve the migration API (no /api/v1/migrations in its OpenAPI document): slot actions are shown from the slot table, without keys, rate or controls.';
        throttleBtn.disabled = !m.routes.throttle;
        if (st) {
          const c = st.slots;
          morph(
            summary,
            h(
              'p',
              m.paused ? badge('paused', 'warn') : badge(m.activeSlots ? 'running' : 'idle', m.activeSlots ? 'info' : 'muted'),
              ` ${c.pending} pending · ${c.preparing + c.prepared} preparing · ${c.migrating} migrating · ${c.finished} finishing · ${num(st.keysMoved)} keys moved${m.activeSlots ? ` · ${compact(st.keysPerSec)} keys/s` : ''}${m.activeSlots && st.keysPerSec > 0 && !m.paused ? ` · ETA ${duration(st.etaSeconds)}` : ''}`,
            ),
            h('p.small.muted', `Throttle: ${st.throttle.keysPerSec ? `${num(st.throttle.keysPerSec)} keys/s` : 'unlimited keys/s'}, ${st.throttle.bytesPerSec ? `${bytes(st.throttle.bytesPerSec)}/s` : 'unlimited bytes/s'}, ${st.parallelSlots} slot(s) in parallel.`),
            m.errors.length ? h('ul.error-list', m.errors.slice(0, 10).map((e) => h('li.error-text', e))) : null,
          );
          if (document.activeElement !== parallelIn) parallelIn.placeholder = `now ${st.parallelSlots}`;
          if (document.activeElement !== keysIn) keysIn.placeholder = st.throttle.keysPerSec ? `now ${num(st.throttle.keysPerSec)}` : 'now unlimited';
          if (document.activeElement !== bytesIn) bytesIn.placeholder = st.throttle.bytesPerSec ? `now ${(st.throttle.bytesPerSec / 1048576).toFixed(1)}` : 'now unlimited';
        } else morph(summary);
        morph(
          controls,
          m.paused ? button('Resume all', 'resume', undefined, 'Resume every migration') : button('Pause all', 'pause', undefined, 'Pause every migration'),
          m.activeSlots ? button('Abort all', 'abort', undefined, 'Abort every migration') : null,
        );

        let jobs = m.jobs;
        if (!m.available) {
          // Without the API: one pseudo-job per job id found on the slot actions.
          const byJob = new Map();
          for (const s of m.actions) {
            const id = s.action.job ?? '(no job id)';
            if (!byJob.has(id)) byJob.set(id, []);
            byJob.get(id).push(s);
          }
          jobs = [...byJob.entries()].map(([id, list]) => ({ id, kind: 'slot actions', description: `${list.length} slot(s) with an action`, state: 'running', paused: false, total: list.length, done: 0, inFlight: list.length, keysMoved: 0, bytesMoved: 0, keysPerSec: 0, bytesPerSec: 0, keysRemaining: null, etaSeconds: null, fraction: list.reduce((a, s) => a + (STATE_PCT[s.action.state] ?? 0), 0) / list.length, slots: [], errors: [] }));
        }
        const active = jobs.filter((j) => !FINISHED.has(j.state));
        const done = jobs.filter((j) => FINISHED.has(j.state)).slice(0, 10);
        morph(jobsBox, ...(jobs.length ? [...active, ...done].map((j) => renderJob(j, m.paused)) : [h('p', 'No migration is running or pending.')]));

        if (st && st.movers.length) {
          morph(
            moversBox,
            h(
              'table.data',
              h('caption.visually-hidden', 'Movers'),
              h('thead', h('tr', ['Source', 'Slots', 'Pass', 'Keys moved', 'Keys/s', 'Keys left', 'ETA'].map((t) => h('th', { scope: 'col' }, t)))),
              h('tbody', st.movers.map((mv) => h('tr', { 'data-key': mv.source }, h('td', h('code', mv.source)), h('td.num', num(mv.slots)), h('td.num', num(mv.pass)), h('td.num', num(mv.keysMoved)), h('td.num', compact(mv.keysPerSec)), h('td.num', mv.keysRemaining === null ? '–' : num(mv.keysRemaining)), h('td.num', duration(mv.etaSeconds))))),
            ),
          );
        } else morph(moversBox, h('p.muted', st ? 'No mover is running.' : 'Not reported by this dashboard.'));
        morph(
          bigBox,
          st && st.bigKeys.length
            ? h('details', h('summary', `${st.bigKeys.length} big key(s) met`), h('ul', st.bigKeys.map((b) => h('li', `slot ${b.slot} db ${b.db} ${b.key}: ${bytes(b.bytes)}${b.type ? ` ${b.type}` : ''}, ${b.action}${b.blockedMs !== undefined ? `, source blocked ${num(b.blockedMs)} ms` : ''}`))))
            : null,
        );

        // Slot actions table, with per-slot key progress when a job reports it.
        const perSlot = new Map();
        for (const j of m.jobs) for (const s of j.slots) if (!perSlot.has(s.slot)) perSlot.set(s.slot, s);
        if (m.actions.length === 0) {
          morph(slotsBox, h('p', 'No slot carries an action.'));
          return;
        }
        const rows = m.actions
          .slice()
          .sort((a, b) => a.action.index - b.action.index)
          .slice(0, 64)
          .map((s) => {
            const p = perSlot.get(s.id);
            let frac = STATE_PCT[s.action.state] ?? 0;
            if (p && s.action.state === 'migrating' && p.keysMoved + p.keysFound > 0) frac = 0.15 + 0.8 * Math.min(1, p.keysMoved / Math.max(p.keysMoved, p.keysFound));
            return h(
              'tr',
              { 'data-slot': String(s.id), 'data-key': String(s.id) },
              h('td.num', String(s.id)),
              h('td', chip(s.group), ` ${s.group}`, ' → ', chip(s.action.target), ` ${s.action.target}`),
              h('td', badge(`${s.action.aborted ? 'aborting: ' : ''}${s.action.state}`, s.action.state === 'migrating' ? 'info' : 'muted')),
              h('td', progressBar(frac, `slot ${s.id}`)),
              h('td.num', p ? num(p.keysMoved) : '–'),
              h('td', p && p.error ? h('span.error-text', `${p.error.message} (${p.error.code})`) : (s.action.job ?? '')),
            );
          });
        morph(
          slotsBox,
          h('p.small', `${m.actions.length} slot(s) with an action: ${rangesText(m.actions.map((s) => s.id))}${m.actions.length > 64 ? ' (the first 64 in queue order are listed)' : ''}`),
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
