/**
 * The barrier on the memory coordinator: it waits for every proxy with a live lease to ack >= revision,
 * ignores proxies whose lease is gone, and times out naming the laggards. Also the config, auth and metrics
 * helpers that need no server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TokenAuth } from '../../dashboard/auth.js';
import { parseDashboardConfig, loadDashboardConfig } from '../../dashboard/config.js';
import { dashboardMetricNames } from '../../dashboard/metrics/dashboard.js';
import { barrierState, waitForAcks } from '../../dashboard/topom/barrier.js';
import { slotRanges } from '../../dashboard/topom/store.js';
import { openCoordinator } from '../../shared/coordinator/index.js';
import type { Coordinator } from '../../shared/coordinator/types.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import { registerProxy, uniqueCluster } from './dashboard-harness.js';

const coords: Coordinator[] = [];
async function store(): Promise<{ coord: Coordinator; paths: ClusterPaths }> {
  const { coordinator, paths } = await openCoordinator(`memory://${uniqueCluster('barrier')}`);
  coords.push(coordinator);
  return { coord: coordinator, paths };
}
afterEach(async () => {
  await Promise.all(coords.splice(0).map((c) => c.close()));
});

describe('barrier', () => {
  it('passes at once with no proxies, and when every live proxy acked the revision or later', async () => {
    const h = await store();
    expect((await waitForAcks(h.coord, h.paths, 100, { timeoutMs: 100 })).proxies).toEqual([]);
    await registerProxy(h, 'a', '127.0.0.1:1', 100);
    await registerProxy(h, 'b', '127.0.0.1:1', 105);
    const r = await waitForAcks(h.coord, h.paths, 100, { timeoutMs: 100 });
    expect(r.proxies.sort()).toEqual(['a', 'b']);
  });

  it('waits for a lagging proxy and returns once it acks', async () => {
    const h = await store();
    const a = await registerProxy(h, 'a', '127.0.0.1:1', 5);
    const started = Date.now();
    setTimeout(() => void a.ack(10), 150);
    const r = await waitForAcks(h.coord, h.paths, 10, { timeoutMs: 3000, pollMs: 10 });
    expect(r.waitedMs).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('times out with an error naming every laggard and what it acked', async () => {
    const h = await store();
    await registerProxy(h, 'slow', '127.0.0.1:1', 3);
    await registerProxy(h, 'silent', '127.0.0.1:1', null);
    await registerProxy(h, 'fine', '127.0.0.1:1', 9);
    const err = await waitForAcks(h.coord, h.paths, 9, { timeoutMs: 120, pollMs: 20 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REDSLOT_ERR_BARRIER_TIMEOUT' });
    expect((err as Error).message).toBe('barrier for revision 9 timed out after 120 ms; proxies not acknowledged: silent (acked nothing), slow (acked 3)');
  });

  it('does not wait for a proxy whose lease is gone', async () => {
    const h = await store();
    const dead = await registerProxy(h, 'dead', '127.0.0.1:1', 1);
    await registerProxy(h, 'live', '127.0.0.1:1', 50);
    expect((await barrierState(h.coord, h.paths, 50)).laggards.map((l) => l.id)).toEqual(['dead']);
    setTimeout(() => void dead.lease.revoke(), 100);
    const r = await waitForAcks(h.coord, h.paths, 50, { timeoutMs: 3000, pollMs: 10 });
    expect(r.proxies).toEqual(['live']);
  });

  it('stops when its signal aborts', async () => {
    const h = await store();
    await registerProxy(h, 'x', '127.0.0.1:1', 1);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('lost leadership')), 50);
    await expect(waitForAcks(h.coord, h.paths, 2, { timeoutMs: 5000, signal: ac.signal })).rejects.toThrow('lost leadership');
  });
});

describe('token auth', () => {
  const auth = new TokenAuth([
    { name: 'alice', token: 'alice-secret-1', role: 'operator' },
    { name: 'bob', token: 'bob-secret-22', role: 'viewer' },
  ]);
  it('matches only exact bearer tokens, of any length', () => {
    expect(auth.check('Bearer alice-secret-1')).toEqual({ name: 'alice', role: 'operator' });
    expect(auth.check('Bearer bob-secret-22')).toEqual({ name: 'bob', role: 'viewer' });
    for (const bad of [undefined, '', 'Bearer', 'Bearer alice-secret-', 'Bearer alice-secret-10', 'Basic alice-secret-1', 'alice-secret-1', 'Bearer alice-secret-1 extra']) {
      expect(auth.check(bad), String(bad)).toBeUndefined();
    }
  });
});

describe('config', () => {
  it('takes the token from flags, env (REDSLOT_DASHBOARD_TOKEN) or the file, and refuses to run without one', () => {
    expect(loadDashboardConfig({ coordinator: 'memory://x' }, { REDSLOT_DASHBOARD_TOKEN: 'from-env-123' }).tokens).toEqual([{ name: 'operator', token: 'from-env-123', role: 'operator' }]);
    expect(loadDashboardConfig({ coordinator: 'memory://x', token: 'from-flag-1' }, { REDSLOT_DASHBOARD_TOKEN: 'from-env-123' }).tokens[0]!.token).toBe('from-flag-1');
    expect(() => parseDashboardConfig({ coordinator: 'memory://x' })).toThrow(/no token configured/);
    expect(() => parseDashboardConfig({ token: 't0123456789' })).toThrow(/coordinator: required/);
    const c = parseDashboardConfig({ coordinator: 'memory://x', tokens: [{ name: 'v', token: 'viewer-123456', role: 'viewer' }], leaseTtl: '3s', listen: '0.0.0.0:0' });
    expect(c).toMatchObject({ leaseTtlMs: 3000, listen: '0.0.0.0:0', openReads: false, tokens: [{ name: 'v', role: 'viewer' }] });
    expect(() => parseDashboardConfig({ coordinator: 'memory://x', tokens: [{ token: 'short' }] })).toThrow(/at least 8/);
    expect(() => parseDashboardConfig({ coordinator: 'memory://x', token: 'abcdefgh1', listen: 'nope' })).toThrow(/listen/);
  });
});

describe('metrics names', () => {
  it('lists every dashboard metric with the redslot_dashboard_ prefix', () => {
    const names = dashboardMetricNames();
    expect(names).toContain('redslot_dashboard_barrier_wait_seconds');
    expect(names).toContain('redslot_dashboard_is_leader');
    expect(names).toContain('redslot_dashboard_operations_total');
    expect(names.every((n) => n.startsWith('redslot_dashboard_'))).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });
});

it('slotRanges compresses runs per group', () => {
  const slots = [0, 0, 1, 1, 1, 2, 0].map((group, id) => ({ id, group }));
  expect(slotRanges(slots)).toEqual([
    { from: 2, to: 4, group: 1 },
    { from: 5, to: 5, group: 2 },
  ]);
  expect(slotRanges(slots, true)).toHaveLength(4);
});
