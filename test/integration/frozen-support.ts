/**
 * `redslot proxy` child processes following a real etcd, for the SIGSTOP/SIGCONT tests (issue 15, holes 4 and 5):
 * the cluster they follow, started with a short lease, checked serving, and their registrations looked up by pid.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { stringify } from 'yaml';
import { openCoordinator, type OpenedCoordinator } from '../../shared/coordinator/index.js';
import { slotsFromRanges } from '../../shared/model/topology.js';
import { nodeArgsFor } from '../support/compiled.js';
import { startEtcd, type EtcdHandle } from '../support/etcd-server.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess, type Spawned } from '../support/processes.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { until } from '../support/until.js';
import { seedCluster } from './follower-support.js';

export interface FrozenProxyEnv {
  cluster: string;
  etcdEndpoint: string;
  /** Where the config files go. */
  dir: string;
  /** Every process started is pushed here (the file's afterAll stops them). */
  procs: Spawned[];
}

/** A proxy process with a 2 s lease, serving once it answers a GET through its port. */
export async function startProxyProcess(env: FrozenProxyEnv, workers: number, extra: Record<string, unknown> = {}): Promise<{ proc: Spawned; port: number }> {
  const port = await freePort();
  const file = path.join(env.dir, `proxy-${port}.yaml`);
  writeFileSync(file, stringify({ cluster: env.cluster, listen: `127.0.0.1:${port}`, admin: null, leaseTtl: '2s', workers, ...extra }));
  const proc = spawnProcess(
    'proxy',
    process.execPath,
    [...nodeArgsFor('deploy/bin/redslot.ts'), 'proxy', '--config', file, '--coordinator', `etcd://${env.etcdEndpoint}/${env.cluster}`],
    { ...process.env, REDSLOT_LOG_LEVEL: process.env.REDSLOT_LOG_LEVEL ?? 'error' },
  );
  env.procs.push(proc);
  await waitForPort(port, '127.0.0.1', 30_000).catch((err: unknown) => {
    throw new Error(`proxy did not start: ${proc.log()}`, { cause: err });
  });
  await until('proxy serving', async () => {
    const r = new Redis({ port, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    try {
      await r.connect();
      r.on('error', () => undefined);
      return (await r.get('probe')) === null;
    } finally {
      r.disconnect();
    }
  }).catch((err: unknown) => {
    throw new Error(`proxy not serving: ${proc.log()}`, { cause: err });
  });
  return { proc, port };
}

/** Registrations currently in etcd whose pid is `pid`. */
export async function registeredPid(coord: OpenedCoordinator, pid: number): Promise<boolean> {
  const regs = await coord.coordinator.getPrefix(coord.paths.proxies);
  return regs.kvs.some((kv) => (JSON.parse(kv.value) as { pid: number }).pid === pid);
}

export interface FrozenCluster extends FrozenProxyEnv {
  etcd: EtcdHandle;
  coord: OpenedCoordinator;
  /** Group 1's and group 2's masters (slots 0-511 and 512-1023). */
  groups: RedisServerHandle[];
  /** In front of group 1's master when asked for: the address the model names for group 1. */
  relay?: TcpRelay;
}

/**
 * The file's cluster, started before its tests and stopped after them: two redis-servers, a real etcd seeded
 * with the two groups split in halves, and a temporary folder for proxy configs. With `relayGroup1` the model
 * names a TCP relay in front of group 1's master (a network path a test can slow down).
 */
export function useFrozenCluster(cluster: string, opts: { relayGroup1?: boolean } = {}): FrozenCluster {
  const c = { cluster, procs: [], groups: [] } as unknown as FrozenCluster;
  beforeAll(async () => {
    c.groups.push(await startRedis(), await startRedis());
    if (opts.relayGroup1) c.relay = await startTcpRelay(c.groups[0]!.port);
    c.etcd = await startEtcd();
    c.etcdEndpoint = c.etcd.endpoint;
    c.coord = await openCoordinator(`etcd://${c.etcd.endpoint}/${cluster}`);
    const addrs = [c.relay?.endpoint ?? c.groups[0]!.addr, c.groups[1]!.addr];
    await seedCluster(
      c.coord.coordinator,
      c.coord.paths,
      cluster,
      addrs.map((addr, i) => ({ id: i + 1, servers: [{ addr, role: 'master' as const }], weight: 1 })),
      slotsFromRanges([[0, 511, 1], [512, 1023, 2]]),
    );
    c.dir = mkdtempSync(path.join(os.tmpdir(), `redslot-${cluster}-`));
  }, 90_000);
  afterAll(async () => {
    for (const p of c.procs) if (p.alive) process.kill(p.pid, 'SIGCONT');
    await Promise.all(c.procs.map((p) => p.stop()));
    await c.coord?.coordinator.close();
    await c.etcd?.stop();
    await c.relay?.stop();
    await Promise.all(c.groups.map((g) => g.stop()));
    if (c.dir) rmSync(c.dir, { recursive: true, force: true });
  });
  return c;
}
