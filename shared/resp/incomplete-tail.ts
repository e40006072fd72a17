/**
 * Where a read's trailing incomplete multibulk request begins, found before the read is copied anywhere: a
 * proxy that knows it can copy that tail straight into the buffer the request will be carried in
 * (RequestDecoder.carrier), and only the complete requests before it into its shared arena, instead of
 * copying the tail twice (arena, then carry buffer). Headers are parsed, data is skipped: no allocation, no
 * view, nothing trusted from a declared length but a comparison.
 */

import { CR, DOLLAR, NINE, STAR, ZERO } from './ascii.js';

/** More digits than this cannot be a valid length under any limit (as RequestDecoder). */
const MAX_LEN_DIGITS = 15;

/**
 * The offset in `buf[0, n)` where a multibulk request begins that is well-formed as far as it goes and does
 * not end within `n`, every byte before it being complete well-formed multibulk requests (`*N`, N > 0, of
 * `$L` bulks: what RequestDecoder's fast path takes); -1 otherwise (the read ends at a request boundary, or
 * holds anything else: inline, `*0`, a sign, a leading zero, a bad byte), or when more than `maxHeaders`
 * length lines would have to be read to know (many small arguments: not worth the scan).
 * A decoder pushed `buf[0, k)` then `buf[k, n)` delivers every request of the first and none of the second.
 */
export function incompleteTail(buf: Uint8Array, n: number, maxHeaders: number): number {
  let p = 0;
  let headers = 0;
  while (p < n) {
    const start = p;
    if (buf[p] !== STAR) return -1;
    p++;
    let count = 0;
    let c = buf[p];
    if (p >= n) return start;
    if (c === undefined || c <= ZERO || c > NINE) return -1;
    const countStart = p;
    while (p < n) {
      c = buf[p]!;
      if (c < ZERO || c > NINE) break;
      count = count * 10 + (c - ZERO);
      if (++p - countStart > MAX_LEN_DIGITS) return -1;
    }
    if (p >= n) return start;
    if (c !== CR) return -1;
    p += 2; // Redis skips the byte after '\r' without looking at it.
    if (++headers > maxHeaders) return -1;
    for (let i = 0; i < count; i++) {
      if (p >= n) return start;
      if (buf[p] !== DOLLAR) return -1;
      p++;
      if (p >= n) return start;
      c = buf[p];
      if (c === undefined || c < ZERO || c > NINE) return -1;
      const lenStart = p;
      let l = 0;
      while (p < n) {
        c = buf[p]!;
        if (c < ZERO || c > NINE) break;
        l = l * 10 + (c - ZERO);
        if (++p - lenStart > MAX_LEN_DIGITS) return -1;
      }
      if (p >= n) return start;
      if (c !== CR || (buf[lenStart] === ZERO && p - lenStart > 1)) return -1;
      if (++headers > maxHeaders) return -1;
      p += 2 + l + 2;
    }
    if (p > n) return start;
  }
  return -1;
}
