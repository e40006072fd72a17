/**
 * The backend output batch (proxy/backend/output-batch.ts): short pieces packed into a slab, long ones
 * referenced where they lie; the bytes written are exactly the encodings, in send order; the slab is never
 * written over while a socket may still own its bytes.
 */
import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutputBatch, REF_AT, SLAB_SIZE } from '../../proxy/backend/output-batch.js';
import { DirectWriter } from '../../proxy/util/direct-write.js';
import { countWrites } from '../support/write-counts.js';
import { encodeCommand, encodeCommandInto, encodeSelectedInto } from '../../shared/resp/encoder.js';

type Op =
  | { kind: 'push'; payload: Buffer }
  | { kind: 'parts'; argv: Buffer[] }
  | { kind: 'selected'; argv: Buffer[]; keys: number[]; stride: number; raw?: Buffer };

/** The client's request bytes for `argv` and argv as views of them (as the request decoder gives them). */
function asRequest(argv: Buffer[]): { raw: Buffer; views: Buffer[] } {
  const raw = encodeCommand(argv);
  const views: Buffer[] = [];
  let p = raw.indexOf('\r\n') + 2;
  for (const a of argv) {
    p = raw.indexOf('\r\n', p) + 2;
    views.push(raw.subarray(p, p + a.length));
    p += a.length + 2;
  }
  return { raw, views };
}

/** Argument lengths around the threshold under test (and a few far from it). */
function argArb(refAt: number): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.constantFrom(0, 1, 3, refAt - 1, refAt, refAt + 1, 2 * refAt + 5), fc.integer({ min: 0, max: 255 }))
    .map(([len, b]) => Buffer.alloc(Math.max(0, len), b));
}

function opArb(refAt: number): fc.Arbitrary<Op> {
  const argv = fc.tuple(fc.constantFrom('MSET', 'MGET', 'DEL'), fc.array(argArb(refAt), { minLength: 2, maxLength: 9 }));
  return fc.oneof(
    argArb(refAt).map((payload): Op => ({ kind: 'push', payload })),
    argv.map(([name, args]): Op => ({ kind: 'parts', argv: [Buffer.from(name), ...args] })),
    fc.tuple(argv, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 1023 })).map(([[name, args], stride, mask]): Op => {
      const a = [Buffer.from(name), ...args];
      const keys: number[] = [];
      for (let k = 1; k + stride - 1 < a.length; k += stride) if ((mask >> k % 10) & 1 || keys.length === 0) keys.push(k);
      return { kind: 'selected', argv: a, keys, stride };
    }),
    // The same with the client's request bytes: runs of adjacent keys as ranges of them.
    fc.tuple(argv, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 1023 })).map(([[name, args], stride, mask]): Op => {
      const { raw, views } = asRequest([Buffer.from(name), ...args]);
      const keys: number[] = [];
      for (let k = 1; k + stride - 1 < views.length; k += stride) if ((mask >> k % 10) & 1 || keys.length === 0) keys.push(k);
      return { kind: 'selected', argv: views, keys, stride, raw };
    }),
  );
}

/** Applies `op` to the batch; returns the bytes it must add to the output and the pieces it must reference. */
function apply(batch: OutputBatch, op: Op, refAt: number): { wire: Buffer; long: Buffer[] } {
  if (op.kind === 'push') {
    batch.push(op.payload);
    return { wire: op.payload, long: op.payload.length >= refAt ? [op.payload] : [] };
  }
  const out: Buffer[] = [];
  if (op.kind === 'parts') {
    const bytes = encodeCommandInto(op.argv, out);
    batch.pushParts(out, bytes);
    return { wire: Buffer.concat(out), long: out.filter((p) => p.length >= refAt) };
  }
  encodeSelectedInto(op.argv, op.keys, op.stride, out);
  batch.pushSelected(op.argv, op.keys, op.stride, op.raw);
  const long: Buffer[] = [];
  if (op.raw !== undefined && op.raw.length >= refAt * op.argv.length) {
    // Each run of adjacent keys is one range of raw, referenced when long enough.
    for (let i = 0; i < op.keys.length; ) {
      let j = i;
      while (j + 1 < op.keys.length && op.keys[j + 1] === op.keys[j]! + op.stride) j++;
      const first = op.argv[op.keys[i]!]!;
      const last = op.argv[op.keys[j]! + op.stride - 1]!;
      const start = first.byteOffset - op.raw.byteOffset - (String(first.length).length + 3); // its `$<len>\r\n`
      const run = op.raw.subarray(start, last.byteOffset - op.raw.byteOffset + last.length + 2);
      if (run.length >= refAt) long.push(run);
      i = j + 1;
    }
  } else for (const k of op.keys) for (let j = 0; j < op.stride; j++) if (op.argv[k + j]!.length >= refAt) long.push(op.argv[k + j]!);
  return { wire: Buffer.concat(out), long };
}

describe('OutputBatch', () => {
  for (const refAt of [8, REF_AT]) {
    it(`writes exactly the encodings in send order, pieces of ${refAt} bytes or more referenced, the rest packed`, () => {
      fc.assert(
        fc.property(fc.array(opArb(refAt), { minLength: 1, maxLength: 12 }), (ops) => {
          const batch = new OutputBatch(refAt);
          const wire: Buffer[] = [];
          const long: Buffer[] = [];
          for (const op of ops) {
            const r = apply(batch, op, refAt);
            wire.push(r.wire);
            long.push(...r.long);
          }
          const expected = Buffer.concat(wire);
          expect(batch.bytes).toBe(expected.length);
          const slices = batch.slices;
          const list = batch.take();
          expect(list.length).toBe(slices);
          expect(Buffer.concat(list).equals(expected)).toBe(true);
          // Every long piece goes out as the very bytes it was (not copied) ...
          const same = (s: Buffer, p: Buffer) => s === p || (s.buffer === p.buffer && s.byteOffset === p.byteOffset && s.length === p.length);
          for (const p of long) expect(list.some((s) => same(s, p))).toBe(true);
          // ... and short pieces are packed: one slice per run between long pieces (two only where a slab filled).
          const isLong = (s: Buffer) => long.some((p) => same(s, p));
          for (let i = 1; i < list.length; i++) {
            const [prev, cur] = [list[i - 1]!, list[i]!];
            expect(isLong(prev) || isLong(cur) || prev.buffer !== cur.buffer).toBe(true);
          }
          expect(batch.empty).toBe(true);
        }),
        { numRuns: refAt === 8 ? 300 : 60 },
      );
    });
  }

  it('never writes over slab bytes taken before, until recycled; then reuses the slab from its start', () => {
    const batch = new OutputBatch();
    batch.push(Buffer.from('first'));
    const [a] = batch.take();
    batch.push(Buffer.from('second')); // not recycled: a socket may still own 'first'
    const [b] = batch.take();
    expect(a!.toString()).toBe('first');
    expect(b!.toString()).toBe('second');
    expect(b!.buffer).toBe(a!.buffer);
    expect(b!.byteOffset).toBe(a!.byteOffset + 5);
    batch.recycle();
    batch.push(Buffer.from('third'));
    const [c] = batch.take();
    expect(c!.buffer).toBe(a!.buffer);
    expect(c!.byteOffset).toBe(a!.byteOffset);
  });

  it('a slab replaced while a write may be pending is written into again only after recycle(), not allocated anew', () => {
    const batch = new OutputBatch();
    const taken: Array<{ slice: Buffer; fill: number }> = [];
    let fill = 0;
    /** Pieces of 1,000 distinct bytes, each taken (as a socket would) and never recycled: over `slabs` slabs. */
    const fillSlabs = (slabs: number): Set<ArrayBufferLike> => {
      const seen = new Set<ArrayBufferLike>();
      for (let i = 0; i < Math.ceil((slabs * SLAB_SIZE) / 1000); i++) {
        batch.push(Buffer.alloc(1000, ++fill % 256));
        const [slice] = batch.take();
        taken.push({ slice: slice!, fill: fill % 256 });
        seen.add(slice!.buffer);
      }
      return seen;
    };
    const before = fillSlabs(3); // slabs replaced with no recycle in between: each a new one
    expect(before.size).toBeGreaterThanOrEqual(3);
    for (const t of taken) expect(t.slice.every((b) => b === t.fill)).toBe(true); // nothing written over
    batch.recycle(); // the socket took everything
    taken.length = 0;
    const after = fillSlabs(3);
    // The slabs replaced before are reused (no new ones); what is taken is intact until the next recycle.
    for (const b of after) expect(before.has(b)).toBe(true);
    for (const t of taken) expect(t.slice.every((b) => b === t.fill)).toBe(true);
    expect(batch.retainedBytes).toBeLessThanOrEqual(5 * SLAB_SIZE);
  });

  it('a write that never drains (no recycle for good) keeps at most SPARE_SLABS + 1 slabs, not every slab it replaced', () => {
    const batch = new OutputBatch();
    for (let i = 0; i < Math.ceil((50 * SLAB_SIZE) / 1000); i++) {
      batch.push(Buffer.alloc(1000, i % 256));
      batch.take(); // taken by a socket that never reports it empty: recycle() never runs
    }
    expect(batch.retainedBytes).toBeLessThanOrEqual(5 * SLAB_SIZE);
  });

  it('slabs replaced before clear() (a failed connection: its socket may still hold them) are never reused', () => {
    const batch = new OutputBatch();
    const seen = (slabs: number): ArrayBufferLike[] => {
      const bufs: ArrayBufferLike[] = [];
      for (let i = 0; i < Math.ceil((slabs * SLAB_SIZE) / 1000); i++) {
        batch.push(Buffer.alloc(1000, 0x61));
        const b = batch.take()[0]!.buffer;
        if (!bufs.includes(b)) bufs.push(b);
      }
      return bufs;
    };
    const failed = seen(3);
    const current = failed[failed.length - 1];
    batch.clear();
    batch.recycle();
    for (const b of seen(3)) expect(b === current || !failed.includes(b)).toBe(true);
  });

  it('recycle() does nothing while output is batched', () => {
    const batch = new OutputBatch();
    batch.push(Buffer.from('one'));
    batch.recycle();
    batch.push(Buffer.from('two'));
    expect(Buffer.concat(batch.take()).toString()).toBe('onetwo');
  });

  it('a run of short pieces larger than a slab gets a slab of its own, dropped once written', () => {
    const batch = new OutputBatch();
    const argv = [Buffer.from('MSET')];
    const keys: number[] = [];
    for (let i = 0; i < 200; i++) {
      keys.push(argv.length);
      argv.push(Buffer.from(`k${i}`), Buffer.alloc(REF_AT - 1, 0x61)); // 200 x ~4 KB: every value packed
    }
    batch.pushSelected(argv, keys, 2);
    expect(batch.retainedBytes).toBeGreaterThan(SLAB_SIZE);
    const list = batch.take();
    expect(list.length).toBe(1);
    const out: Buffer[] = [];
    encodeSelectedInto(argv, keys, 2, out);
    expect(list[0]!.equals(Buffer.concat(out))).toBe(true);
    batch.recycle();
    expect(batch.retainedBytes).toBe(0);
    batch.push(Buffer.from('x'));
    expect(batch.retainedBytes).toBe(SLAB_SIZE);
  });

  it('clear() drops what is batched and keeps bytes taken before intact', () => {
    const batch = new OutputBatch();
    batch.push(Buffer.from('kept'));
    const [a] = batch.take();
    batch.push(Buffer.from('dropped'));
    batch.push(Buffer.alloc(REF_AT, 0x62));
    batch.clear();
    expect(batch.empty).toBe(true);
    batch.push(Buffer.from('next'));
    expect(Buffer.concat(batch.take()).toString()).toBe('next');
    expect(a!.toString()).toBe('kept');
  });

  it('writeTo() puts the slices on a real socket in order (one write, or one writev) and recycles the slab', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const received: Buffer[] = [];
    const got = new Promise<Buffer>((resolve) => {
      server.on('connection', (s) => {
        s.on('data', (d: Buffer) => received.push(d));
        s.on('end', () => resolve(Buffer.concat(received)));
      });
    });
    const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const batch = new OutputBatch();
    const writer = new DirectWriter(sock);
    const expected: Buffer[] = [];
    let recycled = 0;
    for (let round = 0; round < 20; round++) {
      const big = Buffer.alloc(REF_AT + round, 0x41 + round);
      const small = Buffer.from(`*1\r\n$4\r\nPING\r\n#${round}`);
      const parts = round % 2 === 0 ? [small, big, small] : [small];
      for (const p of parts) batch.push(p);
      expected.push(...parts);
      expect(batch.slices).toBe(parts.length); // short, long, short: the long one is not packed
      batch.writeTo(writer);
      expect(batch.empty).toBe(true);
      if (writer.writableLength === 0) {
        // The kernel took it all: the slab is written over from its start (this piece is not sent).
        batch.push(Buffer.from('unsent'));
        expect(batch.take()[0]!.byteOffset).toBe(0);
        batch.recycle();
        recycled++;
      }
    }
    expect(recycled).toBeGreaterThan(0);
    sock.end();
    const all = await got;
    server.close();
    expect(all.equals(Buffer.concat(expected))).toBe(true);
  });
});

/** A connected socket pair on loopback: `sock` writes, `peer` reads. */
async function socketPair(): Promise<{ sock: net.Socket; peer: net.Socket; close: () => void }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const peer = await accepted;
  return {
    sock,
    peer,
    close: () => {
      sock.destroy();
      peer.destroy();
      server.close();
    },
  };
}

describe('OutputBatch written straight through the socket handle', () => {
  it('writes one slice with writeBuffer and several with one handle writev, never through Writable (the direct path is active on this Node)', async () => {
    const { sock, peer, close } = await socketPair();
    try {
      const received: Buffer[] = [];
      peer.on('data', (d: Buffer) => received.push(d));
      const counts = countWrites(sock);
      const batch = new OutputBatch();
      const writer = new DirectWriter(sock);
      const expected: Buffer[] = [];
      for (let round = 0; round < 30; round++) {
        const small = Buffer.from(`*1\r\n$4\r\nPING\r\n#${round}`);
        const parts = round % 2 === 0 ? [small, Buffer.alloc(REF_AT + round, 0x41 + (round % 26)), small] : [small];
        for (const p of parts) batch.push(p);
        expected.push(...parts);
        expect(batch.writeTo(writer)).toBe(true);
        expect(writer.writableLength).toBe(0);
      }
      expect(counts.writable).toBe(0);
      expect(counts.writev).toBe(15);
      const want = Buffer.concat(expected);
      const end = Date.now() + 5000;
      while (Buffer.concat(received).length < want.length && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      expect(Buffer.concat(received).equals(want)).toBe(true);
    } finally {
      close();
    }
  });

  it('a peer that stops reading: batches wait in libuv (then behind it in Writable), in order, every byte intact, the slab never written over while pending, drained() once taken', async () => {
    const { sock, peer, close } = await socketPair();
    try {
      peer.pause();
      const counts = countWrites(sock);
      const batch = new OutputBatch();
      const writer = new DirectWriter(sock);
      let drained = 0;
      writer.drained = () => void drained++;
      const expected: Buffer[] = [];
      let sawPending = false;
      let after = 0;
      for (let round = 0; round < 20_000 && after < 100; round++) {
        // Small pieces (packed into the slab) around a referenced one: several slices per batch.
        const small = Buffer.alloc(300 + (round % 50), 0x61 + (round % 26));
        const parts = [small, Buffer.alloc(REF_AT + (round % 100), 0x30 + (round % 10)), Buffer.from(`#${round}\r\n`)];
        for (const p of parts) batch.push(p);
        expected.push(...parts);
        batch.writeTo(writer);
        if (writer.pending > 0) sawPending = true;
        if (sawPending) after++;
      }
      expect(sawPending).toBe(true);
      expect(counts.writable).toBeGreaterThan(0); // what came after the pending write went through Writable
      const received: Buffer[] = [];
      peer.on('data', (d: Buffer) => received.push(d));
      peer.resume();
      const want = Buffer.concat(expected);
      const end = Date.now() + 10_000;
      while ((Buffer.concat(received).length < want.length || writer.writableLength > 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      const got = Buffer.concat(received);
      expect(got.length).toBe(want.length);
      expect(got.equals(want)).toBe(true);
      expect(drained).toBeGreaterThan(0);
      expect(writer.pending).toBe(0);
    } finally {
      close();
    }
  });
});
