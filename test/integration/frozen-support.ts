/**
 * `redslot proxy` child processes following a real etcd, for the SIGSTOP/SIGCONT tests (issue 15, holes 4 and 5):
 * started with a short lease, checked serving, and their registrations looked up by pid.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import type { OpenedCoordinator } from '../../shared/coordinator/index.js';
import { nodeArgsFor } from '../support/compiled.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess, type Spawned } from '../support/processes.js';
import { until } from '../support/until.js';

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
