/**
 * Multi-process proxy: N worker processes (node:cluster) share the listening port, each with the whole data
 * path and its own backend connections; this process (the primary) holds the ONE topology view.
 *
 *   startProxyWorkers({ config, workers?, topologyDriver? }) -> { addr, adminAddr, runtime, close() }
 *
 * - Topology: the primary runs the topology driver (coordinator follower or static table) against a
 *   `WorkerSet`, which implements ProxyRuntime across IPC: applyTopology sends the table to every worker and
 *   resolves only when EVERY worker has applied it and drained the old routes; so the follower acknowledges
 *   a revision only then. A worker forked later (first start or respawn) gets the current table and fence
 *   state before it listens, so it never serves an older table than its siblings.
 * - Fencing: setFenced in the primary is broadcast to every worker (and given to workers forked later).
 * - Admin HTTP (one port, in the primary): /metrics is the sum over workers (prom-client aggregation; the
 *   topology revision is the minimum, `fenced` the maximum), /readyz is 200 only when every worker listens
 *   with the current table and nobody is fenced, /api/v1/proxy adds a `workers` list (pid, clients, commands,
 *   revision, memory of each).
 * - Connections: cluster's round-robin (the primary accepts and hands each connection to the next worker;
 *   one IPC hop per accept, none per request). NODE_CLUSTER_SCHED_POLICY=none makes the workers accept on the
 *   shared socket themselves (the kernel then balances them unevenly; docs/performance.md, Workers).
 * - limits.maxClients is for the whole proxy: each worker admits ceil(maxClients / workers).
 * - A worker that dies is replaced (after a short backoff); until it listens again /readyz fails.
 * - Shutdown (close / SIGTERM): every worker stops accepting, finishes its in-flight commands within the
 *   deadline, closes its clients and backends and exits; then the driver stops (lease revoked, the proxy
 *   deregistered) and the admin server closes. If the primary dies, workers see the IPC channel close and
 *   shut down the same way: no orphans.
 */
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, Registry } from 'prom-client';
import { createLogger, type Logger } from '../../shared/log.js';
import { mergeLoadReports, type ProxyLoadReport } from '../../shared/load-report.js';
import { SLOT_COUNT } from '../../shared/slot.js';
import type { Topology } from '../../shared/model/types.js';
import { masterOf } from '../../shared/model/topology.js';
import type { AdminProxy } from '../admin/app.js';
import type { ProxyConfig } from '../config.js';
import { REDSLOT_VERSION } from '../../shared/version.js';
import { LEASE_DEADLINE_PASSED } from '../router/serve-deadline.js';
import { runLifecycle, type DataPlane, type LifecycleHandle } from '../lifecycle.js';
import type { StartProxyOptions } from '../startup.js';
import type { ProxyRuntime } from '../runtime.js';
import type { FromWorker, WorkerMetrics, WorkerStats } from './protocol.js';
import { WorkerProc } from './worker-proc.js';
import { emptyStats, sumBackends } from './stats.js';

export interface StartWorkersOptions extends StartProxyOptions {
  /** Worker processes (default config.workers). */
  workers?: number;
  /** REDSLOT_LOG_LEVEL for the workers (default: inherited). */
  logLevel?: string;
}

/** Graceful stop (close()) of every worker, then the driver and the admin server. */
export type WorkersHandle = LifecycleHandle<WorkerSet>;

const QUERY_TIMEOUT_MS = 2000;

/** Where the compiled (or, under tsx, the source) worker entry is, and how to start node for it. */
function workerEntry(): { exec: string; execArgv: string[] } {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    return { exec: fileURLToPath(new URL('./worker-main.ts', self)), execArgv: ['--import', import.meta.resolve('tsx')] };
  }
  return { exec: fileURLToPath(new URL('./worker-main.js', self)), execArgv: process.execArgv };
}

/**
 * The workers as one proxy: ProxyRuntime for the topology driver, AdminProxy for the admin app (figures are
 * the sum of the workers' last reported stats; `refresh()` asks them again).
 */
export class WorkerSet implements ProxyRuntime, AdminProxy {
  readonly version = REDSLOT_VERSION;
  readonly startedAt = Date.now();
  readonly procs: Array<WorkerProc | undefined>;
  private current: Topology | null = null;
  private applied = 0;
  private fenceReason: string | null = null;
  /** performance.now() of the serve deadline last given by the driver (null: none), for workers forked later. */
  private deadlineAt: number | null = null;
  private identity: string | null = null;
  private stopping = false;
  private snapshot: WorkerStats[] = [];
  private readonly respawnDelay: number[];
  private stateWaiters: Array<() => void> = [];
  /** Workers listen (first start done, or listening right away because the port is 0). */
  private listening = false;
  private started = false;
  port = 0;
  private startError: Error | null = null;

  constructor(
    readonly config: ProxyConfig,
    private readonly count: number,
    private readonly log: Logger,
    private readonly defaultMetrics: boolean,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.procs = new Array<WorkerProc | undefined>(count);
    this.respawnDelay = new Array<number>(count).fill(0);
  }

  // ---- process management

  /**
   * Forks every worker; resolves once all are initialised (listenNow false: they wait for listen()) or all
   * listen (listenNow true: needed first when the port is 0, to learn it).
   */
  async start(listenNow: boolean): Promise<void> {
    const { exec, execArgv } = workerEntry();
    cluster.setupPrimary({ exec, execArgv, serialization: 'advanced' });
    this.listening = listenNow;
    for (let i = 0; i < this.count; i++) this.fork(i);
    await this.allIn(listenNow ? 'serving' : 'idle');
    this.started = true;
  }

  /** Every worker starts listening (they all have the first table by now); resolves once all listen. */
  async listen(): Promise<void> {
    this.listening = true;
    for (const p of this.live()) if (p.state === 'idle') p.send({ t: 'listen' });
    await this.allIn('serving');
  }

  private allIn(state: 'idle' | 'serving'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): boolean => {
        if (this.startError) {
          reject(this.startError);
          return true;
        }
        if (!this.procs.every((p) => p !== undefined && (p.state === state || p.state === 'serving'))) return false;
        resolve();
        return true;
      };
      if (check()) return;
      const waiter = (): void => {
        if (!check()) this.stateWaiters.push(waiter);
      };
      this.stateWaiters.push(waiter);
    });
  }

  private stateChanged(): void {
    const w = this.stateWaiters;
    this.stateWaiters = [];
    for (const f of w) f();
  }

  private workerConfig(): ProxyConfig {
    return {
      ...this.config,
      admin: null,
      workers: 1,
      limits: { ...this.config.limits, maxClients: Math.max(1, Math.ceil(this.config.limits.maxClients / this.count)) },
    };
  }

  private fork(index: number): void {
    const worker = cluster.fork({ ...this.env, REDSLOT_WORKER_INDEX: String(index) });
    const proc = new WorkerProc(index, worker);
    this.procs[index] = proc;
    worker.on('message', (m: FromWorker) => this.onMessage(proc, m));
    worker.on('error', (err: Error) => this.log.warn('proxy.worker.ipc_error', { worker: index, err }));
    worker.once('exit', (code, signal) => this.onExit(proc, code, signal));
  }

  private onMessage(proc: WorkerProc, m: FromWorker): void {
    switch (m.t) {
      case 'hello':
        proc.initialised = true;
        proc.send({
          t: 'init',
          index: proc.index,
          config: this.workerConfig(),
          topology: this.current,
          fenced: this.fenceReason,
          deadlineMs: this.deadlineAt === null ? null : this.deadlineAt - performance.now(),
          identity: this.identity,
          defaultMetrics: this.defaultMetrics,
          listen: this.listening,
        });
        break;
      case 'initialised':
        proc.state = 'idle';
        proc.revision = m.revision;
        this.stateChanged();
        break;
      case 'listening':
        proc.state = 'serving';
        proc.revision = m.revision;
        if (this.port === 0) this.port = m.port;
        this.respawnDelay[proc.index] = 0;
        this.log.info('proxy.worker.listening', { worker: proc.index, pid: proc.pid, port: m.port, revision: m.revision });
        this.stateChanged();
        break;
      case 'applied':
        proc.revision = Math.max(proc.revision, m.revision);
        proc.answer(m.seq, m.revision);
        break;
      case 'apply-failed':
        proc.answer(m.seq, null, m.error);
        break;
      case 'stats':
        proc.answer(m.seq, m.stats);
        break;
      case 'metrics':
        proc.answer(m.seq, m.metrics);
        break;
      case 'load':
        proc.answer(m.seq, m.report);
        break;
      case 'fatal':
        this.log.error('proxy.worker.fatal', { worker: proc.index, error: m.error });
        if (!this.started || !this.listening) {
          this.startError ??= new Error(`proxy worker ${proc.index} failed to start: ${m.error}`);
          this.stateChanged();
        }
        break;
    }
  }

  private onExit(proc: WorkerProc, code: number | null, signal: string | null): void {
    proc.onExit();
    if (this.stopping) return;
    this.log.error('proxy.worker.exited', { worker: proc.index, pid: proc.pid, code, signal });
    if (this.startError !== null || !this.started) {
      // Died before the proxy ever served: a config or environment problem a respawn will not fix.
      this.startError ??= new Error(`proxy worker ${proc.index} exited during start (code ${code}, signal ${signal})`);
      this.stateChanged();
      return;
    }
    const delay = Math.min(5000, Math.max(100, this.respawnDelay[proc.index]! * 2));
    this.respawnDelay[proc.index] = delay;
    setTimeout(() => {
      if (!this.stopping && this.procs[proc.index] === proc) this.fork(proc.index);
    }, delay).unref();
  }

  /** Live worker processes. */
  live(): WorkerProc[] {
    return this.procs.filter((p): p is WorkerProc => p !== undefined && p.state !== 'exited');
  }

  pids(): number[] {
    return this.live().map((p) => p.pid);
  }

  /**
   * Graceful stop: every worker drains and exits (SIGKILL for one that has not exited deadlineMs + 5 s
   * later). Resolves when all have exited.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    const procs = this.live();
    for (const p of procs) p.send({ t: 'shutdown', deadlineMs });
    await Promise.all(
      procs.map(async (p) => {
        const timer = setTimeout(() => {
          this.log.warn('proxy.worker.kill', { worker: p.index, pid: p.pid });
          p.worker.process.kill('SIGKILL');
        }, deadlineMs + 5000);
        await p.exited;
        clearTimeout(timer);
      }),
    );
  }

  // ---- ProxyRuntime

  /** Masters of the current table (what the reachability reporter probes). */
  masterAddrs(): string[] {
    const out: string[] = [];
    for (const g of this.current?.groups.values() ?? []) {
      const m = masterOf(g);
      if (m !== undefined) out.push(m);
    }
    return out;
  }

  async applyTopology(topology: Topology): Promise<void> {
    const t0 = Date.now();
    // Workers forked from now on get this table in their init, before they listen.
    this.current = topology;
    const procs = this.procs.filter((p): p is WorkerProc => p !== undefined && p.initialised && p.state !== 'exited');
    await Promise.all(procs.map((p) => p.request<number>('apply', (seq) => ({ t: 'apply', seq, topology }))));
    this.applied = topology.revision;
    this.log.info('proxy.topology_applied', { revision: topology.revision, workers: procs.length, drainMs: Date.now() - t0 });
  }

  appliedRevision(): number {
    return this.applied;
  }

  setFenced(reason: string | null): void {
    if (reason === this.fenceReason) return;
    this.fenceReason = reason;
    for (const p of this.procs) if (p?.initialised) p.send({ t: 'fence', reason });
    if (reason === null) this.log.info('proxy.unfenced');
    else this.log.warn('proxy.fenced', { reason, workers: this.live().length });
  }

  /** Why commands are refused: the follower's fence, or the lease deadline passed (the workers refuse on their own). */
  fenced(): string | null {
    if (this.fenceReason !== null) return this.fenceReason;
    return this.deadlineAt !== null && performance.now() > this.deadlineAt ? LEASE_DEADLINE_PASSED : null;
  }

  /** Each worker keeps the deadline on its own clock and fences on it by itself (see ServeDeadline). */
  setServeDeadline(remainingMs: number | null): void {
    this.deadlineAt = remainingMs === null ? null : performance.now() + remainingMs;
    for (const p of this.procs) if (p?.initialised) p.send({ t: 'deadline', remainingMs });
  }

  /** Each worker names its backend connections after the registration id (ProxyRuntime.setIdentity). */
  setIdentity(proxyId: string | null): void {
    this.identity = proxyId;
    for (const p of this.procs) if (p?.initialised) p.send({ t: 'identity', id: proxyId });
  }

  // ---- AdminProxy

  /** Every worker listens with the current table and nobody is fenced. */
  ready(): boolean {
    if (this.fenced() !== null || this.current === null || this.applied !== this.current.revision) return false;
    for (let i = 0; i < this.count; i++) {
      const p = this.procs[i];
      if (p === undefined || p.state !== 'serving') return false;
    }
    return true;
  }

  get table(): { loaded: boolean } {
    return { loaded: this.applied > 0 };
  }

  /** Asks every worker for its stats (a worker that does not answer within 2 s is left out). */
  async refresh(): Promise<WorkerStats[]> {
    const got = await Promise.all(this.live().map((p) => p.request<WorkerStats>('stats', (seq) => ({ t: 'stats', seq }), QUERY_TIMEOUT_MS)));
    this.snapshot = got.filter((s): s is WorkerStats => s !== null).sort((a, b) => a.index - b.index);
    return this.snapshot;
  }

  workerStats(): WorkerStats[] {
    return this.snapshot;
  }

  readonly metrics = {
    registry: { contentType: new Registry().contentType as string },
    text: async (): Promise<string> => {
      const all = await Promise.all(this.live().map((p) => p.request<WorkerMetrics>('metrics', (seq) => ({ t: 'metrics', seq }), QUERY_TIMEOUT_MS)));
      const lists = all.filter((m): m is WorkerMetrics => m !== null);
      // prom-client's aggregation groups by labels: give label-less samples an empty set.
      for (const list of lists) for (const m of list) for (const v of m.values) v.labels ??= {};
      return AggregatorRegistry.aggregate(lists).metrics();
    },
  };

  /** Per-slot load and hot keys summed over the workers. */
  async loadReport(): Promise<ProxyLoadReport> {
    const all = await Promise.all(this.live().map((p) => p.request<ProxyLoadReport>('load', (seq) => ({ t: 'load', seq }), QUERY_TIMEOUT_MS)));
    return mergeLoadReports(all.filter((r): r is ProxyLoadReport => r !== null), SLOT_COUNT);
  }

  private sum(f: (s: WorkerStats) => number): number {
    let n = 0;
    for (const s of this.snapshot) n += f(s);
    return n;
  }

  drainingRequests(): number {
    return this.sum((s) => s.drainingRequests);
  }
  connectedClients(): number {
    return this.sum((s) => s.clients);
  }
  totalConnections(): number {
    return this.sum((s) => s.totalConnections);
  }
  rejectedConnections(): number {
    return this.sum((s) => s.rejectedConnections);
  }
  requestsActive(): number {
    return this.sum((s) => s.requestsActive);
  }
  heldSessions(): number {
    return this.sum((s) => s.heldSessions);
  }
  totalCommands(): number {
    return this.sum((s) => s.commands);
  }

  backends(): WorkerStats['backends'] {
    return sumBackends(this.snapshot);
  }

  /** Per-worker figures for /api/v1/proxy. */
  describeWorkers(): Array<Record<string, unknown>> {
    const byIndex = new Map(this.snapshot.map((s) => [s.index, s]));
    return this.procs.map((p, index) => {
      const s = byIndex.get(index) ?? { ...emptyStats(), revision: p?.revision ?? 0, fenced: this.fenceReason };
      return {
        index,
        pid: p?.pid ?? 0,
        state: p?.state ?? 'exited',
        revision: s.revision,
        fenced: s.fenced,
        clients: s.clients,
        totalConnections: s.totalConnections,
        commands: s.commands,
        requestsActive: s.requestsActive,
        memory: s.memory,
      };
    });
  }
}

/** The workers as the lifecycle's data plane. */
class WorkersPlane implements DataPlane<WorkerSet> {
  /** A fixed port: workers listen only once the first table is applied (no client sees "no topology yet");
   * port 0 (tests): they must listen first, to learn the port the proxy registers with. */
  private readonly fixedPort: boolean;

  constructor(
    readonly runtime: WorkerSet,
    private readonly config: ProxyConfig,
    private readonly count: number,
  ) {
    this.fixedPort = config.listen.port !== 0;
  }

  async start(): Promise<{ host: string; port: number }> {
    await this.runtime.start(!this.fixedPort);
    return { host: this.config.listen.host, port: this.fixedPort ? this.config.listen.port : this.runtime.port };
  }

  async serve(): Promise<void> {
    if (this.fixedPort) await this.runtime.listen();
  }

  masterAddrs(): string[] {
    return this.runtime.masterAddrs();
  }

  /** Stats come from the workers: fetch them before answering anything that shows them. */
  beforeApiRequest(): Promise<unknown> {
    return this.runtime.refresh();
  }

  adminExtra(): Record<string, unknown> {
    return { workers: this.runtime.describeWorkers() };
  }

  logFields(): Record<string, unknown> {
    return { workers: this.count, pids: this.runtime.pids() };
  }

  /** Every worker drains its clients and closes its own backend connections, then exits. */
  stopServing(deadlineMs: number): Promise<void> {
    return this.runtime.stop(deadlineMs);
  }

  async closeBackends(): Promise<void> {}
}

/** Starts the primary: workers, then the lifecycle every proxy goes through (proxy/lifecycle.ts). */
export async function startProxyWorkers(opts: StartWorkersOptions): Promise<WorkersHandle> {
  if (!cluster.isPrimary) throw new Error('startProxyWorkers: must run in the primary process');
  const { config } = opts;
  const count = opts.workers ?? config.workers;
  const log = opts.logger ?? createLogger({ service: 'proxy', role: 'primary' });
  const env: NodeJS.ProcessEnv = opts.logLevel ? { REDSLOT_LOG_LEVEL: opts.logLevel } : {};
  const set = new WorkerSet(config, count, log, opts.defaultMetrics ?? true, env);
  return runLifecycle(opts, new WorkersPlane(set, config, count), log);
}
