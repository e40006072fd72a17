/**
 * Issue 15 hole 8: FLUSHALL / FLUSHDB during a migration, through a real proxy and real redis-servers (two
 * groups). The topology is applied the way the coordinator follower does (ProxyRuntime.applyTopology).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { SlotRecord, Topology } from '../../shared/model/types.js';
import { slotOfString } from '../../shared/slot.js';
import { sleep, splitTopology, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

let c: Cluster;
let io: Redis;

useProxyCluster({ groups: 2, clients: 'ioredis' }, (s) => ({ cluster: c, io } = s));

const topology = (changes: Record<number, Partial<SlotRecord>> = {}): Topology => splitTopology(c, changes);

const FOO = slotOfString('foo'); // group 1
const SLOW_SCRIPT = `local s = redis.call('TIME'); local t0 = s[1] * 1000000 + s[2]
repeat local t = redis.call('TIME') until (t[1] * 1000000 + t[2]) - t0 > tonumber(ARGV[1]) * 1000
return 1`;

describe('FLUSHALL / FLUSHDB while slots move (hole 8)', () => {
  it('refused with a clear error while a slot has a migration action (queued, migrating, held); nothing is flushed on any group', async () => {
    // Fails before issue 15: the flush ran group by group while keys moved between the groups.
    await io.set('foo', 'a');
    await io.set('user1000', 'b'); // group 2
    for (const state of ['pending', 'migrating', 'prepared'] as const) {
      await c.proxy.runtime.applyTopology(topology({ [FOO]: { group: 1, action: { state, target: 2, index: 1 } } }));
      await expect(io.flushall()).rejects.toThrow(/FLUSHALL' refused while slots are migrating \(1 slots moving or held\)/);
      await expect(io.flushdb()).rejects.toThrow(/FLUSHDB' refused while slots are migrating/);
      expect(await c.direct(1).get('user1000')).toBe('b');
      expect(await c.direct(0).get('foo')).toBe('a');
    }
    await c.proxy.runtime.applyTopology(topology());
    expect(await io.flushall()).toBe('OK'); // no migration: allowed again
    expect(await c.direct(1).dbsize()).toBe(0);
  });

  it('a flush in flight holds every slot: a route change (the prepared step) is not acknowledged before every master flushed', async () => {
    // Fails before issue 15: the broadcast held no route, so the apply (and the ack the barrier waits for)
    // resolved while the flush had not yet reached group 2, and the migration could start moving keys.
    await c.proxy.runtime.applyTopology(topology());
    const blocker = c.direct(1);
    const t0 = Date.now();
    const busy = blocker.eval(SLOW_SCRIPT, 0, '600'); // group 2's master is busy for 600 ms
    await sleep(50);
    const flushing = io.flushall();
    await sleep(50);
    let applied = false;
    const applying = c.proxy.runtime.applyTopology(topology({ [FOO]: { group: 1, action: { state: 'prepared', target: 2, index: 2 } } })).then(() => (applied = true));
    await sleep(200);
    expect(applied).toBe(false);
    expect(await flushing).toBe('OK');
    await applying;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    await busy;
    await c.proxy.runtime.applyTopology(topology());
  });
});
