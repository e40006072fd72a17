/**
 * Every dashboard metric, in one file, prefix `redslot_dashboard_`. One registry per dashboard instance (tests
 * run several in one process). Labels are bounded: `route` is the route template, `op` an operation name
 * from the code, `result` ok|refused|failed.
 */
import client from 'prom-client';

const P = 'redslot_dashboard_';

export function createDashboardMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: P });
  const r = [registry];
  return {
    registry,
    httpRequests: new client.Counter({
      name: `${P}http_requests_total`,
      help: 'API requests by route template, method and status code.',
      labelNames: ['route', 'method', 'status'] as const,
      registers: r,
    }),
    httpDuration: new client.Histogram({
      name: `${P}http_request_duration_seconds`,
      help: 'API request latency by route template.',
      labelNames: ['route'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: r,
    }),
    authFailures: new client.Counter({
      name: `${P}auth_failures_total`,
      help: 'Requests refused for a missing or wrong token (401) or a read-only token (403).',
      labelNames: ['kind'] as const,
      registers: r,
    }),
    isLeader: new client.Gauge({
      name: `${P}is_leader`,
      help: '1 while this dashboard holds the leader lease.',
      registers: r,
    }),
    leaderChanges: new client.Counter({
      name: `${P}leader_transitions_total`,
      help: 'Times this dashboard became leader or stepped down.',
      labelNames: ['to'] as const,
      registers: r,
    }),
    operations: new client.Counter({
      name: `${P}operations_total`,
      help: 'Operator actions by operation and result (ok, refused, failed).',
      labelNames: ['op', 'result'] as const,
      registers: r,
    }),
    casConflicts: new client.Counter({
      name: `${P}cas_conflicts_total`,
      help: 'Compare-and-swap writes refused because the model changed since it was read.',
      registers: r,
    }),
    barrierWait: new client.Histogram({
      name: `${P}barrier_wait_seconds`,
      help: 'Time until every live proxy acknowledged a topology revision.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: r,
    }),
    barrierTimeouts: new client.Counter({
      name: `${P}barrier_timeouts_total`,
      help: 'Barriers that timed out waiting for proxies.',
      registers: r,
    }),
    statsPolls: new client.Counter({
      name: `${P}stats_polls_total`,
      help: 'Stats polls of redis-servers and proxies by target kind and result.',
      labelNames: ['kind', 'result'] as const,
      registers: r,
    }),
    statsPollDuration: new client.Histogram({
      name: `${P}stats_poll_duration_seconds`,
      help: 'Duration of one full stats poll round.',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers: r,
    }),
    groups: new client.Gauge({ name: `${P}groups`, help: 'Groups in the model.', registers: r }),
    slotsOffline: new client.Gauge({ name: `${P}slots_offline`, help: 'Slots without a group.', registers: r }),
    proxiesLive: new client.Gauge({ name: `${P}proxies_live`, help: 'Proxies with a live lease.', registers: r }),
    clusterOpsPerSec: new client.Gauge({
      name: `${P}cluster_ops_per_second`,
      help: 'Sum of instantaneous ops/s over every group master (last poll).',
      registers: r,
    }),
    groupOpsPerSec: new client.Gauge({
      name: `${P}group_load_ops_per_second`,
      help: 'Requests per second the proxies routed to each group\'s slots (sum over proxies, from their per-slot counters).',
      labelNames: ['group'],
      registers: r,
    }),
    groupBytesPerSec: new client.Gauge({
      name: `${P}group_load_bytes_per_second`,
      help: 'Request bytes per second the proxies routed to each group\'s slots.',
      labelNames: ['group'],
      registers: r,
    }),
    auditWrites: new client.Counter({
      name: `${P}audit_writes_total`,
      help: 'Audit entries written, by result of the audited action.',
      labelNames: ['result'] as const,
      registers: r,
    }),
  };
}

export type DashboardMetrics = ReturnType<typeof createDashboardMetrics>;

/**
 * Names of every dashboard metric (histograms as their base name; Node process metrics included, also
 * prefixed), for the deploy test that checks the Grafana dashboard only charts metrics that exist.
 */
export function dashboardMetricNames(): string[] {
  const m = createDashboardMetrics();
  const names = m.registry
    .getMetricsAsArray()
    .map((x) => x.name)
    .filter((n) => n.startsWith(P));
  m.registry.clear();
  return names.sort();
}
