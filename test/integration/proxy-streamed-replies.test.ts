/**
 * Big replies streamed in parts (backend.streamRepliesFrom) when things go wrong:
 * - the backend connection is cut mid-reply (a TCP relay stands for the network, the one allowed fake): the
 *   client that already has part of the reply is disconnected (it cannot be answered in-band), the client
 *   queued behind it on the same connection gets `connection lost`, and everyone goes on after the redial;
 * - a client that does not read one huge reply: closed at limits.maxClientOutput while the reply streams
 *   (the proxy never holds the whole reply), while another client's replies come right behind it;
 * and in both, every lent reply view is given back (proxy/util/lent-slabs.ts).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy } from '../../proxy/main.js';
import { lendCounts } from '../../proxy/util/lent-slabs.js';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { setLogLevel } from '../../shared/log.js';
import { startRedis } from '../support/redis-server.js';
import { startTcpRelay } from '../support/tcp-relay.js';
import { connectRaw, lentBackTo } from '../support/raw-client.js';
import { until } from '../support/until.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { sleep, startCluster } from './proxy-cluster.js';

setLogLevel('silent');

const cleanups = cleanupsAfterEach();

describe('streamed replies', () => {
  it('the backend connection cut mid-reply (a relay stands for the network): that client is disconnected, the one queued behind gets an error, the rest go on', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const relay = await startTcpRelay(redis.port);
    cleanups.push(() => relay.stop());
    const config = loadProxyConfig({
      env: {},
      overrides: { listen: '127.0.0.1:0', admin: '', topology: { groups: [{ id: 1, servers: [{ addr: relay.endpoint, role: 'master' }] }], slots: [[0, 1023, 1]] } },
    });
    const proxy = await startProxy({ config, defaultMetrics: false });
    cleanups.push(() => proxy.close({ deadlineMs: 2000 }));
    const direct = new Redis({ port: redis.port, maxRetriesPerRequest: 0 });
    cleanups.push(() => direct.disconnect());
    const huge = Buffer.alloc(48 * 1024 * 1024, 0x68);
    await direct.set('huge', huge);
    await direct.set('small', 'x');
    const io = new Redis({ port: proxy.port, maxRetriesPerRequest: 0 });
    cleanups.push(() => io.disconnect());
    expect(await io.get('small')).toBe('x'); // the backend connection is up
    const lent0 = lendCounts().lent;

    const a = await connectRaw(proxy.port, cleanups);
    const b = await connectRaw(proxy.port, cleanups);
    // The rest of the reply stays in the network from the moment its first part reaches the client.
    const firstPart = new Promise<void>((resolve) => a.s.once('data', () => {
        relay.pause();
        resolve();
      }));
    a.s.write(encodeCommand(['GET', 'huge']));
    await firstPart;
    b.s.write(encodeCommand(['GET', 'small'])); // behind it on the same connection
    await sleep(100);
    await relay.close(); // the connection breaks mid-reply
    await a.closed;
    const aBytes = Buffer.concat(a.got);
    expect(aBytes.length).toBeGreaterThan(0);
    expect(aBytes.length).toBeLessThan(huge.length); // a part, then the connection closed: never a wrong whole reply
    expect(aBytes.subarray(0, 11).toString('latin1')).toBe(`$${huge.length}\r\n`);
    await until("the queued client's reply", () => Buffer.concat(b.got).includes('\r\n'), 5000);
    expect(Buffer.concat(b.got).toString('latin1')).toMatch(/^-ERR .*connection lost/);

    expect(await lentBackTo(lent0)).toBe(lent0); // every part given back, written or dropped

    await relay.reopen();
    relay.resume(); // new connections move bytes again
    // The redial met the closed relay: the connection fails fast ("unavailable") until its backoff retries.
    await until('the backend reachable again', async () => (await io.get('small')) === 'x', 10_000);
    const lent1 = lendCounts().lent; // the redial's handshake replies are kept lent for good (router/lending.ts)
    expect((await io.getBuffer('huge'))!.equals(huge)).toBe(true); // streamed whole once the network is back
    expect(await lentBackTo(lent1)).toBe(lent1);
  });

  it('a client that does not read one huge reply is closed at limits.maxClientOutput while it streams; another is served right behind it', async () => {
    const c = await startCluster({ groups: 1, overrides: { limits: { maxClientOutput: '4mb' } } });
    cleanups.push(() => c.stop());
    const io = new Redis({ port: c.port, maxRetriesPerRequest: 0 });
    cleanups.push(() => io.disconnect());
    const huge = Buffer.alloc(64 * 1024 * 1024, 0x77);
    await c.direct(0).set('hugeval', huge);
    const big = Buffer.alloc(1024 * 1024, 0x78);
    await c.direct(0).set('bigval', big);
    expect(await io.get('small')).toBeNull();
    const lent0 = lendCounts().lent;

    const hog = await connectRaw(c.port, cleanups);
    hog.s.pause(); // never reads
    hog.s.write(encodeCommand(['GET', 'hugeval']));
    // Behind it at Redis: answered once the huge reply went by (streamed to the hog, or dropped once it is closed).
    const got = await Promise.all(Array.from({ length: 8 }, () => io.getBuffer('bigval')));
    for (const g of got) expect(g!.equals(big)).toBe(true);
    // A paused socket cannot notice its close: ask the proxy. Closed mid-reply, at the limit, not once it had 64 MB.
    await until('the hog closed', () => c.proxy.runtime.server.sessions.size === 1, 10_000);
    const metrics = await (await fetch(`http://${c.proxy.adminAddr}/metrics`)).text();
    expect(metrics).toContain('redslot_proxy_downstream_cx_output_limit_total 1');
    expect(await lentBackTo(lent0)).toBe(lent0);
  });
});
