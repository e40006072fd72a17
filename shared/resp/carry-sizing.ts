/**
 * How much room a request carried over reads gets, and where a read into its buffer stops (RequestDecoder's
 * carry, readTarget): estimates from what the request has declared so far, never an allocation sized by an
 * untrusted length alone. Also how a bulk's pieces are joined (a view when the carry kept them adjacent).
 */

/** Most bytes a carried request's buffer grows by beyond what has arrived (RequestDecoder.carry). */
const CARRY_STEP = 256 * 1024;
/** A carried request begun where an earlier one was carried gets room for this many of its size (RequestDecoder.carry). */
const PIPELINED_CARRY = 4;
/** Least room given to a carried request (its count not read yet, or little left to come). */
export const MIN_CARRY_ROOM = 64;
/**
 * Bytes a read into a carry buffer goes past the carried request's expected end when no request as long fits
 * after it (readStop): the next request's head moves to a new buffer short, not half a request long (carry).
 */
const READ_PAST = 256;

/** Where a request moving to a new carry buffer was. */
export const enum CarryFrom {
  /** A read (the shared scratch or the arena): its first carry. */
  Read,
  /** A carry buffer it outgrew. */
  Outgrown,
  /** A carry buffer it began in after an earlier carried request (the client pipelines big requests). */
  Pipelined,
}

/**
 * Bytes the request being decoded still needs, as far as it has declared them: the rest of the current bulk
 * (`bulkRest`, -1 when not inside one), and each argument still to come as long as those so far on average
 * (`headBytes` received so far; `argv` the arguments complete, `argsLeft` those still to come including the
 * current one). The command name is no guide to its arguments' lengths (an MSET's pairs are): left out once past it.
 */
export function estimateRest(headBytes: number, argv: readonly Buffer[], argsLeft: number, bulkRest: number): number {
  let rest = 0;
  let after = argsLeft;
  let args = argv.length;
  if (bulkRest >= 0) {
    // The current argument counts at its declared length.
    rest = bulkRest;
    after--;
    args++;
  }
  let bytes = headBytes + rest;
  if (args > 1) {
    bytes -= argv[0]!.length;
    args--;
  }
  const avg = Math.ceil(bytes / args);
  return Math.max(MIN_CARRY_ROOM, rest + after * avg);
}

/**
 * Where a read into a carry buffer of `capacity` bytes, filled to `fill` with `head` bytes of the carried request
 * which still needs `rest`, should stop: READ_PAST bytes past the expected end of the last request that fits
 * (this one, and as many as long after it: a pipeline), so a request that will not fit begins near the end of
 * what was read and little of it moves to the next buffer. `capacity` when it does not fit (carry moves it once
 * the buffer is full).
 */
export function readStop(fill: number, head: number, rest: number, capacity: number): number {
  const end = fill + rest;
  if (end >= capacity) return capacity;
  const stop = end + Math.floor((capacity - end) / (head + rest)) * (head + rest) + READ_PAST;
  return stop < capacity ? stop : capacity;
}

/**
 * Room beyond its `n` bytes so far for a request moving to a new carry buffer, which still declares `declared`
 * bytes; `prev` is the length of the request before it when both lie in the old carry buffer (else 0).
 */
export function carryRoom(n: number, declared: number, from: CarryFrom, prev: number): number {
  // An estimate with a margin (arguments differ in length: keys and values); outgrown, the buffer doubles.
  let want = declared + (declared >> 2);
  if (from === CarryFrom.Outgrown) want = Math.max(want, n);
  // Begun in carry memory: the client pipelines big requests; room for a few more, so fewer heads are copied.
  else if (from === CarryFrom.Pipelined) want = Math.max(n + want, prev) * PIPELINED_CARRY - n;
  return Math.min(want, Math.max(n, CARRY_STEP));
}

/** The pieces of a bulk as one buffer: a view when they lie adjacent in one buffer (a carried request), else a copy. */
export function joinPieces(pieces: Buffer[], total: number): Buffer {
  const first = pieces[0]!;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (p.buffer !== first.buffer || p.byteOffset !== end) return Buffer.concat(pieces, total);
    end += p.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, total);
}
