/** Human output of the admin CLI: plain aligned tables, no colours (pipes and logs stay readable). */
import type { AuditBody, GroupsBody, OverviewBody, ProxiesBody, SlotsBody, StatusBody, LeaderResponseBody } from './api-client.js';

type Group = GroupsBody['groups'][number];

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function rangesText(ranges: Array<{ from: number; to: number }>): string {
  if (ranges.length === 0) return '-';
  return ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(',');
}

function serversText(g: Group): string {
  if (g.servers.length === 0) return '(no servers)';
  return g.servers.map((s) => `${s.addr} (${s.role})`).join(', ');
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)}${units[i]}`;
}

export function formatGroups(groups: Group[], ranges: StatusBody['slotRanges']): string {
  if (groups.length === 0) return 'no groups (create one: redslot group create 1)';
  return table(
    ['GROUP', 'SLOTS', 'RANGES', 'SERVERS'],
    groups.map((g) => [
      String(g.id) + (g.promoting ? ` (promoting ${g.promoting.newMaster})` : ''),
      String(g.slotCount),
      rangesText(ranges.filter((r) => r.group === g.id)),
      serversText(g),
    ]),
  );
}

export function formatStatus(s: StatusBody): string {
  const members = s.members.length;
  const leader = s.leader ? `${s.leader.id} at ${s.leader.addr}` : '(no leader elected)';
  const assigned = 1024 - s.offlineSlots;
  const out = [
    `cluster ${s.cluster}  revision ${s.revision}  leader ${leader}  (${members} dashboard${members === 1 ? '' : 's'})`,
    `slots: ${assigned} assigned, ${s.offlineSlots} offline, ${s.migratingSlots} migrating`,
    '',
    formatGroups(s.groups, s.slotRanges),
    '',
  ];
  if (s.proxies.length === 0) out.push('no proxies registered');
  else
    out.push(
      table(
        ['PROXY', 'ADDR', 'ACKED', 'STATE'],
        s.proxies.map((p) => [p.id, p.addr, p.ackedRevision === null ? '-' : String(p.ackedRevision), p.fenced ? 'fenced' : p.upToDate ? 'ready' : 'behind']),
      ),
    );
  return out.join('\n');
}

export function formatSlots(s: SlotsBody): string {
  return table(
    ['FROM', 'TO', 'COUNT', 'GROUP'],
    s.ranges.map((r) => [String(r.from), String(r.to), String(r.to - r.from + 1), r.group === 0 ? 'offline' : String(r.group)]),
  );
}

export function formatProxies(p: ProxiesBody): string {
  if (p.proxies.length === 0) return 'no proxies registered';
  return table(
    ['PROXY', 'ADDR', 'ADMIN', 'VERSION', 'ACKED', 'STATE', 'STATS'],
    p.proxies.map((x) => [
      x.id,
      x.addr,
      x.adminAddr,
      x.version,
      x.ackedRevision === null ? '-' : String(x.ackedRevision),
      x.fenced ? 'fenced' : x.upToDate ? 'ready' : 'behind',
      x.statsError ? `unavailable: ${x.statsError}` : 'ok',
    ]),
  );
}

export function formatOverview(o: OverviewBody): string {
  const c = o.current;
  if (!c) return 'no stats yet';
  const lines = [
    `ops/s ${c.opsPerSec} (servers), ${c.proxyOpsPerSec} (proxies)  keys ${c.keys}  memory ${formatBytes(c.usedMemory)}  history ${o.history.length} points every ${o.intervalMs} ms`,
    '',
    table(
      ['GROUP', 'SERVER', 'ROLE', 'UP', 'LINK', 'OPS/S', 'KEYS', 'MEMORY'],
      c.groups.flatMap((g) =>
        g.servers.map((s) => [
          String(g.id),
          s.addr,
          s.actualRole && s.actualRole !== s.role ? `${s.role} (is ${s.actualRole})` : s.role,
          s.up ? 'yes' : `no${s.error ? `: ${s.error}` : ''}`,
          s.masterLinkStatus ?? '-',
          String(s.opsPerSec),
          String(s.keys),
          formatBytes(s.usedMemory),
        ]),
      ),
    ),
  ];
  if (c.proxies.length > 0) {
    lines.push('', table(['PROXY', 'ADDR', 'UP', 'OPS/S', 'CONNECTIONS'], c.proxies.map((p) => [p.id, p.addr, p.up ? 'yes' : 'no', String(p.opsPerSec), String(p.connections)])));
  }
  return lines.join('\n');
}

export function formatAudit(a: AuditBody): string {
  if (a.entries.length === 0) return 'no audit entries';
  return table(
    ['AT', 'WHO', 'ACTION', 'TARGET', 'RESULT', 'DETAIL'],
    a.entries.map((e) => [e.at, e.who, e.action, e.target ?? '-', e.result, e.detail ?? '']),
  );
}

export function formatLeader(l: LeaderResponseBody): string {
  return table(
    ['DASHBOARD', 'ADDR', 'ROLE', 'SINCE'],
    l.members.map((m) => [m.id + (m.id === l.self.id ? ' (this)' : ''), m.addr, m.leader ? 'leader' : 'standby', m.since]),
  );
}
