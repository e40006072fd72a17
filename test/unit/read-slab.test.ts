import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplyFramer } from '../../shared/resp/reply-framer.js';
import { lendFrame, MIN_READ_ROOM, pooledSlabs, READ_SLAB_SIZE, ReadSlab, returnFrame } from '../../proxy/backend/read-slab.js';
import { lendCounts, trimPoolNow } from '../../proxy/util/lent-slabs.js';
import { encodeBulk, encodeSimple } from '../../shared/resp/encoder.js';

/** A backend connection's read side: reads land in the slab, frames are lent as BackendConnection.onFrame does. */
class Reader {
  readonly got: Buffer[] = [];
  readonly framer = new ReplyFramer({
    onFrame: (fr) => {
      lendFrame(fr);
      this.got.push(fr);
    },
    onFramingError: (m) => {
      throw new Error(m);
    },
  });
  readonly slab = new ReadSlab(this.framer);

  /** One socket read of `bytes` (at most what the slab offers); returns how many were read. */
  read(bytes: Buffer): number {
    const into = this.slab.next();
    const n = Math.min(bytes.length, into.length);
    bytes.copy(into, 0, 0, n);
    this.framer.push(this.slab.take(n, into));
    return n;
  }

  /** Feeds `wire` in reads of at most `size` bytes (or the given cut points). */
  feed(wire: Buffer, size: number): void {
    for (let at = 0; at < wire.length; ) at += this.read(wire.subarray(at, Math.min(wire.length, at + size)));
  }
}

describe('backend read slab', () => {
  it('reads into the same slab from its start again once every reply view is given back', () => {
    const r = new Reader();
    r.feed(encodeSimple('OK'), 1000);
    const first = r.got[0]!;
    returnFrame(first);
    r.feed(encodeSimple('NO'), 1000);
    const second = r.got[1]!;
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteOffset).toBe(first.byteOffset); // rewritten: the first view was given back
    expect(second.toString()).toBe('+NO\r\n');
  });

  it('never rewrites a reply view that was not given back', () => {
    const r = new Reader();
    r.feed(encodeSimple('KEEP'), 1000);
    const kept = r.got[0]!;
    for (let i = 0; i < 100; i++) {
      r.feed(encodeBulk(Buffer.alloc(3000, 0x61 + (i % 26))), 5000);
      returnFrame(r.got[r.got.length - 1]!);
    }
    expect(kept.toString()).toBe('+KEEP\r\n');
  });

  it('keeps a reply cut at the end of a slab contiguous by moving its start to the next slab', () => {
    const r = new Reader();
    const pad = encodeBulk(Buffer.alloc(READ_SLAB_SIZE - MIN_READ_ROOM - 100, 0x70)); // leaves just over MIN_READ_ROOM
    r.feed(pad, READ_SLAB_SIZE);
    const value = encodeBulk(Buffer.alloc(40_000, 0x71)); // does not fit in the room left
    r.feed(value, 9000);
    const frame = r.got[1]!;
    expect(frame.equals(value)).toBe(true);
    expect(frame.buffer).not.toBe(r.got[0]!.buffer); // in the next slab, as one view (no concatenation)
    expect(frame.byteOffset).toBe(0);
    expect(pad.equals(r.got[0]!)).toBe(true);
  });

  it('reads a bulk bigger than a slab into one buffer of exactly its size', () => {
    const r = new Reader();
    const value = encodeBulk(Buffer.alloc(1_000_000, 0x72));
    r.feed(value, 65536);
    expect(r.got).toHaveLength(1);
    expect(r.got[0]!.equals(value)).toBe(true);
    expect(r.got[0]!.buffer.byteLength).toBe(value.length);
    returnFrame(r.got[0]!);
    // The next replies go to a normal slab: a buffer sized for one big reply is not kept.
    r.feed(encodeSimple('OK'), 100);
    expect(r.got[1]!.buffer.byteLength).toBe(READ_SLAB_SIZE);
  });

  it('puts a replaced slab whose views all came back into the shared pool, and never one with a view out', () => {
    const before = pooledSlabs();
    const a = new Reader();
    a.feed(encodeBulk(Buffer.alloc(READ_SLAB_SIZE - 1000, 0x73)), READ_SLAB_SIZE); // fills slab 1
    const held = a.got[0]!;
    a.feed(encodeSimple('OK'), 100); // slab 2: slab 1 is replaced while its view is out
    expect(pooledSlabs()).toBe(before);
    returnFrame(held);
    expect(pooledSlabs()).toBe(before + 1);
    const b = new Reader();
    b.feed(encodeSimple('PONG'), 100);
    expect(b.got[0]!.buffer).toBe(held.buffer); // the pooled slab, read into by another connection
    expect(pooledSlabs()).toBe(before);
  });

  it('the pool gives its unused slabs back to the GC within two trims of an idle second', () => {
    trimPoolNow();
    trimPoolNow();
    expect(pooledSlabs()).toBe(0);
    // Three connections each fill a slab and move on; the views come back: three slabs pooled.
    const held: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const r = new Reader();
      r.feed(encodeBulk(Buffer.alloc(READ_SLAB_SIZE - 1000, 0x74)), READ_SLAB_SIZE);
      r.feed(encodeSimple('OK'), 100);
      held.push(r.got[0]!);
    }
    for (const h of held) returnFrame(h);
    expect(pooledSlabs()).toBe(3);
    new Reader().feed(encodeSimple('PONG'), 100); // draws one
    trimPoolNow(); // drops those never drawn since the pool started (at least the lowest level it had)
    expect(pooledSlabs()).toBeLessThan(2);
    trimPoolNow(); // an idle second later: nothing was drawn, all go
    expect(pooledSlabs()).toBe(0);
  });

  it('property: replies split at any points, views given back in any order, each reads as sent until given back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constant(16_384), fc.constant(-1)), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        (sizes, readSizes, picks) => {
          const replies = sizes.map((n, i) => (n < 0 ? encodeSimple(`OK${i}`) : encodeBulk(Buffer.alloc(n, 0x41 + (i % 50)))));
          const wire = Buffer.concat(replies);
          const r = new Reader();
          const out: number[] = []; // indices of views not given back yet
          const intact = (i: number) => expect(r.got[i]!.equals(replies[i]!)).toBe(true);
          let at = 0;
          for (let k = 0; at < wire.length; k++) {
            const seen = r.got.length;
            at += r.read(wire.subarray(at, Math.min(wire.length, at + readSizes[k % readSizes.length]!)));
            for (let i = seen; i < r.got.length; i++) out.push(i);
            // Give back 0-2 views, each checked intact right before (a slab rewritten too early would show here).
            const pick = picks[k % picks.length]!;
            for (let j = 0; j < pick % 3 && out.length > 0; j++) {
              const i = out.splice(pick % out.length, 1)[0]!;
              intact(i);
              returnFrame(r.got[i]!);
            }
          }
          expect(r.got.length).toBe(replies.length);
          for (const i of out) intact(i);
          for (const i of out) returnFrame(r.got[i]!);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a bulk split at every byte boundary comes out whole, through the slab', () => {
    const value = encodeBulk(Buffer.from('0123456789abcdefghij'));
    const wire = Buffer.concat([encodeSimple('A'), value, encodeSimple('B')]);
    for (let cut = 1; cut < wire.length; cut++) {
      const r = new Reader();
      r.read(wire.subarray(0, cut));
      r.read(wire.subarray(cut));
      expect(r.got.map((g) => g.toString('latin1'))).toEqual(['+A\r\n', value.toString('latin1'), '+B\r\n']);
      for (const g of r.got) returnFrame(g);
    }
  });

  it('an array too big to move, left behind in a slab: that slab is kept until the array is complete, then pooled', () => {
    const before = pooledSlabs();
    const r = new Reader();
    r.feed(encodeBulk(Buffer.alloc(READ_SLAB_SIZE - MIN_READ_ROOM - 100, 0x61)), READ_SLAB_SIZE); // leaves ~16 KB
    returnFrame(r.got[0]!);
    r.feed(encodeSimple('X'), 100); // the slab is read into again from its start
    returnFrame(r.got[1]!);
    const arr = Buffer.concat([Buffer.from('*4\r\n'), ...[0x62, 0x63, 0x64].map((c) => encodeBulk(Buffer.alloc(50_000, c))), encodeSimple('END')]);
    // 120 KB of the array land in the first slab (too much to move, its size unknown: an element follows the
    // one being read), the rest in a new slab.
    r.feed(arr.subarray(0, READ_SLAB_SIZE - 10_000), READ_SLAB_SIZE);
    r.feed(arr.subarray(READ_SLAB_SIZE - 10_000, READ_SLAB_SIZE - 5_000), READ_SLAB_SIZE);
    expect(pooledSlabs()).toBe(before); // pinned by the held bytes
    r.feed(arr.subarray(READ_SLAB_SIZE - 5_000), READ_SLAB_SIZE);
    expect(r.got[2]!.equals(arr)).toBe(true); // concatenated once complete
    r.feed(encodeSimple('Y'), 100); // the next read: nothing is held in the old slab any more
    expect(pooledSlabs()).toBe(before + 1);
    expect(lendCounts().overReturned).toBe(0);
    returnFrame(r.got[2]!);
    returnFrame(r.got[3]!);
  });
});
