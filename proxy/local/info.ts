/**
 * INFO [section ...]: the proxy's own sections in Redis's INFO format (`# Section` headers, `key:value`
 * lines, CRLF), plus sections summed over every group's master.
 *
 * Proxy sections: server, clients, persistence (loading:0 for clients' ready checks), stats (connections and
 * commands as clients see them), replication, commandstats, redslot.
 * Group sections (asked from every master with one `INFO memory stats keyspace`, merged here):
 *   memory    byte counts summed (`*_human` recomputed from the sums), ratios and percentages averaged,
 *             words (allocator, policy) from the first master; mem_fragmentation_ratio = rss / used.
 *   stats     counters and rates summed, percentages averaged; total_connections_received,
 *             total_commands_processed and rejected_connections are the proxy's own.
 *   keyspace  per db: keys and expires summed, avg_ttl averaged weighted by expires.
 * A master that does not answer is left out (`groups_answered` in the redslot section says how many did):
 * INFO is what clients' ready checks send, so it never fails because of one group.
 * Default and `all` follow Redis's section order.
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
  memory: () => [],
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
  keyspace: () => [],
  redslot: (f) => [
    `topology_revision:${f.topologyRevision()}`,
    `fenced:${f.fenced() === null ? 0 : 1}`,
    ...(f.fenced() === null ? [] : [`fenced_reason:${f.fenced()!.replace(/[\r\n]/g, ' ')}`]),
    `databases:${f.config.databases}`,
    `proxy_used_memory_rss:${process.memoryUsage.rss()}`,
  ],
};

/** Sections whose content comes from the groups' masters. */
export const GROUP_SECTIONS: readonly string[] = ['memory', 'stats', 'keyspace'];

const DEFAULT = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'keyspace', 'redslot'];
const ALL = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'commandstats', 'keyspace', 'redslot'];

function title(name: string): string {
  return name === 'commandstats' ? 'Commandstats' : name[0]!.toUpperCase() + name.slice(1);
}

/** The sections INFO argv asks for, in output order. */
export function requestedSections(argv: readonly Buffer[]): string[] {
  if (argv.length === 1) return DEFAULT;
  const asked = argv.slice(1).map((a) => a.toString('latin1').toLowerCase());
  if (asked.includes('all') || asked.includes('everything')) return ALL;
  if (asked.includes('default')) return ALL.filter((n) => DEFAULT.includes(n) || asked.includes(n));
  return ALL.filter((n) => asked.includes(n));
}

/** The group sections among `sections` (what to ask the masters for). */
export function groupSections(sections: readonly string[]): string[] {
  return sections.filter((s) => GROUP_SECTIONS.includes(s));
}

/** Parsed INFO text: section (lower case) -> ordered key/value pairs. */
export type InfoText = Map<string, Array<[string, string]>>;

export function parseInfo(text: string): InfoText {
  const out: InfoText = new Map();
  let cur: Array<[string, string]> | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('# ')) {
      cur = [];
      out.set(line.slice(2).trim().toLowerCase(), cur);
    } else if (cur !== null && line.includes(':')) {
      const i = line.indexOf(':');
      cur.push([line.slice(0, i), line.slice(i + 1)]);
    }
  }
  return out;
}

const INT = /^-?\d+$/;
const FLOAT = /^-?\d+(\.\d+)?$/;

/** Redis's bytesToHuman. */
export function bytesToHuman(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  if (n < 1024) return `${n}B`;
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(2)}${units[i]}`;
}

/** memory / stats: numbers summed (or averaged), `*_human` recomputed, words from the first master. */
function mergeNumeric(lists: Array<Array<[string, string]>>, averaged: (key: string) => boolean): Array<[string, string]> {
  const order: string[] = [];
  const values = new Map<string, string[]>();
  for (const list of lists) {
    for (const [k, v] of list) {
      let vs = values.get(k);
      if (vs === undefined) {
        vs = [];
        values.set(k, vs);
        order.push(k);
      }
      vs.push(v);
    }
  }
  const merged = new Map<string, string>();
  for (const k of order) {
    const vs = values.get(k)!;
    if (vs.every((v) => INT.test(v)) && !averaged(k)) {
      merged.set(k, String(vs.reduce((a, v) => a + Number(v), 0)));
    } else if (vs.every((v) => v.endsWith('%') && FLOAT.test(v.slice(0, -1)))) {
      merged.set(k, `${(vs.reduce((a, v) => a + Number(v.slice(0, -1)), 0) / vs.length).toFixed(2)}%`);
    } else if (vs.every((v) => FLOAT.test(v))) {
      const total = vs.reduce((a, v) => a + Number(v), 0);
      merged.set(k, (averaged(k) ? total / vs.length : total).toFixed(2));
    } else {
      merged.set(k, vs[0]!);
    }
  }
  for (const k of order) {
    if (k.endsWith('_human')) {
      const base = merged.get(k.slice(0, -'_human'.length));
      if (base !== undefined && INT.test(base)) merged.set(k, bytesToHuman(Number(base)));
    }
  }
  const used = Number(merged.get('used_memory'));
  const rss = Number(merged.get('used_memory_rss'));
  if (used > 0 && rss > 0 && merged.has('mem_fragmentation_ratio')) merged.set('mem_fragmentation_ratio', (rss / used).toFixed(2));
  return order.map((k) => [k, merged.get(k)!]);
}

function averagedKey(k: string): boolean {
  return k.endsWith('_perc') || k.endsWith('_ratio') || k.endsWith('_percentage') || k.endsWith('_bytes_per_key');
}

function mergeKeyspace(lists: Array<Array<[string, string]>>): Array<[string, string]> {
  const dbs = new Map<string, { keys: number; expires: number; ttlWeighted: number }>();
  for (const list of lists) {
    for (const [db, v] of list) {
      const f = Object.fromEntries(v.split(',').map((p) => p.split('=') as [string, string]));
      const acc = dbs.get(db) ?? { keys: 0, expires: 0, ttlWeighted: 0 };
      const expires = Number(f['expires'] ?? 0);
      acc.keys += Number(f['keys'] ?? 0);
      acc.expires += expires;
      acc.ttlWeighted += Number(f['avg_ttl'] ?? 0) * expires;
      dbs.set(db, acc);
    }
  }
  return [...dbs.entries()]
    .sort((a, b) => Number(a[0].slice(2)) - Number(b[0].slice(2)))
    .map(([db, a]) => [db, `keys=${a.keys},expires=${a.expires},avg_ttl=${a.expires > 0 ? Math.round(a.ttlWeighted / a.expires) : 0}`]);
}

/** Merges the group sections of every master's INFO text. */
export function mergeGroupInfo(texts: readonly InfoText[]): Map<string, Array<[string, string]>> {
  const out = new Map<string, Array<[string, string]>>();
  const of = (s: string) => texts.map((t) => t.get(s) ?? []);
  out.set('memory', mergeNumeric(of('memory'), averagedKey));
  out.set('stats', mergeNumeric(of('stats'), averagedKey));
  out.set('keyspace', mergeKeyspace(of('keyspace')));
  return out;
}

/**
 * The INFO reply for `sections`. `groups` holds the merged group sections (absent: none were asked), with
 * how many masters answered out of how many.
 */
export function renderInfo(f: ProxyFacts, sections: readonly string[], groups?: { merged: Map<string, Array<[string, string]>>; answered: number; total: number }): Buffer {
  const lines: string[] = [];
  for (const n of sections) {
    if (lines.length > 0) lines.push('');
    lines.push(`# ${title(n)}`);
    const own = SECTIONS[n]!(f);
    lines.push(...own);
    const g = groups?.merged.get(n);
    if (g !== undefined) {
      const ownKeys = new Set(own.map((l) => l.slice(0, l.indexOf(':'))));
      for (const [k, v] of g) if (!ownKeys.has(k)) lines.push(`${k}:${v}`);
    }
    if (n === 'redslot' && groups !== undefined) lines.push(`groups:${groups.total}`, `groups_answered:${groups.answered}`);
  }
  return encodeBulk(lines.length ? lines.join('\r\n') + '\r\n' : '');
}

/** Local handler: answers when no group section is asked for; otherwise the router asks the masters. */
export function info(ctx: LocalContext, argv: Buffer[]): Buffer | undefined {
  const sections = requestedSections(argv);
  if (groupSections(sections).length > 0) return undefined;
  return renderInfo(ctx.facts, sections);
}
