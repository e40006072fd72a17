/**
 * Wiring: builds the dashboard's services from its options. Each service owns one concern (topom/*); this
 * file only connects them (no logic of its own beyond the leader hooks).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Coordinator } from '../shared/coordinator/types.js';
import type { TlsClientConfig, TlsListenerConfig } from '../shared/tls/config.js';
import { createLogger, type Logger } from '../shared/log.js';
import type { ClusterPaths } from '../shared/model/paths.js';
import { TokenAuth } from './auth.js';
import type { SplitKnobs } from './migration/split/context.js';
import type { TokenSpec } from './config.js';
import { createDashboardMetrics, type DashboardMetrics } from './metrics/dashboard.js';
import { AuditLog } from './topom/audit.js';
import { waitForAcks } from './topom/barrier.js';
import { Dialer } from './topom/dialer.js';
import { GroupService } from './topom/groups.js';
import { LeaderElection } from './topom/leader.js';
import { PromotionService } from './topom/promote.js';
import { ProxyService } from './topom/proxies.js';
import { SlotService } from './topom/slots.js';
import { StatsPoller } from './topom/stats.js';
import { TopologyStore } from './topom/store.js';
import { LoadPoller } from './load/poller.js';
import { DEFAULT_FAILOVER_CONFIG, type FailoverConfig } from './failover/config.js';
import { createFailoverMetrics } from './failover/metrics.js';
import { FailoverMonitor } from './failover/monitor.js';
import { FailoverStateStore } from './failover/state-store.js';

export interface DashboardOptions {
  coordinator: Coordinator;
  cluster: string;
  paths: ClusterPaths;
  tokens: TokenSpec[];
  /** GET endpoints without a token (default false). */
  openReads?: boolean;
  /** /metrics without a token (default true). */
  openMetrics?: boolean;
  /** Member id (default: hostname-pid-random). */
  id?: string;
  /** Address shown to others as this dashboard's (default "unknown" until startElection(addr)). */
  advertise?: string;
  leaseTtlMs?: number;
  barrierTimeoutMs?: number;
  statsIntervalMs?: number;
  statsHistory?: number;
  dialTimeoutMs?: number;
  redisPassword?: string;
  redisUsername?: string;
  /** TLS toward the redis-servers (control plane, migration, failover): the proxies' backend.tls settings. */
  redisTls?: TlsClientConfig | null;
  /** HTTPS toward the proxies' admin ports (their adminTls): the CA to trust, a client certificate. */
  proxyAdminTls?: TlsClientConfig | null;
  assignScanMaxKeys?: number;
  auditRetain?: number;
  /** Automatic failover knobs (dashboard/failover/config.ts); defaults when absent. */
  failover?: Partial<FailoverConfig>;
  /**
   * 'auto' (default): campaign for leadership when the app is ready (inject tests);
   * 'manual': the caller runs ctx.election.start(addr) after listen (startDashboard).
   */
  election?: 'auto' | 'manual';
  /**
   * Work to resume whenever this dashboard becomes leader, run in order after the built-in ones
   * (promotion). The migration engine registers its resume here.
   */
  onBecameLeader?: Array<{ name: string; run: (ctx: DashboardContext, signal: AbortSignal) => Promise<void> | void }>;
  /** Run the stats poller (default true). */
  stats?: boolean;
  /** The migration engine and its /api/v1/migrations routes (default on; false for apps that register their own). */
  migration?: boolean | { pollMs?: number; retryMs?: number };
  /** The replication-based split and its /api/v1/splits routes (default on); an object sets its knobs. */
  split?: boolean | Partial<SplitKnobs>;
  /** HTTPS for the API and UI (certificate, key, CA of client certificates; rotated files reloaded); null = HTTP. */
  tls?: TlsListenerConfig | null;
  logger?: Logger;
}

export interface DashboardContext {
  id: string;
  cluster: string;
  coord: Coordinator;
  paths: ClusterPaths;
  log: Logger;
  metrics: DashboardMetrics;
  auth: TokenAuth;
  openReads: boolean;
  openMetrics: boolean;
  barrierTimeoutMs: number;
  store: TopologyStore;
  election: LeaderElection;
  audit: AuditLog;
  dialer: Dialer;
  groups: GroupService;
  slots: SlotService;
  proxies: ProxyService;
  stats: StatsPoller;
  /** Per-slot load and hot keys from every proxy's counters (dashboard/load/). */
  load: LoadPoller;
  promotion: PromotionService;
  /** Automatic failover (runs on the leader only). */
  failover: FailoverMonitor;
  failoverStates: FailoverStateStore;
  /** Waits for every live proxy to acknowledge `revision` (the barrier, with this dashboard's timeout). */
  barrier(revision: number, signal?: AbortSignal): Promise<unknown>;
  /** Starts election (unless manual) and the stats poller. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createContext(opts: DashboardOptions): DashboardContext {
  const id = opts.id ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const log = (opts.logger ?? createLogger()).child({ component: 'dashboard', dashboard: id });
  const metrics = createDashboardMetrics();
  const coord = opts.coordinator;
  const paths = opts.paths;
  const election = new LeaderElection(coord, paths, { id, addr: opts.advertise ?? 'unknown', ttlMs: opts.leaseTtlMs ?? 5000 }, log, metrics);
  const store = new TopologyStore(coord, paths, () => election.fence(), log, metrics);
  const dialer = new Dialer(
    { dialTimeoutMs: opts.dialTimeoutMs ?? 2000, redisPassword: opts.redisPassword, redisUsername: opts.redisUsername, redisTls: opts.redisTls, proxyAdminTls: opts.proxyAdminTls },
    log,
  );
  const barrierTimeoutMs = opts.barrierTimeoutMs ?? 30_000;
  const barrier = (revision: number, signal?: AbortSignal) => waitForAcks(coord, paths, revision, { timeoutMs: barrierTimeoutMs, signal, log, metrics });
  const audit = new AuditLog(coord, paths, log, metrics);
  const proxies = new ProxyService(coord, paths, dialer, log);
  const stats = new StatsPoller(store, proxies, dialer, log, opts.statsIntervalMs ?? 1000, opts.statsHistory ?? 300, metrics);
  const promotion = new PromotionService(store, dialer, log, { barrier });
  const load = new LoadPoller(store, proxies, dialer, log, opts.statsIntervalMs ?? 1000, metrics);
  const failoverStates = new FailoverStateStore(coord, paths, () => election.fence());
  const failover = new FailoverMonitor({
    coord,
    paths,
    store,
    dialer,
    promotion,
    audit,
    states: failoverStates,
    metrics: createFailoverMetrics(metrics.registry),
    log: log.child({ component: 'failover' }),
    who: `dashboard:${id}`,
    config: { ...DEFAULT_FAILOVER_CONFIG, ...opts.failover },
  });
  const ctx: DashboardContext = {
    id,
    cluster: opts.cluster,
    coord,
    paths,
    log,
    metrics,
    auth: new TokenAuth(opts.tokens),
    openReads: opts.openReads ?? false,
    openMetrics: opts.openMetrics ?? true,
    barrierTimeoutMs,
    store,
    election,
    audit,
    dialer,
    groups: new GroupService(store, dialer, log),
    slots: new SlotService(store, dialer, log, { assignScanMaxKeys: opts.assignScanMaxKeys ?? 1_000_000, barrier }),
    proxies,
    stats,
    load,
    promotion,
    failover,
    failoverStates,
    barrier,
    async start() {
      if ((opts.election ?? 'auto') === 'auto') await election.start();
      if (opts.stats ?? true) {
        stats.start();
        load.start();
      }
    },
    async close() {
      if (auditTimer) clearInterval(auditTimer);
      failover.stop();
      await failover.idle();
      await stats.stop();
      await load.stop();
      await election.stop();
      dialer.close();
    },
  };
  // Resume unfinished work whenever this dashboard becomes leader. The migration engine adds its own hook.
  election.onBecameLeader('promotion.resume', async (signal) => {
    const resumed = await promotion.resumeAll(signal);
    for (const r of resumed) {
      await audit.record({
        at: new Date().toISOString(),
        who: `dashboard:${id}`,
        action: 'group.promote.resume',
        target: `group ${r.gid}`,
        result: r.ok ? 'ok' : 'failed',
        detail: r.detail,
      });
    }
  });
  // After promotion.resume: a half-done promotion is finished before the monitor judges the group again.
  election.onBecameLeader('failover.monitor', (signal) => failover.start(signal));
  election.onLostLeadership('failover.monitor', () => failover.stop());
  for (const h of opts.onBecameLeader ?? []) election.onBecameLeader(h.name, (signal) => h.run(ctx, signal));
  let auditTimer: NodeJS.Timeout | undefined;
  election.onBecameLeader('audit.trim', () => {
    if (auditTimer) clearInterval(auditTimer);
    const retain = opts.auditRetain ?? 10_000;
    auditTimer = setInterval(() => void audit.trim(retain).catch((err: unknown) => log.warn('audit.trim_failed', { err })), 60_000);
    auditTimer.unref();
  });
  election.onLostLeadership('audit.trim', () => {
    if (auditTimer) clearInterval(auditTimer);
    auditTimer = undefined;
  });
  return ctx;
}
