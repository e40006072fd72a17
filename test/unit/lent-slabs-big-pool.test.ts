/**
 * The by-size pool of big slabs (proxy/util/lent-slabs.ts acquireRounded: requests carried over reads, 256 KB to
 * 1 MB) keeps what carried requests at pipeline depth hold in flight. With 32 MB per size it overflowed at MSET
 * 10 x 16 KB -P 16 (50 clients: ~100 MB of 512 KB carry slabs in flight), and every slab it dropped was a fresh
 * ArrayBuffer later: a mark-compact by external memory every ~0.5 s (docs/performance.md, session 9, s9-gc).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { acquireRounded, emptyPools, lendSlab, giveBackSlab, retireSlab, setSlabPoolBytes, trimPoolNow, type Slab } from '../../proxy/util/lent-slabs.js';
import { validateProxyConfig } from '../../proxy/config.js';

const KB = 1024;

/** `n` slabs of 512 KB, each with a view lent, retired (the decoder moved on), then given back (their requests answered). */
function cycle(n: number): Slab[] {
  const slabs: Slab[] = [];
  for (let i = 0; i < n; i++) {
    const s = acquireRounded(300 * KB);
    lendSlab(s);
    slabs.push(s);
  }
  for (const s of slabs) retireSlab(s);
  for (const s of slabs) giveBackSlab(s);
  return slabs;
}

describe('big slab pool (acquireRounded)', () => {
  afterEach(() => {
    setSlabPoolBytes(validateProxyConfig({}).limits.slabPoolBytes);
    emptyPools();
  });

  it('keeps 100 MB of 512 KB slabs given back in one burst: the next burst of takes reuses every one of them', () => {
    emptyPools();
    const first = cycle(200); // 100 MB
    expect(first[0]!.buf.length).toBe(512 * KB);
    const again = new Set(first.map((s) => s.buf));
    const second: Slab[] = [];
    for (let i = 0; i < 200; i++) second.push(acquireRounded(300 * KB));
    expect(second.filter((s) => again.has(s.buf)).length).toBe(200);
  });

  it('is bounded: past 128 MB of one size, slabs given back are left to the GC', () => {
    emptyPools();
    const first = cycle(300); // 150 MB
    const again = new Set(first.map((s) => s.buf));
    let reused = 0;
    for (let i = 0; i < 300; i++) if (again.has(acquireRounded(300 * KB).buf)) reused++;
    expect(reused).toBe(256);
  });

  it('gives back to the GC, within two trims, what an idle proxy does not take', () => {
    emptyPools();
    const pooled = new Set(cycle(100).map((s) => s.buf));
    trimPoolNow(); // sets the low-water mark (the first trim after the pool filled drops nothing it may need)
    trimPoolNow(); // nothing was taken since: all of it goes
    expect(pooled.has(acquireRounded(300 * KB).buf)).toBe(false);
  });

  it('limits.slabPoolBytes bounds each size: 10 MB keeps 20 slabs of 512 KB, 0 keeps none', () => {
    expect(validateProxyConfig({}).limits.slabPoolBytes).toBe(128 * KB * KB);
    for (const [bytes, kept] of [[validateProxyConfig({ limits: { slabPoolBytes: '10mb' } }).limits.slabPoolBytes, 20], [0, 0]] as const) {
      setSlabPoolBytes(bytes);
      emptyPools();
      const again = new Set(cycle(50).map((s) => s.buf));
      let reused = 0;
      for (let i = 0; i < 50; i++) if (again.has(acquireRounded(300 * KB).buf)) reused++;
      expect(reused).toBe(kept);
    }
  });
});
