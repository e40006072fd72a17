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

/** CRC-32 (IEEE) tables for slicing-by-4: TABLE[k * 256 + b]. */
const TABLE = new Int32Array(1024);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = TABLE[n]!;
  for (let t = 1; t < 4; t++) {
    c = TABLE[c & 0xff]! ^ (c >>> 8);
    TABLE[t * 256 + n] = c;
  }
}

/** CRC-32 of key[start, end) in JS: for short keys cheaper than a call into native zlib (bench/micro/slot). */
function crc32Range(key: Buffer, start: number, end: number): number {
  let c = -1;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    c ^= key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24);
    c = TABLE[768 + (c & 0xff)]! ^ TABLE[512 + ((c >>> 8) & 0xff)]! ^ TABLE[256 + ((c >>> 16) & 0xff)]! ^ TABLE[c >>> 24]!;
  }
  for (; i < end; i++) c = TABLE[(c ^ key[i]!) & 0xff]! ^ (c >>> 8);
  return ~c;
}

/** Keys up to this length are hashed in JS (tag scan and CRC in one pass); longer ones by zlib. */
const JS_MAX = 64;

/** Slot of a key given as raw bytes. */
export function slotOf(key: Buffer): number {
  return slotOfRange(key, 0, key.length);
}

/** Slot of the key at buf[from, to) (the key inside a client's request bytes: no view made for short keys). */
export function slotOfRange(buf: Buffer, from: number, to: number): number {
  if (to - from > JS_MAX) return crc32(hashTag(buf.subarray(from, to))) & SLOT_MASK;
  let start = from;
  let end = to;
  for (let i = from; i < to; i++) {
    if (buf[i] === OPEN_BRACE) {
      for (let j = i + 1; j < to; j++) {
        if (buf[j] === CLOSE_BRACE) {
          start = i + 1;
          end = j; // `{}` hashes the empty string
          break;
        }
      }
      break;
    }
  }
  return crc32Range(buf, start, end) & SLOT_MASK;
}

/** Convenience for tests and tools: the slot of a UTF-8 string key. Never used on the hot path. */
export function slotOfString(key: string): number {
  return slotOf(Buffer.from(key, 'utf8'));
}
