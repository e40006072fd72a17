/**
 * Attack: oversized commands on a migrating slot. Before issue 14, a command with ~125,000+ keys on a
 * migrating slot made the MIGRATE argument builder throw (`push(...keys)` past V8's argument limit) after
 * the session was held and the route's in-flight count raised: no reply ever, the route never drained, the
 * proxy never acknowledged another revision. EXEC of a huge queue threw the same way after taking a
 * dedicated connection (leaked per attempt).
 * Shown here on 2 real groups following a memory:// coordinator, one slot `migrating` (keys moved by
 * migrate-on-access), while a bystander keeps writing to other slots:
 * - EXISTS / DEL of 150,000 keys of that slot answer the right counts, and the slot's later steps
 *   (finished, then owned by the target) are applied and drained by the proxy (putSlots waits for that);
 * - EXEC of 150,000 queued commands on that slot is answered, no dedicated connection stays in use;
 * - a MULTI queue over guard.maxMultiBytes is refused (EXECABORT), its memory released;
 * - the bystander is served throughout (bounded latency) and every write it was acknowledged is there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { slotOf } from '../../shared/slot.js';
import { startCluster, type Cluster } from '../integration/proxy-cluster.js';
import { Clients, figure, rssMb } from './support.js';

const N = 150_000;
let c: Cluster;
const clients = new Clients(() => c.port);
const open = (): Promise<Redis> => clients.open();

beforeAll(async () => {
  c = await startCluster({ groups: 2, coordinator: true, overrides: { guard: { maxMultiBytes: '8mb' } } });
});

afterAll(async () => {
  clients.closeAll();
  await c?.stop();
});

/** Writes to slots other than `avoid` in a loop until stopped; records the worst latency and what was acknowledged. */
function bystander(r: Redis, avoid: number): { stop(): Promise<{ worstMs: number; acked: Map<string, string> }> } {
  let running = true;
  let worstMs = 0;
  const acked = new Map<string, string>();
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const key = `by${i % 500}`;
      if (slotOf(Buffer.from(key)) === avoid) continue;
      const t0 = performance.now();
      await r.set(key, `v${i}`);
      worstMs = Math.max(worstMs, performance.now() - t0);
      acked.set(key, `v${i}`);
      await new Promise((res) => setTimeout(res, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { worstMs, acked };
    },
  };
}

async function checkAcked(r: Redis, acked: Map<string, string>): Promise<void> {
  const keys = [...acked.keys()];
  const values = await r.mget(keys);
  expect(values).toEqual(keys.map((k) => acked.get(k)));
}

describe('oversized commands on a migrating slot', () => {
  it('EXISTS and DEL of 150,000 keys are answered and the migration goes on', async () => {
    const tag = 'big';
    const slot = slotOf(Buffer.from(tag));
    const from = c.groupOfSlot(slot) + 1;
    const to = from === 1 ? 2 : 1;
    const keys = Array.from({ length: N }, (_, i) => `{${tag}}${i}`);
    const r = await open();
    // 2,000 of them exist (on the source) before the slot starts migrating.
    await r.mset(keys.slice(0, 2000).flatMap((k) => [k, 'x']));
    await c.putSlots([{ id: slot, group: from, action: { state: 'migrating', target: to, index: 1 } }]);

    const rss0 = rssMb();
    const by = bystander(await open(), slot);
    let t0 = performance.now();
    expect(await r.exists(keys)).toBe(2000);
    figure('150k-key EXISTS on a migrating slot answered in', performance.now() - t0, ' ms');
    const rssAttack = rssMb();
    t0 = performance.now();
    expect(await r.del(keys)).toBe(2000);
    figure('150k-key DEL on a migrating slot answered in', performance.now() - t0, ' ms');
    // The slot's next steps are applied and drained (a stuck in-flight count would time this out).
    await c.putSlots([{ id: slot, group: from, action: { state: 'finished', target: to, index: 1 } }]);
    await c.putSlots([{ id: slot, group: to }]);
    const { worstMs, acked } = await by.stop();
    figure('bystander worst SET latency during the 150k-key commands', worstMs, ' ms');
    expect(worstMs).toBeLessThan(5000);
    await checkAcked(r, acked);
    expect(await c.direct(from - 1).exists(keys.slice(0, 2000))).toBe(0);
    expect(await c.direct(to - 1).exists(keys.slice(0, 2000))).toBe(0);
    const rss1 = rssMb();
    figure('150k keys: RSS baseline / under attack / after', `${rss0.toFixed(1)} / ${rssAttack.toFixed(1)} / ${rss1.toFixed(1)}`, ' MB');
    expect(c.proxy.runtime.table.drainingRequests()).toBe(0);
  });

  it('EXEC of 150,000 queued commands on a migrating slot is answered; no dedicated connection leaks', async () => {
    const tag = 'tx';
    const slot = slotOf(Buffer.from(tag));
    const from = c.groupOfSlot(slot) + 1;
    const to = from === 1 ? 2 : 1;
    const r = await open();
    await r.set(`{${tag}}0`, 'moved-by-exec');
    await c.putSlots([{ id: slot, group: from, action: { state: 'migrating', target: to, index: 2 } }]);
    const by = bystander(await open(), slot);
    const m = r.multi();
    for (let i = 0; i < N; i++) m.incr(`{${tag}}n${i % 1000}`);
    const t0 = performance.now();
    const res = await m.exec();
    figure('EXEC of 150k queued commands answered in', performance.now() - t0, ' ms');
    expect(res).toHaveLength(N);
    expect(res![N - 1]).toEqual([null, 150]);
    expect(await r.get(`{${tag}}n0`)).toBe('150');
    expect(await c.direct(to - 1).get(`{${tag}}n999`)).toBe('150');
    const { worstMs, acked } = await by.stop();
    expect(worstMs).toBeLessThan(5000);
    await checkAcked(r, acked);
    const stats = c.proxy.runtime.dedicated.stats();
    expect(stats.transaction).toBe(0);
    expect(stats.transactions).toBe(0);
    await c.putSlots([{ id: slot, group: to }]);
  });

  it('a MULTI queue over guard.maxMultiBytes is refused with a clear error, EXEC answers EXECABORT', async () => {
    const r = await open();
    const rss0 = rssMb();
    const m = r.multi();
    const value = 'v'.repeat(1000);
    for (let i = 0; i < 10_000; i++) m.set(`{q}${i}`, value); // ~10 MB > 8mb
    const err = await m.exec().then(
      () => null,
      (e: Error & { previousErrors?: Error[] }) => e,
    );
    expect(err?.message).toMatch(/EXECABORT Transaction discarded because of previous errors/);
    expect(err?.previousErrors?.[0]?.message).toMatch(/^ERR transaction queue over guard.maxMultiBytes \(8388608 bytes\); the transaction is discarded$/);
    expect(await r.exists('{q}0')).toBe(0);
    expect(c.proxy.runtime.metrics.guards.multi_queue).toBeGreaterThan(0);
    figure('MULTI over the limit: RSS before / after', `${rss0.toFixed(1)} / ${rssMb().toFixed(1)}`, ' MB');
    expect(await r.ping()).toBe('PONG');
  });
});
