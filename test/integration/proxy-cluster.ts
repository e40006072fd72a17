/**
 * Test harness for proxy integration tests: N real redis-server groups (one master each) behind an
 * in-process proxy with a static topology (slots split evenly), plus raw-socket helpers.
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { createClient, type RedisClientType } from 'redis';
import { loadProxyConfig, type ProxyConfig } from '../../proxy/config.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { dropMemoryStore, openCoordinator } from '../../shared/coordinator/index.js';
import type { Coordinator } from '../../shared/coordinator/types.js';
import { setLogLevel } from '../../shared/log.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import { evenRanges, seedTopology } from '../../deploy/local/seed.js';
import { slotsFromRanges } from '../../shared/model/topology.js';
import type { GroupRecord, SlotRecord, Topology } from '../../shared/model/types.js';
import { slotOf } from '../../shared/slot.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'debug' | 'info' | 'warn' | 'error' | 'silent' | undefined) ?? 'silent');

export interface Cluster {
  proxy: ProxyHandle;
  port: number;
  groups: RedisServerHandle[];
  /** slot -> group index (0-based) of the static topology. */
  groupOfSlot(slot: number): number;
  groupOfKey(key: string | Buffer): number;
  /** A direct ioredis client to group i's master. */
  direct(i: number, db?: number): Redis;
  config: ProxyConfig;
  stop(): Promise<void>;
  /** Every proxy (proxies[0] === proxy); all serve the same groups. */
  proxies: ProxyHandle[];
  /** With `coordinator: true`: the memory:// coordinator the proxies follow. */
  coordinator?: { coord: Coordinator; paths: ClusterPaths; cluster: string };
  /**
   * With `coordinator: true`: writes slot records and resolves once every proxy has applied (and drained)
   * that revision. Returns the revision.
   */
  putSlots(slots: SlotRecord[]): Promise<number>;
}

export interface ClusterOptions {
  groups?: number;
  /** Raw config overrides (same shape as the YAML file). */
  overrides?: Record<string, unknown>;
  /** Extra redis-server args for every group. */
  redisArgs?: string[];
  /** Proxies on the same groups (default 1). */
  proxies?: number;
  /** Seed a memory:// coordinator and let the proxies follow it (instead of a static topology). */
  coordinator?: boolean;
}

let memoryClusters = 0;

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const n = opts.groups ?? 2;
  const groups: RedisServerHandle[] = [];
  const directs: Redis[] = [];
  let proxy: ProxyHandle | undefined;
  const proxies: ProxyHandle[] = [];
  let coordinator: Cluster['coordinator'];
  try {
    for (let i = 0; i < n; i++) groups.push(await startRedis(opts.redisArgs ?? []));
    const ranges = evenRanges(groups.map((_, i) => i + 1));
    const groupRecords = groups.map((g, i) => ({ id: i + 1, weight: 1, servers: [{ addr: g.addr, role: 'master' as const }] }));
    if (opts.coordinator) {
      const cluster = `t${process.pid}_${++memoryClusters}`;
      const opened = await openCoordinator(`memory://${cluster}`);
      await seedTopology(opened.coordinator, opened.paths, cluster, groupRecords, slotsFromRanges(ranges));
      coordinator = { coord: opened.coordinator, paths: opened.paths, cluster };
    }
    const config = loadProxyConfig({
      env: {},
      overrides: {
        listen: '127.0.0.1:0',
        admin: '127.0.0.1:0',
        ...(coordinator
          ? { coordinator: `memory://${coordinator.cluster}` }
          : { topology: { groups: groupRecords.map((g) => ({ id: g.id, servers: g.servers })), slots: ranges } }),
        ...opts.overrides,
      },
    });
    for (let i = 0; i < (opts.proxies ?? 1); i++) proxies.push(await startProxy({ config, defaultMetrics: false }));
    proxy = proxies[0]!;
    const p = proxy;
    const groupOfSlot = (slot: number) => ranges.findIndex(([from, to]) => slot >= from && slot <= to);
    return {
      proxy: p,
      proxies,
      coordinator,
      async putSlots(slots) {
        if (!coordinator) throw new Error('putSlots needs startCluster({ coordinator: true })');
        const res = await coordinator.coord.txn(
          [],
          slots.map((s) => ({ type: 'put' as const, key: coordinator!.paths.slot(s.id), value: JSON.stringify(s) })),
        );
        const deadline = Date.now() + 10_000;
        while (proxies.some((x) => x.runtime.appliedRevision() < res.revision)) {
          if (Date.now() > deadline) throw new Error(`proxies did not apply revision ${res.revision}`);
          await sleep(5);
        }
        return res.revision;
      },
      port: p.port,
      groups,
      config,
      groupOfSlot,
      groupOfKey: (key) => groupOfSlot(slotOf(typeof key === 'string' ? Buffer.from(key) : key)),
      direct(i, db = 0) {
        const c = new Redis({ port: groups[i]!.port, host: '127.0.0.1', db, lazyConnect: false, maxRetriesPerRequest: 0 });
        directs.push(c);
        return c;
      },
      async stop() {
        for (const c of directs) c.disconnect();
        await Promise.all(proxies.map((x) => x.close({ deadlineMs: 2000 })));
        await coordinator?.coord.close();
        if (coordinator) dropMemoryStore(coordinator.cluster);
        await Promise.all(groups.map((g) => g.stop()));
      },
    };
  } catch (err) {
    await Promise.all(proxies.map((x) => x.close({ deadlineMs: 500 })));
    await coordinator?.coord.close();
    await Promise.all(groups.map((g) => g.stop()));
    throw err;
  }
}

/** Keys named `${prefix}N` covering every group, `perGroup` of each. */
let topologyRevision = 1000;

/**
 * A two-group cluster's table as the follower would apply it (slots 0-511 on group 1, 512-1023 on group 2)
 * with some slots changed; every call gets a higher revision.
 */
export function splitTopology(c: Pick<Cluster, 'groups'>, changes: Record<number, Partial<SlotRecord>> = {}): Topology {
  const groups = new Map<number, GroupRecord>();
  c.groups.forEach((g, i) => groups.set(i + 1, { id: i + 1, weight: 1, servers: [{ addr: g.addr, role: 'master' }] }));
  const slots: SlotRecord[] = [];
  for (let s = 0; s < 1024; s++) slots.push({ id: s, group: s < 512 ? 1 : 2, ...changes[s] });
  return { revision: ++topologyRevision, groups, slots };
}

export function keysForEveryGroup(c: Pick<Cluster, 'groupOfKey' | 'groups'>, perGroup: number, prefix = 'k'): string[] {
  const counts = new Array<number>(c.groups.length).fill(0);
  const out: string[] = [];
  for (let i = 0; out.length < perGroup * c.groups.length; i++) {
    const k = `${prefix}${i}`;
    const g = c.groupOfKey(k);
    if (counts[g]! < perGroup) {
      counts[g]!++;
      out.push(k);
    }
  }
  return out;
}

export interface RawResult {
  data: Buffer;
  /** The server closed the connection (end or reset) before the timeout. */
  closed: boolean;
}

/**
 * Opens a raw TCP connection, writes `input`, and collects everything the proxy sends until it closes the
 * connection or `waitMs` passes (then we close it).
 */
export function rawExchange(port: number, input: Buffer | string | Array<Buffer | string>, waitMs = 1500): Promise<RawResult> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('connect', () => {
      for (const part of Array.isArray(input) ? input : [input]) s.write(part);
    });
  });
}

/** A raw connection for step-by-step exchanges: send bytes, read until `n` replies-worth of bytes arrive. */
export class RawConn {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => {});
  }

  static async open(port: number): Promise<RawConn> {
    const c = new RawConn(port);
    await new Promise<void>((resolve, reject) => {
      c.socket.once('connect', resolve);
      c.socket.once('error', reject);
    });
    return c;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(data: Buffer | string): void {
    this.socket.write(data);
  }

  /** Waits until the received bytes contain `text` (latin1) or the timeout passes; returns all received so far. */
  async waitFor(text: string, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.buf.toString('latin1').includes(text) && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.buf.toString('latin1');
  }

  received(): string {
    return this.buf.toString('latin1');
  }

  close(): void {
    this.socket.destroy();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The two client libraries the proxy tests drive, connected to one proxy port; `close()` disconnects both. */
export interface ClientPair {
  io: Redis;
  nr: RedisClientType;
  close(): Promise<void>;
}

export async function connectClients(port: number): Promise<ClientPair> {
  const io = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  const nr: RedisClientType = createClient({ socket: { port, host: '127.0.0.1', reconnectStrategy: false } });
  nr.on('error', () => {});
  await nr.connect();
  return {
    io,
    nr,
    async close() {
      io.disconnect();
      await nr.close().catch(() => {});
    },
  };
}
