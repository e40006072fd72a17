/**
 * Slabs whose views are lent out and given back, so that a slab is written over only when nothing can still
 * read it. Backend replies (proxy/backend/read-slab.ts) and client requests (proxy/session/client-arena.ts)
 * land in such slabs instead of a fresh ArrayBuffer per socket read: external memory, not the number of
 * allocations, is what drives V8's full GCs (one per 64 MB of ArrayBuffers allocated), and at 16 KB values
 * those were most of the proxy's CPU.
 *
 * - Every view handed out is counted (lend); whoever has finished with it gives it back (giveBack), once.
 * - A view never given back pins its slab for good: that slab is left to the GC, as a per-read buffer was.
 * - A slab replaced (retired) while views of it are out goes to a pool, shared by the whole process, when the
 *   last one comes back; its owner may also write it over from its start while nothing is out.
 * - The pool holds what is in flight at pipeline depth (50 clients x 16 x 16 KB is 100 slabs; a pool of 16 left
 *   half the GCs at -P 16), and is trimmed every second by the slabs it did not need during that second, so an
 *   idle proxy gives them back.
 */

/** Bytes of one slab. */
export const SLAB_SIZE = 128 * 1024;

/** Largest slab pooled by size (acquireRounded). */
const BIG_MAX = 1024 * 1024;

/**
 * Most bytes of free slabs of one size kept for reuse, shared by every connection of the process (the knob
 * `limits.slabPoolBytes`, set by setSlabPoolBytes; 128 MB by default). Carried requests at pipeline depth keep
 * that much in flight: MSET 10 x 16 KB at -P 16, 50 clients, retires ~1,000 carry slabs of 256-512 KB a second,
 * each back once its requests are answered (~0.1-0.3 s later). With 32 MB per size, bursts of returns overflowed
 * the 512 KB pool while bursts of takes emptied it: ~270 fresh 512 KB slabs a second (~140 MB/s of
 * ArrayBuffers), a mark-compact by external memory every ~0.5 s. The pool of SLAB_SIZE slabs keeps a quarter of
 * it (32 MB by default: 50 clients x 16 x 16 KB in flight is 100 slabs). The pools are trimmed every second by
 * what they did not need, so this is held only under such a load.
 */
let bigPoolBytes = 128 * 1024 * 1024;
let poolMax = bigPoolBytes / 4 / SLAB_SIZE;

/** Sets the most bytes of free slabs kept per size (0 = none kept: every slab given back is left to the GC). */
export function setSlabPoolBytes(bytes: number): void {
  bigPoolBytes = bytes;
  poolMax = Math.floor(bytes / 4 / SLAB_SIZE);
}

/** How often the pool drops the slabs it did not need since the last time. */
const TRIM_MS = 1000;

export interface Slab {
  readonly buf: Buffer;
  /** From acquireRounded (a power of two above SLAB_SIZE): pooled by size when given back. */
  readonly rounded?: boolean;
  /** Views handed out and not given back (plus pins). */
  lent: number;
  /** No longer written into: back to the pool once `lent` is 0. */
  retired: boolean;
}

const slabs = new WeakMap<ArrayBufferLike, Slab>();
const pool: Slab[] = [];
/** Fewest slabs the pool held since the last trim: that many were not needed. */
let lowWater = 0;
let trimmer: NodeJS.Timeout | null = null;
/** Free rounded slabs by size, and the fewest each held since the last trim (as lowWater). */
const bigPools = new Map<number, { free: Slab[]; low: number }>();

function trim(): void {
  pool.length -= Math.min(lowWater, pool.length);
  lowWater = pool.length;
  let big = 0;
  for (const p of bigPools.values()) {
    p.free.length -= Math.min(p.low, p.free.length);
    p.low = p.free.length;
    big += p.free.length;
  }
  if (pool.length === 0 && big === 0 && trimmer !== null) {
    clearInterval(trimmer);
    trimmer = null;
  }
}

/** A slab of SLAB_SIZE (from the pool when one is free), or one of exactly `size` when that is bigger. */
export function acquireSlab(size: number): Slab {
  if (size <= SLAB_SIZE) {
    const s = pool.pop();
    if (s !== undefined) {
      if (pool.length < lowWater) lowWater = pool.length;
      s.retired = false;
      return s;
    }
    size = SLAB_SIZE;
  }
  const s: Slab = { buf: Buffer.allocUnsafeSlow(size), lent: 0, retired: false };
  slabs.set(s.buf.buffer, s);
  return s;
}

/**
 * A slab of at least `size` bytes: acquireSlab's up to SLAB_SIZE, else (up to 1 MB) the next power of two,
 * pooled by size once given back, so that requests of a few hundred KB that recur (an MSET of 10 x 16 KB)
 * land in memory already touched instead of a fresh allocation each (page faults, and GC work when it dies).
 */
export function acquireRounded(size: number): Slab {
  if (size <= SLAB_SIZE || size > BIG_MAX) return acquireSlab(size);
  let cls = SLAB_SIZE * 2;
  while (cls < size) cls *= 2;
  let p = bigPools.get(cls);
  if (p === undefined) bigPools.set(cls, (p = { free: [], low: 0 }));
  const pooled = p.free.pop();
  if (pooled !== undefined) {
    if (p.free.length < p.low) p.low = p.free.length;
    pooled.retired = false;
    return pooled;
  }
  const s: Slab = { buf: Buffer.allocUnsafeSlow(cls), lent: 0, retired: false, rounded: true };
  slabs.set(s.buf.buffer, s);
  return s;
}

/** Its owner writes no more into `s`: it goes to the pool now or when its last view comes back. */
export function retireSlab(s: Slab): void {
  s.retired = true;
  if (s.lent === 0) release(s);
}

function release(s: Slab): void {
  if (s.rounded === true) {
    const p = bigPools.get(s.buf.length)!;
    if ((p.free.length + 1) * s.buf.length > bigPoolBytes) return;
    p.free.push(s);
  } else {
    if (s.buf.length !== SLAB_SIZE || pool.length >= poolMax) return;
    pool.push(s);
  }
  if (trimmer === null) {
    lowWater = pool.length;
    trimmer = setInterval(trim, TRIM_MS);
    trimmer.unref();
  }
}

/** The owner of the slab `view` lies in writes no more into it (retireSlab); any other buffer is ignored. */
export function retireFrame(view: Buffer): void {
  const s = slabs.get(view.buffer);
  if (s !== undefined && !s.retired) retireSlab(s);
}

/** Views lent and not given back, over every slab of the process; given back with none out (tests). */
const counts = { lent: 0, overReturned: 0 };

/** The slab `view` lies in, or null when it is no slab's (a lookup: `view.buffer` is a call into C++, ~0.05 µs). */
export function slabOf(view: Buffer): Slab | null {
  return slabs.get(view.buffer) ?? null;
}

/** A view of a slab is handed out; any other buffer is ignored. */
export function lendFrame(view: Buffer): void {
  const s = slabs.get(view.buffer);
  if (s !== undefined) lendSlab(s);
}

/** A view of `s` is handed out (lendFrame with the slab in hand: no lookup). */
export function lendSlab(s: Slab): void {
  s.lent++;
  counts.lent++;
}

/**
 * The holder of a view lent by lendFrame will never read it again (and nobody else has it): its bytes may be
 * written over. Call at most once per lent view; any other buffer is ignored.
 */
export function returnFrame(view: Buffer): void {
  const s = slabs.get(view.buffer);
  if (s !== undefined) giveBackSlab(s);
}

/** returnFrame with the slab in hand: a view lent from `s` (by lendSlab or lendFrame) comes back. */
export function giveBackSlab(s: Slab): void {
  if (s.lent === 0) {
    counts.overReturned++;
    return;
  }
  counts.lent--;
  if (--s.lent === 0 && s.retired) release(s);
}

/** Views lent and not given back, and views given back to a slab with none out (a bug), so far (tests). */
export function lendCounts(): { readonly lent: number; readonly overReturned: number } {
  return { lent: counts.lent, overReturned: counts.overReturned };
}

/** Slabs in the shared pool (tests). */
export function pooledSlabs(): number {
  return pool.length;
}

/** Drops every free slab now (what the trims would within two idle seconds): memory tests measure what is live. */
export function emptyPools(): void {
  pool.length = 0;
  lowWater = 0;
  for (const p of bigPools.values()) {
    p.free.length = 0;
    p.low = 0;
  }
}

/** Runs the pool's periodic trim now (tests). */
export function trimPoolNow(): void {
  trim();
}
