/**
 * A real local cluster for the browser tests: redis-servers on free loopback ports, a dashboard
 * (startDashboard) and a proxy (startProxy following the same memory:// coordinator), all in this process
 * except the redis-servers. Everything is stopped by handle in stop().
 *
 * The dashboard comes from startDashboard. If its build() does not register the migration plugin yet
 * (dashboard/routes/migrations.ts), the harness builds the same app with the plugin registered, the way
 * bench/migration does, and says so in `migrationNote`; the UI is always the one the dashboard serves.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { openCoordinator, type OpenedCoordinator } from '../../shared/coordinator/index.js';
import { setLogLevel } from '../../shared/log.js';
import { seedTopology } from '../../deploy/local/seed.js';
import { emptySlots } from '../../shared/model/topology.js';
import { build } from '../../dashboard/app.js';
import { startDashboard, type RunningDashboard } from '../../dashboard/main.js';
import { migrationPlugin } from '../../dashboard/routes/migrations.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'debug' | 'info' | 'warn' | 'error' | 'silent' | undefined) ?? 'silent');

export interface UiCluster {
  token: string;
  dashboard: RunningDashboard;
  /** Where the browser opens the UI: the dashboard's own URL. */
  uiUrl: string;
  /** How the migration routes got there (build() itself, or registered by this harness). */
  migrationNote: string;
  redis: RedisServerHandle[];
  proxyAddr: string | null;
  proxyNote: string;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

export interface UiClusterOptions {
  /** redis-servers to start (the first `seedGroups` become groups 1..n owning every slot). */
  servers: number;
  seedGroups: number;
  /** Keys written through the proxy (or directly when no proxy) so moves have data. */
  keys?: number;
}

interface ProxyLike {
  addr: string;
  close(opts?: { deadlineMs?: number }): Promise<void>;
}

async function startProxyIfAvailable(coordinatorUrl: string): Promise<{ proxy: ProxyLike | null; note: string }> {
  let mod: { startProxy?: (o: unknown) => Promise<ProxyLike> };
  let cfgMod: { loadProxyConfig?: (o: unknown) => unknown };
  try {
    mod = (await import('../../proxy/main.js')) as typeof mod;
    cfgMod = (await import('../../proxy/config.js')) as typeof cfgMod;
  } catch (err) {
    return { proxy: null, note: `proxy/main.ts not available: ${(err as Error).message}` };
  }
  if (!mod.startProxy || !cfgMod.loadProxyConfig) return { proxy: null, note: 'startProxy/loadProxyConfig not exported' };
  const config = cfgMod.loadProxyConfig({ env: {}, overrides: { listen: '127.0.0.1:0', admin: '127.0.0.1:0', coordinator: coordinatorUrl, leaseTtl: '3s' } });
  const proxy = await mod.startProxy({ config, defaultMetrics: false });
  return { proxy, note: `proxy ${proxy.addr}` };
}

export async function startUiCluster(opts: UiClusterOptions): Promise<UiCluster> {
  const token = `ui-test-${randomBytes(8).toString('hex')}`;
  const cluster = `ui${randomBytes(4).toString('hex')}`;
  const url = `memory://${cluster}`;
  const redis: RedisServerHandle[] = [];
  let opened: OpenedCoordinator | undefined;
  let dashboard: RunningDashboard | undefined;
  let proxy: ProxyLike | null = null;
  const stop = async () => {
    await proxy?.close({ deadlineMs: 1000 }).catch(() => undefined);
    await dashboard?.close().catch(() => undefined);
    await opened?.coordinator.close().catch(() => undefined);
    await Promise.all(redis.map((r) => r.stop()));
  };
  try {
    for (let i = 0; i < opts.servers; i++) redis.push(await startRedis());
    opened = await openCoordinator(url);
    const groupIds = Array.from({ length: opts.seedGroups }, (_, i) => i + 1);
    // Groups only (one guarded txn); the slots are assigned through the dashboard API below, like an operator would.
    await seedTopology(
      opened.coordinator,
      opened.paths,
      opened.cluster,
      groupIds.map((id) => ({ id, weight: 1, servers: [{ addr: redis[id - 1]!.addr, role: 'master' as const }] })),
      emptySlots(),
    );
    const options = { statsIntervalMs: 500, barrierTimeoutMs: 10_000, leaseTtlMs: 3000 };
    dashboard = await startDashboard({ coordinator: url, listen: '127.0.0.1:0', token, options });
    let migrationNote = 'migration routes registered by build()';
    if (!dashboard.app.hasDecorator('migration')) {
      // build() does not register the migration plugin yet: the same app with it, started like startDashboard does.
      await dashboard.close();
      dashboard = await startWithMigration(url, token, options);
      migrationNote = 'migration plugin registered by the test harness (build() does not register it yet)';
    }
    // Wait for leadership (the first campaign is immediate on an empty lease key).
    for (let i = 0; i < 100 && !dashboard.app.dashboard.election.isLeader(); i++) await new Promise((r) => setTimeout(r, 50));
    const assigned = await fetch(`${dashboard.url}/api/v1/slots/assignment`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'even' }),
    });
    if (!assigned.ok) throw new Error(`assigning slots: HTTP ${assigned.status} ${await assigned.text()}`);
    const started = await startProxyIfAvailable(url);
    proxy = started.proxy;
    const proxyNote = started.note;

    if (opts.keys) {
      const [host, port] = proxy ? [proxy.addr.slice(0, proxy.addr.lastIndexOf(':')), Number(proxy.addr.slice(proxy.addr.lastIndexOf(':') + 1))] : ['127.0.0.1', redis[0]!.port];
      const c = new Redis({ host, port, maxRetriesPerRequest: 1, lazyConnect: true });
      try {
        await c.connect();
        if (proxy) {
          // Through the proxy: each key lands in the group its slot names.
          for (let i = 0; i < opts.keys; i += 200) {
            const args: string[] = [];
            for (let j = i; j < Math.min(opts.keys, i + 200); j++) args.push(`ui:key:${j}`, `v${j}`);
            await c.mset(...args);
          }
        }
      } finally {
        c.disconnect();
      }
    }

    const d = dashboard;
    return {
      token,
      dashboard: d,
      uiUrl: d.url,
      migrationNote,
      redis,
      proxyAddr: proxy?.addr ?? null,
      proxyNote,
      async api<T>(method: string, path: string, body?: unknown) {
        const res = await fetch(`${d.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** startDashboard's steps (build, listen on a free port, campaign with the real address) plus the migration plugin. */
async function startWithMigration(url: string, token: string, options: { statsIntervalMs: number; barrierTimeoutMs: number; leaseTtlMs: number }): Promise<RunningDashboard> {
  const opened = await openCoordinator(url);
  const app = await build({ ...options, coordinator: opened.coordinator, paths: opened.paths, cluster: opened.cluster, tokens: [{ name: 'operator', token, role: 'operator' }], election: 'manual' });
  try {
    await app.after();
    await app.register(migrationPlugin, {});
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const addr = `127.0.0.1:${address !== null && typeof address === 'object' ? address.port : 0}`;
    await app.dashboard.election.start(addr);
    return {
      url: `http://${addr}`,
      addr,
      id: app.dashboard.id,
      app,
      async close() {
        await app.close();
        await opened.coordinator.close().catch(() => undefined);
      },
    };
  } catch (err) {
    await app.close().catch(() => undefined);
    await opened.coordinator.close().catch(() => undefined);
    throw err;
  }
}
