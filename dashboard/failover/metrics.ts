/** Failover metrics (prefix redslot_dashboard_failover_), on the dashboard's registry. */
import client from 'prom-client';
import type { GroupFailoverState, ReplicaStatus } from './types.js';

const P = 'redslot_dashboard_failover_';
const STATES: GroupFailoverState[] = ['ok', 'suspect', 'failing-over', 'no-eligible-replica', 'cooldown', 'disabled', 'not-leader'];

export function createFailoverMetrics(registry: client.Registry) {
  const r = [registry];
  const stateGauge = new client.Gauge({
    name: `${P}group_state`,
    help: '1 for the failover state each group is in (ok, suspect, failing-over, no-eligible-replica = alert, cooldown, disabled).',
    labelNames: ['group', 'state'] as const,
    registers: r,
  });
  const lagBytes = new client.Gauge({
    name: `${P}replica_lag_bytes`,
    help: 'Replication offset a replica is behind its master (as the leader last saw it).',
    labelNames: ['group', 'replica'] as const,
    registers: r,
  });
  const failovers = new client.Counter({
    name: `${P}total`,
    help: 'Automatic failovers by result (ok, failed).',
    labelNames: ['result'] as const,
    registers: r,
  });
  return {
    failovers,
    state(gid: number, state: GroupFailoverState): void {
      for (const s of STATES) stateGauge.set({ group: String(gid), state: s }, s === state ? 1 : 0);
    },
    replicaLag(gid: number, replicas: readonly ReplicaStatus[]): void {
      for (const rep of replicas) if (rep.lagBytes !== null) lagBytes.set({ group: String(gid), replica: rep.addr }, rep.lagBytes);
    },
  };
}

export type FailoverMetrics = ReturnType<typeof createFailoverMetrics>;
