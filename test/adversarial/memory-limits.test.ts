/**
 * Attacks on the proxy's memory, against a proxy process of its own (so its RSS is measured alone), with
 * byte limits like Redis's own knobs set low enough to reach quickly:
 * - a huge request (guard.maxQueryBuffer, Redis client-query-buffer-limit): refused while decoding, before
 *   its data is read, with a clear error, then the connection is closed;
 * - a client that pipelines big GETs and never reads (guard.maxClientsMemory, Redis maxmemory-clients):
 *   closed as the biggest client;
 * - a subscriber that never reads (guard.pubsubOutput, Redis client-output-buffer-limit pubsub): its backend
 *   subscriber connection stops being read (messages wait in Redis, not in the proxy) and after the soft
 *   limit's seconds without reading it is closed; publishers unaffected;
 * - KEYS over a big keyspace (guard.maxMergedReply): refused with a clear error as the groups' replies arrive.
 * Each time a bystander keeps being served, the proxy's RSS (after GC) comes back near its baseline, and the
 * bystander's acknowledged writes are all there.
 */
import net from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { client, figure, spawnProxy, until, type ProxyProcess } from './support.js';

let p: ProxyProcess;
let bystander: Redis;
let rssBase = 0;
let liveBase = 0;
const clients: Redis[] = [];

beforeAll(async () => {
  p = await spawnProxy({
    guard: { maxQueryBuffer: '8mb', maxClientsMemory: '32mb', pubsubOutput: '4mb 1mb 2', maxMergedReply: '1mb' },
  });
  bystander = await client(p.port);
  rssBase = await p.rssMb();
  liveBase = await p.liveMb();
});

afterAll(async () => {
  bystander?.disconnect();
  for (const c of clients) c.disconnect();
  await p?.stop();
});

async function guardCount(event: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${p.adminPort}/metrics`)).text();
  const m = new RegExp(`redslot_proxy_guard_total\\{event="${event}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * Sends `data` on a raw connection that never reads; resolves once the proxy no longer lists it in CLIENT
 * LIST (it closed it: a client that does not read may never see the close itself), or after ms.
 */
async function nonReader(data: Buffer[], ms: number): Promise<{ closed: boolean; afterMs: number }> {
  const t0 = performance.now();
  const s = net.connect(p.port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.pause(); // never read
  const me = `addr=127.0.0.1:${s.localPort} `;
  await until(async () => ((await bystander.client('LIST')) as string).includes(me), 5000, 'the proxy listing the client');
  for (const d of data) s.write(d);
  let closed: boolean;
  try {
    await until(async () => !((await bystander.client('LIST')) as string).includes(me), ms, 'the proxy closing the non-reading client');
    closed = true;
  } catch {
    closed = false;
  }
  s.destroy();
  return { closed, afterMs: performance.now() - t0 };
}

/** Bystander writes during `attack`; returns its worst latency after checking every acknowledged write. */
async function withBystander<T>(attack: Promise<T>): Promise<{ result: T; worstMs: number; rssPeak: number }> {
  let done = false;
  let worstMs = 0;
  let rssPeak = 0;
  const acked = new Map<string, string>();
  const loop = (async () => {
    for (let i = 0; !done; i++) {
      const t0 = performance.now();
      await bystander.set(`by${i % 100}`, String(i));
      worstMs = Math.max(worstMs, performance.now() - t0);
      acked.set(`by${i % 100}`, String(i));
      rssPeak = Math.max(rssPeak, p.rssNowMb());
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const result = await attack;
  done = true;
  await loop;
  const keys = [...acked.keys()];
  expect(await bystander.mget(keys)).toEqual(keys.map((k) => acked.get(k)));
  return { result, worstMs, rssPeak };
}

describe('memory attacks', () => {
  it('a request over guard.maxQueryBuffer is refused while decoding, before its data arrives', async () => {
    const { result, worstMs, rssPeak } = await withBystander(
      new Promise<{ reply: string; closed: boolean }>((resolve) => {
        const s = net.connect(p.port, '127.0.0.1');
        let reply = '';
        s.on('data', (d: Buffer) => (reply += d.toString('latin1')));
        s.on('error', () => {});
        s.on('close', () => resolve({ reply, closed: true }));
        s.on('connect', () => {
          // 4 MB + 6 MB declared: the second length pushes the request over 8 MB.
          s.write('*3\r\n$3\r\nSET\r\n$4194304\r\n');
          s.write(Buffer.alloc(4 * 1024 * 1024 + 2, 0x61).fill('\r\n', 4 * 1024 * 1024));
          s.write('$6291456\r\n');
        });
      }),
    );
    expect(result.reply).toBe('-ERR Protocol error: request over the query buffer limit\r\n');
    expect(result.closed).toBe(true);
    expect(await guardCount('query_buffer')).toBe(1);
    figure('query buffer attack: bystander worst / proxy RSS peak', `${worstMs.toFixed(1)} ms / ${rssPeak.toFixed(1)} MB`);
    expect(worstMs).toBeLessThan(1000);
  });

  it('a client pipelining big GETs without reading is closed at guard.maxClientsMemory', async () => {
    await bystander.set('{big}v', Buffer.alloc(1024 * 1024, 0x62));
    const gets = Buffer.concat(Array.from({ length: 200 }, () => encodeCommand(['GET', '{big}v'])));
    const { result, worstMs, rssPeak } = await withBystander(nonReader([gets], 10_000));
    expect(result.closed).toBe(true);
    expect(await guardCount('client_memory')).toBeGreaterThanOrEqual(1);
    figure('client memory attack (200 x 1 MB GETs unread): closed after / bystander worst / proxy RSS peak', `${result.afterMs.toFixed(0)} ms / ${worstMs.toFixed(1)} ms / ${rssPeak.toFixed(1)} MB`);
    // 200 MB of replies come from Redis before the check closes the client: the bystander waits behind that.
    expect(worstMs).toBeLessThan(2000);
    const rss = await p.rssMb();
    figure('client memory attack: proxy RSS baseline / after', `${rssBase.toFixed(1)} / ${rss.toFixed(1)} MB`);
    expect((await p.liveMb()) - liveBase).toBeLessThan(16);
  });

  it('a subscriber that never reads is closed at its pubsub output limit; publishers go on', async () => {
    const sub = nonReader([encodeCommand(['SUBSCRIBE', 'firehose'])], 15_000);
    const publisher = await client(p.port);
    clients.push(publisher);
    await until(async () => ((await publisher.publish('firehose', 'hello')) as number) === 1, 5000, 'the subscription');
    const msg = Buffer.alloc(256 * 1024, 0x63);
    const { result, worstMs, rssPeak } = await withBystander(
      (async () => {
        for (let i = 0; i < 200; i++) {
          await publisher.publish('firehose', msg);
          if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
        }
        return sub;
      })(),
    );
    const closed = await result;
    expect(closed.closed).toBe(true);
    expect(await guardCount('output_pubsub')).toBeGreaterThanOrEqual(1);
    figure('slow subscriber (200 x 256 KB published): closed after / bystander worst / proxy RSS peak', `${closed.afterMs.toFixed(0)} ms / ${worstMs.toFixed(1)} ms / ${rssPeak.toFixed(1)} MB`);
    expect(await publisher.publish('firehose', 'x')).toBe(0);
  });

  it('KEYS whose merged reply would pass guard.maxMergedReply is refused with a clear error', async () => {
    const writer = await client(p.port);
    clients.push(writer);
    const pipe = writer.pipeline();
    for (let i = 0; i < 40_000; i++) pipe.set(`keys-attack-${'k'.repeat(20)}-${i}`, '1');
    await pipe.exec();
    const { result, worstMs } = await withBystander(writer.keys('keys-attack-*').then(
      () => null,
      (e: Error) => e,
    ));
    expect(result?.message).toBe("ERR the replies of every group to 'keys' exceed guard.maxMergedReply (1048576 bytes); use SCAN");
    expect(await guardCount('merged_reply')).toBe(1);
    // A KEYS with a small answer still works.
    expect(await writer.keys('keys-attack-*-12345')).toEqual([`keys-attack-${'k'.repeat(20)}-12345`]);
    figure('KEYS over 40,000 keys: bystander worst', worstMs, ' ms');
    const rss = await p.rssMb();
    const live = await p.liveMb();
    figure('after all memory attacks: proxy RSS baseline / now; live heap + buffers baseline / now', `${rssBase.toFixed(1)} / ${rss.toFixed(1)} MB; ${liveBase.toFixed(1)} / ${live.toFixed(1)} MB`);
    // RSS keeps pages the allocator got during a 200 MB spike; what the proxy still holds is the live heap and buffers.
    expect(live - liveBase).toBeLessThan(16);
    expect(rss - rssBase).toBeLessThan(160);
  });
});
