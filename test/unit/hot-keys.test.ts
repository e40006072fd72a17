/** The proxy's hot-key top-K (proxy/load/hot-keys.ts) and per-slot counters (proxy/load/slot-load.ts). */
import { describe, expect, it } from 'vitest';
import { HotKeys } from '../../proxy/load/hot-keys.js';
import { SlotLoad } from '../../proxy/load/slot-load.js';

describe('HotKeys (Space-Saving)', () => {
  it('finds the heavy hitter among many distinct keys, within bounded entries', () => {
    const hk = new HotKeys(16, 64, 10_000, () => 0);
    for (let i = 0; i < 20_000; i++) {
      hk.offer(Buffer.from(`cold:${i}`), 1);
      if (i % 4 === 0) hk.offer(Buffer.from('hot'), 2);
    }
    const r = hk.report();
    expect(r.keys.length).toBeLessThanOrEqual(16);
    expect(r.keys[0]!.key.toString()).toBe('hot');
    expect(r.keys[0]!.slot).toBe(2);
    // Space-Saving: count - error <= true count (5000) <= count
    expect(r.keys[0]!.count - r.keys[0]!.error).toBeLessThanOrEqual(5000);
    expect(r.keys[0]!.count).toBeGreaterThanOrEqual(5000);
  });

  it('keeps long keys truncated but tells them apart by the whole key', () => {
    const hk = new HotKeys(8, 16, 10_000, () => 0);
    const a = Buffer.concat([Buffer.alloc(20, 0x61), Buffer.from('A')]);
    const b = Buffer.concat([Buffer.alloc(20, 0x61), Buffer.from('B')]);
    for (let i = 0; i < 3; i++) hk.offer(a, 0);
    hk.offer(b, 0);
    const r = hk.report();
    expect(r.keys.map((k) => [k.key.length, k.length, k.count])).toEqual([
      [16, 21, 3],
      [16, 21, 1],
    ]);
  });

  it('offerAt (a key inside request bytes, no view) counts exactly as offer of the key alone', () => {
    const byKey = new HotKeys(8, 16, 10_000, () => 0);
    const byRange = new HotKeys(8, 16, 10_000, () => 0);
    for (let i = 0; i < 2000; i++) {
      const key = Buffer.from(i % 3 === 0 ? 'hot:key' : i % 5 === 0 ? `a-key-longer-than-sixteen-bytes:${i % 2}` : `cold:${i}`);
      byKey.offer(key, i % 7);
      // The same key in the middle of a request's bytes, bytes around it that must not count.
      const raw = Buffer.concat([Buffer.from(`*2\r\n$3\r\nGET\r\n$${key.length}\r\n`), key, Buffer.from('\r\nzz')]);
      const at = raw.length - key.length - 4;
      byRange.offerAt(raw, at, at + key.length, i % 7);
    }
    const a = byKey.report();
    const b = byRange.report();
    expect(b).toEqual(a);
    expect(b.keys[0]!.key.toString()).toBe('hot:key');
    expect(b.keys.some((k) => k.length > 16 && k.key.length === 16)).toBe(true);
  });

  it('SlotLoad.countAt samples the key inside the buffer, not the bytes around it', () => {
    const load = new SlotLoad({ count: true, hotKeys: 4, maxKeyBytes: 32, windowMs: 60_000, sampleEvery: 1 } as never);
    const raw = Buffer.from('*2\r\n$3\r\nGET\r\n$5\r\nuser1\r\n');
    const at = raw.indexOf('user1');
    for (let i = 0; i < 5; i++) load.countAt(7, raw, at, at + 5, raw.length);
    const keys = load.report().hotKeys.keys;
    expect(keys.length).toBe(1);
    expect(Buffer.from(keys[0]!.key, 'base64').toString()).toBe('user1');
    expect(keys[0]!.slot).toBe(7);
    expect(keys[0]!.count).toBeGreaterThanOrEqual(1);
  });

  it('forgets keys after two idle windows and merges the previous window', () => {
    let now = 0;
    const hk = new HotKeys(8, 32, 1000, () => now);
    hk.offer(Buffer.from('x'), 0);
    now = 1500;
    hk.offer(Buffer.from('x'), 0);
    expect(hk.report().keys[0]).toMatchObject({ count: 2 });
    now = 10_000;
    expect(hk.report().keys).toEqual([]);
  });
});

describe('SlotLoad', () => {
  it('counts ops and bytes per slot; samples about one in sampleEvery; off means nothing counted', () => {
    const l = new SlotLoad({ count: true, hotKeys: 8, sampleEvery: 4, maxKeyBytes: 64, windowMs: 10_000 });
    const k = Buffer.from('k');
    for (let i = 0; i < 4000; i++) l.count(7, k, 10);
    const r = l.report();
    expect(r.ops[7]).toBe(4000);
    expect(r.bytes[7]).toBe(40_000);
    expect(r.hotKeys.keys[0]!.key).toBe(k.toString('base64'));
    expect(r.hotKeys.keys[0]!.count).toBeGreaterThan(3000);
    expect(r.hotKeys.keys[0]!.count).toBeLessThan(5000);
    const off = new SlotLoad({ count: false, hotKeys: 8, sampleEvery: 4, maxKeyBytes: 64, windowMs: 10_000 });
    off.count(7, k, 10);
    expect(off.report()).toMatchObject({ counting: false, hotKeys: { keys: [] } });
    expect(off.report().ops[7]).toBe(0);
  });
});
