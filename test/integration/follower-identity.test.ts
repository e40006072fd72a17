/**
 * Issue 15, holes 1, 3 and 4 at the follower level, against a real etcd: removing a live proxy (lease
 * revoked, tombstone until it fenced, new identity), identity collisions (create-if-absent), and lease
 * deadlines on the monotonic clock. The proxy data path is the recording ProxyRuntime double
 * (follower-support.ts); the only fakes are the TCP relay (the network between the proxy and etcd) and, in
 * the "fake wall clock" test, Date.now stepped back an hour (a clock step a test cannot make on the host).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitForAcks } from '../../dashboard/topom/barrier.js';
import { ProxyService } from '../../dashboard/topom/proxies.js';
import { createFollowerDriver } from '../../proxy/topology/follower.js';
import { EtcdCoordinator } from '../../shared/coordinator/etcd.js';
import type { Compare, Coordinator } from '../../shared/coordinator/types.js';
import { createLogger } from '../../shared/log.js';
import { clusterPaths } from '../../shared/model/paths.js';
import { routeOf, slotsFromRanges } from '../../shared/model/topology.js';
import type { EtcdHandle } from '../support/etcd-server.js';
import { startTcpRelay } from '../support/tcp-relay.js';
import { useEtcdCoordinator } from '../support/use-etcd.js';
import { group, RecordingRuntime, seedCluster, waitFor } from './follower-support.js';

let etcd: EtcdHandle;
let admin: Coordinator;
const cleanups: Array<() => Promise<unknown>> = [];
let seq = 0;

useEtcdCoordinator((s) => ({ etcd, coord: admin } = s));

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function cluster() {
  const name = `ident${++seq}`;
  const paths = clusterPaths(name);
  await seedCluster(admin, paths, name, [group(1, 7001), group(2, 7002)], slotsFromRanges([[0, 511, 1], [512, 1023, 2]]));
  return { name, paths };
}

async function follower(clusterName: string, id: string, ttl: number, endpoint = etcd.endpoint) {
  const coord = new EtcdCoordinator([endpoint]);
  cleanups.push(() => coord.close());
  const runtime = new RecordingRuntime();
  const driver = createFollowerDriver({ coordinator: coord, cluster: clusterName, proxy: { id, addr: '127.0.0.1:1', adminAddr: '127.0.0.1:2' }, leaseTtlSeconds: ttl });
  const handle = await driver(runtime);
  cleanups.push(() => handle.stop());
  return { coord, runtime, driver, handle };
}

/** Stands for the leader's fence compare: the cluster's meta exists. */
const anyLeader = (paths: ReturnType<typeof clusterPaths>) => (): Compare => ({ key: paths.meta, target: 'create', op: '>', value: 0 });

describe('removing a live proxy (hole 1)', () => {
  it('remove revokes the lease: the proxy fences at once, the barrier waits for it, it re-registers under a new id with the current table', async () => {
    // Fails before issue 15: the registration was deleted but the proxy kept its lease and its table, the
    // barrier skipped it at once and the proxy went on routing slot 3 to group 1 after the move below.
    const { name, paths } = await cluster();
    const p = await follower(name, 'live1', 10);
    const service = new ProxyService(admin, paths, null as never, createLogger({ test: 'removal' }));
    const removedAt = Date.now();
    await service.remove('live1', anyLeader(paths));
    const moved = await admin.put(paths.slot(3), JSON.stringify({ id: 3, group: 2 }));
    // The barrier for the move may only pass once the removed proxy cannot route slot 3 to group 1 any more.
    await waitForAcks(admin, paths, moved, { timeoutMs: 15_000 });
    const routesOld = p.runtime.fenced() === null && routeOf(p.runtime.last()!, 3).group === 1;
    expect(routesOld).toBe(false);
    // Fenced promptly (one keep-alive), not after a TTL.
    const fencedAt = p.runtime.fenceLog.find((f) => f.reason !== null)?.at;
    expect(fencedAt).toBeDefined();
    expect(fencedAt! - removedAt).toBeLessThan(2000);
    expect(p.runtime.fenceLog.find((f) => f.reason !== null)!.reason).toMatch(/live1.*re-registering/);
    // Back under a new identity, with the table loaded after the move, and the old identity stays gone.
    await waitFor(() => p.runtime.fenced() === null && p.driver.state()!.proxyId === 'live1.2', 15_000, 'new identity unfenced');
    expect(routeOf(p.runtime.last()!, 3).group).toBe(2);
    expect(await admin.get(paths.proxy('live1'))).toBeUndefined();
    expect(await admin.get(paths.ack('live1'))).toBeUndefined();
    expect((await admin.get(paths.proxy('live1.2')))?.lease).toBe(p.driver.state()!.lease.id);
    await waitFor(() => p.driver.state()!.ackedRevision >= moved, 10_000, 'ack under the new id');
    // The proxy cleared its tombstone once fenced (well before the tombstone's own TTL of 11 s).
    const until = Date.now() + 5000;
    while ((await admin.getPrefix(paths.removed)).kvs.length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect((await admin.getPrefix(paths.removed)).kvs).toEqual([]);
  });

  it('a removed proxy that cannot be told (frozen relay) is waited for until its tombstone expires, by when it has fenced', async () => {
    const { name, paths } = await cluster();
    const relay = await startTcpRelay(etcd.clientPort);
    cleanups.push(() => relay.stop());
    const p = await follower(name, 'mute1', 3, relay.endpoint);
    relay.pause(); // the proxy hears nothing: neither the revoke nor anything else
    const service = new ProxyService(admin, paths, null as never, createLogger({ test: 'removal' }));
    await service.remove('mute1', anyLeader(paths));
    const moved = await admin.put(paths.slot(4), JSON.stringify({ id: 4, group: 2 }));
    const t0 = Date.now();
    await waitForAcks(admin, paths, moved, { timeoutMs: 15_000 });
    expect(Date.now() - t0).toBeGreaterThan(2000); // the tombstone (TTL 3 + 1 s) held the barrier
    expect(p.runtime.fenced()).not.toBeNull(); // and by then the proxy had fenced on its own deadline
    relay.resume();
  });
});

describe('identity (hole 3)', () => {
  it('a second process with the same id is refused (create-if-absent) and the first keeps its registration and ack', async () => {
    // Fails before issue 15: the second put overwrote the first's registration under its own lease; both
    // shared one ack, so the barrier could count one proxy's ack for the other.
    const { name, paths } = await cluster();
    const first = await follower(name, 'twin', 10);
    const lease = first.driver.state()!.lease.id;
    await expect(follower(name, 'twin', 10)).rejects.toThrow(/REDSLOT_ERR_PROXY_ID_TAKEN|already registered/);
    expect((await admin.get(paths.proxy('twin')))?.lease).toBe(lease);
    expect((await admin.get(paths.ack('twin')))?.lease).toBe(lease);
  });

  it('the registration carries the lease TTL and the base id (for the tombstone and the operator)', async () => {
    const { name, paths } = await cluster();
    await follower(name, 'shape1', 7);
    const rec = JSON.parse((await admin.get(paths.proxy('shape1')))!.value) as Record<string, unknown>;
    expect(rec).toMatchObject({ id: 'shape1', baseId: 'shape1', leaseTtlSeconds: 7, addr: '127.0.0.1:1', adminAddr: '127.0.0.1:2' });
  });
});

describe('clocks (hole 4)', () => {
  it('fake wall clock stepped back an hour while etcd is unreachable: the proxy still fences before its lease expires', async () => {
    // Fails before issue 15: lease age was Date.now() - lastRenewedAt, negative after the step, so the proxy
    // never fenced and kept serving after etcd expired its lease.
    const { name } = await cluster();
    const relay = await startTcpRelay(etcd.clientPort);
    cleanups.push(() => relay.stop());
    const p = await follower(name, 'clock1', 3, relay.endpoint);
    const realNow = Date.now;
    Date.now = () => realNow() - 3_600_000;
    cleanups.push(async () => {
      Date.now = realNow;
    });
    relay.pause();
    const cutAt = performance.now();
    await waitFor(() => p.runtime.fenced() !== null, 6000, 'fence despite the clock step');
    expect(performance.now() - cutAt).toBeLessThan(3000);
    Date.now = realNow;
    relay.resume();
  });
});
