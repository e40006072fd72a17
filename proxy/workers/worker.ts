/**
 * A proxy worker process (forked by proxy/workers/primary.ts through node:cluster): the whole data path
 * (ProxyCore: sessions, router, its own backend connections) listening on the shared port, driven by the
 * primary over IPC instead of by a topology driver of its own.
 *
 * - init: apply the topology the primary holds (if any) BEFORE listening, so a respawned worker never serves
 *   with an older table than its siblings; then listen (cluster shares the port) and report `listening` -
 *   or, on the proxy's first start, report `initialised` and listen on `listen`, once the first table is in.
 * - apply: ProxyCore.applyTopology, answered once it has drained (the primary acks only when all answered).
 *   Applies run one at a time, in the order received.
 * - fence / stats / metrics: answered at once.
 * - shutdown (from the primary), SIGTERM, or the primary vanishing (IPC disconnect): stop accepting, finish
 *   in-flight commands within the deadline, close clients and backends, exit 0.
 * - SIGINT is ignored: Ctrl-C reaches the whole process group, and the primary orders the shutdown.
 */
import cluster from 'node:cluster';
import { createLogger, type Logger } from '../../shared/log.js';
import type { Topology } from '../../shared/model/types.js';
import type { ProxyCore } from '../core.js';
import { DataPath } from '../data-path.js';
import type { FromWorker, ToWorker, WorkerInit, WorkerStats } from './protocol.js';

function send(msg: FromWorker): void {
  if (process.connected) process.send!(msg);
}

export function workerStats(core: ProxyCore, index: number): WorkerStats {
  const mem = process.memoryUsage();
  return {
    index,
    pid: process.pid,
    revision: core.appliedRevision(),
    loaded: core.table.loaded,
    fenced: core.fenced(),
    clients: core.connectedClients(),
    totalConnections: core.totalConnections(),
    rejectedConnections: core.rejectedConnections(),
    requestsActive: core.requestsActive(),
    heldSessions: core.heldSessions(),
    drainingRequests: core.drainingRequests(),
    commands: core.totalCommands(),
    commandStats: core.commandStats(),
    backends: core.backends(),
    memory: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers },
  };
}

class Worker {
  private path: DataPath | null = null;
  private core: ProxyCore | null = null;
  private index = -1;
  private chain: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;
  private log: Logger = createLogger({ service: 'proxy', worker: cluster.worker?.id ?? 0 });

  start(): void {
    process.on('message', (m: ToWorker) => this.onMessage(m));
    process.on('disconnect', () => {
      this.log.warn('proxy.worker.primary_gone', {});
      this.shutdown(this.core?.config.shutdownDeadlineMs ?? 10_000);
    });
    process.on('SIGTERM', () => this.shutdown(this.core?.config.shutdownDeadlineMs ?? 10_000));
    process.on('SIGINT', () => {});
    send({ t: 'hello' });
  }

  private onMessage(m: ToWorker): void {
    switch (m.t) {
      case 'init':
        this.enqueue(() => this.init(m));
        break;
      case 'apply':
        this.enqueue(async () => {
          try {
            await this.apply(m.topology);
            send({ t: 'applied', seq: m.seq, revision: m.topology.revision });
          } catch (err) {
            this.log.error('proxy.worker.apply_failed', { revision: m.topology.revision, err });
            send({ t: 'apply-failed', seq: m.seq, error: (err as Error).message });
          }
        });
        break;
      case 'listen':
        this.enqueue(() => this.listen());
        break;
      case 'fence':
        // Not queued behind an apply that is draining: fencing must take effect at once.
        this.core?.setFenced(m.reason);
        break;
      case 'deadline':
        // The remaining time as the primary saw it; IPC delay makes our copy later by that delay, which the
        // follower's fence margin (>= 1 s) covers. Kept on this process's own clock from here on.
        this.core?.setServeDeadline(m.remainingMs);
        break;
      case 'identity':
        this.core?.setIdentity(m.id);
        break;
      case 'stats':
        if (this.core) send({ t: 'stats', seq: m.seq, stats: workerStats(this.core, this.index) });
        break;
      case 'metrics':
        if (this.core) {
          this.core.metrics.registry.getMetricsAsJSON().then(
            (metrics) => send({ t: 'metrics', seq: m.seq, metrics }),
            () => send({ t: 'metrics', seq: m.seq, metrics: [] }),
          );
        }
        break;
      case 'load':
        if (this.core) send({ t: 'load', seq: m.seq, report: this.core.load.report() });
        break;
      case 'shutdown':
        this.shutdown(m.deadlineMs);
        break;
    }
  }

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn, fn);
  }

  private async init(m: WorkerInit): Promise<void> {
    if (this.core) return;
    this.index = m.index;
    this.log = createLogger({ service: 'proxy', worker: m.index, pid: process.pid });
    // The same data path as a single-process proxy (proxy/data-path.ts), driven over IPC.
    this.path = new DataPath(m.config, this.log, { defaultMetrics: m.defaultMetrics });
    const core = (this.core = this.path.core);
    core.setFenced(m.fenced);
    if (m.deadlineMs !== undefined) core.setServeDeadline(m.deadlineMs);
    if (m.identity !== undefined) core.setIdentity(m.identity);
    try {
      if (m.topology) await this.apply(m.topology);
    } catch (err) {
      return this.fatal(err);
    }
    if (m.listen) await this.listen();
    else send({ t: 'initialised', revision: core.appliedRevision() });
  }

  private async listen(): Promise<void> {
    const core = this.core;
    if (!core || this.closing) return;
    try {
      const a = await core.listen();
      send({ t: 'listening', port: a.port, revision: core.appliedRevision() });
    } catch (err) {
      await this.fatal(err);
    }
  }

  private async fatal(err: unknown): Promise<void> {
    this.log.error('proxy.worker.start_failed', { err });
    send({ t: 'fatal', error: (err as Error).message });
    await this.path?.stopServing(0).catch(() => undefined);
    await this.path?.closeBackends().catch(() => undefined);
    process.exit(1);
  }

  private async apply(t: Topology): Promise<void> {
    const core = this.core;
    // Applying the table the worker already has is harmless (unchanged slots keep their routes).
    if (!core || this.closing) return;
    await core.applyTopology(t);
  }

  private shutdown(deadlineMs: number): void {
    if (this.closing) return;
    const path = this.path;
    this.closing = (async () => {
      if (path) {
        await path.stopServing(deadlineMs).catch((err: unknown) => this.log.warn('proxy.worker.close_failed', { err }));
        await path.closeBackends().catch(() => undefined);
      }
    })();
    this.closing.then(
      () => process.exit(0),
      () => process.exit(1),
    );
  }
}

export function runWorker(): void {
  if (!cluster.isWorker) throw new Error('runWorker: not a cluster worker');
  new Worker().start();
}
