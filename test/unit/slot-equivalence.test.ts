/**
 * slotOf hashes short keys in JS (tag scan + CRC-32 in one pass) and long ones with zlib: both paths must
 * give exactly crc32(hashTag(key)) & 1023 for every key, braces anywhere, every length around the switch.
 */
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashTag, slotOf } from '../../shared/slot.js';

const reference = (key: Buffer): number => crc32(hashTag(key)) & 1023;

describe('slotOf fast path', () => {
  it('equals zlib crc32 of the hash tag for random byte keys of every length 0..300', () => {
    const alphabet = [0x7b, 0x7d, 0x61, 0x00, 0xff, 0x3a, 0x31];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 300, maxLength: 300 }),
        fc.boolean(),
        (len, bytes, braceHeavy) => {
          const key = Buffer.from(bytes.slice(0, len).map((b) => (braceHeavy ? alphabet[b % alphabet.length]! : b)));
          expect(slotOf(key)).toBe(reference(key));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('views into a larger buffer hash only their own bytes', () => {
    const chunk = Buffer.from('xx{tag}:1yy{other}zz');
    for (let a = 0; a < chunk.length; a++) for (let b = a; b <= chunk.length; b++) expect(slotOf(chunk.subarray(a, b))).toBe(reference(chunk.subarray(a, b)));
  });
});
