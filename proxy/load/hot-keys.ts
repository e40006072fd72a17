/**
 * Hot keys: a Space-Saving top-K (Metwally et al.) over the keys the router samples.
 *
 * Bounded memory, nothing allocated per offer: K entries per generation, each key copied (at most
 * maxKeyBytes of it) into one preallocated slab; lookup is a scan of K 32-bit hashes (K is small: 64 by
 * default, and only sampled requests pay it). A key not in the table replaces the entry with the lowest
 * count and inherits that count as its error bound (count - error <= true count <= count).
 *
 * Two generations: counts of the current window and of the previous one; a report merges both, so a key
 * that just became hot shows at once and one that cooled down leaves within two windows. Rotation is lazy
 * (on offer or report), so there is no timer to manage.
 */

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

/** FNV-1a over the whole key: only sampled requests pay it. */
function hashKey(key: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key[i]!;
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
  used = 0;
  startedAt: number;

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
    this.startedAt = now;
  }

  reset(now: number): void {
    this.used = 0;
    this.counts.fill(0);
    this.errors.fill(0);
    this.startedAt = now;
  }

  private matches(i: number, h: number, key: Buffer): boolean {
    if (this.hashes[i] !== h || this.lengths[i] !== key.length) return false;
    const off = i * this.keyBytes;
    const n = Math.min(key.length, this.keyBytes);
    return key.compare(this.slab, off, off + n, 0, n) === 0;
  }

  private store(i: number, h: number, key: Buffer, slot: number): void {
    this.hashes[i] = h;
    this.slots[i] = slot;
    this.lengths[i] = key.length;
    key.copy(this.slab, i * this.keyBytes, 0, Math.min(key.length, this.keyBytes));
  }

  offer(key: Buffer, slot: number, h: number): void {
    const n = this.used;
    for (let i = 0; i < n; i++) {
      if (this.matches(i, h, key)) {
        this.counts[i]!++;
        return;
      }
    }
    if (n < this.capacity) {
      this.store(n, h, key, slot);
      this.counts[n] = 1;
      this.errors[n] = 0;
      this.used = n + 1;
      return;
    }
    let min = 0;
    for (let i = 1; i < n; i++) if (this.counts[i]! < this.counts[min]!) min = i;
    const floor = this.counts[min]!;
    this.store(min, h, key, slot);
    this.counts[min] = floor + 1;
    this.errors[min] = floor;
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
    private readonly clock: () => number = () => performance.now(),
  ) {
    const now = clock();
    this.current = new Generation(capacity, maxKeyBytes, now);
    this.previous = new Generation(capacity, maxKeyBytes, now);
  }

  offer(key: Buffer, slot: number): void {
    const now = this.clock();
    if (now - this.current.startedAt >= this.windowMs) this.rotate(now);
    this.current.offer(key, slot, hashKey(key));
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
