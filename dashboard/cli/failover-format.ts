/** `redslot status` / `redslot failover`: the failover state of every group, replica lag, last failover. */
import type { FailoverBody } from './api-client.js';
import { formatBytes, table } from './format.js';

function lagText(r: FailoverBody['groups'][number]['replicas'][number]): string {
  if (r.stale) return `${r.addr} STALE (${r.role})`;
  if (r.role === 'unreachable') return `${r.addr} unreachable`;
  const lag = r.lagBytes === null ? '?' : formatBytes(r.lagBytes);
  return `${r.addr} ${r.linkUp ? 'up' : 'LINK DOWN'} lag ${lag}${r.silentMs !== null && r.silentMs > 0 ? ` silent ${Math.round(r.silentMs / 1000)}s` : ''}`;
}

export function formatFailover(f: FailoverBody): string {
  const head = `failover: ${f.config.enabled ? 'on' : 'off'} by default, down after ${f.config.downAfterMs} ms, max lag ${f.config.maxLagMs} ms, cool-down ${f.config.cooldownMs} ms${f.leader ? '' : ' (this dashboard is a standby: states are the leader\'s to judge)'}`;
  const rows = f.groups.map((g) => [
    String(g.gid),
    (g.enabled ? g.state : `${g.state} (disabled)`) + (g.sentinel ? ` (follows Sentinel ${g.sentinel.name}: ${g.sentinel.master ?? 'no majority'})` : ''),
    g.replicas.length === 0 ? '(no replica)' : g.replicas.map(lagText).join(', '),
    g.lastFailover ? `${g.lastFailover.at} ${g.lastFailover.from} -> ${g.lastFailover.to} ${g.lastFailover.result} in ${g.lastFailover.durationMs} ms` : '-',
  ]);
  const alerts = f.groups.filter((g) => g.alert).map((g) => `ALERT group ${g.gid}: ${g.alert}`);
  return [head, table(['GROUP', 'FAILOVER', 'REPLICAS', 'LAST FAILOVER'], rows), ...alerts].join('\n');
}
