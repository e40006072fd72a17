/**
 * Split metrics (replication-based group split, dashboard/migration/split/), prefix `redslot_dashboard_split_`.
 * Labels are bounded: `step` is a split step, `side` source|target, `outcome` done|aborted|failed.
 */
import client from 'prom-client';

const P = 'redslot_dashboard_split_';

/** Live figures of the running splits, read at each scrape. */
export interface SplitSample {
  lagBytes: number;
  syncBytes: number;
}

export function createSplitMetrics(registry: client.Registry = new client.Registry(), sample: () => SplitSample = () => ({ lagBytes: 0, syncBytes: 0 })) {
  const r = [registry];
  return {
    registry,
    active: new client.Gauge({ name: `${P}active`, help: 'Splits this leader is running, by step.', labelNames: ['step'] as const, registers: r }),
    lagBytes: new client.Gauge({ name: `${P}replication_lag_bytes`, help: 'Source master_repl_offset minus the new master\'s offset, summed over running splits (-1 while the full sync runs).', registers: r, collect() {
      this.set(sample().lagBytes);
    } }),
    syncBytes: new client.Gauge({ name: `${P}sync_bytes`, help: 'Bytes of the full sync (RDB) read by the new master so far, summed over running splits.', registers: r, collect() {
      this.set(sample().syncBytes);
    } }),
    holdSeconds: new client.Histogram({
      name: `${P}hold_seconds`,
      help: 'How long the moving slots were held at the proxies (locked txn to the txn releasing them).',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30],
      registers: r,
    }),
    purged: new client.Counter({ name: `${P}purged_keys_total`, help: 'Keys deleted by the purge after a switch, by side (source: moved slots; target: the rest).', labelNames: ['side'] as const, registers: r }),
    finished: new client.Counter({ name: `${P}finished_total`, help: 'Splits that ended, by outcome.', labelNames: ['outcome'] as const, registers: r }),
    stepErrors: new client.Counter({ name: `${P}step_errors_total`, help: 'Split step attempts that failed and will be retried, by step.', labelNames: ['step'] as const, registers: r }),
  };
}

export type SplitMetrics = ReturnType<typeof createSplitMetrics>;

/** Every split metric name (histograms by base name), sorted. */
export function splitMetricNames(): string[] {
  const m = createSplitMetrics();
  const names = m.registry.getMetricsAsArray().map((x) => x.name);
  m.registry.clear();
  return names.sort();
}
