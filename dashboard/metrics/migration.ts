/**
 * Migration metrics, prefix `redslot_dashboard_migration_`. Registered into the dashboard's registry (pass it)
 * or a private one. Labels are bounded: `state` is a slot-action state, `code` an error code from
 * dashboard/migration/errors.ts, `action` moved|refused|failed, `to` a state name.
 */
import client from 'prom-client';

const P = 'redslot_dashboard_migration_';

export function createMigrationMetrics(registry: client.Registry = new client.Registry()) {
  const r = [registry];
  return {
    registry,
    keysMoved: new client.Counter({ name: `${P}keys_moved_total`, help: 'Keys moved by the background mover (MIGRATE calls that succeeded).', registers: r }),
    bytesMoved: new client.Counter({ name: `${P}bytes_moved_total`, help: 'Bytes moved by the background mover (MEMORY USAGE of each key before moving).', registers: r }),
    keysPerSecond: new client.Gauge({ name: `${P}keys_per_second`, help: 'Current mover rate over the last seconds, all sources.', registers: r }),
    bytesPerSecond: new client.Gauge({ name: `${P}bytes_per_second`, help: 'Current mover byte rate over the last seconds, all sources.', registers: r }),
    keysRemaining: new client.Gauge({ name: `${P}keys_remaining`, help: 'Estimated keys of migrating slots still on their sources (-1 unknown).', registers: r }),
    etaSeconds: new client.Gauge({ name: `${P}eta_seconds`, help: 'Estimated seconds until the running movers finish (-1 unknown).', registers: r }),
    slots: new client.Gauge({ name: `${P}slots`, help: 'Slots carrying an action, by state.', labelNames: ['state'] as const, registers: r }),
    transitions: new client.Counter({ name: `${P}slot_transitions_total`, help: 'Slot action steps committed, by the state entered (cleared = mapping rewritten).', labelNames: ['to'] as const, registers: r }),
    slotErrors: new client.Counter({ name: `${P}slot_errors_total`, help: 'Mover failures per slot, by error code (BUSYKEY is an invariant violation).', labelNames: ['code'] as const, registers: r }),
    bigKeys: new client.Counter({ name: `${P}big_keys_total`, help: 'Keys over the big-key threshold, by what happened to them.', labelNames: ['action'] as const, registers: r }),
    bigKeyBlocked: new client.Histogram({
      name: `${P}big_key_blocked_seconds`,
      help: 'Duration of the MIGRATE of one big key (the source is blocked that long).',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: r,
    }),
    barrierRounds: new client.Counter({ name: `${P}barrier_rounds_total`, help: 'Barrier waits done by the scheduler (one serves every slot advanced in that round).', registers: r }),
    barrierWait: new client.Histogram({
      name: `${P}barrier_wait_seconds`,
      help: 'Scheduler time waiting for every live proxy to acknowledge a revision.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers: r,
    }),
    moverRuns: new client.Counter({ name: `${P}mover_runs_total`, help: 'Mover runs started (one SCAN pass series per source master).', registers: r }),
    paused: new client.Gauge({ name: `${P}paused`, help: '1 while migrations are paused.', registers: r }),
    throttleKeys: new client.Gauge({ name: `${P}throttle_keys_per_second`, help: 'Configured keys/s limit (0 = unlimited).', registers: r }),
    throttleBytes: new client.Gauge({ name: `${P}throttle_bytes_per_second`, help: 'Configured bytes/s limit (0 = unlimited).', registers: r }),
    jobs: new client.Gauge({ name: `${P}jobs`, help: 'Migration jobs by state.', labelNames: ['state'] as const, registers: r }),
  };
}

export type MigrationMetrics = ReturnType<typeof createMigrationMetrics>;

/** Every migration metric name (histograms by base name), sorted. */
export function migrationMetricNames(): string[] {
  const m = createMigrationMetrics();
  const names = m.registry.getMetricsAsArray().map((x) => x.name);
  m.registry.clear();
  return names.sort();
}
