/**
 * What a backend connection writes at the end of this event-loop turn, in send order: payloads as the slices
 * they arrived in (a client's own request bytes, big arguments) and fan-out parts encoded into a slab.
 *
 * The slab: fan-out parts are encoded straight into it (no buffer per part), so parts sent in one turn are
 * one contiguous segment, written without Buffer.concat. slab[slabStart, slabPos) is output not yet moved to
 * `out`; bytes before slabStart may still be owned by the socket and are not rewritten until the socket has
 * taken them all (recycle), else the slab is only appended to, then replaced.
 */
import { writeSelected } from '../../shared/resp/encoder.js';

/** Size of a slab that fan-out parts are encoded into (a bigger part gets a slab of its own size). */
const SLAB_SIZE = 64 * 1024;

export class OutputBatch {
  private out: Buffer[] = [];
  /** Bytes batched (slices and slab). */
  bytes = 0;
  private slab: Buffer | null = null;
  private slabStart = 0;
  private slabPos = 0;

  /** One payload, as it is. */
  push(payload: Buffer): void {
    this.seal();
    this.out.push(payload);
    this.bytes += payload.length;
  }

  /** A payload made of several slices (big arguments uncopied), `bytes` long in all. */
  pushParts(parts: readonly Buffer[], bytes: number): void {
    this.seal();
    for (let i = 0; i < parts.length; i++) this.out.push(parts[i]!);
    this.bytes += bytes;
  }

  /** Encodes a fan-out part (see encodeSelectedInto) of `size` bytes (selectedSize) into the slab. */
  pushSelected(argv: readonly Buffer[], keys: readonly number[], stride: number, size: number): void {
    let slab = this.slab;
    if (slab === null || slab.length - this.slabPos < size) {
      this.seal();
      slab = this.slab = Buffer.allocUnsafeSlow(size > SLAB_SIZE ? size : SLAB_SIZE);
      this.slabStart = this.slabPos = 0;
    }
    this.slabPos = writeSelected(slab, this.slabPos, argv, keys, stride);
    this.bytes += size;
  }

  get empty(): boolean {
    return this.bytes === 0 && this.out.length === 0;
  }

  /** Everything batched, in order, as a list to write (the batch is empty afterwards). */
  take(): Buffer[] {
    this.seal();
    const list = this.out;
    this.out = [];
    this.bytes = 0;
    return list;
  }

  /**
   * Call only when the socket has handed every byte written so far to the kernel (writableLength 0) and the
   * batch is empty: the slab is written over from its start instead of a new one being allocated per 64 KB
   * of parts (fewer ArrayBuffers: less GC, which external memory drives).
   */
  recycle(): void {
    if (this.out.length === 0 && this.slabStart === this.slabPos) this.slabStart = this.slabPos = 0;
  }

  /** Drops what is batched (the connection failed: its requests fail instead of being written). */
  clear(): void {
    this.out = [];
    this.bytes = 0;
    this.slabStart = this.slabPos;
  }

  /** Moves the slab's unsent bytes, if any, to `out` (keeps the order with payloads pushed after them). */
  private seal(): void {
    if (this.slabPos === this.slabStart) return;
    this.out.push(this.slab!.subarray(this.slabStart, this.slabPos));
    this.slabStart = this.slabPos;
  }
}
