/**
 * Topology changes as the coordinator follower applies them (ProxyRuntime.applyTopology): atomic swaps,
 * drains of in-flight requests, locked slots holding a client's pipeline in order, offline slots, fencing,
 * and migrate-on-access: source first (the command runs on the source while its keys are there) and MIGRATE
 * first (keys moved from the source group to the target, then the command runs there).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { SlotRecord, Topology } from '../../shared/model/types.js';
import { slotOfString } from '../../shared/slot.js';
import { RawConn, sleep, splitTopology, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

let c: Cluster;
let io: Redis;

useProxyCluster({ groups: 2, clients: 'ioredis' }, (s) => ({ cluster: c, io } = s));

/** The static layout (slots 0-511 on group 1, 512-1023 on group 2) with some slots changed. */
const topology = (changes: Record<number, Partial<SlotRecord>> = {}): Topology => splitTopology(c, changes);

const SLOW_SCRIPT = `local s = redis.call('TIME'); local t0 = s[1] * 1000000 + s[2]
repeat local t = redis.call('TIME') until (t[1] * 1000000 + t[2]) - t0 > tonumber(ARGV[1]) * 1000
return 1`;

// 'foo' -> slot 289 (group 1), 'bar' -> 170 (group 1), 'user1000' -> 870 (group 2)
const FOO = slotOfString('foo');

describe('locked slots hold, in order, only the clients that touch them', () => {
  it('a client touching a locked slot waits (its later commands too); others are served; unlock releases in order', async () => {
    await io.set('foo', 'v0');
    await c.proxy.runtime.applyTopology(topology({ [FOO]: { group: 1, action: { state: 'prepared', target: 2, index: 1 } } }));
    const held = await RawConn.open(c.port);
    // GET foo (locked slot), then GET user1000 (free slot), then PING: all must wait, in order.
    held.send('*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n*2\r\n$3\r\nGET\r\n$8\r\nuser1000\r\nPING\r\n');
    await io.set('user1000', 'u');
    expect(await io.get('bar')).toBeNull(); // same group, other slot: served
    await sleep(150);
    expect(held.received()).toBe('');
    expect(await fetchJson(`/api/v1/proxy`).then((j) => j.stats.heldSessions)).toBe(1);
    // The migration moves on (the dashboard copied the key already): unlock with the new owner.
    await c.direct(1).set('foo', 'v1');
    await c.proxy.runtime.applyTopology(topology({ [FOO]: { group: 2 } }));
    expect(await held.waitFor('+PONG\r\n')).toBe('$2\r\nv1\r\n$1\r\nu\r\n+PONG\r\n');
    held.close();
    await c.proxy.runtime.applyTopology(topology());
    await c.direct(1).del('foo');
  });
});

describe('applyTopology drains', () => {
  it('resolves only after requests sent under a replaced route are answered; unrelated changes do not wait', async () => {
    const slow = new Redis({ port: c.port, maxRetriesPerRequest: 0 });
    try {
      const t0 = Date.now();
      const running = slow.eval(SLOW_SCRIPT, 1, 'foo', '600');
      await sleep(100);
      // Changing another slot's route does not wait for 'foo''s request.
      await c.proxy.runtime.applyTopology(topology({ [slotOfString('user1000')]: { group: 1 } }));
      expect(Date.now() - t0).toBeLessThan(450);
      // Changing 'foo''s slot waits until the script has answered.
      let drained = false;
      const applying = c.proxy.runtime.applyTopology(topology({ [FOO]: { group: 1, action: { state: 'prepared', target: 2, index: 2 } } }))
        .then(() => (drained = true));
      await sleep(150);
      expect(drained).toBe(false);
      expect(c.proxy.runtime.drainingRequests()).toBe(1);
      expect(await running).toBe(1);
      await applying;
      expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
      expect(c.proxy.runtime.drainingRequests()).toBe(0);
    } finally {
      slow.disconnect();
      await c.proxy.runtime.applyTopology(topology());
    }
  });
});

describe('offline slots and fencing', () => {
  it('an offline slot answers CLUSTERDOWN Hash slot not served; fan-outs touching it too', async () => {
    await c.proxy.runtime.applyTopology(topology({ [FOO]: { group: 0 } }));
    await expect(io.get('foo')).rejects.toThrow('CLUSTERDOWN Hash slot not served');
    await expect(io.mget('bar', 'foo')).rejects.toThrow('CLUSTERDOWN Hash slot not served');
    expect(await io.get('bar')).toBeNull();
    await c.proxy.runtime.applyTopology(topology());
  });

  it('a fenced proxy refuses commands with CLUSTERDOWN <reason> and serves again when unfenced', async () => {
    c.proxy.runtime.setFenced('lease lost: cannot reach the coordinator');
    await expect(io.get('bar')).rejects.toThrow('CLUSTERDOWN lease lost: cannot reach the coordinator');
    expect(await io.ping()).toBe('PONG'); // local commands still answer
    const ready = await fetch(`http://${c.proxy.adminAddr}/readyz`);
    expect(ready.status).toBe(503);
    c.proxy.runtime.setFenced(null);
    expect(await io.get('bar')).toBeNull();
    expect((await fetch(`http://${c.proxy.adminAddr}/readyz`)).status).toBe(200);
  });
});

/** outcome -> count of redslot_proxy_migrate_on_access_total. */
async function outcomes(addr: string | null): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${addr}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^redslot_proxy_migrate_on_access_total\{outcome="(\w+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

describe('migrate-on-access, source first (default)', () => {
  it('runs a command on the source while all its keys are there, else on the target; never creates keys on the source', async () => {
    const src = c.direct(0);
    const dst = c.direct(1);
    await src.set('{foo}a', 'A');
    await src.hset('{foo}h', 'f', 'v');
    await src.set('{foo}n', '5');
    await src.set('{foo}big', '1234567890123456'); // 16 digits: INCR's result could pass 2^53 in Lua
    await src.rpush('{foo}l', 'x', 'y');
    await src.xadd('{foo}s', '1-1', 'f', 'v');
    await dst.set('{foo}moved', 'M'); // as if the mover had moved it already
    await c.proxy.runtime.applyTopology(topology({ [FOO]: { group: 1, action: { state: 'migrating', target: 2, index: 3 } } }));
    const before = await outcomes(c.proxy.adminAddr);
    const delta = async (): Promise<Record<string, number>> => {
      const now = await outcomes(c.proxy.adminAddr);
      return Object.fromEntries(Object.keys(now).map((k) => [k, now[k]! - (before[k] ?? 0)]));
    };

    // Keys on the source: the command runs there, replies byte for byte (status, bulk, integer, arrays with nils, errors).
    expect(await io.get('{foo}a')).toBe('A');
    expect(await io.set('{foo}a', 'A2')).toBe('OK');
    expect(await io.hmget('{foo}h', 'f', 'nope', 'f')).toEqual(['v', null, 'v']);
    expect(await io.incr('{foo}n')).toBe(6);
    expect(await io.lrange('{foo}l', 0, -1)).toEqual(['x', 'y']);
    await expect(io.incr('{foo}h')).rejects.toThrow(/^WRONGTYPE Operation against a key holding the wrong kind of value$/);
    await expect(io.set('{foo}a', 'v', 'EX', -5)).rejects.toThrow(/^ERR invalid expire time in 'set' command$/);
    expect(await src.get('{foo}a')).toBe('A2');
    expect(await src.get('{foo}n')).toBe('6');
    expect(await dst.exists('{foo}a', '{foo}h', '{foo}n', '{foo}l')).toBe(0);
    expect(await delta()).toMatchObject({ source: 7, target: 0, migrate: 0, failed: 0 });
    // The proxy sends EVALSHA; a source that lost the script (SCRIPT FLUSH, restart) gets it again by EVAL.
    await src.script('FLUSH');
    expect(await io.get('{foo}n')).toBe('6');
    expect(await delta()).toMatchObject({ source: 8, failed: 0 });

    // No key on the source (moved, or new): straight to the target; nothing is created on the source.
    expect(await io.get('{foo}moved')).toBe('M');
    expect(await io.set('{foo}new', 'N')).toBe('OK');
    expect(await dst.get('{foo}new')).toBe('N');
    expect(await src.exists('{foo}new')).toBe(0);
    expect(await delta()).toMatchObject({ source: 8, target: 2, migrate: 0 });

    // MIGRATE path: some keys on each side (RENAME to a new name), an INCR whose result could pass 2^53,
    // a command whose reply Lua would change (streams).
    expect(await io.rename('{foo}a', '{foo}b')).toBe('OK');
    expect(await dst.get('{foo}b')).toBe('A2');
    expect(await src.exists('{foo}a', '{foo}b')).toBe(0);
    expect(await io.incr('{foo}big')).toBe(1234567890123457);
    expect(await dst.get('{foo}big')).toBe('1234567890123457');
    expect(await io.xlen('{foo}s')).toBe(1);
    expect(await dst.xlen('{foo}s')).toBe(1);
    expect(await src.exists('{foo}big', '{foo}s')).toBe(0);
    expect(await delta()).toMatchObject({ source: 8, target: 2, migrate: 3, failed: 0 });

    // One client's pipeline keeps its order across both paths.
    const p = io.pipeline();
    p.set('{foo}n', '10'); // source
    p.get('{foo}n');
    p.set('{foo}q', 'Q'); // target (new)
    p.get('{foo}q');
    p.incr('{foo}n');
    p.rename('{foo}n', '{foo}q'); // both sides: MIGRATE path
    p.get('{foo}q');
    expect((await p.exec())!.map(([, v]) => v)).toEqual(['OK', '10', 'OK', 'Q', 11, 'OK', '11']);
    expect(await src.exists('{foo}n', '{foo}q')).toBe(0);

    await c.proxy.runtime.applyTopology(topology({ [FOO]: { group: 2 } }));
    for (const d of [src, dst]) await d.del('{foo}a', '{foo}b', '{foo}h', '{foo}n', '{foo}big', '{foo}l', '{foo}s', '{foo}moved', '{foo}new', '{foo}q');
    await c.proxy.runtime.applyTopology(topology());
  });
});

describe('migrate-on-access, MIGRATE first (migrate.sourceFirst: false)', () => {
  let mc: Cluster;
  let mio: Redis;
  useProxyCluster({ groups: 2, overrides: { migrate: { sourceFirst: false } }, clients: 'ioredis' }, (s) => ({ cluster: mc, io: mio } = s));
  const topology = (changes: Record<number, Partial<SlotRecord>> = {}): Topology => splitTopology(mc, changes);

  it('moves the keys a command names from source to target, then runs it on the target', async () => {
    const c = mc;
    const io = mio;
    const src = c.direct(0);
    const dst = c.direct(1);
    // Keys in the slot of 'foo' (group 1), to be migrated to group 2.
    await src.set('{foo}a', 'A');
    await src.hset('{foo}h', 'f', 'v');
    await src.set('{foo}c', 'C');
    await src.set('bar', 'not-migrating');
    await c.proxy.runtime.applyTopology(topology({ [FOO]: { group: 1, action: { state: 'migrating', target: 2, index: 3 } } }));

    expect(await io.get('{foo}a')).toBe('A');
    expect(await src.exists('{foo}a')).toBe(0);
    expect(await dst.get('{foo}a')).toBe('A');

    expect(await io.hset('{foo}h', 'g', 'w')).toBe(1);
    expect(await dst.hgetall('{foo}h')).toEqual({ f: 'v', g: 'w' });
    expect(await src.exists('{foo}h')).toBe(0);

    // A key that is nowhere yet is simply created on the target (MIGRATE said NOKEY).
    expect(await io.set('{foo}new', 'N')).toBe('OK');
    expect(await dst.get('{foo}new')).toBe('N');

    // Fan-out mixing a migrating slot and a normal one; pipelined order kept for the same client.
    const p = io.pipeline();
    p.mget('{foo}c', 'bar', '{foo}a');
    p.set('{foo}c', 'C2');
    p.get('{foo}c');
    p.get('bar');
    expect((await p.exec())!.map(([, v]) => v)).toEqual([['C', 'not-migrating', 'A'], 'OK', 'C2', 'not-migrating']);
    expect(await src.exists('{foo}c')).toBe(0);
    expect(await src.get('bar')).toBe('not-migrating');

    // A key on both sides is an invariant violation: the command is not run, the client gets one error.
    await src.set('{foo}dup', 'src');
    await dst.set('{foo}dup', 'dst');
    await expect(io.get('{foo}dup')).rejects.toThrow(/ERR slot \d+ is migrating and moving the keys of this command from .* to .* failed: .*BUSYKEY/);
    expect(await io.ping()).toBe('PONG');

    await c.proxy.runtime.applyTopology(topology({ [FOO]: { group: 2 } }));
    expect(await io.get('{foo}a')).toBe('A');
    await dst.del('{foo}a', '{foo}h', '{foo}new', '{foo}c', '{foo}dup');
    await src.del('{foo}dup', 'bar');
    await c.proxy.runtime.applyTopology(topology());
  });
});

describe('servers that leave the topology', () => {
  it('a slot moved to another group is served there at once; connections to a removed server are closed', async () => {
    const extra = await import('../support/redis-server.js').then((m) => m.startRedis());
    try {
      const t = topology();
      t.groups.set(3, { id: 3, weight: 1, servers: [{ addr: extra.addr, role: 'master' }] });
      t.slots[FOO] = { id: FOO, group: 3 };
      await c.proxy.runtime.applyTopology(t);
      expect(await io.set('foo', 'on3')).toBe('OK');
      const direct = new Redis({ port: extra.port });
      try {
        expect(await direct.get('foo')).toBe('on3');
        const proxyConns = async () => ((await direct.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => l.includes('name=redslot-proxy')).length;
        expect(await proxyConns()).toBe(1);
        await c.proxy.runtime.applyTopology(topology());
        let n = 1;
        for (let i = 0; i < 40 && n > 0; i++) {
          await sleep(25);
          n = await proxyConns();
        }
        expect(n).toBe(0);
      } finally {
        direct.disconnect();
      }
    } finally {
      await extra.stop();
    }
  });
});

async function fetchJson(p: string): Promise<{ stats: { heldSessions: number } }> {
  const r = await fetch(`http://${c.proxy.adminAddr}${p}`);
  return (await r.json()) as { stats: { heldSessions: number } };
}
