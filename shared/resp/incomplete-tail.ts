/**
 * Where a read's trailing incomplete multibulk request begins, found before the read is copied anywhere: a
 * proxy that knows it can copy that tail straight into the buffer the request will be carried in
 * (RequestDecoder.carrier), and only the complete requests before it into its shared arena, instead of
 * copying the tail twice (arena, then carry buffer). Headers are parsed, data is skipped: no allocation, no
 * view, nothing trusted from a declared length but a comparison.
 */

import { CR, DOLLAR, NINE, STAR, ZERO } from './ascii.js';
import { MAX_LEN_DIGITS } from './fast-request.js';

/** scanNumber's result for a number of more than MAX_LEN_DIGITS digits. */
const TOO_LONG = -1;
/** The value of the digits scanNumber last read (a second return value without an allocation). */
let scanned = 0;

/**
 * Reads the decimal digits of buf[p, n) (p at a digit); returns where they end (n when they may go on) and sets
 * `scanned` to their value, or TOO_LONG after more than MAX_LEN_DIGITS digits.
 */
function scanNumber(buf: Uint8Array, p: number, n: number): number {
  const from = p;
  let v = 0;
  while (p < n) {
    const c = buf[p]!;
    if (c < ZERO || c > NINE) break;
    v = v * 10 + (c - ZERO);
    if (++p - from > MAX_LEN_DIGITS) return TOO_LONG;
  }
  scanned = v;
  return p;
}

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
    if (p >= n) return start;
    const c = buf[p]!;
    if (c === ZERO || c > NINE || c < ZERO) return -1;
    p = scanNumber(buf, p, n);
    if (p === TOO_LONG) return -1;
    if (p >= n) return start;
    if (buf[p] !== CR) return -1;
    const count = scanned;
    p += 2; // Redis skips the byte after '\r' without looking at it.
    if (++headers > maxHeaders) return -1;
    for (let i = 0; i < count; i++) {
      if (p >= n) return start;
      if (buf[p] !== DOLLAR) return -1;
      p++;
      if (p >= n) return start;
      const d = buf[p]!;
      if (d < ZERO || d > NINE) return -1;
      const lenStart = p;
      p = scanNumber(buf, p, n);
      if (p === TOO_LONG) return -1;
      if (p >= n) return start;
      if (buf[p] !== CR || (d === ZERO && p - lenStart > 1)) return -1;
      const l = scanned;
      if (++headers > maxHeaders) return -1;
      p += 2 + l + 2;
    }
    if (p > n) return start;
  }
  return -1;
}
