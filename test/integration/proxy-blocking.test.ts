/**
 * Blocking commands through the proxy on real redis-servers: every blocking command on a dedicated
 * connection, timeouts honoured by the backend, one client's order kept, 200 concurrent BLPOP clients on
 * one proxy released by pushes made through ANOTHER proxy, a disconnecting blocked client releasing its
 * connection (the backend forgets the command), the pool limit, blocked clients woken and re-blocked on the
 * new owner when their slot migrates (memory:// coordinator), and WAIT.
 */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis } from '../support/redis-server.js';
import { slotOfString } from '../../shared/slot.js';
import { keysForEveryGroup, RawConn, sleep, startCluster, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

let c: Cluster;
const cleanups: Array<() => unknown> = [];

useProxyCluster({ groups: 3, proxies: 2, coordinator: true }, (s) => ({ cluster: c } = s));
afterAll(async () => {
  for (const f of cleanups.reverse()) await f();
});

function io(proxy = 0, port?: number): Redis {
  const r = new Redis({ port: port ?? c.proxies[proxy]!.port, maxRetriesPerRequest: 0 });
  cleanups.push(() => r.disconnect());
  return r;
}

// Generous: CI runs this beside other suites on 2 shared cores; a pass takes well under a second.
async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A pending command a failed expectation may leave behind: its rejection at cleanup must not be "unhandled". */
function pending<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

const stats = (proxy = 0) => c.proxies[proxy]!.runtime.dedicated.stats();

/** Clients blocked in `cmd` on group g's redis-server (CLIENT LIST, flags=b). */
async function blockedOn(g: number, cmd = 'blpop'): Promise<number> {
  const list = (await c.direct(g).call('CLIENT', 'LIST')) as string;
  return list.split('\n').filter((l) => / flags=b /.test(l) && l.includes(`cmd=${cmd}`)).length;
}

describe('blocking commands', () => {
  it('each kind blocks on the slot\'s group and returns what Redis returns; timeouts are the backend\'s', async () => {
    const r = io();
    const pusher = io(1);
    const t0 = Date.now();
    expect(await r.blpop('b:empty', 0.2)).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    const cases: Array<[() => Promise<unknown>, () => Promise<unknown>, unknown]> = [
      [() => r.brpop('b:l', 5), () => pusher.rpush('b:l', 'x'), ['b:l', 'x']],
      [() => r.brpoplpush('{b}s', '{b}d', 5), () => pusher.rpush('{b}s', 'y'), 'y'],
      [() => r.blmove('{b}d', '{b}e', 'LEFT', 'RIGHT', 5), () => Promise.resolve(), 'y'],
      [() => r.call('BLMPOP', '5', '2', '{b}m1', '{b}m2', 'LEFT'), () => pusher.rpush('{b}m2', 'z'), ['{b}m2', ['z']]],
      [() => r.bzpopmin('b:z', 5), () => pusher.zadd('b:z', 1, 'm'), ['b:z', 'm', '1']],
      [() => r.call('BZMPOP', '5', '1', 'b:z2', 'MAX'), () => pusher.zadd('b:z2', 2, 'n'), ['b:z2', [['n', '2']]]],
      [() => r.xread('BLOCK', 5000, 'STREAMS', 'b:s', '$'), () => pusher.xadd('b:s', '1-1', 'f', 'v'), [['b:s', [['1-1', ['f', 'v']]]]]],
    ];
    for (const [block, push, want] of cases) {
      const p = pending(block());
      await sleep(30);
      await push();
      expect(await p).toEqual(want);
    }
    await pusher.xgroup('CREATE', 'b:s', 'g', '$');
    const grp = pending(r.xreadgroup('GROUP', 'g', 'c1', 'BLOCK', 5000, 'STREAMS', 'b:s', '>'));
    await sleep(30);
    await pusher.xadd('b:s', '2-1', 'a', 'b');
    expect(await grp).toEqual([['b:s', [['2-1', ['a', 'b']]]]]);
    // Keys must share a slot, like Redis Cluster.
    await expect(r.blpop('b:a', 'b:b', 1)).rejects.toThrow("CROSSSLOT Keys in request don't hash to the same slot");
    // XREAD without BLOCK is an ordinary read (no dedicated connection).
    const before = stats().blocking + stats().idle;
    expect(await r.xread('STREAMS', 'b:s', '0')).toHaveLength(1);
    expect(stats().blocking + stats().idle).toBe(before);
    await r.del('b:l', '{b}s', '{b}d', '{b}e', '{b}m2', 'b:z', 'b:z2', 'b:s');
  });

  it('keeps one client\'s order: a push pipelined before BLPOP is seen by it; commands after it wait for its reply', async () => {
    const conn = await RawConn.open(c.port);
    cleanups.push(() => conn.close());
    conn.send('DEL o:q\r\nLPUSH o:q first\r\nBLPOP o:q 0\r\nBLPOP o:q 0\r\nSET o:after 1\r\nGET o:after\r\n');
    await conn.waitFor('first\r\n');
    await sleep(100);
    expect(conn.received()).toBe(':0\r\n:1\r\n*2\r\n$3\r\no:q\r\n$5\r\nfirst\r\n'); // SET/GET wait behind the 2nd BLPOP
    await io(1).rpush('o:q', 'second');
    expect(await conn.waitFor('$1\r\n1\r\n')).toBe(':0\r\n:1\r\n*2\r\n$3\r\no:q\r\n$5\r\nfirst\r\n*2\r\n$3\r\no:q\r\n$6\r\nsecond\r\n+OK\r\n$1\r\n1\r\n');
    await io().del('o:after');
  });

  it('200 concurrent BLPOP clients on one proxy are released by pushes made through another proxy', async () => {
    const queues = keysForEveryGroup(c, 4, 'q200:'); // 12 queues over the 3 groups
    const clients = Array.from({ length: 200 }, () => new Redis({ port: c.proxies[0]!.port, maxRetriesPerRequest: 0, lazyConnect: true }));
    const base = stats(0).blocking;
    // If an expectation below fails, the 200 clients must not stay blocked into the next tests (they count
    // blocked clients), nor turn into 200 unhandled "Connection is closed" rejections.
    const release = async (): Promise<void> => {
      clients.forEach((x) => x.disconnect());
      await waitUntil(() => stats(0).blocked === 0 && stats(0).blocking === base, 'the 200 clients released');
    };
    try {
      await blpop200(clients, queues, base);
    } finally {
      await release();
    }
  });

  async function blpop200(clients: Redis[], queues: string[], base: number): Promise<void> {
    await Promise.all(clients.map((x) => x.connect()));
    const results = clients.map((x, i) => x.blpop(queues[i % queues.length]!, 0));
    results.forEach((p) => pending(p));
    await waitUntil(() => stats(0).blocked === 200, `200 blocked clients (have ${stats(0).blocked})`);
    expect(stats(0).blocking).toBe(base + 200);
    let onBackends = 0;
    for (let g = 0; g < 3; g++) onBackends += await blockedOn(g);
    expect(onBackends).toBe(200);
    const pusher = io(1);
    for (let i = 0; i < 200; i++) await pusher.rpush(queues[i % queues.length]!, `v${i}`);
    const got = await Promise.all(results);
    const values = got.map((g) => g![1]).sort();
    expect(values).toEqual(Array.from({ length: 200 }, (_, i) => `v${i}`).sort());
    expect(got.every((g, i) => g![0] === queues[i % queues.length])).toBe(true);
    await waitUntil(() => stats(0).blocked === 0 && stats(0).blocking === base, 'connections back');
  }

  it('node-redis blocking pops work too (an isolated connection per blocked call)', async () => {
    const nr = createClient({ socket: { port: c.proxies[0]!.port, reconnectStrategy: false } });
    nr.on('error', () => {});
    await nr.connect();
    cleanups.push(() => nr.close().catch(() => {}));
    const p = pending(nr.blPop('q200:nr', 5));
    await sleep(50);
    await io(1).rpush('q200:nr', 'from-nr');
    expect(await p).toEqual({ key: 'q200:nr', element: 'from-nr' });
  });

  it('a blocked client that disconnects releases its dedicated connection, and the backend forgets the command', async () => {
    const g = c.groupOfKey('gone:q');
    const base = stats().blocking;
    const conn = await RawConn.open(c.port);
    conn.send('BLPOP gone:q 0\r\n');
    await waitUntil(() => stats().blocking === base + 1, 'blocked');
    await waitUntil(async () => (await blockedOn(g)) === 1, 'blocked on the backend');
    conn.close();
    await waitUntil(() => stats().blocking === base && stats().blocked === 0, 'connection released');
    await waitUntil(async () => (await blockedOn(g)) === 0, 'the backend forgot it');
    // A push now stays in the list: nobody popped it on the gone client's behalf.
    await io().rpush('gone:q', 'kept');
    expect(await io().lrange('gone:q', 0, -1)).toEqual(['kept']);
    const metrics = await (await fetch(`http://${c.proxy.adminAddr}/metrics`)).text();
    expect(metrics).toContain(`redslot_proxy_upstream_dedicated_cx_active{use="blocking"} ${base}`);
    await io().del('gone:q');
  });

  it('backend.maxDedicated: a blocking command that finds no connection left gets an error at once', async () => {
    const small = await startCluster({ groups: 1, overrides: { backend: { maxDedicated: 2 } } });
    cleanups.push(() => small.stop());
    const blocked = [io(0, small.port), io(0, small.port)];
    const waiting = blocked.map((b) => pending(b.blpop('lim:q', 0)));
    await waitUntil(() => small.proxy.runtime.dedicated.stats().blocking === 2, 'two blocked');
    const third = io(0, small.port);
    await expect(third.blpop('lim:q', 0)).rejects.toThrow(
      'no dedicated backend connection left for a blocking command (backend.maxDedicated / backend.maxDedicatedPerServer reached); try again later',
    );
    expect(await third.set('lim:x', '1')).toBe('OK'); // shared connections unaffected
    await third.rpush('lim:q', 'a', 'b');
    expect((await Promise.all(waiting)).map((x) => x![1]).sort()).toEqual(['a', 'b']);
  });
});

describe('blocked clients when their slot migrates', () => {
  it('are woken at the locked step and block again on the new owner; a push there releases them', async () => {
    const key = '{mv}q';
    const slot = slotOfString(key);
    const from = c.groupOfSlot(slot) + 1;
    const to = (from % 3) + 1;
    let index = 9000;
    const r = io(0);
    const p = pending(r.blpop(key, 0));
    await waitUntil(async () => (await blockedOn(from - 1)) === 1, 'blocked on the source');
    await c.putSlots([{ id: slot, group: from, action: { state: 'prepared', target: to, index: ++index } }]);
    // Woken on the source by the locked step (the ack came after it); waiting in the proxy now.
    expect(await blockedOn(from - 1)).toBe(0);
    expect(stats().blocked).toBe(1);
    await c.putSlots([{ id: slot, group: from, action: { state: 'migrating', target: to, index: ++index } }]);
    await waitUntil(async () => (await blockedOn(to - 1)) === 1, 'blocked again on the target');
    // The push through the other proxy goes to the new owner and releases the client.
    await io(1).rpush(key, 'after-move');
    expect(await p).toEqual([key, 'after-move']);
    await c.putSlots([{ id: slot, group: from, action: { state: 'finished', target: to, index: index + 1 } }]);
    await c.putSlots([{ id: slot, group: to }]);
    await c.putSlots([{ id: slot, group: from }]);
  });

  it('an element pushed while the client is blocked is popped once, and the timeout counts from the first send', async () => {
    const key = '{mv2}q';
    const slot = slotOfString(key);
    const from = c.groupOfSlot(slot) + 1;
    const to = (from % 3) + 1;
    let index = 9500;
    const r = io(0);
    const t0 = Date.now();
    const p = pending(r.blpop(key, 1.5));
    await waitUntil(async () => (await blockedOn(from - 1)) === 1, 'blocked');
    await c.putSlots([{ id: slot, group: from, action: { state: 'prepared', target: to, index: ++index } }]);
    await sleep(200);
    await c.putSlots([{ id: slot, group: from, action: { state: 'migrating', target: to, index: ++index } }]);
    expect(await p).toBeNull(); // times out once, after ~1.5 s in all (not 1.5 s after the re-issue)
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(2300);
    await c.putSlots([{ id: slot, group: from, action: { state: 'finished', target: to, index: ++index } }]);
    await c.putSlots([{ id: slot, group: to }]);
    // A blocked pop across a move pops exactly one element.
    const q = pending(io(0).blpop(key, 0));
    await waitUntil(async () => (await blockedOn(to - 1)) === 1, 'blocked on the new owner');
    await c.putSlots([{ id: slot, group: to, action: { state: 'prepared', target: from, index: ++index } }]);
    const push = pending(io(1).rpush(key, 'one', 'two')); // held by the other proxy until the slot unlocks
    await sleep(50);
    await c.putSlots([{ id: slot, group: to, action: { state: 'migrating', target: from, index: ++index } }]);
    expect(await push).toBe(2);
    expect(await q).toEqual([key, 'one']);
    expect(await io(1).lrange(key, 0, -1)).toEqual(['two']);
    await c.putSlots([{ id: slot, group: to, action: { state: 'finished', target: from, index: index + 1 } }]);
    await c.putSlots([{ id: slot, group: from }]);
    await io(0).del(key);
  });
});

describe('WAIT', () => {
  it('waits on every master; with replicas it counts those that acknowledged', async () => {
    const r = io();
    await r.set('w:k', '1');
    expect(await r.call('WAIT', '0', '100')).toBe(0);
    const t0 = Date.now();
    expect(await r.call('WAIT', '1', '150')).toBe(0); // no replica anywhere: times out
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    // One group with one replica: WAIT 1 returns 1 once the replica has the write.
    const one = await startCluster({ groups: 1 });
    cleanups.push(() => one.stop());
    await one.direct(0).config('SET', 'repl-diskless-sync-delay', '0'); // full sync at once
    const replica = await startRedis(['--replicaof', '127.0.0.1', String(one.groups[0]!.port)]);
    cleanups.push(() => replica.stop());
    const rr = io(0, one.port);
    const direct = new Redis({ port: replica.port, maxRetriesPerRequest: 0 });
    cleanups.push(() => direct.disconnect());
    await waitUntil(async () => ((await direct.info('replication')) as string).includes('master_link_status:up'), 'replica in sync', 10_000);
    await rr.set('w:k', 'v');
    expect(await rr.call('WAIT', '1', '2000')).toBe(1);
    expect(await direct.get('w:k')).toBe('v');
    await r.del('w:k');
  });
});
