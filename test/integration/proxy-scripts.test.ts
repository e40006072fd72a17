/**
 * Scripts through the proxy (issue 7 item 2), with ioredis and node-redis, on 3 real groups whose slot table
 * lives in a memory:// coordinator the proxy follows (slots are moved by writing slot records, keys by
 * MIGRATE on the backends, exactly as the migration engine does):
 * - EVAL/EVALSHA/FCALL are routed by their declared keys (CROSSSLOT otherwise); keyless ones run on the
 *   group serving slot 0;
 * - a script loaded through the proxy never answers NOSCRIPT after its keys' slot moved to another group,
 *   including a group added after the script was loaded, and a master that lost its scripts; the client's
 *   order is kept;
 * - FCALL after the slot moved to a group added after FUNCTION LOAD.
 */
import { Redis } from 'ioredis';
import type { RedisClientType } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy } from '../../proxy/main.js';
import type { GroupRecord } from '../../shared/model/types.js';
import { slotOf } from '../../shared/slot.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { type Cluster, keysForEveryGroup, sleep } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

let c: Cluster;
let io: Redis;
let nr: RedisClientType;
const extra: RedisServerHandle[] = [];
const extraClients: Redis[] = [];

// Stops the redis-servers added as groups once the proxy that used them has stopped (after-hooks run as a stack).
afterAll(async () => {
  await Promise.all(extra.map((r) => r.stop()));
});
useProxyCluster({ groups: 3, coordinator: true, clients: 'both' }, (s) => ({ cluster: c, io, nr } = s));
afterAll(() => {
  for (const r of extraClients) r.disconnect();
});

/** Current owner group id of each slot, as the test has set it. */
const owner = new Map<number, number>();
function groupIdOfKey(key: string): number {
  const s = slotOf(Buffer.from(key));
  return owner.get(s) ?? c.groupOfSlot(s) + 1;
}

const servers = new Map<number, { host: string; port: number }>();
function serverOf(gid: number): { host: string; port: number } {
  return servers.get(gid) ?? { host: '127.0.0.1', port: c.groups[gid - 1]!.port };
}

function direct(gid: number): Redis {
  const s = serverOf(gid);
  const r = new Redis({ port: s.port, host: s.host, maxRetriesPerRequest: 0 });
  extraClients.push(r);
  return r;
}

/** Starts a redis-server and registers it as group `gid` (no slots yet); resolves once the proxy has it. */
async function addGroup(gid: number): Promise<void> {
  const r = await startRedis();
  extra.push(r);
  servers.set(gid, { host: '127.0.0.1', port: r.port });
  const rec: GroupRecord = { id: gid, weight: 1, servers: [{ addr: r.addr, role: 'master' }] };
  const { coord, paths } = c.coordinator!;
  const rev = await coord.put(paths.group(gid), JSON.stringify(rec));
  while (c.proxy.runtime.appliedRevision() < rev) await sleep(5);
}

/** Moves the slot of `key` (and every key of it) to group `to`: MIGRATE the keys, then the slot record. */
async function moveSlotOf(key: string, to: number): Promise<void> {
  const slot = slotOf(Buffer.from(key));
  const from = groupIdOfKey(key);
  const src = direct(from);
  const dst = serverOf(to);
  let cursor = '0';
  const keys: string[] = [];
  do {
    const [next, ks] = await src.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const k of ks) if (slotOf(Buffer.from(k)) === slot) keys.push(k);
  } while (cursor !== '0');
  if (keys.length > 0) expect(await src.call('MIGRATE', dst.host, String(dst.port), '', '0', '5000', 'KEYS', ...keys)).toBe('OK');
  await c.putSlots([{ id: slot, group: to }]);
  owner.set(slot, to);
}

async function noscriptErrors(gid: number): Promise<number> {
  const m = /errorstat_NOSCRIPT:count=(\d+)/.exec(await direct(gid).info('errorstats'));
  return m ? Number(m[1]) : 0;
}

describe('routing by declared keys', () => {
  it('EVAL/EVAL_RO/FCALL run on the group of their keys; keys of two slots get CROSSSLOT', async () => {
    for (const k of keysForEveryGroup(c, 1, 'rk:')) {
      expect(await io.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, k, 'v')).toBe('OK');
      expect(await direct(groupIdOfKey(k)).get(k)).toBe('v');
      expect(await io.call('EVAL_RO', "return redis.call('GET', KEYS[1])", '1', k)).toBe('v');
      expect(await nr.eval("return redis.call('GET', KEYS[1])", { keys: [k] })).toBe('v');
    }
    await expect(io.eval('return 1', 2, 'rk:a', 'rk:b')).rejects.toThrow("CROSSSLOT Keys in request don't hash to the same slot");
    expect(await io.eval('return 1', 2, '{rk}a', '{rk}b')).toBe(1);
    await expect(io.eval('return 1', 3, 'a')).rejects.toThrow("ERR Number of keys can't be greater than number of args");
  });

  it('keyless scripts run on the group serving slot 0', async () => {
    expect(await io.eval("redis.call('SET', 'keyless:marker', 'here'); return 1", 0)).toBe(1);
    expect(await c.direct(c.groupOfSlot(0)).get('keyless:marker')).toBe('here');
    for (let i = 0; i < 3; i++) if (i !== c.groupOfSlot(0)) expect(await c.direct(i).get('keyless:marker')).toBeNull();
    await c.direct(c.groupOfSlot(0)).del('keyless:marker');
  });

  it('EVAL through the proxy loads the script on every master', async () => {
    const body = "return 'seen-everywhere'";
    expect(await io.eval(body, 1, 'anykey')).toBe('seen-everywhere');
    const sha = (await c.direct(0).script('LOAD', body)) as string; // same sha; loading again is harmless
    await sleep(20);
    for (let i = 0; i < 3; i++) expect(await c.direct(i).script('EXISTS', sha)).toEqual([1]);
  });
});

describe('no NOSCRIPT after topology changes for scripts loaded through the proxy', () => {
  const INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

  it('EVALSHA after the key\'s slot moved to a group added after SCRIPT LOAD: loaded there first, in order', async () => {
    const sha = (await io.script('LOAD', INCR)) as string;
    const k = 'moved:{a}';
    expect(await io.evalsha(sha, 1, k, 5)).toBe(5);
    await addGroup(4);
    expect(await direct(4).script('EXISTS', sha)).toEqual([0]);
    await moveSlotOf(k, 4);
    expect(await direct(4).get(k)).toBe('5');
    // One pipeline: EVALSHA on a master that does not have the script yet, then a read of its result.
    const res = await io.pipeline().evalsha(sha, 1, k, 2).get(k).evalsha(sha, 1, k, 3).get(k).exec();
    expect(res!.map(([err, v]) => err ?? v)).toEqual([7, '7', 10, '10']);
    expect(await noscriptErrors(4)).toBe(0); // loaded ahead on the same connection: never refused
    expect(await direct(4).script('EXISTS', sha)).toEqual([1]);
    expect(await nr.evalSha(sha, { keys: [k], arguments: ['1'] })).toBe(11);
  });

  it('EVALSHA after the slot moved between existing groups whose master lost the script', async () => {
    const body = "return redis.call('GET', KEYS[1]) .. '!'";
    const k = 'lost:{b}';
    await io.set(k, 'x');
    const sha = (await io.script('LOAD', body)) as string;
    const from = groupIdOfKey(k);
    const to = from === 1 ? 2 : 1;
    // The target master restarted meanwhile (scripts are not persisted): simulated by flushing it directly.
    await direct(to).script('FLUSH');
    await moveSlotOf(k, to);
    const before = await noscriptErrors(to);
    expect(await io.evalsha(sha, 1, k)).toBe('x!');
    expect(await noscriptErrors(to)).toBe(before + 1); // the master said NOSCRIPT; the proxy loaded and retried
    expect(await nr.evalSha(sha, { keys: [k] })).toBe('x!');
    expect(await direct(to).script('EXISTS', sha)).toEqual([1]);
  });

  it('EVAL-loaded scripts survive a move too; SCRIPT FLUSH through the proxy brings NOSCRIPT back, like Redis', async () => {
    const body = "return 'eval-' .. KEYS[1]";
    const k = 'ev:{c}';
    expect(await io.eval(body, 1, k)).toBe(`eval-${k}`);
    const sha = (await io.script('LOAD', body)) as string;
    await direct(4).script('FLUSH');
    await moveSlotOf(k, 4);
    expect(await io.evalsha(sha, 1, k)).toBe(`eval-${k}`);
    expect(await io.script('FLUSH')).toBe('OK');
    await expect(io.evalsha(sha, 1, k)).rejects.toThrow(/^NOSCRIPT/);
    // ioredis's own fallback (EVALSHA, then EVAL on NOSCRIPT) works as with Redis.
    io.defineCommand('echoKey', { numberOfKeys: 1, lua: "return 'def-' .. KEYS[1]" });
    expect(await (io as unknown as { echoKey(k: string): Promise<string> }).echoKey(k)).toBe(`def-${k}`);
  });

  it('a script loaded directly on one backend (not through the proxy) can still answer NOSCRIPT elsewhere', async () => {
    const k = 'direct:{d}';
    const sha = (await direct(groupIdOfKey(k)).script('LOAD', 'return 7')) as string;
    expect(await io.evalsha(sha, 1, k)).toBe(7);
    await moveSlotOf(k, groupIdOfKey(k) === 2 ? 3 : 2);
    await expect(io.evalsha(sha, 1, k)).rejects.toThrow(/^NOSCRIPT/);
  });

  it('FCALL after the slot moved to a group added after FUNCTION LOAD: the functions are copied there', async () => {
    await io.function('FLUSH');
    const lib = "#!lua name=movlib\nredis.register_function('addone', function(keys, args) return redis.call('INCR', keys[1]) end)";
    expect(await io.function('LOAD', lib)).toBe('movlib');
    const k = 'fc:{e}';
    expect(await io.fcall('addone', 1, k)).toBe(1);
    await addGroup(5);
    expect(await direct(5).function('LIST')).toEqual([]);
    await moveSlotOf(k, 5);
    const res = await io.pipeline().fcall('addone', 1, k).get(k).exec();
    expect(res!.map(([err, v]) => err ?? v)).toEqual([2, '2']);
    expect(JSON.stringify(await direct(5).function('LIST'))).toContain('movlib');
    expect(await nr.fCall('addone', { keys: [k] })).toBe(3);
    // A master that lost its functions behind the proxy's back: copied again on "Function not found".
    await direct(5).function('FLUSH');
    expect(await io.fcall('addone', 1, k)).toBe(4);
    // A function nobody has stays an error.
    await expect(io.fcall('nosuchfn', 1, k)).rejects.toThrow('ERR Function not found');
  });

  it('scripts.cacheSize 0 keeps no bodies: a master that lost the script answers NOSCRIPT again', async () => {
    const config = loadProxyConfig({
      env: {},
      overrides: { listen: '127.0.0.1:0', admin: '', coordinator: `memory://${c.coordinator!.cluster}`, scripts: { cacheSize: 0 } },
    });
    const bare = await startProxy({ config, defaultMetrics: false });
    const b = new Redis({ port: bare.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    try {
      const k = 'nocache:{f}';
      const body = "return 'nc'";
      const sha = (await b.script('LOAD', body)) as string;
      expect(await b.evalsha(sha, 1, k)).toBe('nc');
      await direct(groupIdOfKey(k)).script('FLUSH');
      await expect(b.evalsha(sha, 1, k)).rejects.toThrow(/^NOSCRIPT/);
      // The default proxy keeps the body it loaded and repairs the same loss.
      expect(await io.script('LOAD', body)).toBe(sha);
      await direct(groupIdOfKey(k)).script('FLUSH');
      expect(await io.evalsha(sha, 1, k)).toBe('nc');
    } finally {
      b.disconnect();
      await bare.close({ deadlineMs: 1000 });
    }
  });

  it('counts the loads it made on its own in /metrics', async () => {
    const text = await (await fetch(`http://${c.proxy.adminAddr}/metrics`)).text();
    const value = (reason: string) => Number(new RegExp(`^redslot_proxy_script_loads_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1]);
    expect(value('ahead')).toBeGreaterThanOrEqual(2);
    expect(value('noscript')).toBeGreaterThanOrEqual(1);
    expect(value('functions')).toBeGreaterThanOrEqual(2);
    expect(Number(/^redslot_proxy_script_cache_bytes (\d+)/m.exec(text)?.[1])).toBeGreaterThan(0);
  });
});
