/**
 * Backend reply views lent with the read slab in hand (proxy/router/lending.ts): the framer says which frames are
 * copies of their own, the read slab names the slab the chunk lies in, so BackendConnection.onFrame lends the
 * frame to that slab and passes it on with the reply; the reply queue gives it back to that slab once written or
 * dropped, without looking the view up (`view.buffer`, a call into C++ per reply).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplyFramer } from '../../shared/resp/reply-framer.js';
import { ReadSlab } from '../../proxy/backend/read-slab.js';
import { acquireSlab, giveBackSlab, lendSlab, slabOf, type Slab } from '../../proxy/util/lent-slabs.js';
import { ReplyQueue } from '../../proxy/session/reply-queue.js';
import { ClientRequest, type RouterSession } from '../../proxy/router/requests/base.js';
import { encodeBulk, encodeSimple } from '../../shared/resp/encoder.js';

/** A backend connection's read side, as BackendConnection receives: each frame with the slab of its chunk. */
class Reader {
  readonly got: Array<{ frame: Buffer; copied: boolean; slab: Slab | null }> = [];
  private chunkSlab: Slab | null = null;
  readonly framer = new ReplyFramer({
    onFrame: (frame, copied) => {
      const slab = copied ? null : this.chunkSlab;
      if (slab !== null) lendSlab(slab); // kept from being read into again while the test holds the frame
      this.got.push({ frame, copied, slab });
    },
    onFramingError: (m) => {
      throw new Error(m);
    },
  });
  readonly slab = new ReadSlab(this.framer);

  feed(wire: Buffer, size: number): void {
    for (let at = 0; at < wire.length; ) {
      const into = this.slab.next();
      const n = Math.min(size, wire.length - at, into.length);
      wire.copy(into, 0, at, at + n);
      this.chunkSlab = this.slab.reading;
      this.framer.push(this.slab.take(n, into));
      at += n;
    }
  }
}

const session = {} as RouterSession;

describe('backend reply views lent with the read slab in hand', () => {
  it('property: every frame not copied lies in the slab the read slab was reading; a copied one is no slab\'s', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 200_000 }).map((n) => encodeBulk(Buffer.alloc(n, 0x61))), fc.constant(encodeSimple('OK'))), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 70_000 }),
        (replies, size) => {
          const r = new Reader();
          r.feed(Buffer.concat(replies), size);
          expect(r.got).toHaveLength(replies.length);
          r.got.forEach(({ frame, copied, slab }, i) => {
            expect(frame.equals(replies[i]!)).toBe(true);
            if (copied) expect(slabOf(frame)).toBeNull();
            else expect(slab?.buf.buffer).toBe(frame.buffer);
            if (slab !== null) giveBackSlab(slab);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the reply queue gives a reply back to the slab it was lent from, written or dropped, with no lookup of the view', () => {
    for (const drop of [false, true]) {
      const q = new ReplyQueue();
      const s = acquireSlab(1);
      lendSlab(s);
      const r = new ClientRequest(session, 0, 0);
      r.lendsReply = true;
      r.replySlab = s;
      q.enqueue(r);
      // A reply that is no view of `s`: only the slab carried with it can say where it goes back.
      q.settle(r, Buffer.from('+OK\r\n'), drop);
      expect(s.lent).toBe(drop ? 0 : 1);
      q.takeOutput();
      q.giveBack();
      expect(s.lent).toBe(0);
      expect(r.replySlab).toBeNull();
    }
  });

  it('a reply lent without its slab (a fan-out part forwarded as it is) is still looked up and given back', () => {
    const q = new ReplyQueue();
    const s = acquireSlab(1);
    const view = s.buf.subarray(0, 5);
    lendSlab(s);
    const r = new ClientRequest(session, 0, 0);
    r.lendsReply = true;
    q.enqueue(r);
    q.settle(r, view, false);
    q.takeOutput();
    q.giveBack();
    expect(s.lent).toBe(0);
  });

  it('a read from the start of a slab is offered the slab\'s own buffer, not a new view of it', () => {
    const r = new Reader();
    r.feed(encodeSimple('OK'), 1000);
    const { slab } = r.got[0]!;
    giveBackSlab(slab!);
    expect(r.slab.next()).toBe(slab!.buf); // nothing lent: read into from its start again
    r.feed(encodeSimple('OK'), 1000);
    expect(r.slab.next()).not.toBe(slab!.buf); // the reply just read is lent: the next read goes after it
  });
});
