/**
 * INFO [section ...]: the proxy's own sections in Redis's INFO format (`# Section` headers, `key:value`
 * lines, CRLF). Sections: server, clients, persistence (loading:0 for clients' ready checks), stats,
 * replication, commandstats, redslot. `keyspace` summed over groups comes with cluster-wide commands (issue 7).
 */
import os from 'node:os';
import { encodeBulk } from '../../shared/resp/encoder.js';
import { REDIS_VERSION } from '../commands/table.js';
import type { LocalContext, ProxyFacts } from './context.js';

type Section = (f: ProxyFacts) => string[];

const SECTIONS: Record<string, Section> = {
  server: (f) => {
    const uptime = Math.floor((Date.now() - f.startedAt) / 1000);
    return [
      `redis_version:${REDIS_VERSION}`,
      `redslot_version:${f.version}`,
      'redis_mode:standalone',
      `os:${os.type()} ${os.release()} ${os.arch()}`,
      `arch_bits:${process.arch.includes('64') ? 64 : 32}`,
      `process_id:${process.pid}`,
      `tcp_port:${f.port()}`,
      `uptime_in_seconds:${uptime}`,
      `uptime_in_days:${Math.floor(uptime / 86400)}`,
      `executable:${process.execPath}`,
    ];
  },
  clients: (f) => [
    `connected_clients:${f.connectedClients()}`,
    `maxclients:${f.config.limits.maxClients}`,
    `blocked_clients:${f.blockedClients()}`,
  ],
  persistence: () => ['loading:0'],
  stats: (f) => [
    `total_connections_received:${f.totalConnections()}`,
    `total_commands_processed:${f.totalCommands()}`,
    `rejected_connections:${f.rejectedConnections()}`,
  ],
  replication: () => ['role:master', 'connected_slaves:0'],
  commandstats: (f) =>
    f.commandStats().map(
      (c) => `cmdstat_${c.name}:calls=${c.calls},usec=${Math.round(c.usec)},usec_per_call=${c.calls ? (c.usec / c.calls).toFixed(2) : '0.00'},rejected_calls=0,failed_calls=${c.failed}`,
    ),
  redslot: (f) => [
    `topology_revision:${f.topologyRevision()}`,
    `fenced:${f.fenced() === null ? 0 : 1}`,
    ...(f.fenced() === null ? [] : [`fenced_reason:${f.fenced()!.replace(/[\r\n]/g, ' ')}`]),
    `databases:${f.config.databases}`,
  ],
};

const DEFAULT = ['server', 'clients', 'persistence', 'stats', 'replication', 'redslot'];
const ALL = [...DEFAULT.slice(0, 5), 'commandstats', 'redslot'];

function title(name: string): string {
  return name === 'commandstats' ? 'Commandstats' : name[0]!.toUpperCase() + name.slice(1);
}

export function info(ctx: LocalContext, argv: Buffer[]): Buffer {
  let names: string[];
  if (argv.length === 1) names = DEFAULT;
  else {
    const asked = argv.slice(1).map((a) => a.toString('latin1').toLowerCase());
    if (asked.includes('all') || asked.includes('everything')) names = ALL;
    else if (asked.includes('default')) names = [...new Set([...DEFAULT, ...asked.filter((a) => a in SECTIONS)])];
    else names = ALL.filter((n) => asked.includes(n));
  }
  const lines: string[] = [];
  for (const n of names) {
    if (lines.length > 0) lines.push('');
    lines.push(`# ${title(n)}`, ...SECTIONS[n]!(ctx.facts));
  }
  return encodeBulk(lines.length ? lines.join('\r\n') + '\r\n' : '');
}
