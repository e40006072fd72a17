/**
 * A failover playground on real servers, in this process: N groups of one master + R replicas
 * (redis-server processes), an in-memory coordinator, one dashboard (leader, failover on) and P proxies, plus
 * a write load that records every acknowledged write so a test can count what a failover lost.
 */
import { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { startDashboard, type RunningDashboard } from '../../dashboard/main.js';
import type { FailoverConfig } from '../../dashboard/failover/config.js';
import { dropMemoryStore, openCoordinator } from '../../shared/coordinator/index.js';
import type { Coordinator } from '../../shared/coordinator/types.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import { evenRanges, seedTopology } from '../../deploy/local/seed.js';
import { slotsFromRanges } from '../../shared/model/topology.js';
import type { GroupRecord } from '../../shared/model/types.js';
import { slotOf } from '../../shared/slot.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';

export const TOKEN = 'failover-test-token-0123456789';

export interface FailoverCluster {
  cluster: string;
  coord: Coordinator;
  paths: ClusterPaths;
  dashboard: RunningDashboard;
  proxies: ProxyHandle[];
  /** servers[g-1][0] = master of group g at start, then its replicas. */
  servers: RedisServerHandle[][];
  ranges: Array<[number, number, number]>;
  groupOfKey(key: string): number;
  /** A key (with the given prefix) whose slot belongs to group gid. */
  keyInGroup(gid: number, prefix: string): string;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** The group record as the coordinator holds it now. */
  group(gid: number): Promise<GroupRecord>;
  /** Starts a redis-server again on a stopped server's port (as a master with an empty dataset). */
  restart(gid: number, index: number): Promise<RedisServerHandle>;
  stop(): Promise<void>;
}

export interface FailoverClusterOptions {
  groups?: number;
  replicas?: number;
  proxies?: number;
  failover?: Partial<FailoverConfig>;
  /** Per proxy index: where its reachability probes dial (tests cut one proxy's view through a relay). */
  reachabilityDialAddr?: Array<((addr: string) => string) | undefined>;
  proxyOverrides?: Record<string, unknown>;
  /** Called once the redis-servers run, before the proxies start (e.g. to put a relay in one proxy's path). */
  onServers?: (servers: RedisServerHandle[][]) => Promise<void>;
}

let clusters = 0;

export async function startFailoverCluster(opts: FailoverClusterOptions = {}): Promise<FailoverCluster> {
  const nGroups = opts.groups ?? 2;
  const nReplicas = opts.replicas ?? 1;
  const servers: RedisServerHandle[][] = [];
  const proxies: ProxyHandle[] = [];
  let dashboard: RunningDashboard | undefined;
  const cluster = `fo${process.pid}_${++clusters}`;
  const url = `memory://${cluster}`;
  const opened = await openCoordinator(url);
  const stopAll = async () => {
    await Promise.all(proxies.map((p) => p.close({ deadlineMs: 500 }).catch(() => undefined)));
    await dashboard?.close().catch(() => undefined);
    await opened.coordinator.close().catch(() => undefined);
    dropMemoryStore(cluster);
    for (const g of servers) for (const s of g) await s.stop().catch(() => undefined);
  };
  try {
    const records: GroupRecord[] = [];
    for (let g = 1; g <= nGroups; g++) {
      const master = await startRedis();
      const list = [master];
      for (let r = 0; r < nReplicas; r++) list.push(await startRedis(['--replicaof', master.host, String(master.port)]));
      servers.push(list);
      records.push({ id: g, weight: 1, servers: list.map((s, i) => ({ addr: s.addr, role: i === 0 ? 'master' : 'replica' })) });
    }
    // Replicas in sync before anything starts (a replica still syncing is not eligible).
    for (const list of servers) for (const r of list.slice(1)) await waitReplicaUp(r.addr);
    const ranges = evenRanges(records.map((r) => r.id));
    await seedTopology(opened.coordinator, opened.paths, cluster, records, slotsFromRanges(ranges));
    dashboard = await startDashboard({
      coordinator: url,
      listen: '127.0.0.1:0',
      token: TOKEN,
      options: { stats: false, migration: false, failover: { ...opts.failover } },
    });
    await opts.onServers?.(servers);
    for (let i = 0; i < (opts.proxies ?? 2); i++) {
      const config = loadProxyConfig({ env: {}, overrides: { cluster, coordinator: url, listen: '127.0.0.1:0', admin: '127.0.0.1:0', ...opts.proxyOverrides } });
      proxies.push(await startProxy({ config, defaultMetrics: false, reachabilityDialAddr: opts.reachabilityDialAddr?.[i] }));
    }
    const d = dashboard;
    const groupOfSlot = (slot: number) => ranges.find(([from, to]) => slot >= from && slot <= to)![2];
    const groupOfKey = (key: string) => groupOfSlot(slotOf(Buffer.from(key)));
    const api = async <T,>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${d.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await res.json()) as T;
      if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    // Wait until the dashboard leads and both proxies reported every master reachable.
    await until(async () => (await api<{ leader: boolean }>('GET', '/api/v1/failover')).leader, 10_000, 'dashboard leadership');
    await until(async () => (await opened.coordinator.getPrefix(opened.paths.health)).kvs.length === proxies.length, 10_000, 'reachability reports');
    return {
      cluster,
      coord: opened.coordinator,
      paths: opened.paths,
      dashboard: d,
      proxies,
      servers,
      ranges,
      groupOfKey,
      keyInGroup(gid, prefix) {
        for (let i = 0; ; i++) {
          const k = `${prefix}:${i}`;
          if (groupOfKey(k) === gid) return k;
        }
      },
      api,
      async group(gid) {
        const kv = await opened.coordinator.get(opened.paths.group(gid));
        return JSON.parse(kv!.value) as GroupRecord;
      },
      async restart(gid, index) {
        const old = servers[gid - 1]![index]!;
        const fresh = await startRedis([], { port: old.port });
        servers[gid - 1]![index] = fresh;
        return fresh;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export async function until<T>(fn: () => Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitReplicaUp(addr: string, master?: string, timeoutMs = 15_000): Promise<void> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const c = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
  try {
    await until(async () => {
      if (c.status !== 'ready') await c.connect().catch(() => undefined);
      const info = await c.info('replication');
      const up = /master_link_status:up/.test(info);
      if (!master) return up;
      const [mh, mp] = [master.slice(0, master.lastIndexOf(':')), master.slice(master.lastIndexOf(':') + 1)];
      return up && info.includes(`master_host:${mh}`) && info.includes(`master_port:${mp}`);
    }, timeoutMs, `${addr} replicating${master ? ` ${master}` : ''} with link up`);
  } finally {
    c.disconnect();
  }
}

/** One acknowledged write (a SET of a unique key). */
export interface AckedWrite {
  key: string;
  value: string;
  group: number;
  sentAt: number;
  ackedAt: number;
  /** WAIT 1 confirmed a replica has it (WAIT writers only). */
  waited: boolean;
}

/**
 * Write load through every proxy: `clientsPerProxy` clients each SET unique keys and INCR shared counters in
 * a loop (one command at a time), and one WAIT writer (SET + WAIT 1 100) on the first proxy. Only writes the
 * proxy acknowledged are recorded; errors are counted.
 */
export class WriteLoad {
  readonly acked: AckedWrite[] = [];
  readonly errors: Array<{ at: number; group: number; message: string }> = [];
  /** Counter key -> highest value an INCR returned. */
  readonly counters = new Map<string, number>();
  private stopped = false;
  private readonly loops: Array<Promise<void>> = [];
  private readonly clients: Redis[] = [];

  constructor(
    private readonly c: FailoverCluster,
    private readonly clientsPerProxy = 2,
  ) {}

  start(): void {
    let id = 0;
    for (const p of this.c.proxies) {
      for (let i = 0; i < this.clientsPerProxy; i++) this.loops.push(this.loop(p, `w${id++}`, false));
    }
    this.loops.push(this.loop(this.c.proxies[0]!, 'wait', true));
  }

  private client(p: ProxyHandle): Redis {
    const r = new Redis({ host: '127.0.0.1', port: p.port, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 50, commandTimeout: 20_000 });
    r.on('error', () => undefined);
    this.clients.push(r);
    return r;
  }

  private async loop(p: ProxyHandle, name: string, wait: boolean): Promise<void> {
    const r = this.client(p);
    for (let i = 0; !this.stopped; i++) {
      const key = `${name}:${i}`;
      const group = this.c.groupOfKey(key);
      const value = `v${i}`;
      const sentAt = performance.now();
      try {
        if (r.status !== 'ready') {
          await new Promise((res) => setTimeout(res, 20));
          continue;
        }
        await r.set(key, value);
        let waited = false;
        if (wait) waited = (await r.wait(1, 100)) >= 1;
        this.acked.push({ key, value, group, sentAt, ackedAt: performance.now(), waited });
        if (!wait) {
          const ck = `ctr:${name}:${i % 8}`;
          const n = await r.incr(ck);
          this.counters.set(ck, Math.max(n, this.counters.get(ck) ?? 0));
        }
      } catch (err) {
        this.errors.push({ at: performance.now(), group, message: (err as Error).message });
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const r of this.clients) r.disconnect();
  }

  /** The first write to `group` sent at or after `t` that was acknowledged: when the group served again. */
  firstAckAfter(group: number, t: number): AckedWrite | undefined {
    return this.acked.filter((w) => w.group === group && w.sentAt >= t).sort((a, b) => a.ackedAt - b.ackedAt)[0];
  }
}

/** Which of `writes` are missing (or hold another value) on the server at addr. */
export async function missingOn(addr: string, writes: readonly AckedWrite[]): Promise<AckedWrite[]> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const c = new Redis({ host, port, maxRetriesPerRequest: 0 });
  try {
    const out: AckedWrite[] = [];
    for (let i = 0; i < writes.length; i += 500) {
      const chunk = writes.slice(i, i + 500);
      const vals = await c.mget(...chunk.map((w) => w.key));
      chunk.forEach((w, j) => {
        if (vals[j] !== w.value) out.push(w);
      });
    }
    return out;
  } finally {
    c.disconnect();
  }
}
