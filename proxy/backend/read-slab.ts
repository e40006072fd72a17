/**
 * Where a backend connection's socket reads land (net's `onread` option): in a slab the connection owns,
 * read after read, instead of a fresh ArrayBuffer per read pushed through Readable's push/emit machinery.
 *
 * - Consecutive reads sit side by side in one slab, so a reply that spans two reads is still one contiguous
 *   range: the framer passes it on as a view (ReplyFramer joins adjacent pieces) instead of concatenating.
 * - A reply cut at the end of a slab is kept whole: its bytes so far move to the start of the next slab
 *   (bounded copy: when its size is known, or while it is small), so it is still passed on as one view. A
 *   known reply bigger than a slab (a big bulk) is read into one buffer of exactly its size, assembled once;
 *   a big one whose reader takes parts is passed on in parts instead (ReplyFramer streamAt), never assembled.
 *   One left behind (too big to move) pins the old slab until it is complete (concatenated) or passed on.
 * - Slabs are recycled (proxy/util/lent-slabs.ts): every reply view handed out is lent (BackendConnection.onFrame)
 *   and given back by the client session once the kernel has taken the bytes it wrote. A slab none of whose
 *   views is out is read into again from its start, or, once replaced, goes to the shared pool. A view never
 *   given back (a fan-out part, a reply queued for a slow client) pins its slab: it is left to the GC.
 */
import { acquireSlab, lendFrame, retireSlab, returnFrame, SLAB_SIZE, type Slab } from '../util/lent-slabs.js';

export { lendFrame, pooledSlabs, returnFrame } from '../util/lent-slabs.js';

/** Bytes of one slab. */
export const READ_SLAB_SIZE = SLAB_SIZE;

/** A read is offered at least this much room; below it the next read starts a new slab. */
export const MIN_READ_ROOM = 16 * 1024;

/**
 * An unfinished reply of unknown size (an array: an MGET part's) is moved to the next slab only while it is
 * this small (one bounded copy into a recycled slab); a bigger one is concatenated once complete.
 */
const MOVE_UNKNOWN_MAX = 64 * 1024;

/** What the slab needs to know of the reply framer reading from it (ReplyFramer). */
export interface HeldReply {
  /** Bytes of an unfinished reply held (views of earlier reads). */
  readonly bufferedBytes: number;
  /** Bytes still to come before that reply is complete, when known; 0 otherwise. */
  readonly bytesToFinish: number;
  /** Copies the held bytes to the start of `dst` and holds them from there; returns how many. */
  moveHeldInto(dst: Buffer): number;
  /** Whether some held bytes lie in `memory`. */
  holdsIn(memory: ArrayBufferLike): boolean;
}

export class ReadSlab {
  private slab: Slab | null = null;
  private pos = 0;
  /** Slabs left behind with held bytes in them (views the framer holds): kept from rewriting until those are gone. */
  private pinned: Buffer[] | null = null;

  constructor(private readonly held: HeldReply) {}

  /** The slab the buffer `next` last gave lies in: the one the bytes `take` returns are in. */
  get reading(): Slab | null {
    return this.slab;
  }

  /** The buffer the next read goes into (net calls this before each read). */
  readonly next = (): Buffer => {
    const held = this.held;
    const heldBytes = held.bufferedBytes;
    // Replies that left slabs behind are done (concatenated, or passed on in parts, lent on their own): unpin.
    if (this.pinned !== null) this.unpin();
    let slab = this.slab;
    // Nothing of this slab is out or held: read into it from its start again.
    if (slab !== null && slab.lent === 0 && heldBytes === 0) this.pos = 0;
    const toFinish = held.bytesToFinish;
    const need = toFinish > MIN_READ_ROOM ? toFinish : MIN_READ_ROOM;
    // A buffer sized for one big reply is not kept once that reply is done.
    const oversized = slab !== null && slab.buf.length > READ_SLAB_SIZE && heldBytes === 0;
    if (slab === null || oversized || slab.buf.length - this.pos < need) {
      const move = heldBytes > 0 && (toFinish > 0 || heldBytes <= MOVE_UNKNOWN_MAX);
      if (slab !== null) {
        // Held bytes left behind are views of the old slab: it is not rewritten while they are held.
        if (heldBytes > 0 && !move) {
          lendFrame(slab.buf);
          (this.pinned ??= []).push(slab.buf);
        }
        retireSlab(slab);
      }
      slab = this.slab = acquireSlab(move ? heldBytes + need : need);
      this.pos = move ? held.moveHeldInto(slab.buf) : 0;
    }
    // From its start: the slab's own buffer, no new view (at pipeline 1 most reads start there).
    return this.pos === 0 ? slab.buf : slab.buf.subarray(this.pos);
  };

  /** Gives back the pinned slabs the held reply has no bytes in any more. */
  private unpin(): void {
    const pinned = this.pinned!;
    let kept = 0;
    for (let i = 0; i < pinned.length; i++) {
      const b = pinned[i]!;
      if (this.held.bufferedBytes > 0 && this.held.holdsIn(b.buffer)) pinned[kept++] = b;
      else returnFrame(b);
    }
    pinned.length = kept;
    if (kept === 0) this.pinned = null;
  }

  /** The `n` bytes just read into `buf` (the last buffer `next` gave): push them to the framer before the next read. */
  take(n: number, buf: Buffer): Buffer {
    this.pos += n;
    return buf.subarray(0, n);
  }
}
