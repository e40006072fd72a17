/**
 * Client-state commands through the proxy behave as on one Redis 7 (byte for byte, compared with a real
 * redis-server): CLIENT REPLY OFF / SKIP / ON, also for Pub/Sub clients (RESP2 and RESP3) - before issue 14
 * they could stall a subscriber; CLIENT UNBLOCK of a client blocked through this proxy; CLIENT PAUSE
 * refused with a reason; SLOWLOG answered from the proxy's own slow log; LATENCY refused with a reason.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { RawConn, startCluster, type Cluster } from '../integration/proxy-cluster.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { client, replyEnd } from './support.js';

let c: Cluster;
let plain: RedisServerHandle;

beforeAll(async () => {
  c = await startCluster({ groups: 2, overrides: { slowlog: { slowerThan: 0, maxLen: 16 } } });
  plain = await startRedis([]);
});

afterAll(async () => {
  await c?.stop();
  await plain?.stop();
});

type Step = string[] | { publish: string; message: string } | { wait: number } | { resp3: true };

/** Runs `steps` on one raw connection to `port` (publishes from a second client); returns what it received. */
async function transcript(port: number, steps: Step[]): Promise<string> {
  const conn = await RawConn.open(port);
  const pub = new Redis({ port, maxRetriesPerRequest: 0 });
  try {
    let skip = 0;
    for (const s of steps) {
      if ('resp3' in s) {
        // HELLO 3's map names the server (redis / redslot): not compared.
        conn.send(encodeCommand(['HELLO', '3']));
        await conn.waitFor('proto', 3000);
        await new Promise((r) => setTimeout(r, 60));
        skip = replyEnd(Buffer.from(conn.received(), 'latin1'), 0);
        continue;
      }
      if (Array.isArray(s)) conn.send(encodeCommand(s));
      else if ('publish' in s) await pub.publish(s.publish, s.message);
      else await new Promise((r) => setTimeout(r, s.wait));
      await new Promise((r) => setTimeout(r, 60));
    }
    conn.send(encodeCommand(['PING', 'end-of-transcript']));
    return (await conn.waitFor('end-of-transcript\r\n', 3000)).slice(skip);
  } finally {
    conn.close();
    pub.disconnect();
  }
}

async function sameAsRedis(steps: Step[]): Promise<string> {
  const want = await transcript(plain.port, steps);
  const got = await transcript(c.port, steps);
  expect(got).toBe(want);
  return got;
}

describe('CLIENT REPLY', () => {
  it('OFF / SKIP / ON on a plain client', async () => {
    await sameAsRedis([['CLIENT', 'REPLY', 'OFF'], ['SET', 'cr1', 'a'], ['GET', 'cr1'], ['CLIENT', 'REPLY', 'ON'], ['GET', 'cr1'], ['CLIENT', 'REPLY', 'SKIP'], ['GET', 'cr1'], ['GET', 'cr1']]);
  });

  it('a RESP2 subscriber with REPLY OFF / SKIP keeps getting (or not) what Redis sends', async () => {
    await sameAsRedis([
      ['SUBSCRIBE', 'crch'],
      { publish: 'crch', message: 'm1' },
      ['CLIENT', 'REPLY', 'OFF'],
      { publish: 'crch', message: 'm2' },
      ['CLIENT', 'REPLY', 'ON'],
      { publish: 'crch', message: 'm3' },
      ['UNSUBSCRIBE', 'crch'],
    ]);
  });

  it('a RESP3 subscriber with REPLY SKIP / OFF / ON', async () => {
    await sameAsRedis([
      { resp3: true },
      ['CLIENT', 'REPLY', 'SKIP'],
      ['SUBSCRIBE', 'crch3'],
      { publish: 'crch3', message: 'm1' },
      ['CLIENT', 'REPLY', 'OFF'],
      { publish: 'crch3', message: 'm2' },
      ['PING'],
      ['CLIENT', 'REPLY', 'ON'],
      { publish: 'crch3', message: 'm3' },
      ['PING'],
    ]).then((t) => expect(t).toContain('m3'));
  });

  it('RESET turns replies back on, as on Redis', async () => {
    await sameAsRedis([['CLIENT', 'REPLY', 'OFF'], ['PING'], ['RESET'], ['PING']]);
  });
});

describe('CLIENT UNBLOCK, PAUSE', () => {
  it('CLIENT UNBLOCK wakes a client blocked through this proxy (TIMEOUT and ERROR), 0 for others', async () => {
    const blocked = await client(c.port);
    const admin = await client(c.port);
    try {
      const id = (await blocked.client('ID')) as number;
      const pending = blocked.blpop('unblock-list', 0);
      await new Promise((r) => setTimeout(r, 200));
      expect(await admin.client('UNBLOCK', id)).toBe(1);
      expect(await pending).toBeNull();
      const pending2 = blocked.blpop('unblock-list', 0).then(
        () => null,
        (e: Error) => e,
      );
      await new Promise((r) => setTimeout(r, 200));
      expect(await admin.client('UNBLOCK', id, 'ERROR')).toBe(1);
      expect((await pending2)?.message).toBe('UNBLOCKED client unblocked via CLIENT UNBLOCK');
      expect(await admin.client('UNBLOCK', id)).toBe(0);
      expect(await admin.client('UNBLOCK', 999999)).toBe(0);
      expect(await blocked.ping()).toBe('PONG');
    } finally {
      blocked.disconnect();
      admin.disconnect();
    }
  });

  it('CLIENT PAUSE is refused with a reason', async () => {
    const r = await client(c.port);
    try {
      await expect(r.client('PAUSE', 100)).rejects.toThrow(/not supported by redslot.*pause the backends directly/);
    } finally {
      r.disconnect();
    }
  });
});

describe('SLOWLOG and LATENCY', () => {
  it('SLOWLOG GET / LEN / RESET from the proxy (end-to-end latency, client address, backend)', async () => {
    const r = await client(c.port);
    try {
      expect(await r.slowlog('RESET')).toBe('OK');
      await r.set('slow-key', 'v');
      await r.get('slow-key');
      const len = (await r.slowlog('LEN')) as number;
      expect(len).toBeGreaterThanOrEqual(2);
      const entries = (await r.slowlog('GET', 3)) as Array<[number, number, number, string[], string, string]>;
      expect(entries).toHaveLength(3);
      // Newest first; logged once answered (so the SLOWLOG LEN above is the newest).
      expect(entries[0]![3]).toEqual(['slowlog', 'LEN']);
      expect(entries[0]![5]).toBe('backend=proxy');
      const [id, ts, us, argv, addr, name] = entries[1]!;
      expect(typeof id).toBe('number');
      expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(10);
      expect(us).toBeGreaterThanOrEqual(0);
      expect(argv).toEqual(['get', 'slow-key']);
      expect(addr).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(name).toMatch(/^backend=127\.0\.0\.1:\d+$/);
      expect(entries[2]![3]).toEqual(['set', 'slow-key', 'v']);
      expect(entries[2]![0]).toBeLessThan(id);
      // Redis's default count is 10; -1 = all; the log keeps slowlog.maxLen entries.
      for (let i = 0; i < 30; i++) await r.ping();
      expect(((await r.slowlog('GET', -1)) as unknown[]).length).toBe(16);
      expect(await r.slowlog('LEN')).toBe(16);
      expect(await r.slowlog('RESET')).toBe('OK');
      expect(await r.slowlog('LEN')).toBeLessThanOrEqual(1);
    } finally {
      r.disconnect();
    }
  });

  it('LATENCY is refused with a reason', async () => {
    const r = await client(c.port);
    try {
      await expect(r.call('LATENCY', 'LATEST')).rejects.toThrow(/command 'latency.*' is not supported by redslot/);
    } finally {
      r.disconnect();
    }
  });
});
