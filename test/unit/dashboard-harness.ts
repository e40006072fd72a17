/**
 * Helpers for dashboard tests: a dashboard app on a fresh memory:// coordinator (inject()), seeding the model
 * directly in the coordinator, and registering proxies the way the proxy follower does (leased record + ack).
 */
import { randomBytes } from 'node:crypto';
import { build, type App } from '../../dashboard/app.js';
import type { DashboardOptions } from '../../dashboard/context.js';
import { dropMemoryStore, openCoordinator } from '../../shared/coordinator/index.js';
import type { Coordinator, Lease } from '../../shared/coordinator/types.js';
import { setLogLevel } from '../../shared/log.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import type { GroupRecord, ProxyAck, ProxyRecord, SlotRecord } from '../../shared/model/types.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'debug' | undefined) ?? 'silent');

export const OPERATOR = 'operator-token-0123456789';
export const VIEWER = 'viewer-token-0123456789';
export const AUTH = { authorization: `Bearer ${OPERATOR}` };
export const VIEWER_AUTH = { authorization: `Bearer ${VIEWER}` };

export interface Harness {
  app: App;
  coord: Coordinator;
  paths: ClusterPaths;
  cluster: string;
  close(): Promise<void>;
}

export function uniqueCluster(prefix = 'dash'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A dashboard app (ready, leader once the election ran) on the memory store of `cluster`. */
export async function makeDashboard(cluster = uniqueCluster(), extra: Partial<DashboardOptions> = {}): Promise<Harness> {
  const { coordinator, paths } = await openCoordinator(`memory://${cluster}`);
  const app = await build({
    coordinator,
    paths,
    cluster,
    tokens: [
      { name: 'alice', token: OPERATOR, role: 'operator' },
      { name: 'grafana', token: VIEWER, role: 'viewer' },
    ],
    stats: false,
    leaseTtlMs: 2000,
    barrierTimeoutMs: 2000,
    dialTimeoutMs: 500,
    advertise: `dash.${cluster}:18080`,
    ...extra,
  });
  await app.ready();
  return {
    app,
    coord: coordinator,
    paths,
    cluster,
    async close() {
      await app.close();
      await coordinator.close();
    },
  };
}

/** Resolves when `cond()` is true; fails after timeoutMs. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function seedGroup(h: { coord: Coordinator; paths: ClusterPaths }, g: Partial<GroupRecord> & { id: number }): Promise<number> {
  const rec: GroupRecord = { servers: [], weight: 1, ...g };
  return h.coord.put(h.paths.group(g.id), JSON.stringify(rec));
}

export async function seedSlots(h: { coord: Coordinator; paths: ClusterPaths }, from: number, to: number, group: number, action?: SlotRecord['action']): Promise<number> {
  let rev = 0;
  for (let s = from; s <= to; s++) {
    const rec: SlotRecord = action ? { id: s, group, action } : { id: s, group };
    rev = await h.coord.put(h.paths.slot(s), JSON.stringify(rec));
  }
  return rev;
}

export interface FakeProxyRegistration {
  lease: Lease;
  ack(revision: number): Promise<void>;
}

/**
 * Registers a proxy record + ack under a lease, as the proxy's coordinator follower does. For tests that need
 * control over acks (barrier behaviour); tests of the real proxy use proxy/topology/follower.ts.
 */
export async function registerProxy(h: { coord: Coordinator; paths: ClusterPaths }, id: string, adminAddr: string, ackRevision: number | null, ttlSeconds = 2): Promise<FakeProxyRegistration> {
  const lease = await h.coord.grantLease(ttlSeconds);
  const rec: ProxyRecord = { id, addr: `127.0.0.1:1${id.length}`, adminAddr, version: 'test', startedAt: new Date().toISOString(), pid: process.pid, hostname: 'test' };
  await h.coord.put(h.paths.proxy(id), JSON.stringify(rec), { lease: lease.id });
  const ack = async (revision: number) => {
    const a: ProxyAck = { revision, at: new Date().toISOString() };
    await h.coord.put(h.paths.ack(id), JSON.stringify(a), { lease: lease.id });
  };
  if (ackRevision !== null) await ack(ackRevision);
  return { lease, ack };
}

export { dropMemoryStore };
