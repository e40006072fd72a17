/**
 * Issue 15 hole 7: a MIGRATE on the client path that times out after its RESTORE ran on the target leaves the
 * key on both sides. The proxy resolves the pair at once with the mover's atomic rule (shared/both-sides.ts,
 * through proxy/router/migrate-recovery.ts), so the key ends on exactly one side with the acknowledged value and
 * the slot's migration finishes without repair. Real proxy and redis-servers; the one fake is the network
 * between the source and the target: a TCP relay that delivers MIGRATE's RESTORE but swallows its reply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceMover } from '../../dashboard/migration/mover.js';
import { setLogLevel } from '../../shared/log.js';
import type { SlotRecord, Topology } from '../../shared/model/types.js';
import { slotOfString } from '../../shared/slot.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { RawConn, splitTopology, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

setLogLevel('silent');

let c: Cluster;
let relay: TcpRelay;

// The relay stops once the proxy that used it has stopped (after-hooks run as a stack).
afterAll(async () => {
  await relay?.stop();
});
useProxyCluster({ groups: 2, overrides: { migrate: { timeout: '300ms' } } }, (s) => ({ cluster: c } = s));
beforeAll(async () => {
  relay = await startTcpRelay(c.groups[1]!.port); // group 2's master as the model names it: the relay
});

/** The split topology with group 2's master reached through the relay. */
function topology(changes: Record<number, Partial<SlotRecord>> = {}): Topology {
  const t = splitTopology(c, changes);
  t.groups.set(2, { id: 2, weight: 1, servers: [{ addr: relay.endpoint, role: 'master' }] });
  return t;
}

describe('client-path MIGRATE timeout (hole 7; fake: a relay that swallows the target\'s replies to the source)', () => {
  it('a key left on both sides by the timed-out MIGRATE is resolved at once: the write is acknowledged, the key ends once on the target with its value and expiry, the mover finishes the slot', async () => {
    // Fails before issue 15 hole 7: the client got -IOERR, the key stayed on both sides (the next source-first
    // write would have made the copies differ, and the slot would have stopped with BUSYKEY).
    const key = '{foo}k';
    const other = '{foo}other';
    const slot = slotOfString(key);
    expect(slot).toBeLessThan(512); // group 1 -> 2
    const src = c.direct(0);
    const dst = c.direct(1);
    await src.set(key, 'v1', 'PX', 100_000);
    await src.set(other, 'o'); // left for the mover
    await c.proxy.runtime.applyTopology(topology({ [slot]: { group: 1, action: { state: 'migrating', target: 2, index: 1 } } }));
    const resp3 = await RawConn.open(c.port);
    try {
      resp3.send('*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n');
      const seen = (await resp3.waitFor('+PONG\r\n')).length;
      // The source's MIGRATE connection to the target is the next one through the relay: RESTORE runs, no reply.
      relay.swallowRepliesOfNext(1);
      const before = relay.accepted;
      // RESP3 sessions take the MIGRATE path (MigrateStep), like TTL commands, fan-outs, scripts and MULTI.
      resp3.send('*4\r\n$3\r\nSET\r\n$6\r\n{foo}k\r\n$2\r\nv2\r\n$7\r\nKEEPTTL\r\n');
      const deadline = Date.now() + 5000;
      while (!resp3.received().slice(seen).endsWith('\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(relay.accepted).toBeGreaterThan(before); // the MIGRATE went through the relay
      expect(resp3.received().slice(seen)).toBe('+OK\r\n');
      // Exactly one side, the target, with the acknowledged value and the expiry kept.
      expect(await src.exists(key)).toBe(0);
      expect(await dst.get(key)).toBe('v2');
      expect(await dst.pttl(key)).toBeGreaterThan(90_000);
      // The slot finishes: the mover moves what is left and verifies the source empty for the slot.
      const [result] = await new SourceMover({
        source: { addr: c.groups[0]!.addr },
        slots: [{ slot, target: { addr: c.groups[1]!.addr } }],
        knobs: { migrateTimeoutMs: 2000 },
      }).run();
      expect(result!.error).toBeUndefined();
      expect(result!.state).toBe('done');
      expect(await src.exists(other)).toBe(0);
      expect(await dst.get(other)).toBe('o');
      expect(await dst.get(key)).toBe('v2');
    } finally {
      resp3.close();
      await c.proxy.runtime.applyTopology(splitTopology(c));
      await src.del(key, other);
      await dst.del(key, other);
    }
  });

  it('a MIGRATE that timed out before its RESTORE reached the target: the command fails, the key stays only on the source, unchanged', async () => {
    const key = '{foo}still';
    const slot = slotOfString(key);
    const src = c.direct(0);
    const dst = c.direct(1);
    await src.set(key, 'v1');
    await c.proxy.runtime.applyTopology(topology({ [slot]: { group: 1, action: { state: 'migrating', target: 2, index: 1 } } }));
    const resp3 = await RawConn.open(c.port);
    try {
      resp3.send('*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n');
      const seen = (await resp3.waitFor('+PONG\r\n')).length;
      relay.holdNew(true); // the source's MIGRATE connection moves nothing either way
      resp3.send('*3\r\n$3\r\nSET\r\n$10\r\n{foo}still\r\n$2\r\nv2\r\n');
      const deadline = Date.now() + 5000;
      while (!resp3.received().slice(seen).endsWith('\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      relay.holdNew(false);
      expect(resp3.received().slice(seen)).toMatch(/^-ERR slot \d+ is migrating .*IOERR/);
      expect(await src.get(key)).toBe('v1');
      expect(await dst.exists(key)).toBe(0);
    } finally {
      relay.holdNew(false);
      resp3.close();
      await c.proxy.runtime.applyTopology(splitTopology(c));
      await src.del(key);
      await dst.del(key);
    }
  });
});
