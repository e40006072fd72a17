/**
 * The slot function: the compatibility contract with Codis.
 *
 * slot = crc32_ieee(hashed bytes) % 1024, where the hashed bytes are the bytes between the FIRST `{`
 * and the next `}` after it (even when that is empty: `{}` hashes the empty string, slot 0), or the
 * whole key when there is no such pair. Works on raw bytes, never on JS strings.
 */
import { crc32 } from 'node:zlib';

export const SLOT_COUNT = 1024;
const SLOT_MASK = SLOT_COUNT - 1;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const EMPTY = Buffer.alloc(0);

/** The bytes of `key` that decide its slot (a view, no copy). */
export function hashTag(key: Buffer): Buffer {
  const open = key.indexOf(OPEN_BRACE);
  if (open < 0) return key;
  const close = key.indexOf(CLOSE_BRACE, open + 1);
  if (close < 0) return key;
  return close === open + 1 ? EMPTY : key.subarray(open + 1, close);
}

/** Slot of a key given as raw bytes. */
export function slotOf(key: Buffer): number {
  return crc32(hashTag(key)) & SLOT_MASK;
}

/** Convenience for tests and tools: the slot of a UTF-8 string key. Never used on the hot path. */
export function slotOfString(key: string): number {
  return slotOf(Buffer.from(key, 'utf8'));
}
