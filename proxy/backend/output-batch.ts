/**
 * What a backend connection writes at the end of this event-loop turn, in send order, and the write itself.
 *
 * Packing rule (one rule for every kind of output): pieces shorter than `refAt` bytes (requests, fan-out part
 * headers and small arguments) are copied into a slab, where everything sent in one turn lies contiguous;
 * pieces of `refAt` bytes or more (a big request, a big argument of a fan-out part) are referenced where
 * they lie, never copied. The flush writes the resulting list of slices as it is: one write when it is one
 * slice, else one writev, straight through the socket's handle (proxy/util/direct-write.ts). Nothing is
 * copied a second time, and nothing is allocated per flush while the slab can be written over.
 *
 * The slab: slab[slabStart, slabPos) is output not yet moved to `out`; bytes before slabStart may still be
 * owned by the socket and are not rewritten until the socket has taken them all (writableLength 0 after a
 * write), else the slab is only appended to, then replaced.
 * A slab replaced while the socket may still own bytes of it (a write left pending: the backend reads slower
 * than the proxy writes, as under CPU contention) is kept and written over again once the socket has taken
 * everything (recycle), up to SPARE_SLABS of them: a fresh 64 KB ArrayBuffer per replaced slab was external
 * memory that started a full GC every few hundred ms (MSET 1 KB at pipeline 1: ~1,000 slabs a second).
 *
 * Lifetime contract (what callers of push / pushParts / pushSelected must guarantee): a piece of `refAt`
 * bytes or more is referenced until the socket has written it, so its bytes must stay unchanged until the
 * connection's socket has taken them (its writer's writableLength back to 0) or the connection closed. Node's
 * socket reads are fresh buffers, which nothing rewrites; a client read path that reuses its read buffers must
 * copy what it passes here, or not reuse a buffer while such a write is pending.
 */
import type { DirectWriter } from '../util/direct-write.js';
import type { RequestSpans } from '../../shared/resp/request-spans.js';
import { ViewMaker } from '../../shared/resp/views.js';
import { decimalLength, writeBulk, writeBulkHeader, writeDecimal, writeSelected } from '../../shared/resp/encoder.js';

/** Size of a slab (a bigger run of small pieces, e.g. one MSET of thousands of small values, gets its own). */
export const SLAB_SIZE = 64 * 1024;

/** Replaced slabs kept for reuse per batch (per backend connection): 256 KB at most. */
const SPARE_SLABS = 4;

/**
 * Pieces at least this long are written from where they lie instead of being copied into the slab. Measured
 * (bench/micro/fanout-write.bench.ts, 10 MSET parts of 5 values per flush, real socket): copying is cheaper up
 * to ~3 KB values (x1.6 at 1 KB, x1.2 at 2 KB), referencing from 4 KB (x0.9 at 4-16 KB).
 */
export const REF_AT = 4 * 1024;

/** `view` lies inside `outer` (the same memory). */
function within(view: Buffer, outer: Buffer): boolean {
  const at = view.byteOffset - outer.byteOffset;
  return view.buffer === outer.buffer && at >= 0 && at + view.length <= outer.length;
}

/** Bytes of `$<len>\r\n` + `\r\n` around an argument of `len` bytes. */
function bulkOverhead(len: number): number {
  return 1 + decimalLength(len) + 4;
}

/** Up to this many bytes are copied byte by byte (no view of the source made). */
const LOOP_COPY = 64;

/** Copies src[from, to) to dst at pos; returns the position after it. */
function copyRange(src: Buffer, from: number, to: number, dst: Buffer, pos: number): number {
  if (to - from <= LOOP_COPY) {
    for (let i = from; i < to; i++) dst[pos++] = src[i]!;
    return pos;
  }
  dst.set(src.subarray(from, to), pos);
  return pos + (to - from);
}

export class OutputBatch {
  private out: Buffer[] = [];
  /** Bytes batched (slices and slab). */
  bytes = 0;
  private slab: Buffer | null = null;
  private slabStart = 0;
  private slabPos = 0;
  /** Slabs of SLAB_SIZE replaced since the last recycle(): the socket may still own bytes of them. */
  private replaced: Buffer[] = [];
  /** Slabs of SLAB_SIZE nothing reads any more: the next ones to write into. */
  private spare: Buffer[] = [];
  /** Views of the slab (its ArrayBuffer looked up once per slab, not per flush: shared/resp/views.ts). */
  private readonly views = new ViewMaker();

  constructor(private readonly refAt = REF_AT) {}

  /** One payload: copied into the slab when short, else referenced. */
  push(payload: Buffer): void {
    this.bytes += payload.length;
    this.piece(payload);
  }

  /** A payload made of several slices (an encoded command: small runs and big arguments), `bytes` long in all. */
  pushParts(parts: readonly Buffer[], bytes: number): void {
    this.bytes += bytes;
    for (let i = 0; i < parts.length; i++) this.piece(parts[i]!);
  }

  /**
   * Encodes a fan-out part: `argv[0]` followed, for each index k of `keys`, by the `stride` arguments from
   * argv[k] (the bytes of encodeSelectedInto), straight from the client's argv: headers and short arguments
   * into the slab, arguments of refAt bytes or more referenced.
   */
  pushSelected(argv: readonly Buffer[], keys: readonly number[], stride: number, raw?: Buffer): void {
    // Ranges pay only when values get referenced (arguments of refAt bytes on average); else encoding is cheaper.
    if (raw !== undefined && raw.length >= this.refAt * argv.length && within(argv[1]!, raw) && within(argv[argv.length - 1]!, raw)) return this.pushRuns(argv, keys, stride, raw);
    const refAt = this.refAt;
    const nk = keys.length;
    const name = argv[0]!;
    let packed = 1 + decimalLength(1 + nk * stride) + 2 + bulkOverhead(name.length) + name.length;
    let referenced = 0;
    for (let i = 0; i < nk; i++) {
      const k = keys[i]!;
      for (let j = 0; j < stride; j++) {
        const l = argv[k + j]!.length;
        packed += bulkOverhead(l);
        if (l >= refAt) referenced += l;
        else packed += l;
      }
    }
    const slab = this.room(packed);
    this.bytes += packed + referenced;
    if (referenced === 0) {
      this.slabPos = writeSelected(slab, this.slabPos, argv, keys, stride);
      return;
    }
    let pos = this.slabPos;
    slab[pos++] = 0x2a; // *
    pos = writeDecimal(slab, pos, 1 + nk * stride);
    slab[pos++] = 13;
    slab[pos++] = 10;
    pos = writeBulk(slab, pos, name);
    for (let i = 0; i < nk; i++) {
      const k = keys[i]!;
      for (let j = 0; j < stride; j++) {
        const a = argv[k + j]!;
        if (a.length < refAt) {
          pos = writeBulk(slab, pos, a);
          continue;
        }
        // The header goes out with the slab's bytes before it, the argument as it is; its CRLF starts the next segment.
        pos = writeBulkHeader(slab, pos, a.length);
        this.out.push(slab.subarray(this.slabStart, pos), a);
        this.slabStart = pos;
        slab[pos++] = 13;
        slab[pos++] = 10;
      }
    }
    this.slabPos = pos;
  }

  /**
   * pushSelected when the arguments are views of the client's request bytes `raw` (as the decoder gives them):
   * the part's header is encoded, then each run of its keys that are adjacent in the request (with their
   * arguments, each with its `$<len>\r\n` and the two bytes after it) is one range of `raw`, referenced when
   * refAt bytes or more (one slice instead of two per big argument), else copied. The backend parses those
   * bytes exactly as the decoder did (same rules).
   */
  private pushRuns(argv: readonly Buffer[], keys: readonly number[], stride: number, raw: Buffer): void {
    const nk = keys.length;
    const name = argv[0]!;
    const head = 1 + decimalLength(1 + nk * stride) + 2 + bulkOverhead(name.length) + name.length;
    const slab = this.room(head);
    let pos = this.slabPos;
    slab[pos++] = 0x2a; // *
    pos = writeDecimal(slab, pos, 1 + nk * stride);
    slab[pos++] = 13;
    slab[pos++] = 10;
    this.slabPos = writeBulk(slab, pos, name);
    let bytes = head;
    const base = raw.byteOffset;
    for (let i = 0; i < nk; ) {
      let j = i;
      while (j + 1 < nk && keys[j + 1] === keys[j]! + stride) j++;
      const first = argv[keys[i]!]!;
      const last = argv[keys[j]! + stride - 1]!;
      bytes += this.rawRange(raw, first.byteOffset - base - (bulkOverhead(first.length) - 2), last.byteOffset - base + last.length + 2);
      i = j + 1;
    }
    this.bytes += bytes;
  }

  /** raw[from, to): referenced when refAt bytes or more, else copied into the slab. Returns its length. */
  private rawRange(raw: Buffer, from: number, to: number): number {
    const n = to - from;
    if (n >= this.refAt) {
      this.seal();
      this.out.push(raw.subarray(from, to));
    } else {
      const slab = this.room(n);
      this.slabPos = copyRange(raw, from, to, slab, this.slabPos);
    }
    return n;
  }

  /**
   * pushSelected for a request given as its raw bytes and argument offsets (shared/resp/request-spans.ts): the
   * part's header and the client's name bulk, then each run of its keys adjacent in the request (with their
   * arguments, headers and the two bytes after each) as one range of `raw`: copied, or referenced when refAt
   * bytes or more. Nothing is re-encoded argument by argument; the backend parses the bytes as the decoder did.
   */
  pushSpans(raw: Buffer, spans: RequestSpans, keys: readonly number[], stride: number): void {
    const nk = keys.length;
    const head = spans.head;
    const argc = 1 + nk * stride;
    const nameFrom = head[0]!;
    const nameTo = head[1]!;
    const top = 1 + decimalLength(argc) + 2 + (nameTo - nameFrom);
    const slab = this.room(top);
    let pos = this.slabPos;
    slab[pos++] = 0x2a; // *
    pos = writeDecimal(slab, pos, argc);
    slab[pos++] = 13;
    slab[pos++] = 10;
    this.slabPos = copyRange(raw, nameFrom, nameTo, slab, pos);
    let bytes = top;
    for (let i = 0; i < nk; ) {
      let j = i;
      while (j + 1 < nk && keys[j + 1] === keys[j]! + stride) j++;
      bytes += this.rawRange(raw, head[keys[i]!]!, head[keys[j]! + stride]!);
      i = j + 1;
    }
    this.bytes += bytes;
  }

  get empty(): boolean {
    return this.bytes === 0 && this.out.length === 0;
  }

  /** Slices the next write would hand to the socket. */
  get slices(): number {
    return this.out.length + (this.slabPos > this.slabStart ? 1 : 0);
  }

  /** Bytes of slab this batch keeps between writes (idle memory per backend connection). */
  get retainedBytes(): number {
    return (this.slab === null ? 0 : this.slab.length) + (this.replaced.length + this.spare.length) * SLAB_SIZE;
  }

  /**
   * Writes everything batched through `writer` (straight through the socket's handle when nothing is
   * buffered: one write, or one writev of the slices), in order, and empties the batch. Returns the write's
   * result (false: over the socket's high-water mark, or left pending in libuv).
   */
  writeTo(writer: DirectWriter): boolean {
    this.seal();
    const out = this.out;
    const ok = out.length === 1 ? writer.write(out[0]!) : out.length === 0 || writer.writev(out, this.bytes);
    // The socket (or a pending write) keeps the slices, not the array; pop(), not `length = 0` (a runtime call).
    while (out.length !== 0) out.pop();
    this.bytes = 0;
    // The kernel took every byte (nothing left in the socket's buffer or libuv): the slab can be written over.
    if (writer.writableLength === 0) this.recycle();
    return ok;
  }

  /** Everything batched, in order, as a list of slices (the batch is empty afterwards; tests, benches). */
  take(): Buffer[] {
    this.seal();
    const list = this.out;
    this.out = [];
    this.bytes = 0;
    return list;
  }

  /**
   * Call only when whoever got the slices taken so far is done with them (the socket has handed every byte
   * to the kernel): the slab is written over from its start instead of a new one being allocated per 64 KB
   * (fewer ArrayBuffers: less GC, which external memory drives). An oversized slab is dropped.
   */
  recycle(): void {
    if (this.out.length !== 0 || this.slabStart !== this.slabPos) return;
    if (this.slab !== null && this.slab.length > SLAB_SIZE) this.slab = null;
    this.slabStart = this.slabPos = 0;
    const replaced = this.replaced;
    while (replaced.length > 0 && this.spare.length < SPARE_SLABS) this.spare.push(replaced.pop()!);
    replaced.length = 0;
  }

  /** Drops what is batched (the connection failed or is fenced: its requests fail instead of being written). */
  clear(): void {
    this.out = [];
    this.bytes = 0;
    this.slabStart = this.slabPos;
    this.replaced.length = 0; // a failed socket's pending writes may still reference them
  }

  /** A short piece is copied into the slab, a long one referenced. */
  private piece(p: Buffer): void {
    const n = p.length;
    if (n >= this.refAt) {
      this.seal();
      this.out.push(p);
      return;
    }
    const slab = this.room(n);
    const at = this.slabPos;
    // A short request byte by byte: cheaper than a call of TypedArray#set (itself cheaper than Buffer#copy).
    if (n <= LOOP_COPY) for (let i = 0; i < n; i++) slab[at + i] = p[i]!;
    else slab.set(p, at);
    this.slabPos = at + n;
  }

  /** The slab, with at least `n` bytes free at slabPos (a new one, the current segment moved to `out`, if not). */
  private room(n: number): Buffer {
    const slab = this.slab;
    if (slab !== null && slab.length - this.slabPos >= n) return slab;
    this.seal();
    this.slabStart = this.slabPos = 0;
    // Only as many as recycle() could ever reuse are kept; the rest go to the GC once the socket wrote them
    // (kept all, a socket that never drains would hold every slab it ever wrote from).
    if (slab !== null && slab.length === SLAB_SIZE && this.replaced.length + this.spare.length < SPARE_SLABS) this.replaced.push(slab);
    if (n > SLAB_SIZE) return (this.slab = Buffer.allocUnsafeSlow(n));
    return (this.slab = this.spare.pop() ?? Buffer.allocUnsafeSlow(SLAB_SIZE));
  }

  /** Moves the slab's unsent bytes, if any, to `out` (keeps the order with pieces referenced after them). */
  private seal(): void {
    if (this.slabPos === this.slabStart) return;
    this.out.push(this.views.view(this.slab!, this.slabStart, this.slabPos));
    this.slabStart = this.slabPos;
  }
}
