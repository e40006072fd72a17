// The mover's batching rule (dashboard/migration/mover-batches.ts), property-tested: every live key lands in
// exactly one MIGRATE call, big keys alone, batches within their limits unless one {tag} family alone exceeds them,
// and a family is never split between two batches.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchLimit, planBucket } from '../../dashboard/migration/mover-batches.js';
import { hashTag } from '../../shared/slot.js';

const keyArb = fc.oneof(
  fc.stringMatching(/^[a-z]{1,6}$/),
  fc.tuple(fc.constantFrom('u1', 'u2', 'u3'), fc.stringMatching(/^[a-z]{1,4}$/)).map(([t, k]) => `{${t}}${k}`),
);

describe('planBucket', () => {
  it('moves every live key once, big keys alone, families whole, limits kept', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(keyArb, { maxLength: 80 }),
        fc.array(fc.integer({ min: -1, max: 5000 }), { minLength: 80, maxLength: 80 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 100, max: 20_000 }),
        (names, sizes, maxKeys, maxBytes) => {
          const keys = names.map((n) => Buffer.from(n));
          const plan = planBucket(keys, sizes, 4000, maxKeys, maxBytes);
          const live = keys.filter((_, i) => sizes[i]! >= 0).map(String).sort();
          const planned = [...plan.big.map((b) => String(b.key)), ...plan.batches.flatMap((b) => b.keys.map(String))].sort();
          expect(planned).toEqual(live);
          for (const b of plan.big) expect(b.size).toBeGreaterThan(4000);
          const familyOf = new Map<string, number>();
          plan.batches.forEach((b, i) => {
            const tags = new Set(b.keys.map((k) => String(hashTag(k))));
            if (b.keys.length > maxKeys || b.bytes > maxBytes) expect(tags.size, 'only one family may exceed a limit').toBe(1);
            for (const k of b.keys) {
              const tag = String(hashTag(k));
              if (tag === String(k)) continue;
              expect(familyOf.get(tag) ?? i, `family ${tag} split`).toBe(i);
              familyOf.set(tag, i);
            }
          });
        },
      ),
    );
  });

  it('batchLimit shrinks batches to the target duration from the source time per key, else round trips', () => {
    expect(batchLimit(500, 3, 0, 0)).toBe(500);
    expect(batchLimit(500, 3, 30, 1)).toBe(100); // 30 µs per key on the source: 3 ms = 100 keys
    expect(batchLimit(500, 3, 0, 0.1)).toBe(30);
    expect(batchLimit(500, 3, 0, 10)).toBe(16); // never below 16
    expect(batchLimit(500, 0, 30, 1)).toBe(500); // target off
  });
});
