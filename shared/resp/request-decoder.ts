/**
 * Push-based, resumable decoder for client requests: RESP multibulk (`*N` of `$L` bulk strings) and inline
 * commands (`PING\r\n`, telnet), with Redis 7's exact error messages.
 *
 * - `push(chunk)` consumes whatever arrived and calls `handler.onRequest(argv, raw)` once per complete request.
 *   Arguments are `subarray` views of the chunk; an argument is copied only when it spans chunks. Chunks must
 *   not be mutated afterwards (Node socket reads are fresh buffers, so that holds for sockets).
 * - A well-formed request inside one chunk is parsed into argument offsets first (fast-request.ts) and offered to
 *   `handler.onRequestSpans(raw, spans)` when the handler has it (no views made); declined, or without it, it
 *   comes to onRequest with the views made from the offsets (shared/resp/request-spans.ts).
 * - `raw` is the exact bytes of a multibulk request that arrived inside one chunk, so a proxy can forward it
 *   without re-encoding (the backend parses it exactly as we did: same rules, including Redis's habit of
 *   skipping the two bytes after a bulk string without checking them).
 * - Nothing is allocated from an untrusted length: argv grows as arguments arrive and a bulk string spanning
 *   chunks is kept as the list of received pieces until its last byte is there.
 * - After a protocol error the decoder is dead: it reports once (`onProtocolError`) and ignores further input.
 *
 * Differences from Redis, both on malformed input only: a length line containing a byte other than digits,
 * '-' or '\r' fails at once (Redis waits for '\r' and fails with the same message, or says "too big count
 * string" after 64 KB without one). A handler may call `stop()` inside `onRequest` (QUIT) to drop the rest.
 */

import { splitInlineArgs } from './inline-args.js';
import { CR, DOLLAR, LF, MINUS, NINE, STAR, ZERO } from './ascii.js';
import { carryRoom, CarryFrom, estimateRest, joinPieces, MIN_CARRY_ROOM, readStop } from './carry-sizing.js';
import { fastRequest, MAX_LEN_DIGITS, UNAUTH_MAX_ARRAY, UNAUTH_MAX_BULK } from './fast-request.js';
import type { RequestSpans } from './request-spans.js';

export { splitInlineArgs };

export interface RequestLimits {
  /** Largest bulk string accepted (Redis proto-max-bulk-len, 512 MB). */
  maxBulkBytes: number;
  /** Most arguments in one multibulk request (Codis: 1,048,576). */
  maxArrayLength: number;
  /** Longest inline request without a newline (Redis PROTO_INLINE_MAX_SIZE, 64 KB). */
  maxInlineBytes: number;
  /**
   * Most bytes of argument data one request may declare (Redis client-query-buffer-limit, 1 GB); checked as
   * each bulk length is read, before its data arrives. 0 or absent = no limit.
   */
  maxQueryBytes?: number;
}

/** Buffers for requests carried over reads (RequestDecoder.carrier). */
export interface RequestCarrier {
  /**
   * A buffer of at least `size` bytes that nobody else writes into while the decoder reads into it; the
   * decoder copies the first `copied` bytes of the request into its start.
   */
  take(size: number, copied: number): Buffer;
  /**
   * The decoder reads no more into `buf` (a buffer from take). Requests decoded from it may still be in use:
   * they were handed to onRequest, which decides how long their bytes are kept.
   */
  done(buf: Buffer): void;
}

export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxBulkBytes: 512 * 1024 * 1024,
  maxArrayLength: 1024 * 1024,
  maxInlineBytes: 64 * 1024,
});

export interface RequestHandler {
  /** One complete request. `raw` is set when the request was multibulk and contiguous in one chunk. */
  onRequest(argv: Buffer[], raw: Buffer | undefined): void;
  /**
   * Optional: a well-formed multibulk request inside one chunk, as its raw bytes and its arguments' offsets
   * (no argv views made). Return true when handled; false (having done nothing) and it comes again through
   * onRequest with the argv views. `spans` is the decoder's scratch: read it during the call only.
   */
  onRequestSpans?(raw: Buffer, spans: RequestSpans): boolean;
  /** The message to send as `-ERR <message>`, e.g. `Protocol error: invalid bulk length`. Then close. */
  onProtocolError(message: string): void;
}

export const ProtocolErrors = {
  invalidMultibulkLength: 'Protocol error: invalid multibulk length',
  invalidBulkLength: 'Protocol error: invalid bulk length',
  tooBigInline: 'Protocol error: too big inline request',
  unbalancedQuotes: 'Protocol error: unbalanced quotes in request',
  unauthMultibulk: 'Protocol error: unauthenticated multibulk length',
  unauthBulk: 'Protocol error: unauthenticated bulk length',
  queryBufferLimit: 'Protocol error: request over the query buffer limit',
  expectedDollar: (got: number): string =>
    `Protocol error: expected '$', got '${got === 13 || got === 10 ? ' ' : String.fromCharCode(got)}'`,
} as const;

const enum St {
  Start,
  MbCount,
  MbCountLf,
  BulkDollar,
  BulkLen,
  BulkLenLf,
  BulkData,
  Inline,
  Dead,
}

export class RequestDecoder {
  private state: St = St.Start;
  private argv: Buffer[] = [];
  private argsLeft = 0;
  private bulkLen = 0;
  /** Argument bytes declared so far by the request being decoded (maxQueryBytes). */
  private argBytes = 0;
  /** Pieces of a bulk string (data + trailing 2 bytes) or inline line spanning chunks. */
  private pieces: Buffer[] | null = null;
  private piecesLen = 0;
  // Resumable integer parse state for `*N` / `$L` lines.
  private num = 0;
  private digits = 0;
  private neg = false;
  private leadZero = false;
  private stopped = false;
  /** Stricter limits while the client is not authenticated (as Redis 7 does). */
  unauthenticated = false;
  /**
   * The chunks are views of a buffer that will be written over (a shared read slab): whatever outlives the
   * push (a request spanning chunks, a partial one, an inline one) is copied, so that only requests inside
   * one chunk (`raw` set) are views of it. Off: chunks are kept as they are (Node's per-read buffers).
   */
  copySpanning = false;
  /**
   * Set when the caller can make the next read land where the decoder asks (`readTarget`). Then a multibulk
   * request left incomplete at the end of a push is carried: its bytes so far move to a buffer from the
   * carrier (one copy, instead of copying its arguments and joining the pieces of a spanning bulk later), the
   * next reads land right after them, and the request completes as one contiguous view (`raw` set, arguments
   * views of it, no concatenation). Requests read into carry memory are all multibulk with `raw`, or copies.
   */
  carrier: RequestCarrier | null = null;
  /** The buffer the request being decoded was carried into; its bytes lie at [carryStart, carryFill). */
  private carryBuf: Buffer | null = null;
  private carryStart = 0;
  private carryFill = 0;

  constructor(
    private readonly handler: RequestHandler,
    private readonly limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
  ) {}

  /** True once a protocol error happened or `stop()` was called. */
  get dead(): boolean {
    return this.state === St.Dead;
  }

  /** Drops the rest of the input (after QUIT, or when the session closes). */
  stop(): void {
    this.stopped = true;
    this.state = St.Dead;
    this.argv = [];
    this.pieces = null;
    this.dropCarry();
  }

  /**
   * Where the next read should land so that the carried request continues contiguously (null: anywhere). The
   * read stops READ_PAST bytes past the expected end of the last request that fits (this one, and as many as
   * long after it), so a request that will not fit begins near the end of what was read and little of it moves
   * to the next buffer (carry).
   */
  get readTarget(): Buffer | null {
    const c = this.carryBuf;
    if (c === null) return null;
    const head = this.carryFill - this.carryStart;
    return c.subarray(this.carryFill, readStop(this.carryFill, head, this.stillDeclared(head), c.length));
  }

  /**
   * Bytes held for the request being decoded (arguments received so far and a partial one), or, when it is
   * carried, the buffer reserved for it (what a memory guard must count).
   */
  get partialBytes(): number {
    if (this.state === St.Start || this.state === St.Dead) return 0;
    if (this.carryBuf !== null) return this.carryBuf.length - this.carryStart;
    let n = this.piecesLen;
    for (const a of this.argv) n += a.length;
    return n;
  }

  /** True while a request is partially received (used for idle/half-request accounting). */
  get midRequest(): boolean {
    return this.state !== St.Start && this.state !== St.Dead;
  }

  push(chunk: Buffer): void {
    const len = chunk.length;
    let pos = 0;
    /** Start of the current request in this chunk, or -1 when it began in an earlier chunk; and of the one before it. */
    let reqStart = -1;
    let prevStart = -1;
    /** Offset of this chunk in carryBuf when it continues the carried request there (memory nobody rewrites), else -1. */
    let carriedAt = -1;
    let carried = this.carryBuf;
    if (carried !== null) {
      if (chunk.buffer === carried.buffer && chunk.byteOffset === carried.byteOffset + this.carryFill) carriedAt = this.carryFill;
      else {
        // Read elsewhere (not where readTarget said): the request's bytes so far become a copy of their own.
        this.rebase(carried.subarray(this.carryStart, this.carryFill), Buffer.from(carried.subarray(this.carryStart, this.carryFill)));
        this.carryBuf = null;
        this.carrier!.done(carried);
        carried = null;
      }
    }
    /** Copy what outlives this push (copySpanning), unless the chunk is carry memory (or the request gets carried). */
    const copyOut = this.copySpanning && carriedAt < 0;
    while (pos < len) {
      switch (this.state) {
        case St.Start: {
          prevStart = reqStart;
          reqStart = pos;
          if (chunk[pos] === STAR) {
            // Fast path: the whole request is in this chunk and well-formed.
            const end = fastRequest(chunk, pos, this.handler, this.limits, this.unauthenticated);
            if (end > 0) {
              pos = end;
              if (this.stopped) return;
              break;
            }
            // Incomplete or unusual: the resumable state machine takes it from the start.
            pos++;
            this.beginNumber();
            this.state = St.MbCount;
          } else {
            this.state = St.Inline;
          }
          break;
        }
        case St.MbCount:
        case St.BulkLen: {
          // Digits of a length, possibly resumed from the previous chunk.
          for (;;) {
            if (pos >= len) break;
            const c = chunk[pos]!;
            if (c >= ZERO && c <= NINE) {
              if (this.digits === 0 && c === ZERO) this.leadZero = true;
              this.num = this.num * 10 + (c - ZERO);
              if (++this.digits > MAX_LEN_DIGITS) return this.fail(this.lengthError());
              pos++;
            } else if (c === CR) {
              pos++;
              this.state = this.state === St.MbCount ? St.MbCountLf : St.BulkLenLf;
              break;
            } else if (c === MINUS && this.digits === 0 && !this.neg) {
              this.neg = true;
              pos++;
            } else {
              return this.fail(this.lengthError());
            }
          }
          break;
        }
        case St.MbCountLf: {
          pos++; // Redis skips the byte after '\r' without looking at it.
          // string2ll rules: no empty number, no leading zeros, no "-0".
          if (this.digits === 0 || (this.leadZero && (this.digits > 1 || this.neg))) {
            return this.fail(ProtocolErrors.invalidMultibulkLength);
          }
          const n = this.num;
          if (this.neg || n === 0) {
            this.state = St.Start; // `*0` and `*-1` are ignored, as in Redis.
            break;
          }
          if (n > this.limits.maxArrayLength) return this.fail(ProtocolErrors.invalidMultibulkLength);
          if (this.unauthenticated && n > UNAUTH_MAX_ARRAY) return this.fail(ProtocolErrors.unauthMultibulk);
          this.argsLeft = n;
          this.argv = [];
          this.argBytes = 0;
          this.state = St.BulkDollar;
          break;
        }
        case St.BulkDollar: {
          const c = chunk[pos]!;
          if (c !== DOLLAR) return this.fail(ProtocolErrors.expectedDollar(c));
          pos++;
          this.beginNumber();
          this.state = St.BulkLen;
          break;
        }
        case St.BulkLenLf: {
          pos++;
          if (this.digits === 0 || this.neg || (this.leadZero && this.digits > 1)) {
            return this.fail(ProtocolErrors.invalidBulkLength);
          }
          const n = this.num;
          if (n > this.limits.maxBulkBytes) return this.fail(ProtocolErrors.invalidBulkLength);
          if (this.unauthenticated && n > UNAUTH_MAX_BULK) return this.fail(ProtocolErrors.unauthBulk);
          this.argBytes += n;
          const maxQuery = this.limits.maxQueryBytes ?? 0;
          if (maxQuery > 0 && this.argBytes > maxQuery) return this.fail(ProtocolErrors.queryBufferLimit);
          this.bulkLen = n;
          this.state = St.BulkData;
          break;
        }
        case St.BulkData: {
          const need = this.bulkLen + 2 - this.piecesLen;
          const avail = len - pos;
          if (this.pieces === null) {
            if (avail >= need) {
              // Fast path: the whole argument is in this chunk.
              const arg = chunk.subarray(pos, pos + this.bulkLen);
              this.argv.push(copyOut && reqStart < 0 ? Buffer.from(arg) : arg);
              pos += need;
            } else {
              const rest = chunk.subarray(pos);
              this.pieces = [copyOut && !(this.carrier !== null && reqStart >= 0) ? Buffer.from(rest) : rest];
              this.piecesLen = avail;
              pos = len;
              break;
            }
          } else if (avail >= need) {
            this.pieces.push(chunk.subarray(pos, pos + need));
            pos += need;
            // All bytes arrived: now (and only now) allocate the argument (a view when the pieces are adjacent).
            const whole = joinPieces(this.pieces, this.bulkLen + 2);
            this.argv.push(whole.subarray(0, this.bulkLen));
            this.pieces = null;
            this.piecesLen = 0;
          } else {
            const rest = chunk.subarray(pos);
            this.pieces.push(copyOut ? Buffer.from(rest) : rest); // begun in an earlier chunk: not carried from here
            this.piecesLen += avail;
            pos = len;
            break;
          }
          if (--this.argsLeft === 0) {
            const argv = this.argv;
            this.argv = [];
            this.state = St.Start;
            let raw: Buffer | undefined;
            if (reqStart >= 0) raw = chunk.subarray(reqStart, pos);
            else if (carriedAt >= 0) raw = this.carryBuf!.subarray(this.carryStart, carriedAt + pos);
            this.carryBuf = null;
            this.handler.onRequest(argv, raw);
            if (this.stopped) return;
          } else {
            this.state = St.BulkDollar;
          }
          break;
        }
        case St.Inline: {
          const nl = chunk.indexOf(LF, pos);
          if (nl < 0) {
            const rest = this.kept(chunk.subarray(pos), carriedAt >= 0);
            if (this.pieces === null) this.pieces = [rest];
            else this.pieces.push(rest);
            this.piecesLen += rest.length;
            if (this.piecesLen > this.limits.maxInlineBytes) return this.fail(ProtocolErrors.tooBigInline);
            pos = len;
            break;
          }
          let line: Buffer;
          if (this.pieces === null) {
            line = this.kept(chunk.subarray(pos, nl), carriedAt >= 0);
          } else {
            this.pieces.push(chunk.subarray(pos, nl));
            line = Buffer.concat(this.pieces, this.piecesLen + (nl - pos));
            this.pieces = null;
            this.piecesLen = 0;
          }
          pos = nl + 1;
          this.state = St.Start;
          if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
          const argv = splitInlineArgs(line);
          if (argv === null) return this.fail(ProtocolErrors.unbalancedQuotes);
          if (argv.length > 0) {
            this.handler.onRequest(argv, undefined);
            if (this.stopped) return;
          }
          break;
        }
        case St.Dead:
          return;
      }
    }
    const partial = this.state !== St.Start && this.state !== St.Dead;
    const carrying = partial && this.state !== St.Inline && this.carrier !== null && (reqStart >= 0 || carriedAt >= 0);
    if (carrying) this.carry(chunk, reqStart, prevStart, carried);
    else this.carryBuf = null;
    // Done with the buffer this chunk was read into (requests decoded from it were handed out).
    if (carried !== null && this.carryBuf !== carried) this.carrier!.done(carried);
    // A request begun in this chunk and not finished (nor carried): its arguments so far must outlive the chunk.
    if (partial && !carrying && copyOut && reqStart >= 0) {
      const argv = this.argv;
      for (let i = 0; i < argv.length; i++) argv[i] = Buffer.from(argv[i]!);
    }
  }

  /**
   * The multibulk request being decoded is incomplete at the end of `chunk` (begun at reqStart in it, or
   * continued from `cur`, the carry buffer `chunk` lies in): it goes on in `cur` while there is room (one begun
   * in `cur` while it is expected to fit, as long as it declares or as the one before it), else its bytes so far
   * are copied into a new buffer from the carrier with room for what it still declares (as long again at
   * most, or CARRY_STEP: nothing is allocated from an untrusted length), and its views re-pointed there.
   */
  private carry(chunk: Buffer, reqStart: number, prevStart: number, cur: Buffer | null): void {
    const len = chunk.length;
    /** Bytes of the request before this one when it lies in `cur` too: a pipelining client's requests tend to be alike. */
    let prev = 0;
    if (cur !== null) {
      const carriedAt = chunk.byteOffset - cur.byteOffset;
      if (reqStart >= 0) prev = prevStart >= 0 ? reqStart - prevStart : carriedAt + reqStart - this.carryStart;
      // This chunk is carryBuf memory: the request (continued, or begun in it) stays there while there is room,
      // one begun in it while it is expected to fit (else its head moves now, while short: readTarget).
      if (reqStart >= 0) this.carryStart = carriedAt + reqStart;
      this.carryFill = carriedAt + len;
      const head = this.carryFill - this.carryStart;
      if (this.carryFill < cur.length && (reqStart < 0 || this.carryStart + Math.max(head + this.stillDeclared(head), prev) <= cur.length)) {
        this.carryBuf = cur;
        return;
      }
    }
    const head = reqStart >= 0 ? chunk.subarray(reqStart) : cur!.subarray(this.carryStart, this.carryFill);
    const n = head.length;
    const room = carryRoom(n, this.stillDeclared(n), cur === null ? CarryFrom.Read : reqStart < 0 ? CarryFrom.Outgrown : CarryFrom.Pipelined, prev);
    const buf = this.carrier!.take(n + room, n);
    buf.set(head, 0);
    this.rebase(head, buf);
    this.carryBuf = buf;
    this.carryStart = 0;
    this.carryFill = n;
  }

  /** Re-points the arguments and pieces of the request being decoded that are views of `head` into `copy` (its bytes at 0). */
  private rebase(head: Buffer, copy: Buffer): void {
    const from = head.byteOffset;
    const to = from + head.length;
    const ab = head.buffer;
    const move = (v: Buffer): Buffer =>
      v.buffer === ab && v.byteOffset >= from && v.byteOffset + v.length <= to ? copy.subarray(v.byteOffset - from, v.byteOffset - from + v.length) : v;
    const argv = this.argv;
    for (let i = 0; i < argv.length; i++) argv[i] = move(argv[i]!);
    const pieces = this.pieces;
    if (pieces !== null) for (let i = 0; i < pieces.length; i++) pieces[i] = move(pieces[i]!);
  }

  /**
   * Drops the carried request's buffer (the decoder stops or failed) without giving it back to the carrier:
   * the socket may still read into it (a closing session keeps reading and discarding), so it must never be
   * handed to anyone else; it is left to the GC.
   */
  private dropCarry(): void {
    this.carryBuf = null;
  }

  /** Bytes the request being decoded still needs, as far as it has declared them (`headBytes` received so far). */
  private stillDeclared(headBytes: number): number {
    if (this.state === St.MbCount || this.state === St.MbCountLf) return MIN_CARRY_ROOM;
    const inBulk = this.state === St.BulkData;
    return estimateRest(headBytes, this.argv, this.argsLeft, inBulk ? this.bulkLen + 2 - this.piecesLen : -1);
  }

  /**
   * An inline request's bytes as they may be kept past this push: a copy when chunks are written over
   * (copySpanning) or lie in carry memory (only multibulk requests with `raw` are handed out as its views).
   */
  private kept(view: Buffer, inCarry: boolean): Buffer {
    return this.copySpanning || inCarry ? Buffer.from(view) : view;
  }

  private beginNumber(): void {
    this.num = 0;
    this.digits = 0;
    this.neg = false;
    this.leadZero = false;
  }

  private lengthError(): string {
    return this.state === St.MbCount ? ProtocolErrors.invalidMultibulkLength : ProtocolErrors.invalidBulkLength;
  }

  private fail(message: string): void {
    this.state = St.Dead;
    this.dropCarry();
    this.argv = [];
    this.pieces = null;
    this.piecesLen = 0;
    this.handler.onProtocolError(message);
  }
}
