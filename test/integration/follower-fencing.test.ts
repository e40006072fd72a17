/**
 * Coordinator outages seen by the follower, against a real etcd. The proxy data path is the recording
 * ProxyRuntime double; the only fake is the TCP relay (test/support/tcp-relay.ts) standing for the network
 * between one proxy and etcd, which the "fault:" tests close or freeze.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { EtcdCoordinator } from '../../shared/coordinator/etcd.js';
import type { Coordinator } from '../../shared/coordinator/types.js';
import { clusterPaths } from '../../shared/model/paths.js';
import { routeOf, slotsFromRanges } from '../../shared/model/topology.js';
import type { ProxyAck } from '../../shared/model/types.js';
import { createFollowerDriver } from '../../proxy/topology/follower.js';
import type { EtcdHandle } from '../support/etcd-server.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { useEtcdCoordinator } from '../support/use-etcd.js';
import { group, RecordingRuntime, seedCluster, waitFor } from './follower-support.js';

let etcd: EtcdHandle;
let admin: Coordinator;
const cleanups: Array<() => Promise<unknown>> = [];
let seq = 0;

useEtcdCoordinator((s) => ({ etcd, coord: admin } = s));
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function setup(opts: { ttl: number; viaRelay: boolean }) {
  const cluster = `fence${++seq}`;
  const paths = clusterPaths(cluster);
  await seedCluster(admin, paths, cluster, [group(1, 7001), group(2, 7002)], slotsFromRanges([[0, 511, 1], [512, 1023, 2]]));
  let relay: TcpRelay | undefined;
  if (opts.viaRelay) {
    relay = await startTcpRelay(etcd.clientPort);
    cleanups.push(() => relay!.stop());
  }
  const coord = new EtcdCoordinator([relay ? relay.endpoint : etcd.endpoint]);
  cleanups.push(() => coord.close());
  const runtime = new RecordingRuntime();
  const id = `p-${cluster}`;
  const driver = createFollowerDriver({
    coordinator: coord,
    cluster,
    proxy: { id, addr: '127.0.0.1:1', adminAddr: '127.0.0.1:2' },
    leaseTtlSeconds: opts.ttl,
  });
  const handle = await driver(runtime);
  cleanups.push(() => handle.stop());
  const ackOf = async (of = id): Promise<number> => {
    const kv = await admin.get(paths.ack(of));
    return kv ? (JSON.parse(kv.value) as ProxyAck).revision : 0;
  };
  const waitAck = async (rev: number, timeoutMs = 10_000, of = id): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while ((await ackOf(of)) < rev) {
      if (Date.now() > deadline) throw new Error(`ack of ${of} did not reach ${rev} (at ${await ackOf(of)})`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const moveSlot = (slot: number, to: number) => admin.put(paths.slot(slot), JSON.stringify({ id: slot, group: to }));
  return { cluster, paths, relay, runtime, driver, id, ackOf, waitAck, moveSlot };
}

describe('follower fencing and coordinator outages (real etcd)', () => {
  it('etcd stopped 5 s and restarted: with the default TTL the proxy never fences, the watch resumes and the next change is acknowledged', async () => {
    const s = await setup({ ttl: 10, viaRelay: false });
    let maxSilent = 0;
    const poll = setInterval(() => (maxSilent = Math.max(maxSilent, s.driver.state()!.lease.sinceRenewalMs ?? 0)), 20);
    cleanups.push(async () => clearInterval(poll));
    await etcd.stopProcess();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    await etcd.restart();
    let rev = 0;
    while (rev === 0) {
      rev = await s.moveSlot(7, 2).catch(() => 0);
      if (rev === 0) await new Promise((r) => setTimeout(r, 50));
    }
    const writtenAt = Date.now();
    await s.waitAck(rev);
    clearInterval(poll);
    console.log(
      `etcd outage: ${writtenAt - stoppedAt} ms until the first write succeeded, ack ${Date.now() - writtenAt} ms after it; ` +
        `lease unrenewed for at most ${maxSilent} ms (fences at ${s.driver.state()!.lease.fenceAfterMs} ms)`,
    );
    expect(routeOf(s.runtime.last()!, 7).group).toBe(2);
    expect(s.runtime.fenceLog).toEqual([]);
    const st = s.driver.state()!;
    expect(st.fenced).toBeNull();
    expect(st.lease.status).toBe('alive');
    expect(st.resyncs).toBe(1); // the lease held and the watch resumed: no reload was needed
  });

  it('fault: relay closed -> the proxy fences itself while its lease still exists on etcd; reopened -> it re-registers, reloads and unfences', async () => {
    const s = await setup({ ttl: 4, viaRelay: true });
    const leaseBefore = s.driver.state()!.lease.id;
    await s.relay!.close();
    const cutAt = Date.now();
    await waitFor(() => s.runtime.fenced() !== null, 8000, 'fence');
    const fencedAt = Date.now();
    // The control plane still sees the lease (and so the registration): the proxy fenced BEFORE expiry.
    expect((await admin.get(s.paths.proxy(s.id)))?.lease).toBe(leaseBefore);
    expect(s.runtime.fenced()).toMatch(/lost contact with the coordinator/);
    expect(s.driver.state()!.fenced).toBe(s.runtime.fenced());
    expect(fencedAt - cutAt).toBeLessThan(4000);
    // A change made while it is cut off.
    const rev = await s.moveSlot(3, 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(routeOf(s.runtime.last()!, 3).group).toBe(1);
    await s.relay!.reopen();
    const reopenedAt = Date.now();
    await waitFor(() => s.runtime.fenced() === null, 10_000, 'unfence');
    console.log(`relay cut: fenced after ${fencedAt - cutAt} ms; unfenced ${Date.now() - reopenedAt} ms after reopening`);
    expect(routeOf(s.runtime.last()!, 3).group).toBe(2);
    await s.waitAck(rev);
    const rec = await admin.get(s.paths.proxy(s.id));
    expect(rec?.lease).toBe(s.driver.state()!.lease.id);
    expect(s.driver.state()!.resyncs).toBeGreaterThanOrEqual(2);
  });

  it('fault: relay closed past the lease TTL -> etcd expires the registration; reopened -> a new lease, re-registered, unfenced', async () => {
    const s = await setup({ ttl: 3, viaRelay: true });
    const leaseBefore = s.driver.state()!.lease.id;
    await s.relay!.close();
    await waitFor(() => s.runtime.fenced() !== null, 8000, 'fence');
    // Wait until etcd itself dropped the proxy (lease expired): the control plane may now count it as gone.
    const deadline = Date.now() + 15_000;
    while ((await admin.get(s.paths.proxy(s.id))) !== undefined) {
      if (Date.now() > deadline) throw new Error('lease never expired');
      expect(s.runtime.fenced()).not.toBeNull(); // fenced the whole time
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await admin.get(s.paths.ack(s.id))).toBeUndefined();
    const rev = await s.moveSlot(4, 2);
    await s.relay!.reopen();
    await waitFor(() => s.runtime.fenced() === null, 15_000, 'unfence');
    expect(s.driver.state()!.lease.id).not.toBe(leaseBefore);
    // Issue 15: a new lease is a new identity (<id>.2); the old id stays gone.
    expect(s.driver.state()!.proxyId).toBe(`${s.id}.2`);
    expect((await admin.get(s.paths.proxy(`${s.id}.2`)))?.lease).toBe(s.driver.state()!.lease.id);
    expect(await admin.get(s.paths.proxy(s.id))).toBeUndefined();
    expect(routeOf(s.runtime.last()!, 4).group).toBe(2);
    await s.waitAck(rev, 10_000, `${s.id}.2`);
  });

  it('fault: contact lost between the first apply and its ack -> still fenced before the lease expires (the runtime is serving)', async () => {
    const cluster = `fence${++seq}`;
    const paths = clusterPaths(cluster);
    await seedCluster(admin, paths, cluster, [group(1, 7001)], slotsFromRanges([[0, 1023, 1]]));
    const relay = await startTcpRelay(etcd.clientPort);
    cleanups.push(() => relay.stop());
    const coord = new EtcdCoordinator([relay.endpoint]);
    cleanups.push(() => coord.close());
    let cut = false;
    const runtime = new RecordingRuntime(0, async () => {
      if (!cut) {
        cut = true;
        await relay.close(); // the apply succeeds, then nothing reaches etcd: no watch, no ack
      }
    });
    const driver = createFollowerDriver({
      coordinator: coord,
      cluster,
      proxy: { id: 'p-early', addr: '127.0.0.1:1', adminAddr: '127.0.0.1:2' },
      leaseTtlSeconds: 4,
      waitForFirstLoad: false,
    });
    const handle = await driver(runtime);
    cleanups.push(() => handle.stop());
    await waitFor(() => runtime.applied.length === 1, 5000, 'first apply');
    const cutAt = Date.now();
    await waitFor(() => runtime.fenced() !== null, 8000, 'fence');
    expect(Date.now() - cutAt).toBeLessThan(4000);
    expect((await admin.get(paths.proxy('p-early')))?.lease).toBeDefined(); // lease still alive on etcd
    expect(driver.state()!.loaded).toBe(false);
    await relay.reopen();
    await waitFor(() => runtime.fenced() === null && driver.state()!.loaded, 15_000, 'recovery');
    expect(driver.state()!.ackedRevision).toBeGreaterThan(0);
  });

  it('fault: relay frozen (connections open, no bytes move) -> fenced before the lease expires; thawed -> unfenced', async () => {
    const s = await setup({ ttl: 4, viaRelay: true });
    const leaseBefore = s.driver.state()!.lease.id;
    s.relay!.pause();
    const cutAt = Date.now();
    await waitFor(() => s.runtime.fenced() !== null, 8000, 'fence');
    expect(Date.now() - cutAt).toBeLessThan(4000);
    expect((await admin.get(s.paths.proxy(s.id)))?.lease).toBe(leaseBefore);
    s.relay!.resume();
    await waitFor(() => s.runtime.fenced() === null, 15_000, 'unfence');
    const rev = await s.moveSlot(5, 2);
    await s.waitAck(rev);
    expect(routeOf(s.runtime.last()!, 5).group).toBe(2);
  });
});
