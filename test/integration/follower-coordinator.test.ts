/**
 * The coordinator follower (proxy/topology/follower.ts) against both coordinators: the embedded memory store
 * and a real etcd. The proxy data path is stood in for by a recording ProxyRuntime (an in-process interface);
 * everything on the coordinator side is real.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdCoordinator } from '../../shared/coordinator/etcd.js';
import { MemoryCoordinator, MemoryStore } from '../../shared/coordinator/memory.js';
import type { Coordinator, TxnOp } from '../../shared/coordinator/types.js';
import { clusterPaths } from '../../shared/model/paths.js';
import { routeOf, slotsFromRanges } from '../../shared/model/topology.js';
import type { ProxyAck } from '../../shared/model/types.js';
import { createFollowerDriver } from '../../proxy/topology/follower.js';
import { startEtcd, type EtcdHandle } from '../support/etcd-server.js';
import { group, RecordingRuntime, seedCluster, waitFor } from './follower-support.js';

let etcd: EtcdHandle | undefined;
const clients: Coordinator[] = [];
const stops: Array<() => Promise<void>> = [];
let seq = 0;

const impls = [
  { name: 'memory', setup: async () => {}, client: (): Coordinator => new MemoryCoordinator(memStore) },
  {
    name: 'etcd',
    setup: async () => {
      etcd = await startEtcd();
    },
    client: (): Coordinator => new EtcdCoordinator([etcd!.endpoint]),
  },
];
const memStore = new MemoryStore('follower');

function client(make: () => Coordinator): Coordinator {
  const c = make();
  clients.push(c);
  return c;
}

async function seeded(coord: Coordinator) {
  const cluster = `f${++seq}`;
  const paths = clusterPaths(cluster);
  const seedRevision = await seedCluster(coord, paths, cluster, [group(1, 7001), group(2, 7002)], slotsFromRanges([[0, 511, 1], [512, 1023, 2]]));
  return { cluster, paths, seedRevision };
}

async function start(coord: Coordinator, cluster: string, runtime: RecordingRuntime, id = 'p1') {
  const driver = createFollowerDriver({ coordinator: coord, cluster, proxy: { id, addr: '127.0.0.1:1', adminAddr: '127.0.0.1:2' }, leaseTtlSeconds: 5 });
  const handle = await driver(runtime);
  stops.push(() => handle.stop());
  return { driver, handle };
}

afterAll(async () => {
  for (const s of stops.splice(0)) await s();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await etcd?.stop();
});

describe.each(impls)('follower on $name', (impl) => {
  let admin: Coordinator; // what the "dashboard" uses
  beforeAll(async () => {
    await impl.setup();
    admin = client(impl.client);
  });

  it('start loads the whole table at one revision, registers under a lease and acknowledges that revision', async () => {
    const { cluster, paths, seedRevision } = await seeded(admin);
    const runtime = new RecordingRuntime();
    const { driver } = await start(client(impl.client), cluster, runtime);
    // The driver resolved only after the first apply + ack.
    expect(runtime.applied).toHaveLength(1);
    const topo = runtime.applied[0]!;
    // R is the store revision of the read (the registration put came first), at or after the seed.
    expect(topo.revision).toBeGreaterThanOrEqual(seedRevision);
    expect(routeOf(topo, 0).backend).toBe('127.0.0.1:7001');
    expect(routeOf(topo, 1023).backend).toBe('127.0.0.1:7002');
    const rec = await admin.get(paths.proxy('p1'));
    const ack = await admin.get(paths.ack('p1'));
    expect(rec?.lease).toBeDefined();
    expect(ack?.lease).toBe(rec?.lease);
    expect(JSON.parse(rec!.value)).toMatchObject({ id: 'p1', addr: '127.0.0.1:1', adminAddr: '127.0.0.1:2', pid: process.pid });
    expect((JSON.parse(ack!.value) as ProxyAck).revision).toBe(topo.revision);
    const st = driver.state()!;
    expect(st).toMatchObject({ loaded: true, fenced: null, ackedRevision: topo.revision, appliedRevision: topo.revision, fencing: 'strict' });
    expect(st.lease).toMatchObject({ id: rec!.lease, status: 'alive', ttlSeconds: 5 });
    expect(runtime.fenceLog).toEqual([]);
  });

  it('a txn moving slots is applied as ONE topology (no half change) and acknowledged; other keys cause no apply', async () => {
    const { cluster, paths } = await seeded(admin);
    const runtime = new RecordingRuntime();
    await start(client(impl.client), cluster, runtime);
    const ops: TxnOp[] = [];
    for (let s = 0; s < 10; s++) ops.push({ type: 'put', key: paths.slot(s), value: JSON.stringify({ id: s, group: 2 }) });
    const { revision } = await admin.txn([], ops);
    await admin.put(paths.auditEntry('x'), '{}'); // outside topology/
    await waitFor(() => runtime.appliedRevision() === revision, 5000, 'apply');
    expect(runtime.applied).toHaveLength(2);
    const t = runtime.applied[1]!;
    for (let s = 0; s < 10; s++) expect(routeOf(t, s).group).toBe(2);
    expect(routeOf(t, 10).group).toBe(1);
    let ack = 0;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      ack = (JSON.parse((await admin.get(paths.ack('p1')))!.value) as ProxyAck).revision;
      if (ack === revision) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(ack).toBe(revision);
    await new Promise((r) => setTimeout(r, 100));
    expect(runtime.applied).toHaveLength(2); // the audit write did not cause an apply
  });

  it('applies are serialised (never overlap), in revision order, none skipped, and the ack ends at the last', async () => {
    const { cluster, paths } = await seeded(admin);
    const runtime = new RecordingRuntime(40);
    const { driver } = await start(client(impl.client), cluster, runtime);
    const revs: number[] = [];
    for (let i = 0; i < 8; i++) revs.push(await admin.put(paths.slot(100 + i), JSON.stringify({ id: 100 + i, group: 2 })));
    await waitFor(() => driver.state()!.ackedRevision === revs[7], 10_000, 'last ack');
    expect(runtime.maxConcurrent).toBe(1);
    expect(runtime.applied.slice(1).map((t) => t.revision)).toEqual(revs);
    expect(routeOf(runtime.last()!, 107).group).toBe(2);
    expect((JSON.parse((await admin.get(paths.ack('p1')))!.value) as ProxyAck).revision).toBe(revs[7]);
  });

  it('stop revokes the lease: the registration and the ack disappear at once', async () => {
    const { cluster, paths } = await seeded(admin);
    const runtime = new RecordingRuntime();
    const { handle } = await start(client(impl.client), cluster, runtime, 'p-stop');
    expect(await admin.get(paths.proxy('p-stop'))).toBeDefined();
    await handle.stop();
    expect(await admin.get(paths.proxy('p-stop'))).toBeUndefined();
    expect(await admin.get(paths.ack('p-stop'))).toBeUndefined();
  });
});

describe('follower on etcd: store replaced', () => {
  it('etcd replaced by an empty one: the follower reloads the new table, re-registers and acknowledges it', async () => {
    const h = etcd!;
    const admin = client(() => new EtcdCoordinator([h.endpoint]));
    const { cluster, paths } = await seeded(admin);
    const runtime = new RecordingRuntime();
    const { driver } = await start(client(() => new EtcdCoordinator([h.endpoint])), cluster, runtime, 'p-replaced');
    const oldLease = driver.state()!.lease.id;
    await h.stopProcess();
    rmSync(h.dataDir, { recursive: true, force: true });
    await h.restart();
    // The new store starts empty, then someone seeds a different table (group 3 owns everything).
    const fresh = client(() => new EtcdCoordinator([h.endpoint]));
    let seededRev = 0;
    for (let i = 0; i < 100 && seededRev === 0; i++) {
      try {
        seededRev = await seedCluster(fresh, paths, cluster, [group(3, 7003)], slotsFromRanges([[0, 1023, 3]]));
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await waitFor(() => routeOf(runtime.last()!, 5).group === 3, 20_000, 'reload of the new table');
    const ackOnNewStore = async () => {
      // Issue 15: the lost lease means a new identity (p-replaced.2).
      const kv = await fresh.get(paths.ack(driver.state()!.proxyId)).catch(() => undefined);
      return kv ? (JSON.parse(kv.value) as ProxyAck).revision : 0;
    };
    const deadline = Date.now() + 10_000;
    while ((await ackOnNewStore()) < seededRev && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await ackOnNewStore()).toBeGreaterThanOrEqual(seededRev);
    expect(driver.state()!.lease.id).not.toBe(oldLease);
    expect(driver.state()!.ackedRevision).toBe(await ackOnNewStore());
    expect(driver.state()!.proxyId).toBe('p-replaced.2');
    const rec = await fresh.get(paths.proxy('p-replaced.2'));
    expect(rec?.lease).toBe(driver.state()!.lease.id);
    expect((JSON.parse((await fresh.get(paths.ack('p-replaced.2')))!.value) as ProxyAck).revision).toBeGreaterThanOrEqual(seededRev);
  });
});
