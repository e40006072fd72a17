/**
 * Fan-out replies taken in parts (proxy/router/requests/fanout.ts, shared/resp/array-pieces.ts):
 * - an MGET whose keys all live on one group is forwarded as is, and its big reply now streams to the client
 *   as it arrives, like a single key's (backend.streamRepliesFrom); cut mid-reply (a TCP relay stands for the
 *   network, the one allowed fake), that client is disconnected and the one queued behind gets an error;
 * - an MGET across groups takes each part's big reply as the pieces it arrived in and merges the client's
 *   reply from their views: no part's reply is concatenated; a group dying mid-reply gives the MGET one error.
 * Every lent reply view is given back (proxy/util/lent-slabs.ts), nothing wedges.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy } from '../../proxy/main.js';
import { lendCounts } from '../../proxy/util/lent-slabs.js';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { setLogLevel } from '../../shared/log.js';
import { slotOf } from '../../shared/slot.js';
import { startRedis } from '../support/redis-server.js';
import { connectRaw, lentBackTo } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { sleep, startCluster } from './proxy-cluster.js';

setLogLevel('silent');

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length) await cleanups.pop()!();
});

/**
 * A relay standing for the network (the allowed fake): once told `passOnly(n)`, it passes n more bytes from
 * the server and holds the rest back, so a reply stops mid-way for sure; `cut()` breaks every connection.
 */
interface CuttingRelay {
  endpoint: string;
  passOnly(n: number): void;
  passAll(): void;
  cut(): void;
}

async function cuttingRelay(target: number): Promise<CuttingRelay> {
  let allowance = Infinity;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.on('data', (d: Buffer) => {
      if (allowance <= 0) return; // held back (dropped: the connection is cut before anything else passes)
      const part = d.length > allowance ? d.subarray(0, allowance) : d;
      allowance -= part.length;
      client.write(part);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    endpoint: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    passOnly: (n) => void (allowance = n),
    passAll: () => void (allowance = Infinity),
    cut: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

/** A proxy over two redis-servers, group 1 (slots 0-511) reached through a cutting relay. */
async function relayedCluster(): Promise<{ port: number; relay: CuttingRelay; direct: Redis[] }> {
  const r1 = await startRedis();
  cleanups.push(() => r1.stop());
  const r2 = await startRedis();
  cleanups.push(() => r2.stop());
  const relay = await cuttingRelay(r1.port);
  const config = loadProxyConfig({
    env: {},
    overrides: {
      listen: '127.0.0.1:0',
      admin: '',
      backend: { backoffMin: '20ms', backoffMax: '100ms' },
      topology: {
        groups: [
          { id: 1, servers: [{ addr: relay.endpoint, role: 'master' }] },
          { id: 2, servers: [{ addr: r2.addr, role: 'master' }] },
        ],
        slots: [
          [0, 511, 1],
          [512, 1023, 2],
        ],
      },
    },
  });
  const proxy = await startProxy({ config, defaultMetrics: false });
  cleanups.push(() => proxy.close({ deadlineMs: 2000 }));
  const direct = [new Redis({ port: r1.port, maxRetriesPerRequest: 0 }), new Redis({ port: r2.port, maxRetriesPerRequest: 0 })];
  cleanups.push(() => direct.forEach((d) => d.disconnect()));
  return { port: proxy.port, relay, direct };
}

/** `n` keys of group 1 (slots below 512) or 2, named `prefix<i>`. */
function keysOf(group: 1 | 2, n: number, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if ((slotOf(Buffer.from(`${prefix}${i}`)) < 512) === (group === 1)) out.push(`${prefix}${i}`);
  return out;
}

describe('fan-out replies in parts', () => {
  it('a single-group MGET streams (fails before: nothing reached the client before the whole reply was in); cut mid-reply: that client is disconnected, the one behind gets an error; then served whole', async () => {
    const { port, relay, direct } = await relayedCluster();
    const keys = keysOf(1, 4, 'sg:');
    const value = Buffer.alloc(1024 * 1024, 0x73);
    for (const k of keys) await direct[0]!.set(k, value);
    await direct[0]!.set('small{sg}', 'x');
    const io = new Redis({ port, maxRetriesPerRequest: 0 });
    cleanups.push(() => io.disconnect());
    expect(await io.get(keys[0]!)).toHaveLength(value.length); // the backend connection is up
    const lent0 = lendCounts().lent;

    const a = await connectRaw(port, cleanups);
    const b = await connectRaw(port, cleanups);
    relay.passOnly(600 * 1024); // the reply stops after 600 KB of its 4 MB
    a.s.write(encodeCommand(['MGET', ...keys]));
    await until('a part of the reply at the client', () => a.got.length > 0, 5000);
    b.s.write(encodeCommand(['GET', keys[0]!])); // behind it on the same backend connection
    await sleep(100);
    const head = `*4\r\n$${value.length}\r\n`;
    expect(Buffer.concat(a.got).subarray(0, head.length).toString('latin1')).toBe(head);
    expect(Buffer.concat(a.got).length).toBeLessThanOrEqual(600 * 1024);
    relay.cut(); // the connection breaks mid-reply
    let aClosed = false;
    await Promise.race([a.closed.then(() => (aClosed = true)), sleep(5000)]);
    expect(aClosed).toBe(true);
    await until("the queued client's reply", () => Buffer.concat(b.got).includes('\r\n'), 5000);
    expect(Buffer.concat(b.got).toString('latin1')).toMatch(/^-ERR .*connection lost/);
    expect(await lentBackTo(lent0)).toBe(lent0);

    relay.passAll();
    await until('the backend reachable again', async () => (await io.get('small{sg}').catch(() => null)) === 'x', 10_000);
    const lent1 = lendCounts().lent;
    const got = await io.mgetBuffer(...keys);
    for (const g of got) expect(g!.equals(value)).toBe(true);
    expect(await lentBackTo(lent1)).toBe(lent1);
  }, 30_000);

  it('MGETs across groups with parts of 80-400 KB, 6 clients at once: every value byte for byte, no part reply concatenated (fails before), every view given back', async () => {
    const c = await startCluster({ groups: 2 });
    cleanups.push(() => c.stop());
    const clients = Array.from({ length: 6 }, () => new Redis({ port: c.port, maxRetriesPerRequest: 0 }));
    cleanups.push(() => clients.forEach((r) => r.disconnect()));
    const values = new Map<string, Buffer>();
    const keys = Array.from({ length: 24 }, (_, i) => `xg:${i}`);
    for (const [i, k] of keys.entries()) values.set(k, randomBytes(16_000 + ((i * 7919) % 17_000)));
    await clients[0]!.mset(...keys.flatMap((k) => [k, values.get(k)!]));
    expect(new Set(keys.map((k) => c.groupOfKey(k))).size).toBe(2);
    await Promise.all(clients.map((r) => r.mgetBuffer(keys[0]!, keys[1]!))); // connections up before counting
    const lent0 = lendCounts().lent;
    // The framer joins a reply's pieces with Buffer.concat when they are not adjacent in memory.
    const original = Buffer.concat.bind(Buffer);
    let framerJoins = 0;
    vi.spyOn(Buffer, 'concat').mockImplementation((list: readonly Uint8Array[], total?: number) => {
      const out = original(list, total);
      if (out.length >= 64 * 1024 && (new Error().stack ?? '').includes('reply-framer')) framerJoins++;
      return out;
    });
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        clients.map(async (r, ci) => {
          const ks = keys.slice((round + ci) % 4).concat(keys.slice(0, (round + ci) % 4)).slice(0, 6 + ((round * 5 + ci) % 19));
          const p = r.pipeline();
          for (let j = 0; j < 3; j++) p.mgetBuffer(...ks);
          for (const [err, got] of (await p.exec())!) {
            expect(err).toBeNull();
            (got as Buffer[]).forEach((g, i) => {
              if (!g.equals(values.get(ks[i]!)!)) throw new Error(`${ks[i]} differs`);
            });
          }
        }),
      );
    }
    vi.restoreAllMocks();
    expect(framerJoins).toBe(0);
    expect(await lentBackTo(lent0)).toBe(lent0);
  }, 60_000);

  it('a group dying while a part of 4 MB comes in pieces: that MGET gets one error, nothing wedges, lent views come back', async () => {
    const { port, relay, direct } = await relayedCluster();
    const k1 = keysOf(1, 4, 'dy:a:');
    const k2 = keysOf(2, 2, 'dy:b:');
    const value = Buffer.alloc(1024 * 1024, 0x64);
    for (const k of k1) await direct[0]!.set(k, value);
    for (const k of k2) await direct[1]!.set(k, 'b');
    const io = new Redis({ port, maxRetriesPerRequest: 0 });
    cleanups.push(() => io.disconnect());
    expect(await io.mget(k2[0]!, k2[1]!)).toEqual(['b', 'b']);
    expect((await io.mgetBuffer(k1[0]!, k2[0]!))[0]!.length).toBe(value.length);
    const lent0 = lendCounts().lent;
    relay.passOnly(700 * 1024); // the part's reply stops after 700 KB: pieces kept, over the stream threshold
    const pending = io.mgetBuffer(...k1, ...k2).then(
      () => 'answered',
      (e: Error) => e.message,
    );
    await sleep(200);
    expect(lendCounts().lent).toBeGreaterThan(lent0); // pieces held
    relay.cut();
    expect(await pending).toMatch(/connection lost/);
    expect(await io.mget(k2[0]!, k2[1]!)).toEqual(['b', 'b']); // not wedged
    expect(await lentBackTo(lent0)).toBe(lent0);
    relay.passAll();
    await until('group 1 back', async () => (await io.mgetBuffer(k1[0]!, k2[0]!).catch(() => null)) !== null, 10_000);
    const got = await io.mgetBuffer(...k1, ...k2);
    for (let i = 0; i < k1.length; i++) expect(got[i]!.equals(value)).toBe(true);
  }, 30_000);
});
