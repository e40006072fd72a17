/**
 * Large values through the proxy, byte for byte, while reply buffers are recycled (proxy/backend/read-slab.ts):
 * backend replies are read into slabs that are read into again once every reply view of them has been
 * written to its client. Many clients with values of every size around the slab and read boundaries, and a
 * client that stops reading (its replies stay queued as views) while the others churn the slabs.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { READ_SLAB_SIZE } from '../../proxy/backend/read-slab.js';
import { lendCounts, SLAB_SIZE } from '../../proxy/util/lent-slabs.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { sleep, startCluster, type Cluster } from './proxy-cluster.js';

const cleanups = cleanupsAfterEach();

async function cluster(): Promise<Cluster> {
  const c = await startCluster({ groups: 2 });
  cleanups.push(() => c.stop());
  return c;
}

function client(port: number): Redis {
  const r = new Redis({ port, maxRetriesPerRequest: 0 });
  cleanups.push(() => r.disconnect());
  return r;
}

/** A value whose every byte depends on the key and the version: a byte from another reply shows. */
function valueOf(key: string, version: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (version * 2654435761) ^ key.length;
  for (let i = 0; i < key.length; i++) x = Math.imul(x ^ key.charCodeAt(i), 16777619);
  for (let i = 0; i < size; i++) {
    x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) + i;
    b[i] = x & 0xff;
  }
  return b;
}

const SIZES = [0, 1, 100, 1000, 4096, 16_377, 16_384, 16_391, 40_000, READ_SLAB_SIZE - 20, READ_SLAB_SIZE, READ_SLAB_SIZE + 7, 300_000];

describe('large values', () => {
  it('every value size, many clients pipelining SET and GET at once: every reply byte for byte', async () => {
    const c = await cluster();
    const clients = Array.from({ length: 12 }, () => client(c.port));
    for (let version = 1; version <= 3; version++) {
      await Promise.all(
        clients.map(async (r, ci) => {
          const p = r.pipeline();
          for (let k = 0; k < SIZES.length; k++) p.set(`lv:${ci}:${k}`, valueOf(`lv:${ci}:${k}`, version, SIZES[(k + ci + version) % SIZES.length]!));
          await p.exec();
        }),
      );
      const results = await Promise.all(
        clients.map(async (r, ci) => {
          const p = r.pipeline();
          for (let k = 0; k < SIZES.length; k++) p.getBuffer(`lv:${ci}:${k}`);
          p.mgetBuffer(`lv:${ci}:0`, `lv:${ci}:1`, `lv:${ci}:2`);
          return (await p.exec())!.map(([err, v]) => {
            if (err) throw err;
            return v as Buffer | Buffer[];
          });
        }),
      );
      results.forEach((got, ci) => {
        for (let k = 0; k < SIZES.length; k++) {
          const want = valueOf(`lv:${ci}:${k}`, version, SIZES[(k + ci + version) % SIZES.length]!);
          expect((got[k] as Buffer).equals(want), `client ${ci} key ${k} version ${version}`).toBe(true);
        }
        const m = got[SIZES.length] as Buffer[];
        for (let k = 0; k < 3; k++) expect(m[k]!.equals(valueOf(`lv:${ci}:${k}`, version, SIZES[(k + ci + version) % SIZES.length]!))).toBe(true);
      });
    }
  });

  it('a single write mixing single-key commands with a fan-out and a transaction: the client leaves the shared arena mid-read, every value intact', async () => {
    const c = await cluster();
    const v = (k: string) => valueOf(k, 7, 20_000);
    const s = net.connect(c.port, '127.0.0.1');
    cleanups.push(() => void s.destroy());
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    const cmds: Array<Array<string | Buffer>> = [
      ['SET', 'mix:a', v('mix:a')],
      ['MSET', 'mix:b', v('mix:b'), 'mix:c', v('mix:c')], // not single-key: this client's reads get their own buffers from here
      ['SET', 'mix:d', v('mix:d')], // same read, after the switch: a copy of its own
      ['MULTI'],
      ['SET', 'mix:e', v('mix:e')],
      ['EXEC'],
      ['MGET', 'mix:a', 'mix:b', 'mix:c', 'mix:d', 'mix:e'],
    ];
    s.write(Buffer.concat(cmds.map((cmd) => encodeCommand(cmd))));
    const bulk = (k: string) => Buffer.concat([Buffer.from(`$20000\r\n`), v(k), Buffer.from('\r\n')]);
    const want = Buffer.concat([
      Buffer.from('+OK\r\n+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n*5\r\n'),
      ...['mix:a', 'mix:b', 'mix:c', 'mix:d', 'mix:e'].map(bulk),
    ]);
    const deadline = Date.now() + 10_000;
    while (Buffer.concat(got).length < want.length && Date.now() < deadline) await sleep(20);
    expect(Buffer.concat(got).equals(want)).toBe(true);
  });

  it('a client that stops reading keeps its queued replies intact while other clients churn the reply slabs', async () => {
    const c = await cluster();
    const writer = client(c.port);
    const keys = Array.from({ length: 40 }, (_, i) => `slow:${i}`);
    for (const k of keys) await writer.set(k, valueOf(k, 1, 16_384));

    // The slow client asks for all 40 values and reads nothing for a while.
    const slow = net.connect(c.port, '127.0.0.1');
    cleanups.push(() => void slow.destroy());
    await new Promise<void>((resolve) => slow.once('connect', () => resolve()));
    slow.pause();
    slow.write(Buffer.concat(keys.map((k) => encodeCommand(['GET', k]))));
    await sleep(200);

    // Others overwrite the same keys and read other values of every size: slabs are read into again and again.
    const others = Array.from({ length: 6 }, () => client(c.port));
    await Promise.all(
      others.map(async (r, ci) => {
        for (let round = 0; round < 5; round++) {
          const p = r.pipeline();
          for (const k of keys) p.set(k, valueOf(k, 100 + ci, 16_384));
          for (let i = 0; i < 20; i++) p.getBuffer(keys[(i + ci) % keys.length]!);
          await p.exec();
        }
      }),
    );

    // The slow client's replies are the values as they were when it asked.
    const chunks: Buffer[] = [];
    slow.on('data', (d: Buffer) => chunks.push(d));
    slow.resume();
    const expected = Buffer.concat(
      keys.map((k) => {
        const v = valueOf(k, 1, 16_384);
        return Buffer.concat([Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')]);
      }),
    );
    const deadline = Date.now() + 10_000;
    while (Buffer.concat(chunks).length < expected.length && Date.now() < deadline) await sleep(20);
    expect(Buffer.concat(chunks).equals(expected)).toBe(true);
  });
});

// Requests that span client reads (RequestDecoder.carrier, proxy/session/client-reads.ts): a request left
// incomplete at the end of a read is carried into a buffer of its own and the rest is read in place, and its
// big values go to the backends by reference (proxy/backend/output-batch.ts). Large MSET / SET pipelined with
// distinct random values, sizes around the 64 KB read scratch and the 128 KB slab, written in one go or cut
// at odd places, by several clients at once; every value read back (GET, MGET) byte for byte.

const SCRATCH = 64 * 1024;
const SPAN_SIZES = [3, 1000, 16_384, SCRATCH - 40, SCRATCH, SCRATCH + 5, SLAB_SIZE - 30, SLAB_SIZE, SLAB_SIZE + 11, 200_000];

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
          const v = randomBytes(SPAN_SIZES[(ci + r * 3 + k) % SPAN_SIZES.length]!);
          values.set(key, v);
          args.push(key, v);
        }
        cmds.push(encodeCommand(args));
        const key = `span:${ci}:${r}:s`;
        const v = randomBytes(SPAN_SIZES[(ci * 7 + r) % SPAN_SIZES.length]!);
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
        for (let k = 0; k < 20; k++) q.set(`churn:${i}:${k}`, randomBytes(SPAN_SIZES[(k + round) % SPAN_SIZES.length]!));
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

// Big replies passed on in parts as they arrive (backend.streamRepliesFrom, proxy/session/reply-queue.ts part()):
// sizes around the threshold, the read slab and far beyond, pipelined with small replies from both groups so
// that a big reply is sometimes the first one its client awaits (written part by part) and sometimes behind
// another group's reply (its parts kept until that one is out); a single-slot MGET (an array streamed), a
// muted reply (CLIENT REPLY SKIP); MGETs across both groups (big values merged as views, fanout.ts). Same bytes,
// same order, with streaming on and off.

const STREAM_AT = 64 * 1024;
/** A bulk reply's bytes around its value: `$<len>\r\n` ... `\r\n`. */
const overhead = (n: number) => String(n).length + 5;
const STREAM_SIZES = [
  STREAM_AT - overhead(STREAM_AT) - 1, // its reply one byte short of the threshold: never streamed
  STREAM_AT - overhead(STREAM_AT), // exactly the threshold
  STREAM_AT,
  SLAB_SIZE - 3,
  SLAB_SIZE + 1,
  1024 * 1024,
  3 * 1024 * 1024 + 5,
];

describe('big replies streamed in parts', () => {
  for (const streamAt of ['64kb', '0']) {
    it(`streamRepliesFrom ${streamAt}: pipelined small and big replies of both groups, several clients: byte for byte, in order`, async () => {
      const c = await startCluster({ groups: 2, overrides: { backend: { streamRepliesFrom: streamAt } } });
      cleanups.push(() => c.stop());
      const writer = client(c.port);
      /** `n` key names of `prefix`, alternating between the two groups. */
      const alternating = (prefix: string, n: number): string[] => {
        const out: string[] = [];
        for (let i = 0; out.length < n; i++) if (c.groupOfKey(`${prefix}${i}`) === out.length % 2) out.push(`${prefix}${i}`);
        return out;
      };
      const bigKeys = alternating('st:big:', STREAM_SIZES.length);
      const smallKeys = alternating('st:small:', 8);
      for (let i = 0; i < bigKeys.length; i++) await writer.set(bigKeys[i]!, valueOf(bigKeys[i]!, 1, STREAM_SIZES[i]!));
      for (const k of smallKeys) await writer.set(k, valueOf(k, 1, 10));
      for (let i = 0; i < 3; i++) await writer.set(`{st}m${i}`, valueOf(`{st}m${i}`, 1, 200_000));
      expect(new Set(bigKeys.map((k) => c.groupOfKey(k))).size).toBe(2);
      expect(new Set(smallKeys.map((k) => c.groupOfKey(k))).size).toBe(2);

      const clients = Array.from({ length: 4 }, () => client(c.port));
      await Promise.all(clients.map((r) => r.ping())); // connected (ioredis's ready check, INFO, keeps its views lent)
      const { lent: lent0, overReturned: over0 } = lendCounts();
      const runs = await Promise.all(
        clients.map(async (r, ci) => {
          const p = r.pipeline();
          const want: Array<Buffer | Buffer[]> = [];
          for (let round = 0; round < 2; round++) {
            for (let i = 0; i < bigKeys.length; i++) {
              const small = smallKeys[(i + ci + round) % smallKeys.length]!;
              const big = bigKeys[(i * 3 + ci + round) % bigKeys.length]!;
              p.getBuffer(small);
              want.push(valueOf(small, 1, 10));
              p.getBuffer(big);
              want.push(valueOf(big, 1, STREAM_SIZES[bigKeys.indexOf(big)]!));
            }
            p.mgetBuffer('{st}m0', '{st}m1', '{st}m2');
            want.push([0, 1, 2].map((i) => valueOf(`{st}m${i}`, 1, 200_000)));
            // Across both groups: big values merged as views of the parts' replies, small ones copied.
            const across = [bigKeys[(ci + round) % 4]!, bigKeys[4]!, smallKeys[ci]!, bigKeys[1]!, smallKeys[ci + 1]!];
            p.mgetBuffer(...across);
            want.push(across.map((k) => valueOf(k, 1, k.startsWith('st:small') ? 10 : STREAM_SIZES[bigKeys.indexOf(k)]!)));
            p.mgetBuffer(...smallKeys);
            want.push(smallKeys.map((k) => valueOf(k, 1, 10)));
          }
          const got = (await p.exec())!.map(([err, v]) => {
            if (err) throw err;
            return v as Buffer | Buffer[];
          });
          return { got, want };
        }),
      );
      runs.forEach(({ got, want }, ci) => {
        expect(got.length).toBe(want.length);
        want.forEach((w, i) => {
          if (Array.isArray(w)) w.forEach((x, j) => expect((got[i] as Buffer[])[j]!.equals(x), `client ${ci} reply ${i}.${j}`).toBe(true));
          else expect((got[i] as Buffer).equals(w), `client ${ci} reply ${i}`).toBe(true);
        });
      });

      // A muted big reply (CLIENT REPLY SKIP) is dropped whole, the next one arrives intact.
      const s = net.connect(c.port, '127.0.0.1');
      cleanups.push(() => void s.destroy());
      await new Promise<void>((resolve) => s.once('connect', () => resolve()));
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.write(Buffer.concat([encodeCommand(['CLIENT', 'REPLY', 'SKIP']), encodeCommand(['GET', bigKeys[5]!]), encodeCommand(['GET', bigKeys[2]!])]));
      const v = valueOf(bigKeys[2]!, 1, STREAM_SIZES[2]!);
      const expected = Buffer.concat([Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n')]);
      const deadline = Date.now() + 10_000;
      while (Buffer.concat(got).length < expected.length && Date.now() < deadline) await sleep(20);
      await sleep(50);
      expect(Buffer.concat(got).equals(expected)).toBe(true);
      // Every part, view and reply lent on the way was given back (written, or dropped when muted).
      for (let i = 0; i < 100 && lendCounts().lent !== lent0; i++) await sleep(20);
      expect(lendCounts().lent).toBe(lent0);
      expect(lendCounts().overReturned).toBe(over0); // and none given back twice
    });
  }
});
