/**
 * The multi-process proxy (proxy/workers/): 2 worker processes sharing the port behind one primary that
 * follows a memory:// coordinator, on real redis-servers. Both workers serve; a slot change reaches both
 * before the ack is written (the ack waits for the slower worker's drain); fencing reaches both; /metrics is
 * the sum over workers; a killed worker is replaced with the current table; close() / SIGTERM stop every
 * worker (no orphan) and deregister the proxy. Group 1 sits behind a TCP relay (the network) that the tests
 * pause to keep a request in flight.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxyWorkers, type WorkersHandle } from '../../proxy/workers/primary.js';
import { dropMemoryStore, openCoordinator } from '../../shared/coordinator/index.js';
import type { Coordinator } from '../../shared/coordinator/types.js';
import { type ClusterPaths } from '../../shared/model/paths.js';
import { evenRanges } from '../../deploy/local/seed.js';
import type { GroupRecord, SlotRecord } from '../../shared/model/types.js';
import { slotOfString } from '../../shared/slot.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess } from '../support/processes.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { RawConn, sleep } from './proxy-cluster.js';
import { seedCluster, waitFor } from './follower-support.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLUSTER = `workers${process.pid}`;

const get = (key: string) => `*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`;

const groups: RedisServerHandle[] = [];
/** Between the proxy and group 1. */
let relay: TcpRelay;
let coord: Coordinator;
let paths: ClusterPaths;
let proxy: WorkersHandle | undefined;
const clients: Redis[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function admin(p: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${proxy!.adminAddr}${p}`);
  return { status: res.status, text: await res.text() };
}

async function apiProxy(): Promise<{ workers: Array<{ index: number; pid: number; state: string; clients: number; commands: number; revision: number }>; stats: { clients: number; commands: number }; topology: { revision: number } }> {
  return JSON.parse((await admin('/api/v1/proxy')).text);
}

function client(): Redis {
  const c = new Redis({ port: proxy!.port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableReadyCheck: false });
  clients.push(c);
  return c;
}

/** process_id from INFO server: the worker that serves this connection. */
async function workerPid(c: Redis): Promise<number> {
  const info = await c.info('server');
  return Number(/process_id:(\d+)/.exec(info)![1]);
}

/** One client connected to each of the two workers. */
async function clientPerWorker(): Promise<Map<number, Redis>> {
  const by = new Map<number, Redis>();
  for (let i = 0; i < 20 && by.size < 2; i++) {
    const c = client();
    const pid = await workerPid(c);
    if (!by.has(pid)) by.set(pid, c);
  }
  return by;
}

async function ackedRevision(): Promise<number> {
  const r = await coord.getPrefix(paths.acks);
  let max = 0;
  for (const kv of r.kvs) max = Math.max(max, (JSON.parse(kv.value) as { revision: number }).revision);
  return max;
}

beforeAll(async () => {
  for (let i = 0; i < 2; i++) groups.push(await startRedis());
  relay = await startTcpRelay(groups[0]!.port);
  ({ coordinator: coord, paths } = await openCoordinator(`memory://${CLUSTER}`));
  const addrs = [relay.endpoint, groups[1]!.addr];
  const gs: GroupRecord[] = addrs.map((addr, i) => ({ id: i + 1, weight: 1, servers: [{ addr, role: 'master' }] }));
  const slots: SlotRecord[] = [];
  for (const [from, to, gid] of evenRanges([1, 2])) for (let s = from; s <= to; s++) slots.push({ id: s, group: gid });
  await seedCluster(coord, paths, CLUSTER, gs, slots);
  const config = loadProxyConfig({
    env: {},
    overrides: { listen: '127.0.0.1:0', admin: '127.0.0.1:0', coordinator: `memory://${CLUSTER}`, leaseTtl: '5s', workers: 2 },
  });
  proxy = await startProxyWorkers({ config, defaultMetrics: false, logLevel: 'error' });
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  const pids = proxy?.runtime.pids() ?? [];
  await proxy?.close({ deadlineMs: 2000 });
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await coord?.close();
  dropMemoryStore(CLUSTER);
  await relay?.stop();
  await Promise.all(groups.map((g) => g.stop()));
});

describe('proxy with 2 worker processes', () => {
  it('starts 2 workers on one port; both serve commands over many connections', async () => {
    const pids = proxy!.runtime.pids();
    expect(pids).toHaveLength(2);
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(process.pid);
    const conns = Array.from({ length: 16 }, () => client());
    const seen = new Set<number>();
    await Promise.all(
      conns.map(async (c, i) => {
        seen.add(await workerPid(c));
        for (let j = 0; j < 25; j++) await c.set(`w:${i}:${j}`, `v${i}.${j}`);
        const got = await c.mget(...Array.from({ length: 25 }, (_, j) => `w:${i}:${j}`));
        expect(got).toEqual(Array.from({ length: 25 }, (_, j) => `v${i}.${j}`));
      }),
    );
    expect([...seen].sort()).toEqual([...pids].sort());
    // The keys really are in the groups the topology says (slot routing in both workers).
    const direct = groups.map((g) => new Redis({ port: g.port, maxRetriesPerRequest: 0 }));
    try {
      const [d1, d2] = [await direct[0]!.dbsize(), await direct[1]!.dbsize()];
      expect(d1 + d2).toBe(16 * 25);
      expect(d1).toBeGreaterThan(0);
      expect(d2).toBeGreaterThan(0);
    } finally {
      for (const d of direct) d.disconnect();
    }
    const api = await apiProxy();
    expect(api.workers.map((w) => w.pid).sort()).toEqual([...pids].sort());
    for (const w of api.workers) {
      expect(w.state).toBe('serving');
      expect(w.clients).toBeGreaterThan(0);
      expect(w.commands).toBeGreaterThan(0);
    }
    expect(api.stats.commands).toBe(api.workers.reduce((n, w) => n + w.commands, 0));
    expect(api.stats.clients).toBe(api.workers.reduce((n, w) => n + w.clients, 0));
  });

  it('/metrics sums the workers; /readyz is ready', async () => {
    const by = await clientPerWorker();
    expect(by.size).toBe(2);
    const before = await admin('/metrics');
    const count = (text: string) => Number(/^redslot_proxy_downstream_rq_total\{command="incrby"\} (\d+)/m.exec(text)?.[1] ?? 0);
    const base = count(before.text);
    const [a, b] = [...by.values()];
    for (let i = 0; i < 7; i++) await a!.incrby('ctr', 1);
    for (let i = 0; i < 5; i++) await b!.incrby('ctr', 1);
    const after = await admin('/metrics');
    expect(after.status).toBe(200);
    expect(count(after.text) - base).toBe(12);
    // The revision is the workers' minimum, not their sum.
    const rev = Number(/^redslot_proxy_topology_revision (\d+)/m.exec(after.text)![1]);
    expect(rev).toBe(proxy!.runtime.appliedRevision());
    expect(/^redslot_proxy_fenced 0$/m.test(after.text)).toBe(true);
    expect((await admin('/readyz')).status).toBe(200);
  });

  it('/api/v1/proxy/load sums the workers\' per-slot counters and hot keys', async () => {
    const by = await clientPerWorker();
    expect(by.size).toBe(2);
    const key = 'loadkey';
    const slot = slotOfString(key);
    const load = async () => JSON.parse((await admin('/api/v1/proxy/load')).text) as { counting: boolean; ops: number[]; bytes: number[]; hotKeys: { keys: Array<{ key: string; count: number }> } };
    const before = await load();
    const [a, b] = [...by.values()];
    for (let i = 0; i < 300; i++) await a!.get(key);
    for (let i = 0; i < 200; i++) await b!.get(key);
    const after = await load();
    expect(after.counting).toBe(true);
    expect(after.ops[slot]! - before.ops[slot]!).toBe(500);
    expect(after.bytes[slot]! - before.bytes[slot]!).toBe(500 * get(key).length);
    expect(Buffer.from(after.hotKeys.keys[0]!.key, 'base64').toString()).toBe(key);
  });

  it('the primary reports which masters it reaches (health/<proxyId>: the failover votes of a proxy with workers)', async () => {
    const deadline = Date.now() + 10_000;
    let report: { servers: Record<string, { ok: boolean }> } | undefined;
    while (Date.now() < deadline) {
      const r = await coord.getPrefix(paths.health);
      report = r.kvs.length === 1 ? (JSON.parse(r.kvs[0]!.value) as typeof report) : undefined;
      if (report && Object.keys(report.servers).length === 2) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(report?.servers).toEqual({ [relay.endpoint]: expect.objectContaining({ ok: true }), [groups[1]!.addr]: expect.objectContaining({ ok: true }) });
  });

  it('a slot change reaches both workers before the ack is written: the ack waits for the slower drain', async () => {
    const by = await clientPerWorker();
    const [[pidA], [pidB, slowClient]] = [...by.entries()] as [[number, Redis], [number, Redis]];
    const key = 'foo';
    const slot = slotOfString(key);
    expect(slot).toBeLessThan(512); // group 1, behind the relay
    await by.get(pidA)!.set(key, 'v0');
    const rev0 = await ackedRevision();
    expect(rev0).toBe(proxy!.runtime.appliedRevision());
    // A request in flight under slot's route in worker B only (group 1's network stalls).
    relay.pause();
    const running = slowClient!.get(key);
    await sleep(100);
    const rev = await coord.put(paths.slot(slot), JSON.stringify({ id: slot, group: 2 } satisfies SlotRecord));
    // Worker A (nothing in flight there) applies at once; the ack must not be written while B drains.
    let sawAApplied = false;
    let sawBDraining = false;
    const resumeAt = Date.now() + 700;
    let resumedAt = 0;
    let ackedAt = 0;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (resumedAt === 0 && Date.now() >= resumeAt) {
        resumedAt = Date.now();
        relay.resume();
      }
      const acked = await ackedRevision();
      if (acked >= rev) {
        ackedAt = Date.now();
        break;
      }
      const stats = await proxy!.runtime.refresh();
      const a = stats.find((s) => s.pid === pidA);
      const b = stats.find((s) => s.pid === pidB);
      if (a && a.revision >= rev) sawAApplied = true;
      if (resumedAt === 0 && b && b.revision < rev && b.drainingRequests === 1) sawBDraining = true;
      await sleep(20);
    }
    relay.resume();
    expect(await running).toBe('v0');
    expect(resumedAt).toBeGreaterThan(0);
    expect(ackedAt).toBeGreaterThanOrEqual(resumedAt);
    expect(sawAApplied).toBe(true);
    expect(sawBDraining).toBe(true);
    const stats = await proxy!.runtime.refresh();
    expect(stats.map((s) => s.revision)).toEqual([rev, rev]);
    // Both workers route the slot to its new group now.
    await by.get(pidA)!.set(key, 'from-a');
    await by.get(pidB)!.set(`{${key}}x`, 'from-b');
    const direct = new Redis({ port: groups[1]!.port, maxRetriesPerRequest: 0 });
    try {
      expect(await direct.get(key)).toBe('from-a');
      expect(await direct.get(`{${key}}x`)).toBe('from-b');
    } finally {
      direct.disconnect();
    }
  });

  it('fencing in the primary fences every worker', async () => {
    const by = await clientPerWorker();
    proxy!.runtime.setFenced('test fence');
    try {
      await waitFor(() => !proxy!.runtime.ready(), 2000, 'not ready');
      for (const c of by.values()) {
        await expect(
          (async () => {
            for (let i = 0; i < 50; i++) {
              try {
                await c.get('x');
              } catch (err) {
                return (err as Error).message;
              }
              await sleep(10);
            }
            return 'served';
          })(),
        ).resolves.toMatch(/test fence/);
      }
      expect((await admin('/readyz')).status).toBe(503);
    } finally {
      proxy!.runtime.setFenced(null);
    }
    for (const c of by.values()) expect(await c.ping()).toBe('PONG');
    expect((await admin('/readyz')).status).toBe(200);
  });

  it('a killed worker is replaced; the new one serves the current table; /readyz fails meanwhile', async () => {
    const [victim, survivor] = proxy!.runtime.pids();
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => !alive(victim!), 3000, 'worker killed');
    await waitFor(() => !proxy!.runtime.ready() || proxy!.runtime.pids().length === 2, 1000, 'state change');
    await waitFor(() => proxy!.runtime.ready() && proxy!.runtime.pids().length === 2, 15_000, 'replacement worker');
    const pids = proxy!.runtime.pids();
    expect(pids).toContain(survivor);
    expect(pids).not.toContain(victim);
    const stats = await proxy!.runtime.refresh();
    expect(stats.map((s) => s.revision)).toEqual([proxy!.runtime.appliedRevision(), proxy!.runtime.appliedRevision()]);
    const by = await clientPerWorker();
    expect(by.size).toBe(2);
    for (const c of by.values()) expect(await c.get('foo')).toBe('from-a');
  });

  it('close(): in-flight commands finish on every worker, all workers exit, the proxy is deregistered', async () => {
    const by = await clientPerWorker();
    await [...by.values()][0]!.set('bar', 'b');
    // Raw connections (round-robin: both workers get some), each with a GET in flight (group 1 stalls).
    const conns = await Promise.all([0, 1, 2, 3].map(async () => RawConn.open(proxy!.port)));
    relay.pause();
    for (const c of conns) c.send(get('bar'));
    await sleep(100);
    const pids = proxy!.runtime.pids();
    expect((await coord.getPrefix(paths.proxies)).kvs).toHaveLength(1);
    const closing = proxy!.close({ deadlineMs: 5000 });
    await sleep(300);
    relay.resume();
    await closing;
    for (const c of conns) expect(await c.waitFor('b\r\n', 3000)).toBe('$1\r\nb\r\n');
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect((await coord.getPrefix(paths.proxies)).kvs).toHaveLength(0);
    proxy = undefined;
  });
});

describe('redslot proxy --workers 2 (the CLI)', () => {
  it('SIGTERM: in-flight commands are answered, every worker exits, the primary exits 0', async () => {
    const r = await startRedis();
    const cliRelay = await startTcpRelay(r.port);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-workers-'));
    try {
      const port = await freePort();
      const adminPort = await freePort();
      const file = path.join(dir, 'proxy.yaml');
      writeFileSync(
        file,
        [
          `listen: 127.0.0.1:${port}`,
          `admin: 127.0.0.1:${adminPort}`,
          'workers: 2',
          'topology:',
          '  groups:',
          `    - { id: 1, servers: [{ addr: "${cliRelay.endpoint}", role: master }] }`,
          '  slots: [[0, 1023, 1]]',
        ].join('\n'),
      );
      const proc = spawnProcess('proxy', process.execPath, ['--import', 'tsx', path.join(ROOT, 'deploy/bin/redslot.ts'), 'proxy', '--config', file], {
        ...process.env,
        REDSLOT_LOG_LEVEL: 'warn',
      });
      try {
        const direct = new Redis({ port: r.port, maxRetriesPerRequest: 0 });
        await direct.set('k', 'v');
        direct.disconnect();
        await waitForPort(port, '127.0.0.1', 20_000);
        let workers: Array<{ pid: number }> = [];
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/proxy`).catch(() => null);
          if (res?.ok) {
            workers = ((await res.json()) as { workers: Array<{ pid: number }> }).workers;
            if (workers.length === 2 && workers.every((w) => w.pid > 0)) break;
          }
          await sleep(100);
        }
        expect(workers).toHaveLength(2);
        const conns = await Promise.all([0, 1, 2, 3].map(() => RawConn.open(port)));
        cliRelay.pause();
        for (const c of conns) c.send(get('k'));
        await sleep(150);
        proc.child.kill('SIGTERM');
        await sleep(300);
        cliRelay.resume();
        for (const c of conns) expect(await c.waitFor('v\r\n', 5000)).toBe('$1\r\nv\r\n');
        expect(await proc.exited).toBe(0);
        for (const w of workers) expect(alive(w.pid)).toBe(false);
      } finally {
        await proc.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await cliRelay.stop();
      await r.stop();
    }
  });
});
