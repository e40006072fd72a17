import { describe, expect, it } from 'vitest';
import { hashTag, slotOf, SLOT_COUNT } from '../../shared/slot.js';

// Golden vectors from ../shared/reference/codis.md §1: a Codis user must keep the same slot for every key.
const GOLDEN: Array<[string, Buffer, string, number]> = [
  ['foo', Buffer.from('foo'), 'foo', 289],
  ['bar', Buffer.from('bar'), 'bar', 170],
  ['user1000', Buffer.from('user1000'), 'user1000', 870],
  ['{user1000}.following', Buffer.from('{user1000}.following'), 'user1000', 870],
  ['{user1000}.followers', Buffer.from('{user1000}.followers'), 'user1000', 870],
  ['foo{}{bar}', Buffer.from('foo{}{bar}'), '', 0],
  ['{}foo', Buffer.from('{}foo'), '', 0],
  ['a{b}c', Buffer.from('a{b}c'), 'b', 1017],
  ['empty key', Buffer.alloc(0), '', 0],
  ['\\xff\\x00 raw bytes', Buffer.from([0xff, 0x00]), '\xff\x00', 909],
  ['foo{bar', Buffer.from('foo{bar'), 'foo{bar', 407],
  ['{{a}}', Buffer.from('{{a}}'), '{a', 780],
  ['123456789', Buffer.from('123456789'), '123456789', 294],
];

describe('slot function (Codis golden vectors)', () => {
  for (const [name, key, tag, slot] of GOLDEN) {
    it(`${name} -> slot ${slot}`, () => {
      expect(hashTag(key).equals(Buffer.from(tag, 'latin1'))).toBe(true);
      expect(slotOf(key)).toBe(slot);
    });
  }

  it('hashes raw bytes, not the UTF-8 encoding of a JS string', () => {
    // '\xff\x00' as a JS string is UTF-8 encoded to 3 bytes and lands elsewhere.
    expect(slotOf(Buffer.from('\xff\x00', 'utf8'))).not.toBe(909);
  });

  it('always returns a slot in range', () => {
    for (let i = 0; i < 5000; i++) {
      const s = slotOf(Buffer.from(`key:${i}`));
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(SLOT_COUNT);
    }
  });
});
