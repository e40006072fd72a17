/**
 * Where a backend connection's socket reads land (net's `onread` option): in a slab the connection owns,
 * read after read, instead of a fresh ArrayBuffer per read pushed through Readable's push/emit machinery.
 *
 * - Consecutive reads sit side by side in one slab, so a reply that spans two reads is still one contiguous
 *   range: the framer passes it on as a view (ReplyFramer joins adjacent pieces) instead of concatenating.
 * - A slab is only ever appended to, never rewritten: a reply view handed to a session stays valid until it
 *   is written, like a view of a per-read buffer. A slab is garbage once no view of it is left.
 * - One slab allocation per READ_SLAB_SIZE bytes read instead of one per read: less GC work for small
 *   replies, and no per-read 'data' event.
 */

/** Bytes of one slab. */
export const READ_SLAB_SIZE = 128 * 1024;

/** A read is offered at least this much room; below it the next read starts a new slab. */
export const MIN_READ_ROOM = 16 * 1024;

export class ReadSlab {
  private slab: Buffer | null = null;
  private pos = 0;

  /** The buffer the next read goes into: the free tail of the current slab (net calls this before each read). */
  readonly next = (): Buffer => {
    let slab = this.slab;
    if (slab === null || slab.length - this.pos < MIN_READ_ROOM) {
      slab = this.slab = Buffer.allocUnsafeSlow(READ_SLAB_SIZE);
      this.pos = 0;
    }
    return slab.subarray(this.pos);
  };

  /** The `n` bytes just read into `buf` (the last buffer `next` gave); they are never overwritten. */
  take(n: number, buf: Buffer): Buffer {
    this.pos += n;
    return buf.subarray(0, n);
  }
}
