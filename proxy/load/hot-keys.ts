/**
 * Hot keys: a Space-Saving top-K (Metwally et al.) over the keys the router samples.
 *
 * Bounded memory, nothing allocated per offer: K entries per generation, each key copied (at most
 * maxKeyBytes of it) into one preallocated slab; lookup goes through a chained hash index over 2K buckets
 * (typed arrays), so only sampled requests pay a hash and a short chain walk. A key not in the table replaces the entry with the lowest
 * count and inherits that count as its error bound (count - error <= true count <= count).
 *
 * Two generations: counts of the current window and of the previous one; a report merges both, so a key
 * that just became hot shows at once and one that cooled down leaves within two windows. Rotation is lazy
 * (on offer or report), so there is no timer to manage.
 */
import { now } from '../util/clock.js';

export interface HotKeyEntry {
  /** The key's first maxKeyBytes bytes (a copy; the caller may keep it). */
  key: Buffer;
  /** Bytes of the whole key (> key.length when truncated). */
  length: number;
  /** Sampled hits over the report's span (upper bound), and the error bound. */
  count: number;
  error: number;
  slot: number;
}

/** FNV-1a of the key at buf[start, end): only sampled requests pay it. */
function hashKey(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= buf[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

class Generation {
  readonly hashes: Uint32Array;
  readonly lengths: Uint32Array;
  readonly slots: Uint16Array;
  readonly counts: Float64Array;
  readonly errors: Float64Array;
  readonly slab: Buffer;
  /** Hash index: first entry of each bucket (-1 = none) and the next entry in the same bucket. */
  private readonly heads: Int32Array;
  private readonly nexts: Int32Array;
  private readonly mask: number;
  used = 0;
  startedAt: number;
  /** Lowest count seen at the last full scan, and where the search for an entry holding it resumes. */
  private floor = 0;
  private cursor = 0;

  constructor(
    readonly capacity: number,
    readonly keyBytes: number,
    now: number,
  ) {
    this.hashes = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.slots = new Uint16Array(capacity);
    this.counts = new Float64Array(capacity);
    this.errors = new Float64Array(capacity);
    this.slab = Buffer.alloc(capacity * keyBytes);
    let buckets = 2;
    while (buckets < 2 * capacity) buckets *= 2;
    this.heads = new Int32Array(buckets).fill(-1);
    this.nexts = new Int32Array(capacity).fill(-1);
    this.mask = buckets - 1;
    this.startedAt = now;
  }

  reset(now: number): void {
    this.used = 0;
    this.floor = 0;
    this.cursor = 0;
    this.heads.fill(-1);
    this.counts.fill(0);
    this.errors.fill(0);
    this.startedAt = now;
  }

  /** Entry i holds the key at buf[start, end) (hash and length equal, the bytes kept equal). */
  private matches(i: number, h: number, buf: Buffer, start: number, end: number): boolean {
    if (this.hashes[i] !== h || this.lengths[i] !== end - start) return false;
    // Byte loops, not Buffer.compare/copy: for short keys a native call costs more than the loop.
    const off = i * this.keyBytes;
    const n = Math.min(end - start, this.keyBytes);
    const slab = this.slab;
    for (let j = 0; j < n; j++) if (slab[off + j] !== buf[start + j]) return false;
    return true;
  }

  private unlink(i: number): void {
    const b = this.hashes[i]! & this.mask;
    let j = this.heads[b]!;
    if (j === i) {
      this.heads[b] = this.nexts[i]!;
      return;
    }
    while (j >= 0 && this.nexts[j] !== i) j = this.nexts[j]!;
    if (j >= 0) this.nexts[j] = this.nexts[i]!;
  }

  private store(i: number, h: number, buf: Buffer, start: number, end: number, slot: number): void {
    const b = h & this.mask;
    this.nexts[i] = this.heads[b]!;
    this.heads[b] = i;
    this.hashes[i] = h;
    this.slots[i] = slot;
    this.lengths[i] = end - start;
    const off = i * this.keyBytes;
    const n = Math.min(end - start, this.keyBytes);
    const slab = this.slab;
    for (let j = 0; j < n; j++) slab[off + j] = buf[start + j]!;
  }

  /** One sampled hit of the key at buf[start, end) (hash h). */
  offer(buf: Buffer, start: number, end: number, slot: number, h: number): void {
    for (let i = this.heads[h & this.mask]!; i >= 0; i = this.nexts[i]!) {
      if (this.matches(i, h, buf, start, end)) {
        this.counts[i]!++;
        return;
      }
    }
    const n = this.used;
    if (n < this.capacity) {
      this.store(n, h, buf, start, end, slot);
      this.counts[n] = 1;
      this.errors[n] = 0;
      this.used = n + 1;
      return;
    }
    const min = this.minEntry();
    const floor = this.counts[min]!;
    this.unlink(min);
    this.store(min, h, buf, start, end, slot);
    this.counts[min] = floor + 1;
    this.errors[min] = floor;
  }

  /**
   * An entry with the lowest count. Counts only grow, so the floor found by a full scan stays a lower bound:
   * resume from the cursor looking for an entry still at the floor (with many keys at the floor, as under
   * random traffic, that is a step or two); only when none is left, rescan for the new floor.
   */
  private minEntry(): number {
    const n = this.used;
    const counts = this.counts;
    for (let k = 0; k < n; k++) {
      const i = this.cursor;
      this.cursor = i + 1 === n ? 0 : i + 1;
      if (counts[i] === this.floor) return i;
    }
    let min = 0;
    for (let i = 1; i < n; i++) if (counts[i]! < counts[min]!) min = i;
    this.floor = counts[min]!;
    this.cursor = min + 1 === n ? 0 : min + 1;
    return min;
  }

  hashAt(i: number): number {
    return this.hashes[i]!;
  }

  keyAt(i: number): Buffer {
    const off = i * this.keyBytes;
    return Buffer.from(this.slab.subarray(off, off + Math.min(this.lengths[i]!, this.keyBytes)));
  }
}

export class HotKeys {
  private current: Generation;
  private previous: Generation;
  /** Whether `previous` holds a complete window (false until the first rotation). */
  private hasPrevious = false;

  constructor(
    readonly capacity: number,
    readonly maxKeyBytes: number,
    readonly windowMs: number,
    /** The request clock (one reading per socket read on the proxy's data path). */
    private readonly clock: () => number = now,
  ) {
    const now = clock();
    this.current = new Generation(capacity, maxKeyBytes, now);
    this.previous = new Generation(capacity, maxKeyBytes, now);
  }

  offer(key: Buffer, slot: number): void {
    this.offerAt(key, 0, key.length, slot);
  }

  /** offer() of the key at buf[start, end) (a key inside a client's request bytes: no view made). */
  offerAt(buf: Buffer, start: number, end: number, slot: number): void {
    const now = this.clock();
    if (now - this.current.startedAt >= this.windowMs) this.rotate(now);
    this.current.offer(buf, start, end, slot, hashKey(buf, start, end));
  }

  private rotate(now: number): void {
    // Idle for two windows or more: the previous window saw nothing either.
    const stale = now - this.current.startedAt >= 2 * this.windowMs;
    const old = this.previous;
    this.previous = this.current;
    this.current = old;
    this.current.reset(now);
    this.hasPrevious = !stale;
    if (stale) this.previous.reset(now);
  }

  /** The top entries over the last one-to-two windows, hottest first; `spanMs` is the time they cover. */
  report(limit = this.capacity): { spanMs: number; keys: HotKeyEntry[] } {
    const now = this.clock();
    if (now - this.current.startedAt >= this.windowMs) this.rotate(now);
    const merged: Array<HotKeyEntry & { hash: number }> = [];
    const gens = this.hasPrevious ? [this.previous, this.current] : [this.current];
    for (const g of gens) {
      for (let i = 0; i < g.used; i++) {
        const key = g.keyAt(i);
        const hash = g.hashAt(i);
        const same = merged.find((e) => e.hash === hash && e.length === g.lengths[i] && e.key.equals(key));
        if (same) {
          same.count += g.counts[i]!;
          same.error += g.errors[i]!;
        } else merged.push({ key, hash, length: g.lengths[i]!, count: g.counts[i]!, error: g.errors[i]!, slot: g.slots[i]! });
      }
    }
    merged.sort((a, b) => b.count - a.count);
    const spanMs = now - this.current.startedAt + (this.hasPrevious ? this.windowMs : 0);
    return { spanMs: Math.max(1, spanMs), keys: merged.slice(0, limit).map(({ hash: _hash, ...e }) => e) };
  }
}
