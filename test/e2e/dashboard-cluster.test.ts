/**
 * The dashboard driving a whole cluster in one process: real redis-servers (group 1 = master + replica,
 * group 2 = master), a real proxy (startProxy, following the memory:// coordinator, admin API on), and a
 * listening dashboard operated through the api-client. Shows that:
 * - the proxy serves slots as soon as the dashboard assigns them;
 * - /api/v1/proxies and the overview carry the proxy's own admin stats (commands, clients, ops/s);
 * - a master promotion while a client keeps writing through the proxy loses no acknowledged write and
 *   surfaces no client error: the proxy holds the group's requests during the barrier-guarded switch.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../dashboard/main.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { DashboardClient } from '../../dashboard/cli/api-client.js';
import { withRedisAdmin } from '../../dashboard/redis/admin.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { uniqueCluster, waitFor } from '../unit/dashboard-harness.js';

const TOKEN = 'cluster-test-token-42';
const cluster = uniqueCluster('e2e-dash');
let dashboard: RunningDashboard;
let proxy: ProxyHandle;
let api: DashboardClient;
let client: Redis;
const redis: RedisServerHandle[] = [];

beforeAll(async () => {
  const args = ['--repl-diskless-sync-delay', '0'];
  const [m1, m2] = await Promise.all([startRedis(args), startRedis(args)]);
  const r1 = await startRedis([...args, '--replicaof', '127.0.0.1', String(m1!.port)]);
  redis.push(m1!, m2!, r1);
  dashboard = await startDashboard({ coordinator: `memory://${cluster}`, listen: '127.0.0.1:0', token: TOKEN, options: { statsIntervalMs: 250, barrierTimeoutMs: 10_000 } });
  api = new DashboardClient({ baseUrl: dashboard.url, token: TOKEN });
  proxy = await startProxy({
    config: loadProxyConfig({ env: {}, overrides: { listen: '127.0.0.1:0', admin: '127.0.0.1:0', coordinator: `memory://${cluster}`, leaseTtl: '5s' } }),
    defaultMetrics: false,
  });
  client = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 0, enableOfflineQueue: true });
});

afterAll(async () => {
  client?.disconnect();
  await proxy?.close({ deadlineMs: 2000 });
  await dashboard?.close();
  await Promise.all(redis.map((r) => r.stop()));
});

describe('dashboard + proxy + redis', () => {
  it('builds the cluster through the API and the proxy serves it', async () => {
    const [m1, m2, r1] = redis as [RedisServerHandle, RedisServerHandle, RedisServerHandle];
    await api.createGroup({ id: 1 });
    await api.createGroup({ id: 2 });
    await api.addServer(1, { addr: m1.addr });
    await waitFor(async () => (await withRedisAdmin({ addr: r1.addr }, (c) => c.role())).role === 'replica', 5000, 'replica');
    await api.addServer(1, { addr: r1.addr });
    await api.addServer(2, { addr: m2.addr });
    const res = await api.assignSlots({ mode: 'even' });
    expect(res.assigned).toBe(1024);
    await waitFor(async () => (await api.proxies()).proxies.every((p) => p.upToDate), 5000, 'proxy to ack');
    for (let i = 0; i < 200; i++) await client.set(`k${i}`, `v${i}`);
    expect(await client.get('k7')).toBe('v7');
    const keys1 = await withRedisAdmin({ addr: m1.addr }, (c) => c.dbsize());
    const keys2 = await withRedisAdmin({ addr: m2.addr }, (c) => c.dbsize());
    expect(keys1 + keys2).toBe(200);
    expect(keys1).toBeGreaterThan(50);
    expect(keys2).toBeGreaterThan(50);
  });

  it('lists the proxy with its own admin stats, and the overview charts its ops/s', async () => {
    const list = await api.proxies();
    expect(list.proxies).toHaveLength(1);
    const p = list.proxies[0]!;
    expect(p).toMatchObject({ addr: proxy.addr, adminAddr: proxy.adminAddr, live: true, upToDate: true, fenced: false });
    expect(p.statsError).toBeUndefined();
    expect((p.stats as { stats: { commands: number; clients: number } }).stats.commands).toBeGreaterThanOrEqual(200);
    const stop = Date.now() + 3000;
    let sawOps = false;
    while (Date.now() < stop && !sawOps) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => client.incr(`ctr${i % 10}`)));
      const o = await api.overview(true);
      sawOps = (o.current?.proxies[0]?.opsPerSec ?? 0) > 0 && o.history.length > 1;
    }
    expect(sawOps).toBe(true);
    // Samples are taken every 250 ms: wait for one taken after every key above was written.
    await waitFor(async () => ((await api.overview(false)).current?.keys ?? 0) >= 210, 3000, 'a sample with every key');
    const o = await api.overview(true);
    expect(o.current!.proxies[0]).toMatchObject({ up: true, connections: 1 });
    expect(Object.keys(o.history.at(-1)!.groups).sort()).toEqual(['1', '2']);
  });

  it('promotes group 1 while a client writes through the proxy: no client error, no lost write', async () => {
    const [m1, , r1] = redis as [RedisServerHandle, RedisServerHandle, RedisServerHandle];
    await waitFor(async () => {
      const role = await withRedisAdmin({ addr: r1.addr }, (c) => c.role());
      return role.role === 'replica' && role.state === 'connected';
    }, 10_000, 'replica link');
    let stop = false;
    const acked: string[] = [];
    const errors: string[] = [];
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await client.set(`w${i}`, String(i));
          acked.push(`w${i}`);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const res = await api.promote(1, { addr: r1.addr });
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await writer;
    expect(errors).toEqual([]);
    expect(res.group.servers[0]).toEqual({ addr: r1.addr, role: 'master' });
    expect(res.warnings).toEqual([]);
    expect(acked.length).toBeGreaterThan(20);
    // Every acknowledged write is readable through the proxy (now routed to the new master for group 1).
    const values = await client.mget(...acked);
    expect(values.filter((v, i) => v !== acked[i]!.slice(1))).toEqual([]);
    await waitFor(async () => (await withRedisAdmin({ addr: m1.addr }, (c) => c.role())).role === 'replica', 5000, 'old master to replicate');
    const status = await api.status();
    expect(status.proxies[0]).toMatchObject({ upToDate: true });
  });
});
