/**
 * Apps talk to the proxy as if it were one Redis 7 server. Two real groups (one redis-server each) sit behind
 * an in-process proxy; we drive it with ioredis and node-redis and check results both through the proxy and
 * by asking each backend directly where every key landed.
 */
import { Redis } from 'ioredis';
import type { RedisClientType } from 'redis';
import { describe, expect, it } from 'vitest';
import { type Cluster, keysForEveryGroup, rawExchange } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';
import { REF_AT } from '../../proxy/backend/output-batch.js';

let c: Cluster;
let io: Redis;
let nr: RedisClientType;

useProxyCluster({ groups: 3, clients: 'both' }, (s) => ({ cluster: c, io, nr } = s));

describe('data types through the proxy (ioredis)', () => {
  it('strings, counters and expiry', async () => {
    expect(await io.set('s:1', 'v1')).toBe('OK');
    expect(await io.get('s:1')).toBe('v1');
    expect(await io.incr('s:n')).toBe(1);
    expect(await io.incrby('s:n', 41)).toBe(42);
    expect(await io.append('s:1', '+')).toBe(3);
    expect(await io.set('s:ttl', 'x', 'EX', 100)).toBe('OK');
    const ttl = await io.ttl('s:ttl');
    expect(ttl).toBeGreaterThan(90);
    expect(await io.pexpire('s:ttl', 50)).toBe(1);
    await new Promise((r) => setTimeout(r, 120));
    expect(await io.get('s:ttl')).toBeNull();
    expect(await io.ttl('s:missing')).toBe(-2);
  });

  it('hashes, lists, sets and sorted sets', async () => {
    expect(await io.hset('h', 'a', '1', 'b', '2')).toBe(2);
    expect(await io.hgetall('h')).toEqual({ a: '1', b: '2' });
    expect(await io.rpush('l', 'a', 'b', 'c')).toBe(3);
    expect(await io.lrange('l', 0, -1)).toEqual(['a', 'b', 'c']);
    expect(await io.lpop('l')).toBe('a');
    expect(await io.sadd('st', 'x', 'y', 'x')).toBe(2);
    expect((await io.smembers('st')).sort()).toEqual(['x', 'y']);
    expect(await io.zadd('z', 1, 'one', 2, 'two', 3, 'three')).toBe(3);
    expect(await io.zrange('z', 0, -1, 'WITHSCORES')).toEqual(['one', '1', 'two', '2', 'three', '3']);
    expect(await io.zrangebyscore('z', 2, 3)).toEqual(['two', 'three']);
    // Multi-key commands within one slot (hash tags) work; across slots they are refused like Redis Cluster.
    await io.sadd('{u}.a', '1', '2');
    await io.sadd('{u}.b', '2', '3');
    expect(await io.sinter('{u}.a', '{u}.b')).toEqual(['2']);
    await expect(io.sinter('ua', 'ub')).rejects.toThrow("CROSSSLOT Keys in request don't hash to the same slot");
  });

  it('binary keys and values survive byte for byte', async () => {
    const key = Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0x7b, 0x7d, 0x80]);
    const value = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) value[i] = i;
    expect(await io.set(key, value)).toBe('OK');
    const got = await io.getBuffer(key);
    expect(got!.equals(value)).toBe(true);
    // The key landed, unchanged, on the group its slot names.
    const g = c.groupOfKey(key);
    expect((await c.direct(g).getBuffer(key))!.equals(value)).toBe(true);
  });

  it('10 MB values in and out', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    expect(await io.set('big', big)).toBe('OK');
    const got = await io.getBuffer('big');
    expect(got!.length).toBe(big.length);
    expect(got!.equals(big)).toBe(true);
    expect(await io.strlen('big')).toBe(big.length);
  });

  it('a pipeline of 10,000 commands keeps request order across groups', async () => {
    const p = io.pipeline();
    for (let i = 0; i < 5000; i++) p.set(`p:${i}`, String(i));
    for (let i = 0; i < 5000; i++) p.get(`p:${i}`);
    const res = await p.exec();
    expect(res).toHaveLength(10_000);
    for (let i = 0; i < 5000; i++) expect(res![i]).toEqual([null, 'OK']);
    for (let i = 0; i < 5000; i++) expect(res![5000 + i]).toEqual([null, String(i)]);
  });
});

describe('multi-key fan-out over every group', () => {
  it('MSET/MGET/EXISTS/DEL/UNLINK/TOUCH: results in key order, each key on its slot\'s group', async () => {
    const keys = keysForEveryGroup(c, 4, 'mk:');
    const pairs = keys.flatMap((k, i) => [k, `v${i}`]);
    expect(await io.mset(...pairs)).toBe('OK');
    const order = [...keys].reverse();
    expect(await io.mget(...order, 'mk:absent')).toEqual([...order.map((k) => `v${keys.indexOf(k)}`), null]);
    // Every key is on exactly the group its slot says, and on no other.
    for (const [i, k] of keys.entries()) {
      const g = c.groupOfKey(k);
      for (let j = 0; j < c.groups.length; j++) expect(await c.direct(j).get(k)).toBe(j === g ? `v${i}` : null);
    }
    expect(await io.exists(...keys, keys[0]!, 'mk:absent')).toBe(keys.length + 1); // duplicates count, like Redis
    expect(await io.touch(...keys)).toBe(keys.length);
    expect(await io.del(...keys.slice(0, 6), 'mk:absent')).toBe(6);
    expect(await io.unlink(...keys)).toBe(keys.length - 6);
    expect(await io.exists(...keys)).toBe(0);
  });

  it('pipelined fan-out parts (encoded into a per-connection slab) keep their order with single-key commands', async () => {
    // 3 KB values: many parts fill several 64 KB slabs and cross the 256 KB early flush; every 50th is 20 KB
    // (a big argument, sent uncopied); SETs and GETs between them go to the same backend connections.
    const keys = keysForEveryGroup(c, 2, 'slab:');
    const val = (i: number, j: number) => `${i}.${j}.`.padEnd(i % 50 === 0 ? 20_000 : 3000, String.fromCharCode(97 + (i % 26)));
    const p = io.pipeline();
    for (let i = 0; i < 400; i++) {
      p.mset(...keys.flatMap((k, j) => [k, val(i, j)]));
      p.set(`slab:s${i % 7}`, `s${i}`);
      p.mget(...keys, `slab:s${i % 7}`);
      p.get(keys[i % keys.length]!);
    }
    const res = (await p.exec())!;
    for (let i = 0; i < 400; i++) {
      expect(res[4 * i]).toEqual([null, 'OK']);
      expect(res[4 * i + 1]).toEqual([null, 'OK']);
      expect(res[4 * i + 2]).toEqual([null, [...keys.map((_, j) => val(i, j)), `s${i}`]]);
      expect(res[4 * i + 3]).toEqual([null, val(i, i % keys.length)]);
    }
    await io.del(...keys);
  });

  it('fan-out values around the reference threshold (packed below REF_AT, referenced from it) arrive byte for byte', async () => {
    const keys = keysForEveryGroup(c, 3, 'ref:');
    const sizes = [0, 1, REF_AT - 1, REF_AT, REF_AT + 1, 70_000, 3, REF_AT - 1, 2 * REF_AT];
    // Distinct bytes per key and round, so a slice written twice, dropped or reordered shows.
    const val = (i: number, j: number) => Buffer.alloc(sizes[(i + j) % sizes.length]!, (i * 7 + j) % 251);
    const p = io.pipeline();
    for (let i = 0; i < 40; i++) {
      p.mset(...keys.flatMap((k, j) => [k, val(i, j)]));
      p.set('ref:single', val(i, 99)); // a single request between the parts, on one of the same connections
      p.mgetBuffer(...keys, 'ref:single');
    }
    // All keys of one group in one MSET too big for one socket read: one part, encoded from the argv.
    const oneGroup = keysForEveryGroup(c, 4, 'ref1:').filter((k) => c.groupOfKey(k) === 0);
    const big = (j: number) => Buffer.alloc(30_000 + j, j + 1);
    p.mset(...oneGroup.flatMap((k, j) => [k, big(j)]));
    p.mgetBuffer(...oneGroup);
    const res = (await p.exec())!;
    for (let i = 0; i < 40; i++) {
      expect(res[3 * i]).toEqual([null, 'OK']);
      expect(res[3 * i + 1]).toEqual([null, 'OK']);
      const got = res[3 * i + 2]![1] as Buffer[];
      expect(got.length).toBe(keys.length + 1);
      keys.forEach((_, j) => expect(got[j]!.equals(val(i, j))).toBe(true));
      expect(got[keys.length]!.equals(val(i, 99))).toBe(true);
    }
    expect(res[120]).toEqual([null, 'OK']);
    const one = res[121]![1] as Buffer[];
    expect(one.length).toBe(4);
    oneGroup.forEach((_, j) => expect(one[j]!.equals(big(j))).toBe(true));
    await io.del(...keys, 'ref:single', ...oneGroup);
  });

  it('MSETNX only within one slot', async () => {
    expect(await io.msetnx('{t}a', '1', '{t}b', '2')).toBe(1);
    expect(await io.msetnx('{t}a', '1', '{t}c', '2')).toBe(0);
    await expect(io.msetnx('ta', '1', 'tb', '2')).rejects.toThrow('CROSSSLOT');
  });

  it('MSET with an odd number of arguments is refused before anything is written', async () => {
    await expect(io.call('MSET', 'a', '1', 'b')).rejects.toThrow("ERR wrong number of arguments for 'mset' command");
    expect(await io.get('a')).toBeNull();
  });
});

describe('node-redis', () => {
  it('connects (CLIENT SETINFO answered locally) and runs commands and multi-key fan-out', async () => {
    expect(await nr.ping()).toBe('PONG');
    await nr.set('nr:a', '1');
    await nr.hSet('nr:h', { f1: 'a', f2: 'b' });
    expect(await nr.hGetAll('nr:h')).toEqual({ f1: 'a', f2: 'b' });
    const keys = keysForEveryGroup(c, 3, 'nr:k');
    await nr.mSet(keys.map((k) => [k, k.toUpperCase()] as [string, string]));
    expect(await nr.mGet(keys)).toEqual(keys.map((k) => k.toUpperCase()));
    expect(await nr.del(keys)).toBe(keys.length);
    await nr.zAdd('nr:z', [{ score: 2, value: 'b' }, { score: 1, value: 'a' }]);
    expect(await nr.zRange('nr:z', 0, -1)).toEqual(['a', 'b']);
    expect(await nr.expire('nr:a', 100)).toBe(1);
  });

  it('pipelines 10,000 commands', async () => {
    const multi = nr.multi();
    for (let i = 0; i < 10_000; i++) multi.incr(`nr:cnt:${i % 100}`);
    const res = await multi.execAsPipeline();
    expect(res).toHaveLength(10_000);
    expect(res[9999]).toBe(100);
  });
});

describe('replies are forwarded byte for byte', () => {
  it('+OK stays +OK, $-1 stays $-1, integers and arrays untouched', async () => {
    const r = await rawExchange(
      c.port,
      '*3\r\n$3\r\nSET\r\n$2\r\nbf\r\n$2\r\nOK\r\n*2\r\n$3\r\nGET\r\n$2\r\nbf\r\n*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n*2\r\n$4\r\nINCR\r\n$3\r\nbfn\r\n*4\r\n$6\r\nLRANGE\r\n$3\r\nbfl\r\n$1\r\n0\r\n$2\r\n-1\r\n',
      600,
    );
    expect(r.data.toString()).toBe('+OK\r\n$2\r\nOK\r\n$-1\r\n:1\r\n*0\r\n');
  });
});

describe('redis-cli', () => {
  it('works through the proxy and shows the backend\'s reply types unchanged', async () => {
    // Async: the proxy runs in this process, a synchronous child would block it.
    const { execFile } = await import('node:child_process');
    const cli = (...args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile('redis-cli', ['-p', String(c.port), '--no-raw', ...args], { timeout: 5000 }, (err, out) => (err ? reject(err) : resolve(out.trim()))),
      );
    expect(await cli('set', 'cli:k', 'v')).toBe('OK'); // a simple string, not "OK" (a bulk string)
    expect(await cli('get', 'cli:k')).toBe('"v"');
    expect(await cli('incr', 'cli:n')).toBe('(integer) 1');
    expect(await cli('get', 'cli:none')).toBe('(nil)');
    expect(await cli('mget', 'cli:k', 'cli:none')).toBe('1) "v"\n2) (nil)');
    expect(await cli('ping')).toBe('PONG');
  });
});

describe('commands the proxy answers itself', () => {
  it('PING, ECHO, inline commands, SELECT with per-db backend connections', async () => {
    const r = await rawExchange(c.port, 'PING\r\nPING hello\r\nECHO "a b"\r\n*1\r\n$4\r\nPING\r\n', 500);
    expect(r.data.toString()).toBe('+PONG\r\n$5\r\nhello\r\n$3\r\na b\r\n+PONG\r\n');
    const db3 = new Redis({ port: c.port, db: 3, maxRetriesPerRequest: 0 });
    try {
      await db3.set('dbkey', 'in3');
      expect(await io.get('dbkey')).toBeNull();
      expect(await db3.get('dbkey')).toBe('in3');
      expect(await c.direct(c.groupOfKey('dbkey'), 3).get('dbkey')).toBe('in3');
      await expect(db3.select(16)).rejects.toThrow('ERR DB index is out of range');
      await expect(db3.call('SELECT', 'x')).rejects.toThrow('ERR value is not an integer or out of range');
    } finally {
      db3.disconnect();
    }
  });

  it('HELLO 2 answers, HELLO 4 is NOPROTO, COMMAND COUNT/INFO come from the table, INFO has proxy sections', async () => {
    const hello = (await io.call('HELLO', '2')) as unknown[];
    expect(hello.slice(0, 6)).toEqual(['server', 'redis', 'version', '7.0.15', 'proto', 2]);
    await expect(io.call('HELLO', '4')).rejects.toThrow('NOPROTO unsupported protocol version'); // RESP3: proxy-resp3.test.ts
    expect(await io.call('COMMAND', 'COUNT')).toBeGreaterThan(200);
    const info = (await io.call('COMMAND', 'INFO', 'get')) as unknown[][];
    expect(info[0]![0]).toBe('get');
    const text = await io.info();
    expect(text).toMatch(/^# Server\r\nredis_version:7\.0\.15\r\n/);
    expect(text).toContain('connected_clients:');
    expect(await io.info('commandstats')).toMatch(/cmdstat_get:calls=\d+/);
    expect(await io.call('CONFIG', 'GET', 'save')).toEqual(['save', '']); // from a master (test/integration/proxy-cluster-wide.test.ts)
  });

  it('unknown commands, wrong arity and refused commands get exact Redis-style errors', async () => {
    await expect(io.call('NOSUCH', 'a', 'b')).rejects.toThrow("ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ");
    await expect(io.call('GET')).rejects.toThrow("ERR wrong number of arguments for 'get' command");
    await expect(io.call('GET', 'a', 'b')).rejects.toThrow("ERR wrong number of arguments for 'get' command");
    expect(await io.call('MULTI')).toBe('OK'); // transactions: test/integration/proxy-multi.test.ts
    expect(await io.call('DISCARD')).toBe('OK');
    expect(await io.call('BLPOP', 'q', '0.01')).toBeNull(); // blocking commands: proxy-blocking.test.ts
    await expect(io.call('CLUSTER', 'INFO')).rejects.toThrow("ERR command 'cluster' is not supported by redslot: Redis Cluster protocol");
    await expect(io.call('CLIENT', 'PAUSE', '10')).rejects.toThrow(/^ERR command 'client\|pause' is not supported by redslot yet: /);
    expect(await io.call('CLIENT', 'SETNAME', 'app1')).toBe('OK');
    expect(await io.call('CLIENT', 'GETNAME')).toBe('app1');
    // The connection is still fine after errors.
    expect(await io.ping()).toBe('PONG');
  });

  it('EVAL routed by its declared keys', async () => {
    expect(await io.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, 'ev:1', 'x')).toBe('OK');
    expect(await c.direct(c.groupOfKey('ev:1')).get('ev:1')).toBe('x');
    await expect(io.eval('return 1', 2, 'ev:a', 'ev:b')).rejects.toThrow('CROSSSLOT');
  });
});
