/**
 * A read that ends in an incomplete request (a 164 KB MSET at pipeline 1: its first 64 KB read) is copied
 * once, from the shared read scratch straight into the buffer the request is carried in, not first into the
 * client arena and then again into the carry buffer (proxy/session.ts, shared/resp/incomplete-tail.ts).
 * Measured by the process's count of request bytes copied after reading (readCopies), with real
 * redis-servers behind an in-process proxy; every value read back byte for byte.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCopies } from '../../proxy/session/client-reads.js';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { RawConn, startCluster, type Cluster } from './proxy-cluster.js';

let c: Cluster;
let check: Redis;
beforeAll(async () => {
  c = await startCluster({ groups: 2 });
  check = new Redis({ port: c.port, maxRetriesPerRequest: 0 });
});
afterAll(async () => {
  check.disconnect();
  await c.stop();
});

const copied = (): number => readCopies.arena + readCopies.carried;

/** An MSET of 10 x 16 KB random values (164 KB), and the values by key. */
function bigMset(prefix: string): { wire: Buffer; values: Map<string, Buffer> } {
  const values = new Map<string, Buffer>();
  const args: Array<string | Buffer> = ['MSET'];
  for (let i = 0; i < 10; i++) {
    const v = randomBytes(16384);
    values.set(`${prefix}:${i}`, v);
    args.push(`${prefix}:${i}`, v);
  }
  return { wire: encodeCommand(args), values };
}

async function readBack(values: Map<string, Buffer>): Promise<void> {
  const keys = [...values.keys()];
  const got = await check.mgetBuffer(...keys);
  keys.forEach((k, i) => {
    if (!got[i]?.equals(values.get(k)!)) throw new Error(`${k} differs from what was written`);
  });
}

describe('requests carried straight from the read scratch', () => {
  it('MSET 10 x 16 KB at pipeline 1 (fails before: 0.78 of its bytes copied, arena then carry buffer): at most half of its bytes copied per request', async () => {
    const raw = await RawConn.open(c.port);
    try {
      let bytes = 0;
      let copies = 0;
      const all = new Map<string, Buffer>();
      for (let m = 0; m < 20; m++) {
        const { wire, values } = bigMset(`cs:${m}`);
        const before = copied();
        raw.send(wire); // one write: the proxy's first read is the scratch's 64 KB
        expect(await raw.waitFor('+OK\r\n'.repeat(m + 1), 5000)).toBe('+OK\r\n'.repeat(m + 1));
        copies += copied() - before;
        bytes += wire.length;
        for (const [k, v] of values) all.set(k, v);
      }
      // Before: the first read (64 KB) into the arena, then into the carry buffer: ~128 KB of 164 KB.
      expect(copies / bytes).toBeLessThan(0.5);
      await readBack(all);
    } finally {
      raw.close();
    }
  });

  it('small requests and the start of a big one in one read: the small ones from the arena, the big one carried from the scratch; replies in order', async () => {
    const raw = await RawConn.open(c.port);
    try {
      let expected = '';
      let bytes = 0;
      let copies = 0;
      const all = new Map<string, Buffer>();
      for (let m = 0; m < 10; m++) {
        const { wire, values } = bigMset(`cp:${m}`);
        const small = Buffer.concat([encodeCommand(['SET', `cp:s:${m}`, 'x'.repeat(m)]), encodeCommand(['GET', `cp:s:${m}`]), encodeCommand(['PING'])]);
        const before = copied();
        raw.send(Buffer.concat([small, wire]));
        expected += `+OK\r\n$${m}\r\n${'x'.repeat(m)}\r\n+PONG\r\n+OK\r\n`;
        expect(await raw.waitFor(expected, 5000)).toBe(expected);
        copies += copied() - before;
        bytes += small.length + wire.length;
        for (const [k, v] of values) all.set(k, v);
      }
      expect(copies / bytes).toBeLessThan(0.5);
      await readBack(all);
    } finally {
      raw.close();
    }
  });

  it('eight big MSETs pipelined in one write, then a GET: every reply in order, every value byte for byte', async () => {
    const raw = await RawConn.open(c.port);
    try {
      const msets = Array.from({ length: 8 }, (_, m) => bigMset(`cq:${m}`));
      raw.send(Buffer.concat([...msets.map((x) => x.wire), encodeCommand(['GET', 'cq:0:3'])]));
      const v = msets[0]!.values.get('cq:0:3')!;
      const want = '+OK\r\n'.repeat(8) + `$${v.length}\r\n${v.toString('latin1')}\r\n`;
      expect(await raw.waitFor(want, 10_000)).toBe(want);
      for (const m of msets) await readBack(m.values);
    } finally {
      raw.close();
    }
  });
});
