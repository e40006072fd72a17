/**
 * Every proxy metric, declared here and nowhere else. Prefix `redslot_proxy_`, Envoy vocabulary
 * (downstream = clients, upstream = Redis backends, cx = connections, rq = requests).
 *
 * The hot path only bumps typed arrays indexed by CommandSpec.id (plus one slot for unknown commands);
 * prom-client reads them when scraped, through custom collectors. Labels are bounded: `command` comes from
 * the command table, `backend` from the topology, `slot` is 0..1023.
 */
import client, { Registry, type Metric } from 'prom-client';
import { SLOT_COUNT } from '../shared/slot.js';
import { allCommands, COMMAND_COUNT } from './commands/lookup.js';
import { now } from './util/clock.js';
import { MIGRATE_OUTCOMES } from './router/migrate-on-access.js';

/** Latency buckets in seconds: 50 µs .. 10 s. */
export const DURATION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BUCKETS_MS = DURATION_BUCKETS.map((s) => s * 1000);

/** Index of the "unknown command" row in the per-command arrays. */
export const UNKNOWN_COMMAND = COMMAND_COUNT;

/** What the collectors read at scrape time. */
export interface MetricsSource {
  downstreamActive(): number;
  requestsActive(): number;
  heldSessions(): number;
  backends(): Array<{ addr: string; requests: number; pending: number; healthy: boolean; connections: number }>;
  topologyRevision(): number;
  drainingRequests(): number;
  /** Fence reason, or null when serving. */
  fenced(): string | null;
  /** Dedicated connections by use and clients by dedicated state (proxy/dedicated/). */
  dedicatedStats?(): {
    transaction: number;
    blocking: number;
    subscriber: number;
    idle: number;
    exhausted: number;
    transactions: number;
    blocked: number;
    subscribers: number;
  };
  /** Bytes of Lua bodies in the proxy's script cache (proxy/scripts/cache.ts). */
  scriptCacheBytes?(): number;
}

/** Events of redslot_proxy_guard_total. */
export const GUARD_EVENTS = ['hold_timeout', 'drain_timeout', 'busy', 'script_kill', 'query_buffer', 'client_memory', 'output_pubsub', 'multi_queue', 'merged_reply', 'config_denied'] as const;
export type GuardEvent = (typeof GUARD_EVENTS)[number];

type Sample = { labels?: Record<string, string | number>; value: number; metricName?: string };

interface Def {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** How the primary of a multi-process proxy merges the workers' values (proxy/workers/); default sum. */
  aggregator?: 'sum' | 'min' | 'max';
}

/** The metric names a scrape can contain (for the Grafana/alert rules test). Histograms list their series too. */
const DEFS: Def[] = [
  { name: 'redslot_proxy_downstream_cx_active', help: 'Client connections open now.', type: 'gauge' },
  { name: 'redslot_proxy_downstream_cx_total', help: 'Client connections accepted.', type: 'counter' },
  { name: 'redslot_proxy_downstream_cx_rejected_total', help: 'Client connections refused at limits.maxClients.', type: 'counter' },
  { name: 'redslot_proxy_downstream_cx_protocol_error_total', help: 'Client connections closed for a RESP protocol error.', type: 'counter' },
  { name: 'redslot_proxy_downstream_cx_idle_timeout_total', help: 'Client connections closed by limits.idleTimeout.', type: 'counter' },
  { name: 'redslot_proxy_downstream_cx_output_limit_total', help: 'Client connections closed because unread replies exceeded limits.maxClientOutput.', type: 'counter' },
  { name: 'redslot_proxy_downstream_auth_failures_total', help: 'Failed AUTH / HELLO AUTH attempts (wrong user or password).', type: 'counter' },
  { name: 'redslot_proxy_downstream_cx_access_closed_total', help: 'Client connections closed by access control, by reason (auth_failures, auth_timeout, unauthenticated_limit, protected_mode, tls_handshake).', type: 'counter' },
  { name: 'redslot_proxy_downstream_rq_total', help: 'Commands answered, by command (unknown = not a Redis command).', type: 'counter' },
  { name: 'redslot_proxy_downstream_rq_errors_total', help: 'Commands answered with an error reply, by command.', type: 'counter' },
  { name: 'redslot_proxy_downstream_rq_time_seconds_total', help: 'Total time from request decoded to reply ready, by command.', type: 'counter' },
  { name: 'redslot_proxy_downstream_rq_duration_seconds', help: 'Time from request decoded to reply ready (all commands).', type: 'histogram' },
  { name: 'redslot_proxy_downstream_rq_active', help: 'Requests waiting for their reply (in flight or held), all clients.', type: 'gauge' },
  { name: 'redslot_proxy_downstream_held_sessions', help: 'Clients holding their pipeline for a locked (migrating) slot.', type: 'gauge' },
  { name: 'redslot_proxy_slot_rq_total', help: 'Commands routed per slot (hot-slot detection); slots never used are not exported.', type: 'counter' },
  { name: 'redslot_proxy_upstream_rq_total', help: 'Requests sent to a backend (sub-requests of fan-outs count one each).', type: 'counter' },
  { name: 'redslot_proxy_upstream_rq_active', help: 'Requests sent to a backend and not answered yet.', type: 'gauge' },
  { name: 'redslot_proxy_upstream_cx_active', help: 'Backend connections open (per server, all databases).', type: 'gauge' },
  { name: 'redslot_proxy_upstream_healthy', help: '1 when the last dial/handshake to the backend succeeded.', type: 'gauge', aggregator: 'min' },
  { name: 'redslot_proxy_topology_revision', help: 'Coordinator revision of the topology applied.', type: 'gauge', aggregator: 'min' },
  { name: 'redslot_proxy_topology_draining_rq', help: 'Requests still running under routes replaced by the last topology change.', type: 'gauge' },
  { name: 'redslot_proxy_fenced', help: '1 while the proxy refuses commands (lease lost, fenced).', type: 'gauge', aggregator: 'max' },
  { name: 'redslot_proxy_upstream_dedicated_cx_active', help: 'Dedicated backend connections open, by use (transaction, blocking, subscriber, idle).', type: 'gauge' },
  { name: 'redslot_proxy_upstream_dedicated_cx_exhausted_total', help: 'Commands refused because backend.maxDedicated(PerServer) dedicated connections were open.', type: 'counter' },
  { name: 'redslot_proxy_script_loads_total', help: 'Scripts the proxy loaded on a master by itself so EVALSHA/FCALL find them wherever the keys live: reason=ahead (SCRIPT LOAD before an EVALSHA to a master without it), noscript (after a NOSCRIPT reply), functions (FUNCTION RESTORE to a master that joined later).', type: 'counter' },
  { name: 'redslot_proxy_script_cache_bytes', help: 'Bytes of Lua script bodies kept by the proxy (scripts.cacheSize).', type: 'gauge' },
  { name: 'redslot_proxy_scan_rescans_total', help: 'SCANs whose first pass saw slots move, so they rescanned those slots.', type: 'counter' },
  { name: 'redslot_proxy_scan_settle_waits_total', help: 'SCANs that waited at the end of their first pass for slots migrating to a group visited earlier.', type: 'counter' },
  { name: 'redslot_proxy_migrate_on_access_total', help: 'Commands of migrating slots, by outcome: source (run on the source by the source-first EVAL), target (no key on the source: sent to the target), migrate (MIGRATE first, then the target), failed (the client got an error).', type: 'counter' },
  { name: 'redslot_proxy_guard_total', help: 'Protections that fired (issue 14), by event: hold_timeout (a held request answered TRYAGAIN), drain_timeout (a topology change acknowledged with requests still in flight under old routes), busy (a command answered BUSY at once while its backend runs a script), script_kill (SCRIPT/FUNCTION KILL sent over a side connection), query_buffer (a client over guard.maxQueryBuffer), client_memory (the biggest client closed at guard.maxClientsMemory), output_pubsub (a subscriber over its output limit), multi_queue (a MULTI queue over guard.maxMultiBytes), merged_reply (a merged reply over guard.maxMergedReply), config_denied (CONFIG SET of a denied parameter).', type: 'counter' },
  { name: 'redslot_proxy_downstream_dedicated_sessions', help: 'Clients in a transaction (MULTI or WATCH), blocked in a blocking command, or subscribed (pubsub).', type: 'gauge' },
];

export class ProxyMetrics {
  readonly registry = new Registry();
  // ---- hot-path counters (index = CommandSpec.id; UNKNOWN_COMMAND for unknown names)
  readonly calls = new Float64Array(COMMAND_COUNT + 1);
  readonly errors = new Float64Array(COMMAND_COUNT + 1);
  readonly timeMs = new Float64Array(COMMAND_COUNT + 1);
  readonly durationBuckets = new Float64Array(DURATION_BUCKETS.length);
  durationSumMs = 0;
  durationCount = 0;
  readonly slotHits = new Float64Array(SLOT_COUNT);
  /** Migrate-on-access outcomes, indexed by MigrateOutcome (proxy/router/migrate-on-access.ts). */
  readonly migrateOutcomes = new Float64Array(MIGRATE_OUTCOMES.length);
  cxTotal = 0;
  cxRejected = 0;
  cxProtocolErrors = 0;
  cxIdleTimeouts = 0;
  cxOutputLimit = 0;
  /** Access control (proxy/acl/auth-guard.ts). */
  authFailures = 0;
  readonly accessClosed = { auth_failures: 0, auth_timeout: 0, unauthenticated_limit: 0, protected_mode: 0, tls_handshake: 0 };
  /** Scripts loaded by the proxy itself, by reason (redslot_proxy_script_loads_total). */
  readonly scriptLoads = { ahead: 0, noscript: 0, functions: 0 };
  scanRescans = 0;
  scanSettleWaits = 0;
  /** redslot_proxy_guard_total, by event. */
  readonly guards: Record<GuardEvent, number> = Object.fromEntries(GUARD_EVENTS.map((e) => [e, 0])) as Record<GuardEvent, number>;
  private source: MetricsSource | null = null;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) client.collectDefaultMetrics({ register: this.registry, prefix: 'redslot_proxy_' });
    for (const def of DEFS) this.registry.registerMetric(this.collector(def));
  }

  bind(source: MetricsSource): void {
    this.source = source;
  }

  /** One command answered: `reply` is its reply (an error reply starts with '-'). */
  record(cmdId: number, t0: number, reply: Buffer): void {
    const ms = now() - t0;
    this.calls[cmdId]!++;
    this.timeMs[cmdId]! += ms;
    if (reply[0] === 0x2d) this.errors[cmdId]!++;
    this.durationSumMs += ms;
    this.durationCount++;
    const b = BUCKETS_MS;
    for (let i = 0; i < b.length; i++) {
      if (ms <= b[i]!) {
        this.durationBuckets[i]!++;
        break;
      }
    }
  }

  totalCommands(): number {
    let n = 0;
    for (let i = 0; i < this.calls.length; i++) n += this.calls[i]!;
    return n;
  }

  commandStats(): Array<{ name: string; calls: number; usec: number; failed: number }> {
    const specs = allCommands();
    const out: Array<{ name: string; calls: number; usec: number; failed: number }> = [];
    for (let i = 0; i < this.calls.length; i++) {
      if (this.calls[i] === 0) continue;
      out.push({ name: i === UNKNOWN_COMMAND ? 'unknown' : specs[i]!.name, calls: this.calls[i]!, usec: this.timeMs[i]! * 1000, failed: this.errors[i]! });
    }
    return out;
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  private samples(name: string): Sample[] {
    const src = this.source;
    const commandSamples = (arr: Float64Array, scale = 1): Sample[] => {
      const specs = allCommands();
      const out: Sample[] = [];
      for (let i = 0; i < arr.length; i++) {
        if (arr[i] === 0) continue;
        out.push({ labels: { command: i === UNKNOWN_COMMAND ? 'unknown' : specs[i]!.name }, value: arr[i]! * scale });
      }
      return out;
    };
    switch (name) {
      case 'redslot_proxy_downstream_cx_active':
        return [{ value: src?.downstreamActive() ?? 0 }];
      case 'redslot_proxy_downstream_cx_total':
        return [{ value: this.cxTotal }];
      case 'redslot_proxy_downstream_cx_rejected_total':
        return [{ value: this.cxRejected }];
      case 'redslot_proxy_downstream_cx_protocol_error_total':
        return [{ value: this.cxProtocolErrors }];
      case 'redslot_proxy_downstream_cx_idle_timeout_total':
        return [{ value: this.cxIdleTimeouts }];
      case 'redslot_proxy_downstream_cx_output_limit_total':
        return [{ value: this.cxOutputLimit }];
      case 'redslot_proxy_downstream_auth_failures_total':
        return [{ value: this.authFailures }];
      case 'redslot_proxy_downstream_cx_access_closed_total':
        return Object.entries(this.accessClosed).map(([reason, value]) => ({ labels: { reason }, value }));
      case 'redslot_proxy_downstream_rq_total':
        return commandSamples(this.calls);
      case 'redslot_proxy_downstream_rq_errors_total':
        return commandSamples(this.errors);
      case 'redslot_proxy_downstream_rq_time_seconds_total':
        return commandSamples(this.timeMs, 1 / 1000);
      case 'redslot_proxy_downstream_rq_duration_seconds': {
        const out: Sample[] = [];
        let acc = 0;
        for (let i = 0; i < DURATION_BUCKETS.length; i++) {
          acc += this.durationBuckets[i]!;
          out.push({ metricName: `${name}_bucket`, labels: { le: DURATION_BUCKETS[i]! }, value: acc });
        }
        out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: this.durationCount });
        out.push({ metricName: `${name}_sum`, value: this.durationSumMs / 1000 });
        out.push({ metricName: `${name}_count`, value: this.durationCount });
        return out;
      }
      case 'redslot_proxy_downstream_rq_active':
        return [{ value: src?.requestsActive() ?? 0 }];
      case 'redslot_proxy_downstream_held_sessions':
        return [{ value: src?.heldSessions() ?? 0 }];
      case 'redslot_proxy_slot_rq_total': {
        const out: Sample[] = [];
        for (let s = 0; s < SLOT_COUNT; s++) if (this.slotHits[s] !== 0) out.push({ labels: { slot: s }, value: this.slotHits[s]! });
        return out;
      }
      case 'redslot_proxy_upstream_rq_total':
        return (src?.backends() ?? []).map((b) => ({ labels: { backend: b.addr }, value: b.requests }));
      case 'redslot_proxy_upstream_rq_active':
        return (src?.backends() ?? []).map((b) => ({ labels: { backend: b.addr }, value: b.pending }));
      case 'redslot_proxy_upstream_cx_active':
        return (src?.backends() ?? []).map((b) => ({ labels: { backend: b.addr }, value: b.connections }));
      case 'redslot_proxy_upstream_healthy':
        return (src?.backends() ?? []).map((b) => ({ labels: { backend: b.addr }, value: b.healthy ? 1 : 0 }));
      case 'redslot_proxy_topology_revision':
        return [{ value: src?.topologyRevision() ?? 0 }];
      case 'redslot_proxy_topology_draining_rq':
        return [{ value: src?.drainingRequests() ?? 0 }];
      case 'redslot_proxy_fenced':
        return [{ value: src && src.fenced() !== null ? 1 : 0 }];
      case 'redslot_proxy_upstream_dedicated_cx_active': {
        const d = src?.dedicatedStats?.();
        return d ? (['transaction', 'blocking', 'subscriber', 'idle'] as const).map((use) => ({ labels: { use }, value: d[use] })) : [];
      }
      case 'redslot_proxy_upstream_dedicated_cx_exhausted_total':
        return [{ value: src?.dedicatedStats?.().exhausted ?? 0 }];
      case 'redslot_proxy_script_loads_total':
        return (['ahead', 'noscript', 'functions'] as const).map((reason) => ({ labels: { reason }, value: this.scriptLoads[reason] }));
      case 'redslot_proxy_script_cache_bytes':
        return [{ value: src?.scriptCacheBytes?.() ?? 0 }];
      case 'redslot_proxy_scan_rescans_total':
        return [{ value: this.scanRescans }];
      case 'redslot_proxy_scan_settle_waits_total':
        return [{ value: this.scanSettleWaits }];
      case 'redslot_proxy_migrate_on_access_total':
        return MIGRATE_OUTCOMES.map((outcome, i) => ({ labels: { outcome }, value: this.migrateOutcomes[i]! }));
      case 'redslot_proxy_guard_total':
        return GUARD_EVENTS.map((event) => ({ labels: { event }, value: this.guards[event] }));
      case 'redslot_proxy_downstream_dedicated_sessions': {
        const d = src?.dedicatedStats?.();
        return d
          ? [
              { labels: { state: 'transaction' }, value: d.transactions },
              { labels: { state: 'blocked' }, value: d.blocked },
              { labels: { state: 'pubsub' }, value: d.subscribers },
            ]
          : [];
      }
      default:
        return [];
    }
  }

  /** A prom-client-compatible metric whose values are computed at scrape time. */
  private collector(def: Def): Metric {
    const m = {
      name: def.name,
      help: def.help,
      type: def.type,
      aggregator: def.aggregator ?? 'sum',
      get: async () => ({ name: def.name, help: def.help, type: def.type, aggregator: def.aggregator ?? 'sum', values: this.samples(def.name) }),
      reset: () => {},
    };
    return m as unknown as Metric;
  }
}

/**
 * Every metric name a proxy scrape can contain, including histogram series (`_bucket`, `_sum`, `_count`) and
 * Node process metrics (`redslot_proxy_process_*`, `redslot_proxy_nodejs_*`). Grafana/alert queries must
 * only use these.
 */
export function proxyMetricNames(): string[] {
  const names: string[] = [];
  for (const d of DEFS) {
    names.push(d.name);
    if (d.type === 'histogram') names.push(`${d.name}_bucket`, `${d.name}_sum`, `${d.name}_count`);
  }
  const r = new Registry();
  client.collectDefaultMetrics({ register: r, prefix: 'redslot_proxy_' });
  for (const m of r.getMetricsAsArray()) {
    const mm = m as unknown as { name: string; type?: string };
    names.push(mm.name);
    if (mm.type === 'histogram') names.push(`${mm.name}_bucket`, `${mm.name}_sum`, `${mm.name}_count`);
  }
  return [...new Set(names)].sort();
}
