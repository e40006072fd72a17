/**
 * A real local cluster for the browser tests: redis-servers on free loopback ports, a dashboard
 * (startDashboard) and a proxy (startProxy following the same memory:// coordinator), all in this process
 * except the redis-servers. Everything is stopped by handle in stop().
 *
 * If the dashboard does not serve the UI yet (app.ts still registers the placeholder page instead of
 * registerUi), `uiUrl` points at a small same-origin host that serves the UI files with registerUi and
 * forwards /api/* to the dashboard byte for byte, so the browser still talks to the real API.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { openCoordinator, type OpenedCoordinator } from '../../shared/coordinator/index.js';
import { setLogLevel } from '../../shared/log.js';
import { seedTopology } from '../../shared/model/seed.js';
import { emptySlots } from '../../shared/model/topology.js';
import { startDashboard, type RunningDashboard } from '../../dashboard/main.js';
import { registerUi } from '../../dashboard/ui/plugin.js';
import type { App } from '../../dashboard/app.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'debug' | 'info' | 'warn' | 'error' | 'silent' | undefined) ?? 'silent');

export interface UiCluster {
  token: string;
  dashboard: RunningDashboard;
  /** Where the browser opens the UI (the dashboard itself once registerUi is wired in app.ts). */
  uiUrl: string;
  /** True when the dashboard serves the UI itself. */
  servedByDashboard: boolean;
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

/** Same-origin host for the UI files with /api/* forwarded to the dashboard (only until app.ts registers the UI). */
async function startUiHost(dashboardUrl: string): Promise<{ url: string; app: FastifyInstance }> {
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  registerUi(app as unknown as App);
  app.all('/api/*', async (req, reply) => {
    const headers: Record<string, string> = {};
    for (const h of ['authorization', 'content-type', 'accept']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const res = await fetch(`${dashboardUrl}${req.url}`, {
      method: req.method,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : (req.body as Buffer | undefined),
      redirect: 'manual',
    });
    const buf = Buffer.from(await res.arrayBuffer());
    reply.code(res.status);
    for (const h of ['content-type', 'www-authenticate']) {
      const v = res.headers.get(h);
      if (v) reply.header(h, v);
    }
    return reply.send(buf);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, app };
}

export async function startUiCluster(opts: UiClusterOptions): Promise<UiCluster> {
  const token = `ui-test-${randomBytes(8).toString('hex')}`;
  const cluster = `ui${randomBytes(4).toString('hex')}`;
  const url = `memory://${cluster}`;
  const redis: RedisServerHandle[] = [];
  let opened: OpenedCoordinator | undefined;
  let dashboard: RunningDashboard | undefined;
  let proxy: ProxyLike | null = null;
  let uiHost: FastifyInstance | undefined;
  const stop = async () => {
    await uiHost?.close().catch(() => undefined);
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
    dashboard = await startDashboard({ coordinator: url, listen: '127.0.0.1:0', token, options: { statsIntervalMs: 500, barrierTimeoutMs: 10_000, leaseTtlMs: 3000 } });
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

    const shell = await fetch(`${dashboard.url}/ui/`).then((r) => r.text());
    const servedByDashboard = shell.includes('name="redslot-ui"');
    let uiUrl = dashboard.url;
    if (!servedByDashboard) {
      const host = await startUiHost(dashboard.url);
      uiHost = host.app;
      uiUrl = host.url;
    }
    const d = dashboard;
    return {
      token,
      dashboard: d,
      uiUrl,
      servedByDashboard,
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
