/**
 * One process's data path: the ProxyCore (sessions, router, backend connections) and the monitor that
 * judges its replicas for reads. A single-process proxy runs one in the main process; with workers, each
 * worker process runs one (proxy/workers/worker.ts). Both stop it the same way.
 */
import type { Logger } from '../shared/log.js';
import type { ProxyConfig } from './config.js';
import { ProxyCore } from './core.js';
import { ReplicaHealth } from './topology/replica-health.js';
import { tuneHeap } from './util/heap-tuning.js';
import { setSlabPoolBytes } from './util/lent-slabs.js';

export class DataPath {
  readonly core: ProxyCore;
  private readonly replicaHealth: ReplicaHealth;

  constructor(config: ProxyConfig, log: Logger, opts: { defaultMetrics?: boolean } = {}) {
    tuneHeap(); // before the first request: per-request objects must never be pretenured
    setSlabPoolBytes(config.limits.slabPoolBytes);
    this.core = new ProxyCore(config, log, { defaultMetrics: opts.defaultMetrics });
    // Each process judges replicas for its own reads (READONLY clients, reads: replica-preferred).
    this.replicaHealth = ReplicaHealth.start(this.core.table, config, log);
  }

  /** Stops serving: no new clients; in-flight commands are answered within the deadline; clients close. */
  async stopServing(deadlineMs: number): Promise<void> {
    await this.replicaHealth.stop();
    await this.core.server.close(deadlineMs);
  }

  /** Every client is gone: replies still pending on backends have no reader left, so do not wait for them. */
  closeBackends(): Promise<void> {
    return this.core.pool.close(true);
  }
}
