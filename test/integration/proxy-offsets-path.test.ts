/**
 * The offsets path (issue 19): plain single-key and MSET / MGET / DEL requests inside one read are routed from
 * their raw bytes and argument offsets (Session.onRequestSpans), fan-out parts copied in runs from the
 * client's bytes. Against real redis-servers: values byte for byte (small, around the reference threshold,
 * hash tags), the errors the argv path gives (CROSSSLOT, arity), the slow log's arguments.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './proxy-cluster.js';

let c: Cluster;
let r: Redis;
beforeAll(async () => {
  c = await startCluster({ groups: 2, overrides: { slowlog: { slowerThan: 0, maxLen: 64 } } });
  r = new Redis({ port: c.port, maxRetriesPerRequest: 0 });
});
afterAll(async () => {
  r.disconnect();
  await c.stop();
});

describe('requests routed from offsets', () => {
  it('MSET / MGET / DEL / EXISTS over both groups, keys in any order and values of any size: every byte as sent', async () => {
    const sizes = [0, 1, 3, 60, 61, 1000, 4095, 4096, 4097, 20000];
    for (let round = 0; round < 4; round++) {
      const keys = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? `{t${round}}k${i}` : `k${round}:${i}`));
      const values = keys.map((_, i) => randomBytes(sizes[(i + round) % sizes.length]!));
      const args: Array<string | Buffer> = [];
      keys.forEach((k, i) => args.push(k, values[i]!));
      expect(await r.mset(...args)).toBe('OK');
      // Both groups hold some of them.
      expect(new Set(keys.map((k) => c.groupOfKey(k))).size).toBe(2);
      const got = await r.mgetBuffer(...keys);
      got.forEach((v, i) => expect(v!.equals(values[i]!)).toBe(true));
      for (let i = 0; i < keys.length; i++) expect((await c.direct(c.groupOfKey(keys[i]!)).getBuffer(keys[i]!))!.equals(values[i]!)).toBe(true);
      expect(await r.exists(...keys, 'missing')).toBe(keys.length);
      expect(await r.del(...keys.slice(0, 5))).toBe(5);
      expect(await r.exists(...keys)).toBe(keys.length - 5);
    }
  });

  it('errors as on the argv path: CROSSSLOT, MSET arity, wrong arity, unknown command', async () => {
    const [a, b] = ['a', 'b'].map((p) => {
      for (let i = 0; ; i++) if (c.groupOfKey(`${p}${i}`) === (p === 'a' ? 0 : 1)) return `${p}${i}`;
    });
    await r.set(a!, '1');
    await expect(r.rename(a!, b!)).rejects.toThrow(/CROSSSLOT/);
    await expect(r.call('MSET', 'x', '1', 'y')).rejects.toThrow(/wrong number of arguments for 'mset'/);
    await expect(r.call('GET', 'x', 'y')).rejects.toThrow(/wrong number of arguments for 'get'/);
    await expect(r.call('NOSUCHCMD', 'x')).rejects.toThrow(/unknown command/);
    expect(await r.rename(a!, `{${a!}}2`)).toBe('OK');
  });

  it('the slow log shows the arguments of requests routed from offsets (made from their bytes)', async () => {
    expect(await r.slowlog('RESET')).toBe('OK');
    await r.mset('s1', 'v1', 's2', 'v2', 's3', 'v3');
    await r.get('s2');
    const entries = (await r.slowlog('GET', 2)) as Array<[number, number, number, string[], string, string]>;
    expect(entries[0]![3]).toEqual(['get', 's2']);
    expect(entries[1]![3]).toEqual(['mset', 's1', 'v1', 's2', 'v2', 's3', 'v3']);
  });
});
