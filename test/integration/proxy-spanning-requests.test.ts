/**
 * Requests that span client reads (RequestDecoder.carrier, proxy/session/client-reads.ts): a request left
 * incomplete at the end of a read is carried into a buffer of its own and the rest is read in place, and its
 * big values go to the backends by reference (proxy/backend/output-batch.ts). Large MSET / SET pipelined with
 * distinct random values, sizes around the 64 KB read scratch and the 128 KB slab, written in one go or cut
 * at odd places, by several clients at once; every value read back (GET, MGET) byte for byte.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { SLAB_SIZE } from '../../proxy/util/lent-slabs.js';
import { sleep, startCluster, type Cluster } from './proxy-cluster.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function cluster(): Promise<Cluster> {
  const c = await startCluster({ groups: 2 });
  cleanups.push(() => c.stop());
  return c;
}

const SCRATCH = 64 * 1024;
const SIZES = [3, 1000, 16_384, SCRATCH - 40, SCRATCH, SCRATCH + 5, SLAB_SIZE - 30, SLAB_SIZE, SLAB_SIZE + 11, 200_000];

/** Sends `wire` on a raw socket in pieces cut at `cuts` (pausing between them), and waits for `replies` replies of +OK. */
async function sendCut(port: number, wire: Buffer, cuts: number[], replies: number): Promise<void> {
  const s = net.connect(port, '127.0.0.1');
  cleanups.push(() => void s.destroy());
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString('latin1')));
  let prev = 0;
  for (const c of [...cuts, wire.length]) {
    if (c <= prev) continue;
    s.write(wire.subarray(prev, c));
    prev = c;
    await sleep(2);
  }
  const want = '+OK\r\n'.repeat(replies);
  const deadline = Date.now() + 20_000;
  while (got.length < want.length && Date.now() < deadline) await sleep(10);
  expect(got).toBe(want);
  s.destroy();
}

describe('requests spanning client reads', () => {
  it('pipelined MSET / SET of random values around the read and slab sizes, several clients, whole or cut anywhere: read back byte for byte', async () => {
    const c = await cluster();
    const values = new Map<string, Buffer>();
    const jobs: Array<Promise<void>> = [];
    for (let ci = 0; ci < 6; ci++) {
      const cmds: Buffer[] = [];
      for (let r = 0; r < 4; r++) {
        const args: Array<string | Buffer> = ['MSET'];
        for (let k = 0; k < 6; k++) {
          const key = `span:${ci}:${r}:m${k}`;
          const v = randomBytes(SIZES[(ci + r * 3 + k) % SIZES.length]!);
          values.set(key, v);
          args.push(key, v);
        }
        cmds.push(encodeCommand(args));
        const key = `span:${ci}:${r}:s`;
        const v = randomBytes(SIZES[(ci * 7 + r) % SIZES.length]!);
        values.set(key, v);
        cmds.push(encodeCommand(['SET', key, v]));
      }
      const wire = Buffer.concat(cmds);
      // Client 0 writes in one go; the others cut the stream at random places (mid-header, mid-value ...).
      const cuts = ci === 0 ? [] : Array.from({ length: 12 }, () => Math.floor(Math.random() * wire.length)).sort((a, b) => a - b);
      jobs.push(sendCut(c.port, wire, cuts, cmds.length));
    }
    await Promise.all(jobs);

    const reader = new Redis({ port: c.port, maxRetriesPerRequest: 0 });
    cleanups.push(() => reader.disconnect());
    const keys = [...values.keys()];
    const p = reader.pipeline();
    for (const k of keys) p.getBuffer(k);
    for (let i = 0; i < keys.length; i += 5) p.mgetBuffer(...keys.slice(i, i + 5));
    const res = (await p.exec())!.map(([err, v]) => {
      if (err) throw err;
      return v as Buffer | Buffer[];
    });
    keys.forEach((k, i) => expect((res[i] as Buffer).equals(values.get(k)!), `GET ${k}`).toBe(true));
    let at = keys.length;
    for (let i = 0; i < keys.length; i += 5) {
      const m = res[at++] as Buffer[];
      keys.slice(i, i + 5).forEach((k, j) => expect(m[j]!.equals(values.get(k)!), `MGET ${k}`).toBe(true));
    }
  });

  it('a client pipelining big MSETs while others churn the shared read buffers: every value intact', async () => {
    const c = await cluster();
    const mset = new Redis({ port: c.port, maxRetriesPerRequest: 0 });
    const churn = Array.from({ length: 4 }, () => new Redis({ port: c.port, maxRetriesPerRequest: 0 }));
    cleanups.push(() => mset.disconnect(), ...churn.map((r) => () => r.disconnect()));
    const values = new Map<string, Buffer>();
    const p = mset.pipeline();
    for (let r = 0; r < 16; r++) {
      const args: Array<string | Buffer> = [];
      for (let k = 0; k < 10; k++) {
        const key = `big:${r}:${k}`;
        const v = randomBytes(16_384 + ((r * 10 + k) % 7) * 1000);
        values.set(key, v);
        args.push(key, v);
      }
      p.mset(...args);
    }
    const churning = churn.map(async (r, i) => {
      for (let round = 0; round < 10; round++) {
        const q = r.pipeline();
        for (let k = 0; k < 20; k++) q.set(`churn:${i}:${k}`, randomBytes(SIZES[(k + round) % SIZES.length]!));
        await q.exec();
      }
    });
    const done = await p.exec();
    await Promise.all(churning);
    for (const [err, v] of done!) {
      expect(err).toBeNull();
      expect(v).toBe('OK');
    }
    const keys = [...values.keys()];
    const got = await mset.mgetBuffer(...keys);
    keys.forEach((k, i) => expect(got[i]!.equals(values.get(k)!), k).toBe(true));
  });
});
