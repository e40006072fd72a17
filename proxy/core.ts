/**
 * The proxy's data path assembled: backend pool, slot table, router, RESP server and metrics; implements the
 * ProxyRuntime contract topology drivers call (proxy/runtime.ts).
 */
import type { Logger } from '../shared/log.js';
import type { Topology } from '../shared/model/types.js';
import { BackendPool } from './backend/pool.js';
import { Dedicated } from './dedicated/index.js';
import { allCommands } from './commands/lookup.js';
import type { ProxyConfig } from './config.js';
import type { LocalContext, ProxyFacts } from './local/context.js';
import { localHandlers } from './local/index.js';
import { SlowLog } from './local/slowlog.js';
import { ProxyMetrics, type MetricsSource } from './metrics.js';
import { ClientAccess } from './acl/access.js';
import { ClusterWide } from './router/requests/cluster-wide.js';
import { Router } from './router/router.js';
import { ScriptCache } from './scripts/cache.js';
import { SlotLoad } from './load/slot-load.js';
import { resp3Refusal } from './backend/server-version.js';
import { SlotTable } from './router/slot-table.js';
import type { ProxyRuntime } from './runtime.js';
import { RespServer } from './server.js';
import { REDSLOT_VERSION } from '../shared/version.js';
import { LEASE_DEADLINE_PASSED, ServeDeadline } from './router/serve-deadline.js';
import { WriteFence } from './backend/write-fence.js';
import { errorReply, ProxyErrors } from './errors.js';
import { clientOptions, serverOptions } from '../shared/tls/config.js';


export class ProxyCore implements ProxyRuntime, MetricsSource, ProxyFacts {
  readonly pool: BackendPool;
  readonly table: SlotTable;
  readonly router: Router;
  /** Transactions, blocking commands and Pub/Sub on dedicated backend connections. */
  readonly dedicated: Dedicated;
  /** Lua bodies loaded through this proxy (EVALSHA after slots move). */
  readonly scripts: ScriptCache;
  readonly metrics: ProxyMetrics;
  /** Per-slot ops/bytes and hot keys (admin GET /api/v1/proxy/load). */
  readonly load: SlotLoad;
  readonly server: RespServer;
  readonly access: ClientAccess;
  readonly startedAt = Date.now();
  /** SLOWLOG: end-to-end latency of commands through this proxy (proxy/local/slowlog.ts). */
  readonly slowlog: SlowLog;
  readonly version = REDSLOT_VERSION;
  /** Backend connections write nothing past the serve deadline and are named after the registration id. */
  readonly writeFence: WriteFence;
  private fenceReason: string | null = null;
  private applied = 0;
  private listenPort = 0;

  constructor(
    readonly config: ProxyConfig,
    readonly log: Logger,
    opts: { defaultMetrics?: boolean } = {},
  ) {
    const b = config.backend;
    this.slowlog = new SlowLog(config.slowlog.slowerThanUs, config.slowlog.maxLen);
    const deadline = new ServeDeadline((overdueMs) =>
      log.error('proxy.fenced.deadline', { overdueMs: Math.round(overdueMs), reason: 'coordinator lease not renewed before the local deadline' }),
    );
    this.writeFence = new WriteFence(deadline, errorReply(ProxyErrors.REDSLOT_ERR_FENCED, { reason: LEASE_DEADLINE_PASSED }));
    this.pool = new BackendPool(
      {
        connectionsPerServer: b.connectionsPerServer,
        databases: config.databases,
        dialTimeoutMs: b.dialTimeoutMs,
        backoffMinMs: b.backoffMinMs,
        backoffMaxMs: b.backoffMaxMs,
        replyTimeoutMs: b.replyTimeoutMs,
        keepAliveMs: b.keepAliveMs,
        streamReplyBytes: b.streamRepliesFromBytes,
        user: b.user,
        password: b.password,
        maxDedicated: b.maxDedicated,
        maxDedicatedPerServer: b.maxDedicatedPerServer,
        dedicatedIdleMs: b.dedicatedIdleMs,
        onBusy: () => this.metrics.guards.busy++,
        tls: b.tls === null ? null : clientOptions(b.tls, 'backend.tls'),
        fence: this.writeFence,
      },
      log,
    );
    this.table = new SlotTable(this.pool);
    this.metrics = new ProxyMetrics(opts);
    this.table.drainTimeoutMs = config.guard.drainTimeoutMs;
    this.table.onDrainTimeout = (stuck) => {
      // Loud: a request that never answers is a bug or a backend gone silent; the ack goes out anyway.
      this.metrics.guards.drain_timeout++;
      log.error('proxy.drain_timeout', { revision: this.table.revision, timeoutMs: config.guard.drainTimeoutMs, stuck });
    };
    this.metrics.bind(this);
    this.access = new ClientAccess(config, this.metrics, log);
    this.scripts = new ScriptCache(config.scripts.cacheBytes);
    const wide = new ClusterWide({ table: this.table, config, facts: this, scripts: this.scripts, metrics: this.metrics });
    this.load = new SlotLoad(config.load, this.metrics.slotHits);
    this.router = new Router(this.table, this.load, { timeoutMs: config.migrate.timeoutMs, user: b.user, password: b.password, sourceFirst: config.migrate.sourceFirst, outcomes: this.metrics.migrateOutcomes, bigKeyBytes: config.migrate.bigKeyBytes }, wide, deadline);
    this.dedicated = new Dedicated(this.table, this.router, this.pool, { timeoutMs: config.migrate.timeoutMs, user: b.user, password: b.password, outcomes: this.metrics.migrateOutcomes, bigKeyBytes: config.migrate.bigKeyBytes }, log, {
      maxMultiBytes: config.guard.maxMultiBytes,
      onGuard: (e) => this.metrics.guards[e]++,
    });
    this.table.onRoutesChanged = (changed) => this.dedicated.onRoutesChanged(changed);
    const specs = allCommands();
    const noAuth = new Uint8Array(specs.length);
    for (const s of specs) if (s.flags.includes('no_auth')) noAuth[s.id] = 1;
    this.server = new RespServer(
      {
        config,
        limits: {
          maxBulkBytes: config.limits.maxBulkBytes,
          maxArrayLength: config.limits.maxArrayLength,
          maxInlineBytes: config.limits.maxInlineBytes,
          maxQueryBytes: config.guard.maxQueryBufferBytes,
        },
        router: this.router,
        table: this.table,
        metrics: this.metrics,
        facts: this,
        log,
        localHandlers: localHandlers(),
        noAuth,
        refusals: new Array<Buffer | undefined>(specs.length),
        dedicated: this.dedicated,
      },
      log,
      config.tls === null ? null : serverOptions(config.tls),
    );
  }

  /** The TLS address as bound when TLS is served beside the plain port (tls.listen), else null. */
  tlsAddress: { host: string; port: number } | null = null;

  /** Binds `listen` (TLS only when tls is set without tls.listen) and tls.listen; watches the certificates. */
  async listen(): Promise<{ host: string; port: number }> {
    const t = this.config.tls;
    const a = await this.server.listen(this.config.listen.host, this.config.listen.port, t !== null && t.listen === null);
    this.listenPort = a.port;
    if (t !== null) {
      if (t.listen !== null) this.tlsAddress = await this.server.listen(t.listen.host, t.listen.port, true);
      this.server.watchCertificates(t, t.reloadIntervalMs);
    }
    return a;
  }

  // ---- ProxyRuntime

  async applyTopology(topology: Topology): Promise<void> {
    const t0 = Date.now();
    // A failover replaces a master the dashboard declared down: what is still pending on it would only
    // answer after backend.replyTimeout (a stopped server) and hold the barrier that long. Fail it now.
    for (const g of topology.groups.values()) {
      if (g.promoting?.abandon !== undefined) this.pool.peek(g.promoting.abandon)?.abandon();
    }
    await this.table.apply(topology);
    this.applied = topology.revision;
    this.log.info('proxy.topology_applied', { revision: topology.revision, drainMs: Date.now() - t0 });
    // Servers no longer routed to are closed once their pending requests are answered.
    this.pool.retain(this.table.addressesInUse()).catch((err: unknown) => this.log.warn('proxy.pool_retain_failed', { err }));
  }

  appliedRevision(): number {
    return this.applied;
  }

  setFenced(reason: string | null): void {
    if (reason === this.fenceReason) return;
    this.fenceReason = reason;
    this.router.setFenced(reason);
    if (reason === null) this.log.info('proxy.unfenced');
    else this.log.warn('proxy.fenced', { reason });
  }

  /** Why commands are refused: the follower's fence, or the lease deadline passed before the follower noticed. */
  fenced(): string | null {
    if (this.fenceReason !== null) return this.fenceReason;
    return this.router.deadline.remainingMs() < 0 ? LEASE_DEADLINE_PASSED : null;
  }

  setServeDeadline(remainingMs: number | null): void {
    this.router.deadline.set(remainingMs);
  }

  setIdentity(proxyId: string | null): void {
    const before = this.writeFence.name('proxy');
    this.writeFence.setProxyId(proxyId);
    // Open connections carry the old id: renamed in-band so the dashboard does not kill a serving proxy's.
    if (this.writeFence.name('proxy') !== before) this.pool.rename(this.writeFence.name('proxy'));
  }

  /** Ready to serve: a topology is applied, the proxy is not fenced and its lease deadline has not passed. */
  ready(): boolean {
    return this.table.loaded && this.fenced() === null;
  }

  // ---- MetricsSource & ProxyFacts

  downstreamActive(): number {
    return this.server.sessions.size;
  }

  requestsActive(): number {
    return this.server.pendingRequests();
  }

  heldSessions(): number {
    return this.server.heldSessions();
  }

  backends(): Array<{ addr: string; requests: number; pending: number; healthy: boolean; connections: number }> {
    return this.pool.all().map((s) => ({
      addr: s.addr,
      requests: s.requests,
      pending: s.pending(),
      healthy: s.healthy,
      connections: s.connections().filter((c) => c.ready).length,
    }));
  }

  topologyRevision(): number {
    return this.applied;
  }

  dedicatedStats(): ReturnType<Dedicated['stats']> {
    return this.dedicated.stats();
  }

  drainingRequests(): number {
    return this.table.drainingRequests();
  }

  port(): number {
    return this.listenPort;
  }

  scriptCacheBytes(): number {
    return this.scripts.usedBytes;
  }

  resp3Refusal(): string | null {
    return resp3Refusal(this.pool.all());
  }

  loadReport(): ReturnType<SlotLoad['report']> {
    return this.load.report();
  }

  /** Every client session (CLIENT LIST / KILL). */
  clients(): Iterable<LocalContext> {
    return this.server.sessions;
  }

  connectedClients(): number {
    return this.server.sessions.size;
  }

  blockedClients(): number {
    // Redis counts clients blocked in BLPOP & co.; redslot also those holding for a locked slot.
    return this.server.heldSessions() + this.dedicated.blocking.count;
  }

  totalConnections(): number {
    return this.server.totalConnections;
  }

  rejectedConnections(): number {
    return this.server.rejectedConnections;
  }

  totalCommands(): number {
    return this.metrics.totalCommands();
  }

  commandStats(): Array<{ name: string; calls: number; usec: number; failed: number }> {
    return this.metrics.commandStats();
  }

  /** Stops accepting, finishes in-flight commands (until deadlineMs), closes clients, then backends. */
  async close(deadlineMs: number): Promise<void> {
    await this.server.close(deadlineMs);
    await this.pool.close(true);
  }
}
