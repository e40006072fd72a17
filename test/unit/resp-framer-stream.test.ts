/**
 * Replies passed on in parts (ReplyFramer streamAt, BackendConnection.onFramePart): a reply left unfinished at
 * the end of a chunk and at least streamAt bytes long goes on piece by piece when the handler agrees. Whatever
 * the cuts, the parts of a reply put together are the reply, replies stay in order and whole ones are still
 * emitted as frames; in a read slab (proxy/backend/read-slab.ts) a streamed reply is never assembled.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplyFramer, type FrameHandler } from '../../shared/resp/reply-framer.js';
import { lendFrame, READ_SLAB_SIZE, ReadSlab, returnFrame } from '../../proxy/backend/read-slab.js';
import { encodeArray, encodeBulk, encodeSimple } from '../../shared/resp/encoder.js';

/** Collects replies: whole frames, and streamed ones put together from their parts. */
class Collector implements FrameHandler {
  readonly replies: Buffer[] = [];
  /** Per reply: how it came (1 = whole, n = n parts). */
  readonly partsOf: number[] = [];
  private parts: Buffer[] | null = null;
  asked = 0;

  constructor(private readonly accept: () => boolean = () => true) {}

  onFrame(frame: Buffer): void {
    if (this.parts !== null) throw new Error('a whole frame in the middle of a streamed reply');
    this.replies.push(Buffer.from(frame));
    this.partsOf.push(1);
  }

  onFramingError(message: string): void {
    throw new Error(message);
  }

  streamReply(): boolean {
    this.asked++;
    return this.accept();
  }

  onFramePart(part: Buffer, last: boolean): void {
    if (part.length === 0) throw new Error('an empty part');
    (this.parts ??= []).push(Buffer.from(part));
    if (!last) return;
    this.replies.push(Buffer.concat(this.parts));
    this.partsOf.push(this.parts.length);
    this.parts = null;
  }

  /** The streamed reply was abandoned (its connection broke). */
  dropPart(): void {
    this.parts = null;
  }

  get midReply(): boolean {
    return this.parts !== null;
  }
}

function bulkOf(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return encodeBulk(b);
}

function feed(f: ReplyFramer, wire: Buffer, cuts: number[]): void {
  let prev = 0;
  for (const p of [...cuts, wire.length]) {
    if (p <= prev) continue;
    f.push(wire.subarray(prev, p));
    prev = p;
  }
}

describe('reply framer, streaming', () => {
  it('a big bulk cut at every position: put together byte for byte, streamed whenever it spans chunks', () => {
    const big = bulkOf(300, 1);
    const wire = Buffer.concat([encodeSimple('OK'), big, encodeSimple('NEXT')]);
    for (let cut = 1; cut < wire.length; cut++) {
      const c = new Collector();
      const f = new ReplyFramer(c, 100);
      feed(f, wire, [cut]);
      expect(c.replies.map((r) => r.toString('latin1'))).toEqual([encodeSimple('OK'), big, encodeSimple('NEXT')].map((r) => r.toString('latin1')));
      // Streamed once its length line is in (its size known) and it is not whole in the first chunk.
      const spans = cut >= 5 + '$300\r\n'.length && cut < 5 + big.length;
      expect(c.partsOf[1], `cut ${cut}`).toBe(spans ? 2 : 1);
      expect(c.midReply).toBe(false);
    }
  });

  it('every pair of cuts, bulk and array replies, streamed or not as the handler says: the same bytes in the same order', () => {
    const wire = Buffer.concat([bulkOf(120, 2), encodeArray([bulkOf(50, 3), encodeSimple('x'), bulkOf(70, 4)]), encodeSimple('OK'), bulkOf(5, 5)]);
    const want = [bulkOf(120, 2), encodeArray([bulkOf(50, 3), encodeSimple('x'), bulkOf(70, 4)]), encodeSimple('OK'), bulkOf(5, 5)];
    for (let a = 1; a < wire.length; a += 3) {
      for (let b = a + 1; b < wire.length; b += 7) {
        for (const accept of [true, false]) {
          const c = new Collector(() => accept);
          feed(new ReplyFramer(c, 64), wire, [a, b]);
          expect(c.replies.length).toBe(want.length);
          c.replies.forEach((r, i) => expect(r.equals(want[i]!), `cuts ${a} ${b} reply ${i}`).toBe(true));
          if (!accept) expect(c.partsOf.every((n) => n === 1)).toBe(true);
        }
      }
    }
  });

  it('property: random replies, random cuts, random yes/no from the handler: the replies come out as they went in', () => {
    const value = fc.oneof(
      fc.integer({ min: 0, max: 400 }).map((n) => bulkOf(n, n)),
      fc.constantFrom(encodeSimple('OK'), Buffer.from('$-1\r\n'), Buffer.from(':12\r\n')),
      fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 4 }).map((ns) => encodeArray(ns.map((n) => bulkOf(n, n + 1)))),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 300 }), (vals, cuts, says, at) => {
        const wire = Buffer.concat(vals);
        const points = [...new Set(cuts.map((x) => x % (wire.length + 1)))].sort((a, b) => a - b);
        let i = 0;
        const c = new Collector(() => says[i++ % says.length]!);
        feed(new ReplyFramer(c, at), wire, points);
        expect(c.replies.length).toBe(vals.length);
        c.replies.forEach((r, k) => expect(r.equals(vals[k]!)).toBe(true));
      }),
      { numRuns: 500 },
    );
  });

  it('a reply smaller than streamAt is held and emitted whole; the handler is not even asked', () => {
    const c = new Collector();
    const f = new ReplyFramer(c, 1000);
    const r = bulkOf(500, 9);
    feed(f, r, [10, 200, 400]);
    expect(c.partsOf).toEqual([1]);
    expect(c.asked).toBe(0);
  });

  it('a bulk whose announced size reaches streamAt is streamed from its first chunk (its size is known)', () => {
    const c = new Collector();
    const f = new ReplyFramer(c, 1000);
    const r = bulkOf(5000, 9);
    feed(f, r, [20, 2000, 4000]);
    expect(c.partsOf).toEqual([4]);
    expect(c.replies[0]!.equals(r)).toBe(true);
  });

  it('a handler saying no at first and yes later: what was held goes on as one part, then the rest', () => {
    let yes = false;
    const c = new Collector(() => yes);
    const f = new ReplyFramer(c, 100);
    const r = bulkOf(1000, 3);
    // Chunks not adjacent in memory (copies): held as two pieces, not joined.
    f.push(Buffer.from(r.subarray(0, 300)));
    f.push(Buffer.from(r.subarray(300, 600)));
    expect(c.midReply).toBe(false);
    yes = true;
    f.push(Buffer.from(r.subarray(600, 700)));
    expect(c.midReply).toBe(true);
    f.push(Buffer.from(r.subarray(700)));
    expect(c.replies[0]!.equals(r)).toBe(true);
    expect(c.partsOf[0]).toBe(4); // the two held pieces, then one part per chunk
    expect(c.asked).toBe(3); // at the end of each chunk, until yes
  });

  it('0 = never: nothing is streamed, whatever its size', () => {
    const c = new Collector();
    const f = new ReplyFramer(c, 0);
    const r = bulkOf(100_000, 1);
    feed(f, r, [1, 50_000]);
    expect(c.partsOf).toEqual([1]);
    expect(c.asked).toBe(0);
  });

  it('reset mid-stream (the connection broke): the next reply starts clean', () => {
    const c = new Collector();
    const f = new ReplyFramer(c, 10);
    f.push(bulkOf(100, 1).subarray(0, 50));
    expect(c.midReply).toBe(true);
    expect(f.isStreaming).toBe(true);
    expect(f.bytesToFinish).toBe(0); // the read slab offers a plain read, not room for the whole reply
    f.reset();
    c.dropPart();
    f.push(encodeSimple('OK'));
    expect(f.isStreaming).toBe(false);
    expect(c.replies.map(String)).toEqual(['+OK\r\n']);
    expect(c.partsOf).toEqual([1]);
  });
});

describe('read slab, streaming', () => {
  /** A connection's read side with streaming at `at` bytes; parts and frames lent, given back when `giveBack`. */
  function reader(at: number, giveBack: boolean) {
    const c = new Collector();
    const handler: FrameHandler = {
      onFrame: (fr) => {
        lendFrame(fr);
        c.onFrame(fr);
        if (giveBack) returnFrame(fr);
      },
      onFramingError: (m) => c.onFramingError(m),
      streamReply: () => c.streamReply(),
      onFramePart: (p, last) => {
        lendFrame(p);
        c.onFramePart(p, last);
        if (giveBack) returnFrame(p);
      },
    };
    const framer = new ReplyFramer(handler, at);
    const slab = new ReadSlab(framer);
    /** Every view handed out, as it is (not copied). */
    const views: Buffer[] = [];
    const onPart = handler.onFramePart!;
    handler.onFramePart = (p, last) => {
      views.push(p);
      onPart(p, last);
    };
    const onFrame = handler.onFrame;
    handler.onFrame = (fr, copied) => {
      views.push(fr);
      onFrame(fr, copied);
    };
    const buffers = new Set<ArrayBufferLike>();
    const read = (bytes: Buffer): number => {
      const into = slab.next();
      buffers.add(into.buffer);
      const n = Math.min(bytes.length, into.length);
      bytes.copy(into, 0, 0, n);
      framer.push(slab.take(n, into));
      return n;
    };
    return { c, read, buffers, views };
  }

  it('a 1 MB reply streamed through a slab given back after each part: read in the same slab over and over, never a 1 MB buffer', () => {
    const { c, read, buffers } = reader(64 * 1024, true);
    const r = bulkOf(1024 * 1024, 7);
    for (let at = 0; at < r.length; ) at += read(r.subarray(at, Math.min(r.length, at + 64 * 1024)));
    expect(c.replies[0]!.equals(r)).toBe(true);
    expect(c.partsOf[0]).toBeGreaterThan(10);
    expect(buffers.size).toBe(1);
    for (const b of buffers) expect(b.byteLength).toBe(READ_SLAB_SIZE);
  });

  it('without streaming the same reply is read into one buffer of its size (the assembled path)', () => {
    const { c, read, buffers } = reader(0, true);
    const r = bulkOf(1024 * 1024, 7);
    for (let at = 0; at < r.length; ) at += read(r.subarray(at, Math.min(r.length, at + 64 * 1024)));
    expect(c.replies[0]!.equals(r)).toBe(true);
    expect([...buffers].some((b) => b.byteLength >= r.length)).toBe(true);
  });

  it('parts kept (a slow client): their slabs are never rewritten while the stream goes on in new ones', () => {
    const { c, read, views } = reader(16 * 1024, false);
    const r = bulkOf(600_000, 5);
    const wire = Buffer.concat([r, encodeSimple('OK'), r]);
    for (let at = 0; at < wire.length; ) at += read(wire.subarray(at, Math.min(wire.length, at + 50_000)));
    expect(c.replies.length).toBe(3);
    expect(c.partsOf[0]).toBeGreaterThan(1);
    expect(Buffer.concat(views).equals(wire)).toBe(true); // the views as handed out, read at the end
  });
});
