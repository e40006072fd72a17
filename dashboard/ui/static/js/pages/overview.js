// Overview: ops/s over time from the dashboard's server-side history, totals, health and alerts.
import { get } from '../api.js';
import { bytes, card, compact, duration, fill, h, num } from '../dom.js';
import { lineChart } from '../chart.js';
import { loadMigrations } from './migrations.js';

const MAX_POINTS = 900;

export const overviewPage = {
  title: 'Overview',
  mount(root) {
    const cards = h('div.cards', { role: 'list', 'aria-label': 'Cluster figures' });
    const chartBox = h('div.chart-box');
    const legend = h(
      'p.legend',
      h('span.swatch.ops', { 'aria-hidden': 'true' }),
      ' Redis ops/s (sum of masters) ',
      h('span.swatch.proxy', { 'aria-hidden': 'true' }),
      ' Proxy ops/s',
    );
    const historyNote = h('p.muted.small');
    const alerts = h('ul.alerts', { 'aria-label': 'Alerts' });
    root.append(
      cards,
      h('section.panel', { 'aria-labelledby': 'ops-title' }, h('h2#ops-title', 'Operations per second'), chartBox, legend, historyNote),
      h('section.panel', { 'aria-labelledby': 'alerts-title' }, h('h2#alerts-title', 'Alerts'), alerts),
    );
    let history = [];
    let lastAt;

    return {
      intervalMs: 2000,
      async refresh() {
        const q = lastAt === undefined ? '' : `?since=${lastAt}`;
        const [status, ov, mig] = await Promise.all([get('/api/v1/status'), get(`/api/v1/overview${q}`), loadMigrations().catch((err) => ({ error: err }))]);
        if (lastAt === undefined) history = ov.history.slice();
        else history.push(...ov.history.filter((p) => p.at > lastAt));
        if (history.length > MAX_POINTS) history = history.slice(-MAX_POINTS);
        if (history.length) lastAt = history[history.length - 1].at;
        const cur = ov.current;

        const proxies = status.proxies;
        const ready = proxies.filter((p) => !p.fenced && p.upToDate).length;
        const fenced = proxies.filter((p) => p.fenced).length;
        const behind = proxies.filter((p) => !p.fenced && !p.upToDate).length;
        const groupsStats = cur ? cur.groups : [];
        const healthy = groupsStats.filter((g) => g.healthy).length;
        const running = mig && !mig.error ? mig.activeSlots : status.migratingSlots;
        fill(cards,
          li(card('Ops/s', compact(cur?.opsPerSec ?? 0), `proxies ${compact(cur?.proxyOpsPerSec ?? 0)} ops/s`)),
          li(card('Keys', compact(cur?.keys ?? 0), `${num(cur?.keys ?? 0)} on masters`)),
          li(card('Memory', bytes(cur?.usedMemory ?? 0), 'used by all servers')),
          li(card('Proxies', `${ready} ready`, `${fenced} fenced · ${behind} behind · ${proxies.length} live`, fenced || behind ? 'warn' : proxies.length ? 'good' : 'warn')),
          li(card('Groups healthy', `${healthy} / ${status.groups.length}`, `${status.groups.reduce((a, g) => a + g.servers.length, 0)} servers`, healthy < status.groups.length ? 'bad' : 'good')),
          li(card('Migrations', `${running} slots`, migrationSub(mig, running, status), mig && !mig.error && mig.paused && running ? 'warn' : running ? 'busy' : undefined)),
        );

        const series = [
          { name: 'Redis', color: '#0072b2', points: history.map((p) => ({ at: p.at, v: p.opsPerSec })) },
          { name: 'Proxy', color: '#d55e00', points: history.map((p) => ({ at: p.at, v: p.proxyOpsPerSec })) },
        ];
        fill(chartBox, lineChart(series, { label: 'Operations per second', unit: ' ops/s', width: Math.max(280, chartBox.clientWidth || 720), height: 220 }));
        historyNote.textContent = history.length
          ? `${history.length} points kept by the dashboard (one every ${Math.round(ov.intervalMs / 100) / 10} s, ${Math.round((history[history.length - 1].at - history[0].at) / 1000)} s shown).`
          : 'The dashboard has no samples yet.';

        const list = computeAlerts(status, cur, mig);
        fill(alerts,
          ...(list.length
            ? list.map((a) => h(`li.alert.${a.level}`, h('span.badge.' + (a.level === 'error' ? 'bad' : 'warn'), a.level === 'error' ? 'Error' : 'Warning'), ' ', a.text))
            : [h('li.alert.none', 'No alerts: every server is up, every proxy is current.')]),
        );
      },
    };
  },
};

function migrationSub(mig, running, status) {
  if (!mig || mig.error || !mig.status) return `${status.offlineSlots} offline slots`;
  const st = mig.status;
  if (!running) return `${mig.activeJobs.length} job(s) running · ${status.offlineSlots} offline slots`;
  return `${mig.paused ? 'paused · ' : ''}${mig.activeJobs.length} job(s) · ${compact(st.keysPerSec)} keys/s${st.keysPerSec > 0 && !mig.paused ? ` · ETA ${duration(st.etaSeconds)}` : ''}`;
}

function li(child) {
  return h('div', { role: 'listitem' }, child);
}

/** Alerts derived from the status, the latest stats sample and the migration jobs. */
export function computeAlerts(status, cur, mig) {
  const out = [];
  if (!status.leader) out.push({ level: 'error', text: 'No dashboard leader is elected: changes are refused until one is.' });
  if (status.offlineSlots > 0) out.push({ level: 'error', text: `${status.offlineSlots} slot(s) are offline (no group): commands for their keys fail.` });
  for (const g of status.groups) {
    if (!g.servers.some((s) => s.role === 'master')) out.push({ level: g.slotCount ? 'error' : 'warn', text: `Group ${g.id} has no master${g.slotCount ? ` but owns ${g.slotCount} slots` : ''}.` });
    if (g.promoting) out.push({ level: 'warn', text: `Group ${g.id}: promotion of ${g.promoting.newMaster} is ${g.promoting.state}.` });
  }
  for (const g of cur?.groups ?? []) {
    for (const s of g.servers) {
      if (!s.up) out.push({ level: 'error', text: `Server ${s.addr} (group ${g.id}, ${s.role}) is down: ${s.error ?? 'no answer'}.` });
      else {
        if (s.role === 'replica' && s.masterLinkStatus && s.masterLinkStatus !== 'up') out.push({ level: 'error', text: `Replica ${s.addr} (group ${g.id}): link to its master is ${s.masterLinkStatus}.` });
        if (s.actualRole && s.actualRole !== s.role) out.push({ level: 'error', text: `Server ${s.addr} (group ${g.id}) is a ${s.actualRole} but the model says ${s.role}.` });
        if (s.maxmemory > 0 && s.usedMemory / s.maxmemory > 0.9) out.push({ level: 'warn', text: `Server ${s.addr} uses ${Math.round((100 * s.usedMemory) / s.maxmemory)} % of its maxmemory.` });
      }
    }
  }
  if (status.proxies.length === 0) out.push({ level: 'warn', text: 'No proxy is registered: clients have nowhere to connect.' });
  for (const p of status.proxies) {
    if (p.fenced) out.push({ level: 'error', text: `Proxy ${p.addr} (${p.id}) is fenced: it refuses commands until it follows the coordinator again.` });
    else if (!p.upToDate) out.push({ level: 'warn', text: `Proxy ${p.addr} (${p.id}) has acknowledged revision ${p.ackedRevision ?? 'none'}, not the current one.` });
  }
  for (const p of cur?.proxies ?? []) if (!p.up) out.push({ level: 'warn', text: `Proxy ${p.addr} does not answer its admin API: ${p.error ?? 'no answer'}.` });
  if (mig && !mig.error) {
    for (const e of mig.errors.slice(0, 10)) out.push({ level: 'error', text: `Migration: ${e}` });
    if (mig.paused && mig.activeSlots) out.push({ level: 'warn', text: `Migrations are paused with ${mig.activeSlots} slot(s) in flight.` });
    for (const b of (mig.status?.bigKeys ?? []).filter((x) => x.action !== 'moved').slice(0, 5)) out.push({ level: 'warn', text: `Big key ${b.key} (slot ${b.slot}, ${b.bytes} bytes) was ${b.action}.` });
  }
  if (mig && mig.error) out.push({ level: 'warn', text: `Migration status unavailable: ${mig.error.message}` });
  return out;
}
