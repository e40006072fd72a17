/**
 * What the memory benchmarks share: start backends and a compiled proxy (dist/) with a static topology, and
 * read the resident memory of the proxy's processes from /proc (the primary and, with workers, every worker).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from '../../deploy/local/spawn/ports.js';
import { spawnProcess, type Spawned } from '../../deploy/local/spawn/process.js';
import { startRedis, type RedisServerHandle } from '../../deploy/local/spawn/redis.js';
import { SLOT_COUNT } from '../../shared/slot.js';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export interface ProxyUnderTest {
  port: number;
  adminPort: number;
  proxy: Spawned;
  backends: RedisServerHandle[];
  /** Pids of the processes that hold client connections (the workers, or the single process). */
  pids(): Promise<number[]>;
  stop(): Promise<void>;
}

/** VmRSS of a process in bytes (0 when it is gone). */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export async function startProxyUnderTest(opts: { work: string; workers: number; groups?: number; nodeArgs?: string[] }): Promise<ProxyUnderTest> {
  const groups = opts.groups ?? 2;
  const backends: RedisServerHandle[] = [];
  for (let g = 0; g < groups; g++) backends.push(await startRedis());
  const port = await freePort();
  const adminPort = await freePort();
  const per = Math.ceil(SLOT_COUNT / groups);
  const config = {
    listen: `127.0.0.1:${port}`,
    admin: `127.0.0.1:${adminPort}`,
    workers: opts.workers,
    limits: { maxClients: 50_000 },
    topology: {
      groups: backends.map((b, i) => ({ id: i + 1, servers: [{ addr: b.addr, role: 'master' }] })),
      slots: backends.map((_, i) => [i * per, Math.min(SLOT_COUNT, (i + 1) * per) - 1, i + 1]),
    },
  };
  const file = path.join(opts.work, 'proxy.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const proxy = spawnProcess('redslot', process.execPath, [...(opts.nodeArgs ?? []), path.join(ROOT, 'dist/deploy/bin/redslot.js'), 'proxy', '--config', file], {
    ...process.env,
    REDSLOT_LOG_LEVEL: 'warn',
  });
  const stop = async () => {
    await proxy.stop(30_000);
    await Promise.all(backends.map((b) => b.stop()));
  };
  try {
    await waitForPort(port, '127.0.0.1', 20_000);
  } catch (err) {
    await stop();
    throw new Error(`proxy did not start: ${proxy.log()}`, { cause: err });
  }
  return {
    port,
    adminPort,
    proxy,
    backends,
    async pids() {
      if (opts.workers <= 1) return [proxy.pid];
      const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/proxy`);
      const j = (await res.json()) as { workers: Array<{ pid: number }> };
      return j.workers.map((w) => w.pid);
    },
    stop,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
