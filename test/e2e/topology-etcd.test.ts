/**
 * End to end: a real etcd, 3 redis-servers (groups 1, 2, 3) and 3 `redslot proxy` PROCESSES following the slot
 * table through `--coordinator etcd://.../cluster`. Clients talk RESP to the proxies (ioredis); the test plays
 * the dashboard by writing slot records into etcd directly. A 4th proxy reaches etcd through a TCP relay that
 * the "fault:" test closes (the only fake).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeArgsFor } from '../support/compiled.js';
import { EtcdCoordinator } from '../../shared/coordinator/etcd.js';
import type { Watch } from '../../shared/coordinator/types.js';
import { clusterPaths } from '../../shared/model/paths.js';
import { slotsFromRanges } from '../../shared/model/topology.js';
import type { ProxyAck, ProxyRecord } from '../../shared/model/types.js';
import { slotOf } from '../../shared/slot.js';
import { startEtcd, type EtcdHandle } from '../support/etcd-server.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess, type Spawned } from '../support/processes.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { group, seedCluster } from '../integration/follower-support.js';

const CLUSTER = 'e2e';
const paths = clusterPaths(CLUSTER);

interface ProxyProc {
  proc: Spawned;
  port: number;
  adminPort: number;
  id: string;
  client: Redis;
}

let etcd: EtcdHandle;
let admin: EtcdCoordinator;
const redis: RedisServerHandle[] = [];
const direct: Redis[] = [];
const proxies: ProxyProc[] = [];
let relay: TcpRelay | undefined;
const extraProcs: Spawned[] = [];
const clients: Redis[] = [];

function client(port: number): Redis {
  const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 50 });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

async function startProxyProc(etcdEndpoint: string, extra: string[] = []): Promise<ProxyProc> {
  // Free ports are picked then released: another test may grab one meanwhile. Retry on EADDRINUSE.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startProxyOnce(etcdEndpoint, extra);
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test(String((err as Error).message))) throw err;
    }
  }
}

async function startProxyOnce(etcdEndpoint: string, extra: string[]): Promise<ProxyProc> {
  const port = await freePort();
  const adminPort = await freePort();
  const proc = spawnProcess('redslot-proxy', process.execPath, [
    ...nodeArgsFor('deploy/bin/redslot.ts'), 'proxy',
    '--coordinator', `etcd://${etcdEndpoint}/${CLUSTER}`,
    '--listen', `127.0.0.1:${port}`,
    '--admin', `127.0.0.1:${adminPort}`,
    ...extra,
  ], { ...process.env, REDSLOT_LOG_LEVEL: 'warn' });
  extraProcs.push(proc);
  try {
    await Promise.race([
      waitForPort(port, '127.0.0.1', 30_000),
      proc.exited.then((code) => Promise.reject(new Error(`exited with ${code}`))),
    ]);
  } catch (err) {
    await proc.stop();
    throw new Error(`proxy did not start: ${proc.log()}`, { cause: err });
  }
  // The proxy registers itself: find its id by its RESP address.
  let id = '';
  const deadline = Date.now() + 10_000;
  while (!id) {
    const res = await admin.getPrefix(paths.proxies);
    id = res.kvs.map((kv) => JSON.parse(kv.value) as ProxyRecord).find((r) => r.addr.endsWith(`:${port}`))?.id ?? '';
    if (!id && Date.now() > deadline) throw new Error(`proxy on ${port} never registered: ${proc.log()}`);
    if (!id) await new Promise((r) => setTimeout(r, 50));
  }
  // Listening comes before the first table: ready once /readyz says so.
  while ((await readyz(adminPort).catch(() => ({ status: 0 }))).status !== 200) {
    if (Date.now() > deadline + 10_000) throw new Error(`proxy on ${port} never became ready: ${proc.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const c = client(port);
  await c.connect();
  return { proc, port, adminPort, id, client: c };
}

async function ackOf(id: string): Promise<number> {
  const kv = await admin.get(paths.ack(id));
  return kv ? (JSON.parse(kv.value) as ProxyAck).revision : 0;
}

async function readyz(adminPort: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
  return { status: res.status, body: await res.text() };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

beforeAll(async () => {
  etcd = await startEtcd();
  admin = new EtcdCoordinator([etcd.endpoint]);
  for (let i = 0; i < 3; i++) redis.push(await startRedis());
  for (const r of redis) {
    const d = new Redis({ host: '127.0.0.1', port: r.port, lazyConnect: true });
    await d.connect();
    direct.push(d);
  }
  // Groups 1 and 2 own the slots; group 3 exists but owns none yet.
  await seedCluster(admin, paths, CLUSTER, [group(1, redis[0]!.port), group(2, redis[1]!.port), group(3, redis[2]!.port)], slotsFromRanges([[0, 511, 1], [512, 1023, 2]]));
  for (let i = 0; i < 3; i++) proxies.push(await startProxyProc(etcd.endpoint));
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const d of direct) d.disconnect();
  await Promise.all(extraProcs.map((p) => p.stop()));
  await relay?.stop();
  await admin?.close();
  await Promise.all(redis.map((r) => r.stop()));
  await etcd?.stop();
});

describe('topology in etcd, end to end (3 proxy processes, 3 redis-servers)', () => {
  it('a slot-table change routes new writes to the new group through every proxy; every ack reaches it within 1 s', async () => {
    const samples: number[] = [];
    const seen = new Map<string, number>(); // proxy id -> (revision, time) of its latest ack
    const ackTimes = new Map<string, Array<{ revision: number; at: number }>>();
    const start = (await admin.getPrefix(paths.acks)).revision;
    const watch: Watch = await admin.watchPrefix(paths.acks, start + 1, {
      onBatch: (b) => {
        const at = Date.now();
        for (const e of b.events) {
          if (e.type !== 'put') continue;
          const id = e.kv.key.slice(paths.acks.length);
          const rev = (JSON.parse(e.kv.value) as ProxyAck).revision;
          seen.set(id, rev);
          let list = ackTimes.get(id);
          if (!list) ackTimes.set(id, (list = []));
          list.push({ revision: rev, at });
        }
      },
    });
    try {
      const ROUNDS = 20;
      for (let round = 0; round < ROUNDS; round++) {
        const tag = `{e2e-${round}}`;
        const slot = slotOf(Buffer.from(tag.slice(1, -1)));
        const current = await admin.get(paths.slot(slot));
        const from = current ? (JSON.parse(current.value) as { group: number }).group : 0;
        const to = from === 3 ? 1 : 3;
        const t0 = Date.now();
        const rev = await admin.put(paths.slot(slot), JSON.stringify({ id: slot, group: to }));
        // Every proxy acknowledges the revision.
        for (const p of proxies) {
          const deadline = t0 + 5000;
          while ((seen.get(p.id) ?? 0) < rev) {
            if (Date.now() > deadline) throw new Error(`proxy ${p.id} did not ack ${rev} (at ${seen.get(p.id)})`);
            await new Promise((r) => setTimeout(r, 5));
          }
          const hit = ackTimes.get(p.id)!.find((a) => a.revision >= rev)!;
          samples.push(hit.at - t0);
        }
        // New writes through every proxy land on the new group's master, not the old one.
        for (const [i, p] of proxies.entries()) {
          const key = `${tag}:p${i}`;
          expect(await p.client.set(key, `r${round}`)).toBe('OK');
          expect(await direct[to - 1]!.get(key)).toBe(`r${round}`);
          if (from !== 0) expect(await direct[from - 1]!.get(key)).toBeNull();
          expect(await p.client.get(key)).toBe(`r${round}`);
        }
      }
    } finally {
      await watch.cancel();
    }
    const sorted = [...samples].sort((a, b) => a - b);
    const dist = {
      n: sorted.length,
      min: sorted[0],
      median: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1],
    };
    console.log(`ack latency (slot record written -> proxy's ack seen by a watcher), ms: ${JSON.stringify(dist)}`);
    expect(dist.n).toBe(60);
    expect(dist.max).toBeLessThan(1000);
  });

  it('etcd stopped 5 s and restarted: no client command fails meanwhile; watches resume and the next change is followed', async () => {
    let stop = false;
    const counts = proxies.map(() => ({ ok: 0, failed: 0, duringOutage: 0, errors: [] as string[] }));
    let outage = false;
    const loops = proxies.map(async (p, i) => {
      let n = 0;
      while (!stop) {
        const key = `{load-${i}-${n % 50}}:k`;
        try {
          await p.client.set(key, String(n));
          const v = await p.client.get(key);
          if (v !== String(n)) throw new Error(`read ${v} after writing ${n}`);
          counts[i]!.ok++;
          if (outage) counts[i]!.duringOutage++;
        } catch (err) {
          counts[i]!.failed++;
          if (counts[i]!.errors.length < 5) counts[i]!.errors.push((err as Error).message);
        }
        n++;
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    outage = true;
    await etcd.stopProcess();
    await new Promise((r) => setTimeout(r, 5000));
    await etcd.restart();
    outage = false;
    // A change after the restart reaches every proxy through its resumed watch.
    const slot = slotOf(Buffer.from('after-restart'));
    let rev = 0;
    const writeDeadline = Date.now() + 15_000;
    while (rev === 0) {
      rev = await admin.put(paths.slot(slot), JSON.stringify({ id: slot, group: 3 })).catch(() => 0);
      if (rev === 0) {
        if (Date.now() > writeDeadline) throw new Error('etcd did not come back');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    for (const p of proxies) {
      const deadline = Date.now() + 10_000;
      while ((await ackOf(p.id)) < rev) {
        if (Date.now() > deadline) throw new Error(`proxy ${p.id} did not ack ${rev} after the restart`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(loops);
    console.log(`load during the etcd outage: ${JSON.stringify(counts.map(({ ok, failed, duringOutage }) => ({ ok, failed, duringOutage })))}`);
    for (const c of counts) {
      expect(c.errors).toEqual([]);
      expect(c.failed).toBe(0);
      expect(c.duringOutage).toBeGreaterThan(50);
    }
    for (const [i, p] of proxies.entries()) {
      expect(await p.client.set(`{after-restart}:p${i}`, 'x')).toBe('OK');
      expect(await direct[2]!.get(`{after-restart}:p${i}`)).toBe('x');
      expect((await readyz(p.adminPort)).status).toBe(200);
    }
  });

  it('fault: a proxy cut off from etcd (relay closed) answers -CLUSTERDOWN before its lease expires, and serves again after the relay reopens', async () => {
    relay = await startTcpRelay(etcd.clientPort);
    const p = await startProxyProc(relay.endpoint, ['--lease-ttl', '4s']);
    const key = '{fence}:k';
    expect(await p.client.set(key, 'before')).toBe('OK');
    expect((await readyz(p.adminPort)).status).toBe(200);
    const leaseBefore = (await admin.get(paths.proxy(p.id)))?.lease;
    expect(leaseBefore).toBeDefined();

    await relay.close();
    const cutAt = Date.now();
    let refusal = '';
    while (!refusal) {
      try {
        await p.client.get(key);
      } catch (err) {
        refusal = (err as Error).message;
      }
      if (Date.now() - cutAt > 10_000) {
        const st = await fetch(`http://127.0.0.1:${p.adminPort}/api/v1/proxy`).then((r) => r.text()).catch((e: unknown) => String(e));
        throw new Error(`never fenced; admin state: ${st}\nproxy log: ${p.proc.log().slice(-4000)}`);
      }
      if (!refusal) await new Promise((r) => setTimeout(r, 20));
    }
    const fencedAfter = Date.now() - cutAt;
    // At the first refusal, etcd still holds the proxy's lease: it fenced itself BEFORE expiry.
    expect((await admin.get(paths.proxy(p.id)))?.lease).toBe(leaseBefore);
    expect(refusal).toMatch(/^CLUSTERDOWN .*lost contact with the coordinator/);
    const rz = await readyz(p.adminPort);
    expect(rz.status).toBe(503);
    expect(rz.body).toMatch(/fenced/);
    // The other proxies are unaffected.
    expect(await proxies[0]!.client.get(key)).toBe('before');

    await relay.reopen();
    const reopenedAt = Date.now();
    let value: string | null = null;
    while (value === null) {
      value = await p.client.get(key).catch(() => null);
      if (Date.now() - reopenedAt > 15_000) throw new Error('never unfenced');
      if (value === null) await new Promise((r) => setTimeout(r, 20));
    }
    console.log(`relay cut: -CLUSTERDOWN ${fencedAfter} ms after the cut (TTL 4000 ms); serving again ${Date.now() - reopenedAt} ms after reopening`);
    expect(value).toBe('before');
    expect(fencedAfter).toBeLessThan(4000);
    expect((await readyz(p.adminPort)).status).toBe(200);
    expect((await admin.get(paths.proxy(p.id)))?.lease).toBeDefined();
  });
});
