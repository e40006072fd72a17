/**
 * Fan-out requests keep their client bytes as lent views of the client arena (proxy/router/lending.ts): the
 * bytes of pipelined MSETs share arena slabs and are given back once every part has answered, the parts'
 * replies once merged or written. A view given back while still read would put one client's bytes into
 * another's values, so: many clients pipelining MSET / MGET / EXISTS / DEL with distinct random values
 * (small ones copied into the backend batch, big ones referenced by it, some requests spanning reads),
 * through a real proxy and real redis-servers, every value read back byte for byte, also while slots
 * migrate (migrate-on-access moves the parts' keys first); and every view lent was given back, none twice.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlotRecord } from '../../shared/model/types.js';
import { slotOfString } from '../../shared/slot.js';
import { lendCounts } from '../../proxy/util/lent-slabs.js';
import { RawConn, sleep, splitTopology, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

const CLIENTS = 8;
const MSETS = 30;
const KEYS = 4;

let c: Cluster;
const clients: Redis[] = [];

useProxyCluster({ groups: 2 }, (s) => ({ cluster: c } = s));
beforeAll(() => {
  for (let i = 0; i < CLIENTS; i++) clients.push(new Redis({ port: c.port, maxRetriesPerRequest: 0 }));
});
afterAll(() => {
  for (const r of clients) r.disconnect();
});

/**
 * A random value: mostly small (copied into the backend batch), some of 4 KB or more (referenced by it).
 */
function randomValue(): Buffer {
  const pick = randomInt(10);
  const size = pick < 4 ? randomInt(0, 64) : pick < 8 ? randomInt(500, 1500) : randomInt(4096, 6000);
  return randomBytes(size);
}


/** One round for one client: a pipeline of MSETs (and a SET/GET between), then MGETs, EXISTS and DELs, checked. */
async function round(r: Redis, keyOf: (m: number, j: number) => string): Promise<void> {
  const values = new Map<string, Buffer>();
  const w = r.pipeline();
  for (let m = 0; m < MSETS; m++) {
    const args: Array<string | Buffer> = [];
    for (let j = 0; j < KEYS; j++) {
      const k = keyOf(m, j);
      const v = randomValue();
      values.set(k, v);
      args.push(k, v);
    }
    w.mset(...args);
    if (m % 7 === 0) w.set(`${keyOf(m, 0)}:single`, randomValue());
  }
  for (const [err, res] of (await w.exec())!) {
    expect(err).toBeNull();
    expect(res).toBe('OK');
  }
  const rd = r.pipeline();
  for (let m = 0; m < MSETS; m++) {
    const keys = Array.from({ length: KEYS }, (_, j) => keyOf(m, KEYS - 1 - j)); // another order than written
    rd.mgetBuffer(...keys);
    rd.exists(...keys);
  }
  const got = (await rd.exec())!;
  for (let m = 0; m < MSETS; m++) {
    const [err, vals] = got[2 * m]!;
    expect(err).toBeNull();
    const keys = Array.from({ length: KEYS }, (_, j) => keyOf(m, KEYS - 1 - j));
    (vals as Buffer[]).forEach((v, j) => {
      if (!v.equals(values.get(keys[j]!)!)) throw new Error(`${keys[j]}: ${v.length} bytes differ from the ${values.get(keys[j]!)!.length} written`);
    });
    expect(got[2 * m + 1]![1]).toBe(KEYS);
  }
  const del = r.pipeline();
  for (let m = 0; m < MSETS; m += 3) del.del(keyOf(m, 0), keyOf(m, 1));
  for (const [err, res] of (await del.exec())!) {
    expect(err).toBeNull();
    expect(res).toBe(2);
  }
}

/** Waits until the lent views are back to `lent` (replies still being written give theirs back when done). */
async function settled(lent: number): Promise<number> {
  for (let i = 0; i < 100 && lendCounts().lent !== lent; i++) await sleep(20);
  return lendCounts().lent;
}

describe('fan-out requests lending their client bytes', () => {
  it('8 clients pipelining MSET / MGET / EXISTS / DEL with distinct random values: every value byte for byte; every lent view given back, none twice', async () => {
    // Warm up: backend connections and their handshakes (whose replies are lent for good) before counting.
    await Promise.all(clients.map((r, ci) => r.mset(`warm:${ci}:a`, 'x', `warm:${ci}:b`, 'y')));
    await Promise.all(clients.map((r, ci) => r.mget(`warm:${ci}:a`, `warm:${ci}:b`)));
    const before = lendCounts();
    for (let n = 0; n < 4; n++) {
      await Promise.all(clients.map((r, ci) => round(r, (m, j) => `fl:${ci}:${n}:${m}:${j}`)));
    }
    expect(await settled(before.lent)).toBe(before.lent);
    expect(lendCounts().overReturned).toBe(before.overReturned);
  }, 60_000);

  it('an inline MSET of 32 KB and more arriving over several reads (no raw view: its arguments are copies) is served, and a pipelined request after it; nothing lent is left out', async () => {
    const raw = await RawConn.open(c.port);
    try {
      const before = lendCounts();
      const a = 'a'.repeat(20_000);
      const b = 'b'.repeat(20_000);
      const line = Buffer.from(`MSET inl:{x}1 ${a} inl:{y}2 ${b}\r\n`);
      expect(line.length).toBeGreaterThan(32 * 1024);
      // In pieces, each its own read: the request spans reads.
      for (let at = 0; at < line.length; at += 8000) {
        raw.send(line.subarray(at, Math.min(line.length, at + 8000)));
        await sleep(20);
      }
      raw.send('*3\r\n$4\r\nMGET\r\n$8\r\ninl:{x}1\r\n$8\r\ninl:{y}2\r\n');
      const want = `+OK\r\n*2\r\n$20000\r\n${a}\r\n$20000\r\n${b}\r\n`;
      expect(await raw.waitFor(want, 5000)).toBe(want);
      expect(await clients[0]!.get('inl:{x}1')).toBe(a);
      expect(await settled(before.lent)).toBe(before.lent);
      expect(lendCounts().overReturned).toBe(before.overReturned);
    } finally {
      raw.close();
    }
  });

  it('the same while the slots of half the keys migrate (migrate-on-access moves the keys of the parts first): every value byte for byte, none given back twice', async () => {
    const before = lendCounts();
    const key = (ci: number, n: number, m: number, j: number) => `mg:${ci}:${m}:${j}:${n}`;
    await Promise.all(clients.map((r, ci) => round(r, (m, j) => key(ci, 0, m, j))));
    // Every slot of group 1 that these keys use migrates to group 2.
    const changes: Record<number, Partial<SlotRecord>> = {};
    for (let ci = 0; ci < CLIENTS; ci++) {
      for (let m = 0; m < MSETS; m++) {
        for (let j = 0; j < KEYS; j++) {
          const slot = slotOfString(key(ci, 1, m, j));
          if (slot < 512) changes[slot] = { group: 1, action: { state: 'migrating', target: 2, index: 1 } };
        }
      }
    }
    expect(Object.keys(changes).length).toBeGreaterThan(100);
    await c.proxy.runtime.applyTopology(splitTopology(c, changes));
    await Promise.all(clients.map((r, ci) => round(r, (m, j) => key(ci, 1, m, j))));
    // The keys of migrating slots were moved on access: on the target now, not on the source (DEL took j 0 and 1 of every third m).
    let checked = 0;
    for (let m = 1; m < MSETS && checked < 10; m += 3) {
      const k = key(0, 1, m, 3);
      if (slotOfString(k) >= 512) continue;
      expect(await c.direct(1).exists(k)).toBe(1);
      expect(await c.direct(0).exists(k)).toBe(0);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
    await settled(before.lent);
    expect(lendCounts().overReturned).toBe(before.overReturned);
  }, 60_000);
});
