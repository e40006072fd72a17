/**
 * Slot hashing (shared/slot.ts): crc32 of the key (or its {hash tag}) & 1023 on raw bytes. node:zlib's
 * crc32 (native, one JS->C++ call per key) vs a table-driven JS crc32 (8 KB table, slicing-by-4), on the
 * key shapes redis-benchmark and real clients send.
 */
import { crc32 } from 'node:zlib';
import { slotOf } from '../../shared/slot.js';
import { compare, report } from './harness.js';

const TABLE = new Int32Array(256 * 4);
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

/** Byte-at-a-time table crc32. */
export function crc32Js1(b: Buffer, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Slicing-by-4 crc32. */
export function crc32Js4(b: Buffer, start: number, end: number): number {
  let c = -1;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    c ^= b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    c = TABLE[768 + (c & 0xff)]! ^ TABLE[512 + ((c >>> 8) & 0xff)]! ^ TABLE[256 + ((c >>> 16) & 0xff)]! ^ TABLE[c >>> 24]!;
  }
  for (; i < end; i++) c = TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function keys(n: number, make: (i: number) => string): Buffer[] {
  // Views into one chunk, like the request decoder hands them over.
  const parts = Array.from({ length: n }, (_, i) => make(i));
  const chunk = Buffer.from(parts.join(''));
  const out: Buffer[] = [];
  let pos = 0;
  for (const p of parts) {
    const len = Buffer.byteLength(p);
    out.push(chunk.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}

const WORKLOADS = [
  { name: 'key:__rand_int__ (16 B)', keys: keys(1000, (i) => `key:${String(i * 97).padStart(12, '0')}`) },
  { name: 'user:{tag}:field (~24 B, hash tag)', keys: keys(1000, (i) => `user:{${i}}:profile:name`) },
  { name: '64 B keys', keys: keys(1000, (i) => `${i}:`.padEnd(64, 'x')) },
  { name: '256 B keys', keys: keys(500, (i) => `${i}:`.padEnd(256, 'y')) },
];

export function run(): void {
  for (const w of WORKLOADS) {
    // The three must agree (the slot function is the compatibility contract).
    for (const k of w.keys) {
      const z = crc32(k) >>> 0;
      if (crc32Js1(k, 0, k.length) !== z || crc32Js4(k, 0, k.length) !== z) throw new Error('crc mismatch');
    }
    let sink = 0;
    const results = compare([
      { name: 'zlib.crc32 (native) on whole key', fn: () => { for (const k of w.keys) sink ^= crc32(k) & 1023; } },
      { name: 'JS crc32, byte-wise', fn: () => { for (const k of w.keys) sink ^= crc32Js1(k, 0, k.length) & 1023; } },
      { name: 'JS crc32, slicing-by-4', fn: () => { for (const k of w.keys) sink ^= crc32Js4(k, 0, k.length) & 1023; } },
      { name: 'shared/slot.ts slotOf (tag + crc)', fn: () => { for (const k of w.keys) sink ^= slotOf(k); } },
    ]);
    if (sink === -1) throw new Error('unreachable');
    report(`${w.name} x${w.keys.length} (ops = batches)`, results);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) run();
