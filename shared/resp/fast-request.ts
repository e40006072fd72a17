/**
 * RequestDecoder's fast path: a whole, well-formed multibulk request inside one chunk is parsed with locals
 * only into argument offsets (the spans scratch below, shared by every decoder of this thread) and offered to
 * the handler's onRequestSpans without a view made. Anything unusual falls back to the decoder's resumable
 * state machine, which re-parses the request from its start with Redis's exact error.
 */
import { CR, DOLLAR, NINE, ZERO } from './ascii.js';
import { argvOfSpans, newSpans, type RequestSpans } from './request-spans.js';
import { ViewMaker } from './views.js';

/** Redis 7 also caps unauthenticated clients (authRequired): arrays > 10 elements, bulks > 16 KB. */
export const UNAUTH_MAX_ARRAY = 10;
export const UNAUTH_MAX_BULK = 16384;
/** More digits than this cannot be a valid length under any limit (and stays exact as a double). */
export const MAX_LEN_DIGITS = 15;

/** What the fast path needs of RequestDecoder's handler (RequestHandler, request-decoder.ts). */
interface SpansHandler {
  onRequest(argv: Buffer[], raw: Buffer | undefined): void;
  onRequestSpans?(raw: Buffer, spans: RequestSpans): boolean;
}

/** The RequestLimits the fast path checks. */
interface FastLimits {
  readonly maxBulkBytes: number;
  readonly maxArrayLength: number;
  readonly maxQueryBytes?: number;
}


/**
 * Parses one complete, well-formed multibulk request starting at `start` using locals only, and delivers
 * it. Returns the position after it, or -1 when the request is incomplete in this chunk or anything is
 * unusual (a limit, a sign, a leading zero, a bad byte): then the state machine re-parses it from `start`,
 * with the exact Redis error if there is one. Nothing is allocated from a declared length.
 * (`h`, `limits`, `unauth`: the decoder's handler, limits and unauthenticated flag.)
 */
export function fastRequest(chunk: Buffer, start: number, h: SpansHandler, limits: FastLimits, unauth: boolean): number {
  const len = chunk.length;
  let p = start + 1;
  let c = chunk[p];
  if (c === undefined || c <= ZERO || c > NINE) return -1;
  let n = 0;
  const digitsEnd = p + MAX_LEN_DIGITS;
  while (p < len) {
    c = chunk[p]!;
    if (c < ZERO || c > NINE) break;
    n = n * 10 + (c - ZERO);
    if (++p > digitsEnd) return -1;
  }
  if (c !== CR || p + 1 >= len) return -1;
  p += 2;
  if (n > limits.maxArrayLength || (unauth && n > UNAUTH_MAX_ARRAY)) return -1;
  const maxBulk = unauth ? Math.min(UNAUTH_MAX_BULK, limits.maxBulkBytes) : limits.maxBulkBytes;
  // Offsets, not views: the arrays grow with the arguments parsed (never from the declared count alone).
  let spans = SPANS;
  if (spansBusy) spans = newSpans(MIN_SPANS); // a handler decoding inside its own call (never on the proxy's path)
  let head = spans.head;
  let data = spans.data;
  for (let i = 0; i < n; i++) {
    if (i === data.length) {
      spans = growSpans(spans, i);
      head = spans.head;
      data = spans.data;
    }
    head[i] = p - start;
    if (p >= len || chunk[p] !== DOLLAR) return -1;
    p++;
    c = chunk[p];
    if (c === undefined || c < ZERO || c > NINE) return -1;
    let l = 0;
    const lenStart = p;
    while (p < len) {
      c = chunk[p]!;
      if (c < ZERO || c > NINE) break;
      l = l * 10 + (c - ZERO);
      if (++p - lenStart > MAX_LEN_DIGITS) return -1;
    }
    if (c !== CR || (chunk[lenStart] === ZERO && p - lenStart > 1) || l > maxBulk) return -1;
    p += 2;
    const end = p + l;
    if (end + 2 > len) return -1;
    data[i] = p - start;
    p = end + 2;
  }
  // Near the query buffer limit: the state machine decides (it counts argument bytes exactly).
  const maxQuery = limits.maxQueryBytes ?? 0;
  if (maxQuery > 0 && p - start > maxQuery) return -1;
  head[n] = p - start;
  spans.count = n;
  // A chunk that is exactly one request (a read at pipeline 1) is its raw bytes as it is: no view more.
  let raw = chunk;
  if (start !== 0 || p !== len) {
    raw = RAW_VIEWS.view(chunk, start, p);
    if (p === len) RAW_VIEWS.forget(); // the chunk's last request: it is not kept past its read
  }
  if (h.onRequestSpans !== undefined) {
    const own = spans === SPANS;
    if (own) spansBusy = true;
    let done: boolean;
    try {
      done = h.onRequestSpans(raw, spans);
    } finally {
      if (own) spansBusy = false;
    }
    if (!done) h.onRequest(argvOfSpans(raw, spans), raw);
  } else h.onRequest(argvOfSpans(raw, spans), raw);
  if (spans === SPANS && data.length > MAX_KEPT_SPANS) SPANS = newSpans(MIN_SPANS); // a huge request's arrays are not kept
  return p;
}

/** Raw views of the requests of a chunk (pipelined: many per read; one ArrayBuffer lookup per read). */
const RAW_VIEWS = new ViewMaker();

/** Spans room kept between requests (a request with more arguments grows them for itself, then they are dropped). */
const MIN_SPANS = 64;
const MAX_KEPT_SPANS = 4096;
/** The fast path's offsets, shared by every decoder of this thread (requests are decoded one at a time). */
let SPANS = newSpans(MIN_SPANS);
/** SPANS is being read by a handler: a push nested inside it uses arrays of its own. */
let spansBusy = false;

/** `s` with twice the room, its first `used` entries kept. */
function growSpans(s: RequestSpans, used: number): RequestSpans {
  const g = newSpans(used * 2);
  g.head.set(s.head.subarray(0, used));
  g.data.set(s.data.subarray(0, used));
  if (s === SPANS) SPANS = g;
  return g;
}
