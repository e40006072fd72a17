/**
 * A whole redslot cluster for migration tests and the migration benchmark, all real parts:
 * redis-servers (one master per group) on free loopback ports, a coordinator (memory:// in this process, or a
 * real etcd), proxies (startProxy following the coordinator: lease, watch, acks, migrate-on-access) and
 * dashboards with the migration plugin, in this process or as child processes (so a test can kill -9 one).
 *
 * Group i+1's master is `redis[i]`. The first `groups` groups get the slots (even ranges); `spareGroups` more
 * are registered without slots (targets for a rebalance).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { build, type App } from '../../dashboard/app.js';
import { migrationPlugin, type MigrationPluginOptions } from '../../dashboard/routes/migrations.js';
import type { MigrationEngine } from '../../dashboard/migration/engine.js';
import type { SplitKnobs } from '../../dashboard/migration/split/context.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { DashboardClient } from '../../dashboard/cli/api-client.js';
import { openCoordinator, type OpenedCoordinator } from '../../shared/coordinator/index.js';
import { seedTopology, evenRanges } from '../../deploy/local/seed.js';
import { slotsFromRanges } from '../../shared/model/topology.js';
import type { GroupRecord } from '../../shared/model/types.js';
import { startEtcd, type EtcdHandle } from '../../deploy/local/spawn/etcd.js';
import { freePort, waitForPort } from '../../deploy/local/spawn/ports.js';
import { spawnProcess, type Spawned } from '../../deploy/local/spawn/process.js';
import { startRedis, type RedisServerHandle } from '../../deploy/local/spawn/redis.js';

export const TOKEN = 'migration-test-token-0123456789';

export interface ClusterOptions {
  groups: number;
  spareGroups?: number;
  proxies: number;
  coordinator: 'memory' | 'etcd';
  /** Dashboards to start (default 1). */
  dashboards?: number;
  /** Run dashboards as child processes (needs etcd). */
  dashboardProcess?: boolean;
  plugin?: MigrationPluginOptions;
  /** Knobs of the replication-based split (dashboard/migration/split/context.ts). */
  split?: Partial<SplitKnobs>;
  /** Proxy and dashboard lease TTL (default 3 s). */
  leaseTtlMs?: number;
  barrierTimeoutMs?: number;
  redisArgs?: string[];
  /** Extra proxy config overrides. */
  proxyOverrides?: Record<string, unknown>;
  /** Run proxies as child processes (`redslot proxy`; needs etcd): the benchmark measures them apart. */
  proxyProcess?: boolean;
}

/** A proxy in this process (startProxy) or a child process. */
export interface ProxyRef {
  port: number;
  addr: string;
  pid?: number;
  proc?: Spawned;
  handle?: ProxyHandle;
  close(): Promise<void>;
}

export interface DashboardRef {
  url: string;
  /** In-process dashboards only. */
  app?: App;
  engine?: MigrationEngine;
  proc?: Spawned;
  close(): Promise<void>;
  kill9(): Promise<void>;
}

export interface MigrationCluster {
  cluster: string;
  url: string;
  opened: OpenedCoordinator;
  etcd?: EtcdHandle;
  redis: RedisServerHandle[];
  proxies: ProxyRef[];
  dashboards: DashboardRef[];
  startDashboard(): Promise<DashboardRef>;
  /** A client for the dashboard that currently leads (waits for one). */
  leader(timeoutMs?: number): Promise<DashboardClient>;
  stop(): Promise<void>;
}

/** Builds a dashboard app with the migration plugin (registered unless build() already did). */
export async function buildDashboardWithMigration(
  opened: OpenedCoordinator,
  opts: { leaseTtlMs: number; barrierTimeoutMs: number; plugin?: MigrationPluginOptions; redisPassword?: string; split?: Partial<SplitKnobs> },
): Promise<App> {
  const app = await build({
    coordinator: opened.coordinator,
    paths: opened.paths,
    cluster: opened.cluster,
    tokens: [{ name: 'operator', token: TOKEN, role: 'operator' }],
    election: 'manual',
    stats: false,
    leaseTtlMs: opts.leaseTtlMs,
    barrierTimeoutMs: opts.barrierTimeoutMs,
    dialTimeoutMs: 2000,
    redisPassword: opts.redisPassword,
    split: opts.split ?? true,
  });
  await app.after();
  if (!app.hasDecorator('migration')) await app.register(migrationPlugin, { redisPassword: opts.redisPassword, ...opts.plugin });
  return app;
}

/** Listens on a free loopback port and campaigns; returns the URL. */
export async function listenAndCampaign(app: App): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;
  const addr = `127.0.0.1:${port}`;
  await app.dashboard.election.start(addr);
  return `http://${addr}`;
}

const here = path.dirname(fileURLToPath(import.meta.url));

export async function startMigrationCluster(o: ClusterOptions): Promise<MigrationCluster> {
  const cluster = `mig-${randomBytes(4).toString('hex')}`;
  const leaseTtlMs = o.leaseTtlMs ?? 3000;
  const barrierTimeoutMs = o.barrierTimeoutMs ?? 15_000;
  const redis: RedisServerHandle[] = [];
  const proxies: ProxyRef[] = [];
  const dashboards: DashboardRef[] = [];
  let etcd: EtcdHandle | undefined;
  let opened: OpenedCoordinator | undefined;
  const stopAll = async (): Promise<void> => {
    await Promise.all(dashboards.map((d) => d.close().catch(() => undefined)));
    await Promise.all(proxies.map((p) => p.close().catch(() => undefined)));
    await opened?.coordinator.close().catch(() => undefined);
    await Promise.all(redis.map((r) => r.stop()));
    await etcd?.stop();
  };
  try {
    if (o.coordinator === 'etcd') etcd = await startEtcd();
    const url = etcd ? `etcd://${etcd.endpoint}/${cluster}` : `memory://${cluster}`;
    const total = o.groups + (o.spareGroups ?? 0);
    for (let i = 0; i < total; i++) redis.push(await startRedis(o.redisArgs ?? []));
    opened = await openCoordinator(url);
    const groups: GroupRecord[] = redis.map((r, i) => ({ id: i + 1, weight: 1, servers: [{ addr: r.addr, role: 'master' }] }));
    const ids = Array.from({ length: o.groups }, (_, i) => i + 1);
    await seedTopology(opened.coordinator, opened.paths, cluster, groups, slotsFromRanges(evenRanges(ids)));
    const op = opened;

    const startDashboardRef = async (): Promise<DashboardRef> => {
      if (o.dashboardProcess) {
        if (!etcd) throw new Error('dashboard processes need the etcd coordinator');
        const port = await freePort();
        const proc = spawnProcess('dashboard', process.execPath, [
          '--import',
          'tsx',
          path.join(here, 'dashboard-proc.ts'),
          url,
          String(port),
          String(leaseTtlMs),
          String(barrierTimeoutMs),
          JSON.stringify(o.plugin ?? {}),
          JSON.stringify(o.split ?? {}),
        ]);
        try {
          await waitForPort(port, '127.0.0.1', 30_000);
        } catch (err) {
          await proc.stop();
          throw new Error(`dashboard process did not start: ${proc.log()}`, { cause: err });
        }
        const ref: DashboardRef = {
          url: `http://127.0.0.1:${port}`,
          proc,
          close: () => proc.stop(),
          kill9: () => proc.kill9(),
        };
        dashboards.push(ref);
        return ref;
      }
      const app = await buildDashboardWithMigration(op, { leaseTtlMs, barrierTimeoutMs, plugin: o.plugin, split: o.split });
      const dashUrl = await listenAndCampaign(app);
      let closed = false;
      const ref: DashboardRef = {
        url: dashUrl,
        app,
        engine: app.migration,
        close: async () => {
          if (closed) return;
          closed = true;
          await app.close();
        },
        kill9: async () => {
          throw new Error('kill9 needs dashboardProcess: true');
        },
      };
      dashboards.push(ref);
      return ref;
    };

    for (let i = 0; i < o.proxies; i++) {
      if (o.proxyProcess) {
        if (!etcd) throw new Error('proxy processes need the etcd coordinator');
        const port = await freePort();
        const flags = ['--listen', `127.0.0.1:${port}`, '--admin', '127.0.0.1:0', '--coordinator', url, '--lease-ttl', `${leaseTtlMs}ms`];
        for (const [k, v] of Object.entries(o.proxyOverrides ?? {})) flags.push(`--${k}`, String(v));
        const proc = spawnProcess('proxy', process.execPath, ['--import', 'tsx', path.join(here, '../../deploy/bin/redslot.ts'), 'proxy', ...flags], {
          ...process.env,
          REDSLOT_LOG_LEVEL: process.env.REDSLOT_LOG_LEVEL ?? 'warn',
        });
        try {
          await waitForPort(port, '127.0.0.1', 30_000);
        } catch (err) {
          await proc.stop();
          throw new Error(`proxy process did not start: ${proc.log()}`, { cause: err });
        }
        proxies.push({ port, addr: `127.0.0.1:${port}`, pid: proc.pid, proc, close: () => proc.stop() });
        continue;
      }
      const config = loadProxyConfig({
        env: {},
        overrides: { listen: '127.0.0.1:0', admin: '127.0.0.1:0', coordinator: url, leaseTtl: `${leaseTtlMs}ms`, ...o.proxyOverrides },
      });
      const handle = await startProxy({ config, defaultMetrics: false });
      proxies.push({ port: handle.port, addr: handle.addr, handle, close: () => handle.close({ deadlineMs: 1000 }) });
    }
    // Every proxy registered and acknowledged the seeded table before anyone sends traffic.
    const ackDeadline = Date.now() + 30_000;
    while ((await op.coordinator.getPrefix(op.paths.acks)).kvs.length < o.proxies) {
      if (Date.now() > ackDeadline) throw new Error('proxies did not acknowledge the topology');
      await new Promise((r) => setTimeout(r, 25));
    }
    for (let i = 0; i < (o.dashboards ?? 1); i++) await startDashboardRef();

    const mc: MigrationCluster = {
      cluster,
      url,
      opened: op,
      etcd,
      redis,
      proxies,
      dashboards,
      startDashboard: startDashboardRef,
      async leader(timeoutMs = 20_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const kv = await op.coordinator.get(op.paths.leader);
          if (kv) {
            const rec = JSON.parse(kv.value) as { addr: string };
            return new DashboardClient({ baseUrl: `http://${rec.addr}`, token: TOKEN, timeoutMs: 60_000 });
          }
          if (Date.now() > deadline) throw new Error('no dashboard leader elected');
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      stop: stopAll,
    };
    return mc;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Host name for logs. */
export const HOST = os.hostname();
