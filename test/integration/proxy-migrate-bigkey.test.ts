/**
 * Issue 15 hole 7: MIGRATE on the client path (commands that cannot run source-first: TTL, MGET fan-outs,
 * scripts, RESP3, ...), through a real proxy and real redis-servers: a big key is not moved there (it would
 * block the source for the whole transfer and, on a timeout, stay on both sides); the command is refused with
 * -TRYAGAIN and the key stays on the source for the mover.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { SlotRecord, Topology } from '../../shared/model/types.js';
import { slotOfString } from '../../shared/slot.js';
import { splitTopology, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

let c: Cluster;
let io: Redis;

useProxyCluster({ groups: 2, overrides: { migrate: { bigKeyBytes: '1mb' } }, clients: 'ioredis' }, (s) => ({ cluster: c, io } = s));

const topology = (changes: Record<number, Partial<SlotRecord>> = {}): Topology => splitTopology(c, changes);

describe('migrate-on-access big-key guard (hole 7)', () => {
  it('a key over migrate.bigKeyBytes is not MIGRATEd by a client command: TRYAGAIN, the key stays on the source; small keys move', async () => {
    // Fails before issue 15: the client-path MIGRATE moved any key, however big (blocking the source).
    const big = '{foo}big';
    const small = '{foo}small';
    const slot = slotOfString(big);
    expect(slot).toBeLessThan(512); // group 1 -> 2
    const src = c.direct(0);
    const dst = c.direct(1);
    await src.set(big, 'x'.repeat(2 * 1024 * 1024));
    await src.set(small, 'y', 'EX', 100);
    await c.proxy.runtime.applyTopology(topology({ [slot]: { group: 1, action: { state: 'migrating', target: 2, index: 1 } } }));
    try {
      // TTL takes the MIGRATE path (its reply could exceed what Lua carries).
      await expect(io.ttl(big)).rejects.toThrow(/^TRYAGAIN key \{foo\}big of migrating slot \d+ is \d+ bytes, over migrate.bigKeyBytes \(1048576\)/);
      expect(await src.exists(big)).toBe(1);
      expect(await dst.exists(big)).toBe(0);
      // A fan-out naming both: refused as a whole, nothing moved.
      await expect(io.mget(small, big)).rejects.toThrow(/^TRYAGAIN/);
      expect(await src.exists(small)).toBe(1);
      // The small key alone moves and answers.
      expect(await io.ttl(small)).toBeGreaterThan(90);
      expect(await src.exists(small)).toBe(0);
      expect(await dst.get(small)).toBe('y');
    } finally {
      await c.proxy.runtime.applyTopology(topology());
      await src.del(big, small);
      await dst.del(big, small);
    }
  });
});
