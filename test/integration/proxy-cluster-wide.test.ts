/**
 * Cluster-wide commands through the proxy (issue 7 item 1), with ioredis and node-redis, on 3 real groups:
 * DBSIZE, FLUSHDB/FLUSHALL, SCAN (exactly once over 100,000 keys), KEYS, RANDOMKEY, SCRIPT and FUNCTION
 * management on every master, CONFIG, INFO, TIME, CLIENT about the proxy's own clients, the single-key
 * introspection commands, and commands.refuseDangerous. Every answer is checked against the backends
 * themselves (direct connections to each group's master).
 */
import { Redis } from 'ioredis';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { decodeCursor } from '../../proxy/router/requests/scan.js';
import { type Cluster, keysForEveryGroup, RawConn, sleep } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

let c: Cluster;
let io: Redis;
let nr: RedisClientType;

useProxyCluster({ groups: 3, clients: 'both' }, (s) => ({ cluster: c, io, nr } = s));

beforeEach(async () => {
  for (let i = 0; i < 3; i++) await c.direct(i).flushall();
});

async function directDbsize(db = 0): Promise<number[]> {
  return Promise.all([0, 1, 2].map((i) => c.direct(i, db).dbsize()));
}

describe('DBSIZE, FLUSHDB, FLUSHALL', () => {
  it('DBSIZE is the sum over the groups (ioredis and node-redis), per database', async () => {
    const keys = keysForEveryGroup(c, 7, 'db:');
    await io.mset(...keys.flatMap((k) => [k, 'v']));
    const per = await directDbsize();
    expect(per).toEqual([7, 7, 7]);
    expect(await io.dbsize()).toBe(21);
    expect(await nr.dbSize()).toBe(21);
    const db2 = new Redis({ port: c.port, db: 2, maxRetriesPerRequest: 0 });
    try {
      await db2.set('in-db2', '1');
      expect(await db2.dbsize()).toBe(1);
      expect(await io.dbsize()).toBe(21);
    } finally {
      db2.disconnect();
    }
  });

  it('FLUSHDB empties the selected database of every group; FLUSHALL every database of every group', async () => {
    const keys = keysForEveryGroup(c, 5, 'fl:');
    await io.mset(...keys.flatMap((k) => [k, 'v']));
    const db1 = new Redis({ port: c.port, db: 1, maxRetriesPerRequest: 0 });
    try {
      await db1.mset(...keys.flatMap((k) => [k, 'v']));
      expect(await db1.flushdb()).toBe('OK');
      expect(await directDbsize(1)).toEqual([0, 0, 0]);
      expect(await directDbsize(0)).toEqual([5, 5, 5]);
      await db1.mset(...keys.flatMap((k) => [k, 'v']));
      expect(await nr.flushAll('ASYNC' as never)).toBe('OK');
      await sleep(50);
      expect(await directDbsize(0)).toEqual([0, 0, 0]);
      expect(await directDbsize(1)).toEqual([0, 0, 0]);
      expect(await io.dbsize()).toBe(0);
      await io.set('x', '1');
      expect(await io.call('FLUSHALL', 'SYNC')).toBe('OK');
      expect(await io.dbsize()).toBe(0);
      await expect(io.call('FLUSHALL', 'NOPE')).rejects.toThrow('ERR syntax error');
    } finally {
      db1.disconnect();
    }
  });
});

describe('SCAN', () => {
  it('returns every one of 100,000 keys exactly once (ioredis, COUNT 1000); the cursor names the group', async () => {
    const N = 100_000;
    for (let i = 0; i < N; i += 10_000) {
      const p = io.pipeline();
      for (let j = i; j < i + 10_000; j += 1000) {
        const args: string[] = [];
        for (let k = j; k < j + 1000; k++) args.push(`scan:${k}`, '1');
        p.mset(...args);
      }
      await p.exec();
    }
    expect((await directDbsize()).every((n) => n > 30_000)).toBe(true);
    const seen = new Uint8Array(N);
    let cursor = '0';
    let calls = 0;
    const groupsVisited: number[] = [];
    do {
      const [next, keys] = await io.scan(cursor, 'COUNT', 1000);
      cursor = next;
      calls++;
      for (const k of keys) seen[Number(k.slice(5))]!++;
      const d = decodeCursor(Buffer.from(next));
      if (d !== null && d !== 'start' && groupsVisited.at(-1) !== d.group) groupsVisited.push(d.group);
    } while (cursor !== '0');
    let once = 0;
    for (const n of seen) if (n === 1) once++;
    expect(once).toBe(N);
    expect(Math.max(...seen)).toBe(1);
    expect(groupsVisited).toEqual([1, 2, 3]);
    expect(calls).toBeGreaterThan(90);
  });

  it('node-redis scanIterator with MATCH and TYPE; KEYS over every group', async () => {
    const keys = keysForEveryGroup(c, 20, 'm:');
    await io.mset(...keys.flatMap((k) => [k, 'v']));
    await io.hset('m:hash', 'f', 'v');
    await io.set('other', '1');
    const got: string[] = [];
    for await (const batch of nr.scanIterator({ MATCH: 'm:*', COUNT: 7 })) got.push(...batch);
    expect(got.sort()).toEqual([...keys, 'm:hash'].sort());
    const hashes: string[] = [];
    for await (const batch of nr.scanIterator({ TYPE: 'hash', COUNT: 100 })) hashes.push(...batch);
    expect(hashes).toEqual(['m:hash']);
    expect((await io.keys('m:*')).sort()).toEqual([...keys, 'm:hash'].sort());
    expect((await nr.keys('*')).length).toBe(62);
    expect(await io.keys('nothing*')).toEqual([]);
  });

  it('answers ERR invalid cursor like Redis; options errors come from the masters', async () => {
    await expect(io.call('SCAN', 'abc')).rejects.toThrow('ERR invalid cursor');
    await expect(io.call('SCAN', '-1')).rejects.toThrow('ERR invalid cursor');
    await expect(io.call('SCAN', '0', 'COUNT', '0')).rejects.toThrow('ERR syntax error');
    await expect(io.call('SCAN', '0', 'BOGUS')).rejects.toThrow('ERR syntax error');
    // An empty keyspace: one call per group, no keys, then 0.
    let cursor = '0';
    const cursors: string[] = [];
    do {
      const [next, keys] = await io.scan(cursor);
      expect(keys).toEqual([]);
      cursors.push((cursor = next));
    } while (cursor !== '0');
    expect(cursors).toHaveLength(3);
  });

  it('hides keys sitting on a group that does not serve their slot', async () => {
    const k = keysForEveryGroup(c, 1, 'stray:')[0]!; // served by group 1
    await c.direct(1).set(k, 'leftover');
    const [, keys] = await io.scan('0', 'COUNT', 1000);
    let all = [...keys];
    let cursor = (await io.scan('0', 'COUNT', 1000))[0];
    while (cursor !== '0') {
      const [n, ks] = await io.scan(cursor, 'COUNT', 1000);
      all = all.concat(ks);
      cursor = n;
    }
    expect(all).not.toContain(k);
    expect(await io.keys('stray:*')).toEqual([]);
  });
});

describe('RANDOMKEY', () => {
  it('nil on an empty keyspace; otherwise a key of some group, every group in turn', async () => {
    expect(await io.randomkey()).toBeNull();
    expect(await nr.randomKey()).toBeNull();
    const keys = keysForEveryGroup(c, 10, 'r:');
    await io.mset(...keys.flatMap((k) => [k, 'v']));
    const groups = new Set<number>();
    for (let i = 0; i < 60; i++) {
      const k = await io.randomkey();
      expect(keys).toContain(k);
      groups.add(c.groupOfKey(k!));
    }
    expect([...groups].sort()).toEqual([0, 1, 2]);
    // A group with all the keys is always the one picked.
    await io.del(...keys.filter((k) => c.groupOfKey(k) !== 2));
    for (let i = 0; i < 10; i++) expect(c.groupOfKey((await nr.randomKey()) as unknown as string)).toBe(2);
  });
});

describe('SCRIPT and FUNCTION on every master', () => {
  it('SCRIPT LOAD reaches every master; EXISTS is and-ed; FLUSH clears every master and the proxy', async () => {
    await io.script('FLUSH');
    const sha = (await io.script('LOAD', "return redis.call('GET', KEYS[1])")) as string;
    for (let i = 0; i < 3; i++) expect(await c.direct(i).script('EXISTS', sha)).toEqual([1]);
    // EVALSHA works whichever group the key lives on.
    const keys = keysForEveryGroup(c, 1, 'sc:');
    for (const k of keys) {
      await io.set(k, `v-${k}`);
      expect(await io.evalsha(sha, 1, k)).toBe(`v-${k}`);
      expect(await nr.evalSha(sha, { keys: [k] })).toBe(`v-${k}`);
    }
    // Loaded directly on one master only: not everywhere, so 0 (the proxy does not know its body).
    const partial = (await c.direct(0).script('LOAD', 'return 42')) as string;
    expect(await io.script('EXISTS', sha, partial, 'f'.repeat(40))).toEqual([1, 0, 0]);
    expect(await nr.scriptExists([sha, partial])).toEqual([1, 0]);
    expect(await io.script('FLUSH')).toBe('OK');
    for (let i = 0; i < 3; i++) expect(await c.direct(i).script('EXISTS', sha)).toEqual([0]);
    await expect(io.evalsha(sha, 1, keys[0]!)).rejects.toThrow(/^NOSCRIPT/);
    expect(await io.script('EXISTS', sha)).toEqual([0]);
  });

  it('SCRIPT KILL: NOTBUSY when no master runs a script; SCRIPT HELP from one master; SCRIPT DEBUG refused', async () => {
    await expect(io.script('KILL')).rejects.toThrow(/^NOTBUSY/);
    expect(((await io.script('HELP')) as string[])[0]).toMatch(/^SCRIPT <subcommand>/);
    await expect(io.script('DEBUG', 'YES')).rejects.toThrow("ERR command 'script|debug' is not supported by redslot yet:");
  });

  it('FUNCTION LOAD/LIST/DUMP/DELETE/FLUSH/RESTORE act on every master; FCALL runs wherever the keys live', async () => {
    await io.function('FLUSH');
    const lib = "#!lua name=mylib\nredis.register_function('myget', function(keys, args) return redis.call('GET', keys[1]) end)";
    expect(await io.function('LOAD', lib)).toBe('mylib');
    for (let i = 0; i < 3; i++) expect(JSON.stringify(await c.direct(i).function('LIST'))).toContain('mylib');
    await expect(io.function('LOAD', lib)).rejects.toThrow(/already exists/);
    const keys = keysForEveryGroup(c, 1, 'fn:');
    for (const k of keys) {
      await io.set(k, k);
      expect(await io.fcall('myget', 1, k)).toBe(k);
      expect(await nr.fCall('myget', { keys: [k] })).toBe(k);
    }
    expect(JSON.stringify(await io.function('LIST'))).toContain('myget');
    const dump = (await io.callBuffer('FUNCTION', 'DUMP')) as Buffer;
    expect(await io.function('DELETE', 'mylib')).toBe('OK');
    for (let i = 0; i < 3; i++) expect(await c.direct(i).function('LIST')).toEqual([]);
    expect(await io.call('FUNCTION', 'RESTORE', dump)).toBe('OK');
    for (let i = 0; i < 3; i++) expect(JSON.stringify(await c.direct(i).function('LIST'))).toContain('mylib');
    expect(await nr.functionFlush()).toBe('OK');
    for (let i = 0; i < 3; i++) expect(await c.direct(i).function('LIST')).toEqual([]);
    await expect(io.function('KILL')).rejects.toThrow(/^NOTBUSY/);
  });
});

describe('CONFIG, INFO, TIME', () => {
  it('CONFIG GET from a master, CONFIG SET and RESETSTAT on every master', async () => {
    expect(await io.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    expect(await io.config('SET', 'maxmemory-policy', 'allkeys-lru')).toBe('OK');
    for (let i = 0; i < 3; i++) expect(await c.direct(i).config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'allkeys-lru']);
    expect(await nr.configGet('maxmemory-policy')).toEqual({ 'maxmemory-policy': 'allkeys-lru' });
    expect(await nr.configSet('maxmemory-policy', 'noeviction')).toBe('OK');
    for (let i = 0; i < 3; i++) expect(await c.direct(i).config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    await expect(io.config('SET', 'no-such-parameter', '1')).rejects.toThrow(/Unknown option or number of arguments/);
    await io.get('cfg:miss');
    expect(await io.config('RESETSTAT')).toBe('OK');
    for (let i = 0; i < 3; i++) expect(await c.direct(i).info('stats')).toMatch(/keyspace_misses:0\r\n/);
    await expect(io.call('CONFIG', 'NOPE')).rejects.toThrow("ERR unknown subcommand 'NOPE'. Try CONFIG HELP.");
    await expect(io.call('CONFIG', 'SET', 'a')).rejects.toThrow("ERR wrong number of arguments for 'config|set' command");
  });

  it('INFO: proxy sections plus keyspace, memory and stats summed over the groups', async () => {
    const keys = keysForEveryGroup(c, 4, 'inf:');
    await io.mset(...keys.flatMap((k) => [k, 'v']));
    await io.expire(keys[0]!, 1000);
    const text = await io.info();
    expect(text).toMatch(/^# Server\r\nredis_version:7\.0\.15\r\n/);
    expect(text).toContain('# Memory\r\n');
    expect(text).toContain('# Keyspace\r\ndb0:keys=12,expires=1,avg_ttl=');
    expect(text).toContain('groups_answered:3\r\n');
    const used = Number(/used_memory:(\d+)/.exec(text)![1]);
    const direct = await Promise.all([0, 1, 2].map(async (i) => Number(/used_memory:(\d+)/.exec(await c.direct(i).info('memory'))![1])));
    const sum = direct.reduce((a, b) => a + b, 0);
    expect(used).toBeGreaterThan(sum * 0.9);
    expect(used).toBeLessThan(sum * 1.1);
    // stats: keyspace hits summed over groups; connection counters are the proxy's own.
    await io.config('RESETSTAT');
    for (const k of keys) await io.get(k);
    const stats = await nr.info('stats');
    expect(stats).toContain('keyspace_hits:12\r\n');
    expect(stats).toMatch(/total_connections_received:\d+/);
    expect(stats).not.toContain('# Keyspace');
    // Proxy-only sections do not ask the backends.
    expect(await io.info('server')).not.toContain('groups_answered');
    expect(await io.info('keyspace')).toBe('# Keyspace\r\ndb0:keys=12,expires=1,avg_ttl=' + /avg_ttl=(\d+)/.exec(await io.info('keyspace'))![1] + '\r\n');
  });

  it('TIME comes from a master', async () => {
    const [s, us] = await io.time();
    expect(Math.abs(Number(s) - Date.now() / 1000)).toBeLessThan(5);
    expect(Number(us)).toBeLessThan(1_000_000);
    const t = (await nr.time()) as unknown as [string, string];
    expect(Math.abs(Number(t[0]) - Date.now() / 1000)).toBeLessThan(5);
  });
});

describe('CLIENT is about the proxy\'s own clients', () => {
  it('LIST shows the proxy\'s clients (not the backend connections); INFO, ID, GETNAME/SETNAME', async () => {
    await io.client('SETNAME', 'io-client');
    await nr.clientSetName('nr-client');
    const list = (await io.client('LIST')) as string;
    const lines = list.trim().split('\n');
    expect(lines.length).toBe(c.proxy.runtime.connectedClients());
    expect(lines.some((l) => / name=io-client /.test(l) && / cmd=client\|list /.test(l))).toBe(true);
    expect(lines.some((l) => / name=nr-client /.test(l))).toBe(true);
    expect(list).not.toContain('redslot-proxy');
    expect(list).toContain(`laddr=127.0.0.1:${c.port}`);
    const id = (await io.client('ID')) as number;
    expect((await io.client('INFO')) as string).toMatch(new RegExp(`^id=${id} addr=127\\.0\\.0\\.1:\\d+ laddr=.* name=io-client .*cmd=client\\|info .*\\n$`));
    expect(((await io.call('CLIENT', 'LIST', 'ID', String(id))) as string).trim().split('\n')).toHaveLength(1);
    expect(await io.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).toBe('');
    await expect(io.client('LIST', 'ID', 'x')).rejects.toThrow('ERR Invalid client ID');
    expect(await nr.clientGetName()).toBe('nr-client');
    expect(await io.call('CLIENT', 'NO-EVICT', 'on')).toBe('OK');
    expect((await io.client('INFO')) as string).toContain(' flags=e ');
    await io.call('CLIENT', 'NO-EVICT', 'off');
    await expect(io.client('PAUSE', '100')).rejects.toThrow("ERR command 'client|pause' is not supported by redslot yet:");
    expect(((await io.client('HELP')) as string[])[0]).toMatch(/^CLIENT <subcommand>/);
  });

  it('KILL closes the proxy\'s clients by ID, address or user; the old form answers OK or No such client', async () => {
    const victim = new Redis({ port: c.port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const other = new Redis({ port: c.port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      const vid = (await victim.client('ID')) as number;
      const closed = new Promise<void>((r) => victim.once('end', () => r()));
      expect(await io.client('KILL', 'ID', String(vid))).toBe(1);
      await closed;
      expect(await io.client('KILL', 'ID', String(vid))).toBe(0);
      const info = (await other.client('INFO')) as string;
      const addr = /addr=(\S+)/.exec(info)![1]!;
      const closed2 = new Promise<void>((r) => other.once('end', () => r()));
      expect(await io.client('KILL', addr)).toBe('OK');
      await closed2;
      await expect(io.client('KILL', '1.2.3.4:5')).rejects.toThrow('ERR No such client');
      await expect(io.client('KILL', 'ID', '0')).rejects.toThrow('ERR client-id should be greater than 0');
      await expect(io.client('KILL', 'BOGUS', 'x')).rejects.toThrow('ERR syntax error');
      // SKIPME yes (default) keeps the caller.
      expect(await io.client('KILL', 'USER', 'nobody')).toBe(0);
      expect(await io.ping()).toBe('PONG');
    } finally {
      victim.disconnect();
      other.disconnect();
    }
  });

  it('REPLY OFF/ON/SKIP drops replies in order', async () => {
    const raw = await RawConn.open(c.port);
    try {
      raw.send('CLIENT REPLY OFF\r\nSET rp:a 1\r\nGET rp:a\r\nCLIENT REPLY ON\r\nGET rp:a\r\nCLIENT REPLY SKIP\r\nINCR rp:a\r\nGET rp:a\r\nPING\r\n');
      expect(await raw.waitFor('+PONG\r\n')).toBe('+OK\r\n$1\r\n1\r\n$1\r\n2\r\n+PONG\r\n');
    } finally {
      raw.close();
    }
  });
});

describe('single-key introspection, by slot', () => {
  it('OBJECT, MEMORY USAGE, TYPE, DUMP/RESTORE go to the group of the key', async () => {
    const keys = keysForEveryGroup(c, 1, 'obj:');
    for (const k of keys) {
      await io.rpush(k, 'a', 'b');
      expect(await io.object('ENCODING', k)).toBe(await c.direct(c.groupOfKey(k)).object('ENCODING', k));
      expect(await io.type(k)).toBe('list');
      expect(await nr.type(k)).toBe('list');
      expect(await io.call('MEMORY', 'USAGE', k)).toBeGreaterThan(0);
      expect(await nr.memoryUsage(k)).toBeGreaterThan(0);
      const dump = await io.dumpBuffer(k);
      await io.del(k);
      expect(await io.restore(k, 0, dump)).toBe('OK');
      expect(await c.direct(c.groupOfKey(k)).lrange(k, 0, -1)).toEqual(['a', 'b']);
    }
    expect(await io.call('MEMORY', 'USAGE', 'obj:none')).toBeNull();
    await expect(io.call('MEMORY', 'STATS')).rejects.toThrow("ERR command 'memory|stats' is not supported by redslot yet:");
    expect(((await io.call('MEMORY', 'HELP')) as string[])[0]).toMatch(/^MEMORY <subcommand>/);
    await expect(io.call('MEMORY', 'NOPE')).rejects.toThrow("ERR unknown subcommand 'NOPE'. Try MEMORY HELP.");
    await expect(io.call('OBJECT', 'NOPE', 'k')).rejects.toThrow("ERR unknown subcommand 'NOPE'. Try OBJECT HELP.");
  });
});

describe('RESP3 clients (HELLO 3)', () => {
  it('cluster-wide commands answer in order on the client\'s own connections, in types a RESP3 client reads', async () => {
    const r3 = createClient({ RESP: 3, socket: { port: c.port, host: '127.0.0.1', reconnectStrategy: false } });
    r3.on('error', () => {});
    await r3.connect();
    try {
      expect(await r3.randomKey()).toBeNull();
      const keys = keysForEveryGroup(c, 3, 'r3:');
      // SET then DBSIZE / KEYS / SCAN in one pipeline: each cluster-wide command sees the writes before it.
      const multi = r3.multi();
      for (const k of keys) multi.set(k, 'v');
      multi.dbSize();
      multi.keys('r3:*');
      multi.flushAll();
      multi.dbSize();
      const res = await multi.execAsPipeline();
      expect(res.slice(keys.length)).toEqual([9, expect.any(Array), 'OK', 0]);
      expect((res[keys.length + 1] as unknown as string[]).sort()).toEqual([...keys].sort());
      await r3.set('r3:x', '1');
      expect(await r3.randomKey()).toBe('r3:x');
      expect(await r3.info('keyspace')).toMatch(/^# Keyspace\r\ndb0:keys=1,/);
      const scanned: string[] = [];
      for await (const batch of r3.scanIterator({ COUNT: 100 })) scanned.push(...batch);
      expect(scanned).toEqual(['r3:x']);
      expect(await r3.configGet('maxmemory-policy')).toEqual({ 'maxmemory-policy': 'noeviction' });
    } finally {
      await r3.close().catch(() => {});
    }
  });
});

describe('commands.refuseDangerous', () => {
  let guarded: ProxyHandle;
  let g: Redis;

  beforeAll(async () => {
    const config = loadProxyConfig({ env: {}, overrides: { listen: '127.0.0.1:0', admin: '', topology: rawTopology(), commands: { refuseDangerous: true } } });
    guarded = await startProxy({ config, defaultMetrics: false });
    g = new Redis({ port: guarded.port, maxRetriesPerRequest: 0 });
  });

  afterAll(async () => {
    g?.disconnect();
    await guarded?.close({ deadlineMs: 1000 });
  });

  function rawTopology() {
    const t = c.config.topology!;
    return { groups: t.groups, slots: t.slots };
  }

  it('refuses FLUSHALL, FLUSHDB, KEYS and CONFIG SET with an error naming the knob; everything else works', async () => {
    await io.set('keep', '1');
    await expect(g.flushall()).rejects.toThrow("ERR command 'flushall' is refused by this proxy (commands.refuseDangerous is true): it deletes every key of every group");
    await expect(g.flushdb()).rejects.toThrow(/^ERR command 'flushdb' is refused by this proxy \(commands\.refuseDangerous is true\)/);
    await expect(g.keys('*')).rejects.toThrow(/^ERR command 'keys' is refused/);
    await expect(g.config('SET', 'maxmemory-policy', 'allkeys-lru')).rejects.toThrow(/^ERR command 'config set' is refused/);
    const gn = createClient({ socket: { port: guarded.port, host: '127.0.0.1', reconnectStrategy: false } });
    gn.on('error', () => {});
    await gn.connect();
    try {
      await expect(gn.flushAll()).rejects.toThrow(/^ERR command 'flushall' is refused by this proxy/);
      await expect(gn.configSet('maxmemory-policy', 'allkeys-lru')).rejects.toThrow(/^ERR command 'config set' is refused/);
      expect(await gn.dbSize()).toBe(1);
    } finally {
      await gn.close().catch(() => {});
    }
    expect(await g.get('keep')).toBe('1');
    expect(await g.dbsize()).toBe(1);
    expect(await g.scan('0', 'COUNT', 1000)).toBeDefined();
    expect(await g.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    // The default proxy behaves like Redis.
    expect(await io.keys('keep')).toEqual(['keep']);
    for (let i = 0; i < 3; i++) expect(await c.direct(i).config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
  });
});
