/**
 * Buffer views made without Buffer#subarray. Node's subarray reads `buf.buffer` for every view it makes: from
 * optimized code that getter is a call into C++ (JSTypedArray::GetBuffer through the generic LoadIC), more
 * than half of the view's cost (in a loop ~45 ns per subarray against ~18 ns for the bare construction; in
 * the proxy's profiles LoadIC + GetBuffer were 2-4 % of user CPU at pipeline 16, docs/performance.md). A ViewMaker looks the
 * ArrayBuffer up once per source buffer (per read) and constructs Node's own Buffer class on it: the views
 * are the same kind of object as subarray's (same hidden class, Buffer.prototype).
 */

type FastBufferClass = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Buffer;

/** The class Buffer#subarray constructs (Node's FastBuffer: `Buffer[Symbol.species]` returns it); null on a Node without it. */
const FastBuffer = speciesOfBuffer();

function speciesOfBuffer(): FastBufferClass | null {
  const c = (Buffer as unknown as Record<symbol, unknown>)[Symbol.species];
  if (typeof c !== 'function') return null;
  const probe = Buffer.from('ab');
  const v = new (c as FastBufferClass)(probe.buffer, probe.byteOffset + 1, 1);
  return Object.getPrototypeOf(v) === Buffer.prototype && v[0] === 0x62 && v.length === 1 ? (c as FastBufferClass) : null;
}

/**
 * Makes views of the last source buffer it was given (a read being decoded or framed). It holds that buffer
 * until forget() or the next source: a user per thread (one read is decoded at a time), not per connection.
 */
export class ViewMaker {
  private source: Buffer | null = null;
  private memory: ArrayBufferLike | null = null;
  private base = 0;

  /** buf[start, end) as a view (buf.subarray(start, end) for 0 <= start <= end <= buf.length). */
  view(buf: Buffer, start: number, end: number): Buffer {
    if (FastBuffer === null) return buf.subarray(start, end);
    if (buf !== this.source) {
      this.source = buf;
      this.memory = buf.buffer;
      this.base = buf.byteOffset;
    }
    return new FastBuffer(this.memory!, this.base + start, end - start);
  }

  /** Lets go of the source buffer (done with it: nothing pins it any more). */
  forget(): void {
    this.source = null;
    this.memory = null;
  }
}
