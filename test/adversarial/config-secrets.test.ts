/**
 * Attack: CONFIG through the data port. Before issue 14, `CONFIG GET requirepass` / `masterauth` answered
 * the backends' passwords to any client, and `CONFIG SET requirepass x` broke every proxy's next backend
 * reconnect. Shown here on 2 real groups that require a password: secrets, file paths and network settings
 * are left out of CONFIG GET (by name or pattern, RESP2 and RESP3) and CONFIG SET of them is refused with a
 * clear error, nothing sent; every other parameter keeps working; the proxy still reconnects afterwards.
 */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../integration/proxy-cluster.js';
import { client } from './support.js';

const PASSWORD = 'backend-secret-14';
let c: Cluster;
let r: Redis;

beforeAll(async () => {
  c = await startCluster({ groups: 2, redisArgs: ['--requirepass', PASSWORD], overrides: { backend: { password: PASSWORD } } });
  r = await client(c.port);
});

afterAll(async () => {
  r?.disconnect();
  await c?.stop();
});

function pairs(flat: unknown): Map<string, string> {
  const a = flat as string[];
  const m = new Map<string, string>();
  for (let i = 0; i < a.length; i += 2) m.set(a[i]!, a[i + 1]!);
  return m;
}

describe('CONFIG deny list', () => {
  it('CONFIG GET leaves secrets, file paths and network settings out', async () => {
    expect(await r.config('GET', 'requirepass')).toEqual([]);
    expect(await r.config('GET', 'masterauth')).toEqual([]);
    const all = pairs(await r.config('GET', '*'));
    expect(all.size).toBeGreaterThan(100);
    for (const hidden of ['requirepass', 'masterauth', 'masteruser', 'dir', 'dbfilename', 'logfile', 'aclfile', 'bind', 'port', 'tls-port', 'tls-cert-file', 'enable-debug-command', 'unixsocket']) {
      expect(all.has(hidden), hidden).toBe(false);
    }
    expect(all.get('maxmemory-policy')).toBe('noeviction');
    expect(JSON.stringify([...all])).not.toContain(PASSWORD);
    expect(pairs(await r.config('GET', '*pass*')).size).toBe(0);
    expect(await r.config('GET', 'maxmemory')).toEqual(['maxmemory', '0']);
  });

  it('RESP3: the map reply is filtered the same way', async () => {
    const nr = createClient({ socket: { port: c.port, host: '127.0.0.1' }, RESP: 3 });
    await nr.connect();
    try {
      const all = (await nr.configGet('*')) as Record<string, string>;
      expect(Object.keys(all).length).toBeGreaterThan(100);
      expect(all.requirepass).toBeUndefined();
      expect(all.dir).toBeUndefined();
      expect(all['maxmemory-policy']).toBe('noeviction');
    } finally {
      await nr.quit();
    }
  });

  it('CONFIG SET of a denied parameter is refused with a clear error and nothing changes', async () => {
    await expect(r.config('SET', 'requirepass', 'x')).rejects.toThrow(
      "ERR CONFIG SET failed (possibly related to argument 'requirepass') - redslot does not let clients change the backends' secrets",
    );
    await expect(r.config('SET', 'dir', '/tmp')).rejects.toThrow(/argument 'dir'.*file paths/);
    await expect(r.config('SET', 'port', '1')).rejects.toThrow(/argument 'port'.*network settings/);
    await expect(r.call('CONFIG', 'SET', 'maxmemory', '0', 'TLS-PORT', '1')).rejects.toThrow(/argument 'TLS-PORT'.*network settings/);
    await expect(r.config('SET', 'enable-debug-command', 'yes')).rejects.toThrow(/admin switches/);
    expect(c.proxy.runtime.metrics.guards.config_denied).toBe(5);
    // Nothing reached the backends; the proxy still reconnects with its password.
    const direct = new Redis({ port: c.groups[0]!.port, password: PASSWORD, maxRetriesPerRequest: 0 });
    try {
      expect(await direct.config('GET', 'requirepass')).toEqual(['requirepass', PASSWORD]);
      await direct.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    } finally {
      direct.disconnect();
    }
    await new Promise((res) => setTimeout(res, 100));
    expect(await r.set('after-kill', '1')).toBe('OK');
  });

  it('other parameters are still set on every group', async () => {
    expect(await r.config('SET', 'maxmemory-policy', 'allkeys-lru')).toBe('OK');
    expect(pairs(await r.config('GET', 'maxmemory-policy')).get('maxmemory-policy')).toBe('allkeys-lru');
    expect(await r.config('SET', 'maxmemory-policy', 'noeviction')).toBe('OK');
  });
});
