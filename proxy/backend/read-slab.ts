/**
 * Where a backend connection's socket reads land (net's `onread` option): in a slab the connection owns,
 * read after read, instead of a fresh ArrayBuffer per read pushed through Readable's push/emit machinery.
 *
 * - Consecutive reads sit side by side in one slab, so a reply that spans two reads is still one contiguous
 *   range: the framer passes it on as a view (ReplyFramer joins adjacent pieces) instead of concatenating.
 * - A reply cut at the end of a slab is kept whole: its bytes so far move to the start of the next slab
 *   (bounded copy: when its size is known, or while it is small), so it is still passed on as one view. A
 *   known reply bigger than a slab (a big bulk) is read into one buffer of exactly its size, assembled once.
 * - Slabs are recycled, because external memory, not allocation count, is what drives V8's full GCs: every
 *   64 MB of ArrayBuffers allocated starts one, and at 16 KB values that was most of the proxy's CPU. Every
 *   reply view handed out is counted (lendFrame); whoever has finished with one gives it back (returnFrame:
 *   the client session, once the kernel has taken the bytes it wrote). A slab none of whose views is out is
 *   read into again from its start, or, once replaced, goes to a small pool shared by all connections. A
 *   view never given back (a fan-out part, a reply still queued for a slow client) pins its slab forever:
 *   that slab is left to the GC, as before. So a slab is only rewritten when nothing can still read it.
 */

/** Bytes of one slab. */
export const READ_SLAB_SIZE = 128 * 1024;

/** A read is offered at least this much room; below it the next read starts a new slab. */
export const MIN_READ_ROOM = 16 * 1024;

/** An unfinished reply of unknown size is moved to the next slab only while it is this small (one copy at most). */
const MOVE_UNKNOWN_MAX = 16 * 1024;

/** Free slabs kept for reuse, shared by every connection of the process (1 MB). */
const POOL_MAX = 8;

/** What the slab needs to know of the reply framer reading from it (ReplyFramer). */
export interface HeldReply {
  /** Bytes of an unfinished reply held (views of earlier reads). */
  readonly bufferedBytes: number;
  /** Bytes still to come before that reply is complete, when known; 0 otherwise. */
  readonly bytesToFinish: number;
  /** Copies the held bytes to the start of `dst` and holds them from there; returns how many. */
  moveHeldInto(dst: Buffer): number;
}

interface Slab {
  readonly buf: Buffer;
  /** Views handed out and not given back. */
  lent: number;
  /** No longer read into: back to the pool once `lent` is 0. */
  retired: boolean;
}

const slabs = new WeakMap<ArrayBufferLike, Slab>();
const pool: Slab[] = [];

function acquire(size: number): Slab {
  if (size <= READ_SLAB_SIZE) {
    const s = pool.pop();
    if (s !== undefined) {
      s.retired = false;
      return s;
    }
    size = READ_SLAB_SIZE;
  }
  const s: Slab = { buf: Buffer.allocUnsafeSlow(size), lent: 0, retired: false };
  slabs.set(s.buf.buffer, s);
  return s;
}

function release(s: Slab): void {
  if (s.buf.length === READ_SLAB_SIZE && pool.length < POOL_MAX) pool.push(s);
}

/** A reply view of a slab is handed out (BackendConnection.onFrame); any other buffer is ignored. */
export function lendFrame(frame: Buffer): void {
  const s = slabs.get(frame.buffer);
  if (s !== undefined) s.lent++;
}

/**
 * The holder of a view lent by lendFrame will never read it again (and nobody else has it): its bytes may be
 * rewritten. Call at most once per lent view; any other buffer is ignored.
 */
export function returnFrame(frame: Buffer): void {
  const s = slabs.get(frame.buffer);
  if (s === undefined || s.lent === 0) return;
  if (--s.lent === 0 && s.retired) release(s);
}

/** Slabs in the shared pool (tests). */
export function pooledSlabs(): number {
  return pool.length;
}

export class ReadSlab {
  private slab: Slab | null = null;
  private pos = 0;

  constructor(private readonly held: HeldReply) {}

  /** The buffer the next read goes into (net calls this before each read). */
  readonly next = (): Buffer => {
    const held = this.held;
    const heldBytes = held.bufferedBytes;
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
        // Held bytes left behind are views of the old slab: it must never be rewritten.
        if (heldBytes > 0 && !move) slab.lent++;
        slab.retired = true;
        if (slab.lent === 0) release(slab);
      }
      slab = this.slab = acquire(move ? heldBytes + need : need);
      this.pos = move ? held.moveHeldInto(slab.buf) : 0;
    }
    return slab.buf.subarray(this.pos);
  };

  /** The `n` bytes just read into `buf` (the last buffer `next` gave): push them to the framer before the next read. */
  take(n: number, buf: Buffer): Buffer {
    this.pos += n;
    return buf.subarray(0, n);
  }
}
