/**
 * One start-up lifecycle (proxy/lifecycle.ts) for both ways of running a proxy: what is wired for a
 * single-process proxy is wired for one with workers. The probe is the reachability reporter's dial hook
 * (StartProxyOptions.reachabilityDialAddr, the failover tests' way of cutting one proxy's view of a master):
 * before the lifecycle was shared, only the single-process start-up passed it on, so a proxy with workers
 * reported a master it was told it could not reach as reachable (this test failed for '2 workers').
 * Real redis-servers and a memory:// coordinator; the report is read where the dashboard reads it.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy } from '../../proxy/main.js';
import type { StartProxyOptions } from '../../proxy/startup.js';
import { startProxyWorkers } from '../../proxy/workers/primary.js';
import { dropMemoryStore, openCoordinator } from '../../shared/coordinator/index.js';
import type { Coordinator } from '../../shared/coordinator/types.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import { parseReachabilityReport, type ReachabilityReport } from '../../shared/model/reachability.js';
import type { GroupRecord, SlotRecord } from '../../shared/model/types.js';
import { evenRanges } from '../../deploy/local/seed.js';
import { freePort } from '../support/free-port.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { seedCluster } from './follower-support.js';

const groups: RedisServerHandle[] = [];
const clusters: string[] = [];

beforeAll(async () => {
  for (let i = 0; i < 2; i++) groups.push(await startRedis());
});

afterAll(async () => {
  for (const c of clusters) dropMemoryStore(c);
  await Promise.all(groups.map((g) => g.stop()));
});

type Start = (opts: StartProxyOptions) => Promise<{ port: number; close(o?: { deadlineMs?: number }): Promise<void> }>;

const modes: Array<[string, Start, number]> = [
  ['one process', startProxy, 1],
  ['2 workers', (opts) => startProxyWorkers({ ...opts, logLevel: 'error' }), 2],
];

describe.each(modes)('the proxy lifecycle (%s)', (_mode, start, workers) => {
  const cluster = `lifecycle${workers}x${process.pid}`;
  let coord: Coordinator;
  let paths: ClusterPaths;

  beforeAll(async () => {
    clusters.push(cluster);
    ({ coordinator: coord, paths } = await openCoordinator(`memory://${cluster}`));
    const gs: GroupRecord[] = groups.map((g, i) => ({ id: i + 1, weight: 1, servers: [{ addr: g.addr, role: 'master' }] }));
    const slots: SlotRecord[] = [];
    for (const [from, to, gid] of evenRanges([1, 2])) for (let s = from; s <= to; s++) slots.push({ id: s, group: gid });
    await seedCluster(coord, paths, cluster, gs, slots);
  });

  afterAll(async () => {
    await coord?.close();
  });

  it('passes the reachability dial hook on: the cut master is reported unreachable, the other reachable; both serve', async () => {
    const cut = groups[1]!.addr;
    const nowhere = `127.0.0.1:${await freePort()}`; // nothing listens there
    const config = loadProxyConfig({
      env: {},
      overrides: { listen: '127.0.0.1:0', admin: '', coordinator: `memory://${cluster}`, leaseTtl: '5s', workers, reachability: { interval: '100ms', timeout: '300ms' } },
    });
    const proxy = await start({ config, defaultMetrics: false, reachabilityDialAddr: (a) => (a === cut ? nowhere : a) });
    try {
      // Commands are served through this proxy whatever its reachability hook says.
      const c = new Redis({ port: proxy.port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableReadyCheck: false });
      try {
        for (let i = 0; i < 20; i++) await c.set(`lc:${i}`, String(i));
        expect(await c.get('lc:7')).toBe('7');
      } finally {
        c.disconnect();
      }
      let report: ReachabilityReport | null = null;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const r = await coord.getPrefix(paths.health);
        report = r.kvs.length === 1 ? parseReachabilityReport(r.kvs[0]!.value) : null;
        if (report !== null && report.servers[cut]?.ok === false && report.servers[groups[0]!.addr]?.ok === true) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      expect(report?.servers[groups[0]!.addr]).toMatchObject({ ok: true });
      expect(report?.servers[cut]).toMatchObject({ ok: false });
    } finally {
      await proxy.close({ deadlineMs: 2000 });
    }
    // Shut down the same way: the report goes with the proxy's lease.
    expect((await coord.getPrefix(paths.health)).kvs).toHaveLength(0);
  });
});
