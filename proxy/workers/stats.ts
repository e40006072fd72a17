/** The workers' reported figures: an empty report, and the backends summed over workers by address. */
import type { WorkerStats } from './protocol.js';

/** A worker's figures before it has reported any (a worker just forked, or one that did not answer). */
export function emptyStats(): Omit<WorkerStats, 'index' | 'pid' | 'revision' | 'loaded' | 'fenced'> {
  return {
    clients: 0,
    totalConnections: 0,
    rejectedConnections: 0,
    requestsActive: 0,
    heldSessions: 0,
    drainingRequests: 0,
    commands: 0,
    commandStats: [],
    backends: [],
    memory: { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 },
  };
}

/** Backends by address over every worker: requests, pending and connections summed, healthy only if healthy in all. */
export function sumBackends(snapshot: readonly WorkerStats[]): WorkerStats['backends'] {
  const by = new Map<string, WorkerStats['backends'][number]>();
  for (const s of snapshot) {
    for (const b of s.backends) {
      const cur = by.get(b.addr);
      if (!cur) by.set(b.addr, { ...b });
      else {
        cur.requests += b.requests;
        cur.pending += b.pending;
        cur.connections += b.connections;
        cur.healthy = cur.healthy && b.healthy;
      }
    }
  }
  return [...by.values()];
}
