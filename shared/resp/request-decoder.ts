/**
 * Push-based, resumable decoder for client requests: RESP multibulk (`*N` of `$L` bulk strings) and inline
 * commands (`PING\r\n`, telnet), with Redis 7's exact error messages.
 *
 * - `push(chunk)` consumes whatever arrived and calls `handler.onRequest(argv, raw)` once per complete request.
 *   Arguments are `subarray` views of the chunk; an argument is copied only when it spans chunks. Chunks must
 *   not be mutated afterwards (Node socket reads are fresh buffers, so that holds for sockets).
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

export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxBulkBytes: 512 * 1024 * 1024,
  maxArrayLength: 1024 * 1024,
  maxInlineBytes: 64 * 1024,
});

/** Redis 7 also caps unauthenticated clients (authRequired): arrays > 10 elements, bulks > 16 KB. */
const UNAUTH_MAX_ARRAY = 10;
const UNAUTH_MAX_BULK = 16384;

export interface RequestHandler {
  /** One complete request. `raw` is set when the request was multibulk and contiguous in one chunk. */
  onRequest(argv: Buffer[], raw: Buffer | undefined): void;
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

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;
/** More digits than this cannot be a valid length under any limit (and stays exact as a double). */
const MAX_LEN_DIGITS = 15;

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
  }

  /** Bytes held for the request being decoded (arguments received so far and a partial one). */
  get partialBytes(): number {
    if (this.state === St.Start || this.state === St.Dead) return 0;
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
    /** Start of the current request in this chunk, or -1 when it began in an earlier chunk. */
    let reqStart = -1;
    while (pos < len) {
      switch (this.state) {
        case St.Start: {
          reqStart = pos;
          if (chunk[pos] === STAR) {
            // Fast path: the whole request is in this chunk and well-formed.
            const end = this.fastRequest(chunk, pos);
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
              this.argv.push(this.copySpanning && reqStart < 0 ? Buffer.from(arg) : arg);
              pos += need;
            } else {
              this.pieces = [this.kept(chunk.subarray(pos))];
              this.piecesLen = avail;
              pos = len;
              break;
            }
          } else if (avail >= need) {
            this.pieces.push(chunk.subarray(pos, pos + need));
            pos += need;
            // All bytes arrived: now (and only now) allocate the argument.
            const whole = Buffer.concat(this.pieces, this.bulkLen + 2);
            this.argv.push(whole.subarray(0, this.bulkLen));
            this.pieces = null;
            this.piecesLen = 0;
          } else {
            this.pieces.push(this.kept(chunk.subarray(pos)));
            this.piecesLen += avail;
            pos = len;
            break;
          }
          if (--this.argsLeft === 0) {
            const argv = this.argv;
            this.argv = [];
            this.state = St.Start;
            this.handler.onRequest(argv, reqStart >= 0 ? chunk.subarray(reqStart, pos) : undefined);
            if (this.stopped) return;
          } else {
            this.state = St.BulkDollar;
          }
          break;
        }
        case St.Inline: {
          const nl = chunk.indexOf(LF, pos);
          if (nl < 0) {
            const rest = this.kept(chunk.subarray(pos));
            if (this.pieces === null) this.pieces = [rest];
            else this.pieces.push(rest);
            this.piecesLen += rest.length;
            if (this.piecesLen > this.limits.maxInlineBytes) return this.fail(ProtocolErrors.tooBigInline);
            pos = len;
            break;
          }
          let line: Buffer;
          if (this.pieces === null) {
            line = this.kept(chunk.subarray(pos, nl));
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
    // A request begun in this chunk and not finished: its arguments so far must outlive the chunk.
    if (this.copySpanning && reqStart >= 0 && this.state !== St.Start && this.state !== St.Dead) {
      const argv = this.argv;
      for (let i = 0; i < argv.length; i++) argv[i] = Buffer.from(argv[i]!);
    }
  }

  /** `view` as it may be kept past this push: a copy when chunks are written over (copySpanning). */
  private kept(view: Buffer): Buffer {
    return this.copySpanning ? Buffer.from(view) : view;
  }

  /**
   * Parses one complete, well-formed multibulk request starting at `start` using locals only, and delivers
   * it. Returns the position after it, or -1 when the request is incomplete in this chunk or anything is
   * unusual (a limit, a sign, a leading zero, a bad byte): then the state machine re-parses it from `start`,
   * with the exact Redis error if there is one. Nothing is allocated from a declared length.
   */
  private fastRequest(chunk: Buffer, start: number): number {
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
    const unauth = this.unauthenticated;
    if (n > this.limits.maxArrayLength || (unauth && n > UNAUTH_MAX_ARRAY)) return -1;
    const maxBulk = unauth ? Math.min(UNAUTH_MAX_BULK, this.limits.maxBulkBytes) : this.limits.maxBulkBytes;
    // Preallocate only a bounded amount from the declared count (8 KB of slots at most); beyond, it grows.
    const argv: Buffer[] = n <= 1024 ? new Array<Buffer>(n) : [];
    for (let i = 0; i < n; i++) {
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
      argv[i] = chunk.subarray(p, end);
      p = end + 2;
    }
    // Near the query buffer limit: the state machine decides (it counts argument bytes exactly).
    const maxQuery = this.limits.maxQueryBytes ?? 0;
    if (maxQuery > 0 && p - start > maxQuery) return -1;
    this.handler.onRequest(argv, chunk.subarray(start, p));
    return p;
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
    this.argv = [];
    this.pieces = null;
    this.piecesLen = 0;
    this.handler.onProtocolError(message);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Inline commands: Redis's sdssplitargs, on bytes.

const SQUOTE = 39;
const DQUOTE = 34;
const BACKSLASH = 92;

function isSpace(c: number): boolean {
  // C isspace(): space, \t, \n, \v, \f, \r
  return c === 32 || (c >= 9 && c <= 13);
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Splits an inline request line like Redis's sdssplitargs: whitespace-separated tokens, "double quotes" with
 * \xHH and \n \r \t \b \a escapes, 'single quotes' with \' only; a closing quote must be followed by a space
 * or the end. Returns null on unbalanced quotes. A NUL byte ends the line (sdssplitargs works on C strings).
 * Tokens without quotes are views of `line`.
 */
export function splitInlineArgs(line: Buffer): Buffer[] | null {
  const nul = line.indexOf(0);
  const end = nul < 0 ? line.length : nul;
  const out: Buffer[] = [];
  let p = 0;
  for (;;) {
    while (p < end && isSpace(line[p]!)) p++;
    if (p >= end) return out;
    // Plain token (no quotes): a view.
    const start = p;
    while (p < end) {
      const c = line[p]!;
      if (c === 32 || c === 10 || c === 13 || c === 9 || c === DQUOTE || c === SQUOTE) break;
      p++;
    }
    if (p >= end || line[p] !== DQUOTE && line[p] !== SQUOTE) {
      out.push(line.subarray(start, p));
      continue;
    }
    // Quoted token: build bytes.
    const bytes: number[] = [];
    for (let i = start; i < p; i++) bytes.push(line[i]!);
    let inq = false;
    let insq = false;
    let done = false;
    while (!done) {
      const c = p < end ? line[p]! : 0;
      const next = p + 1 < end ? line[p + 1]! : 0;
      if (inq) {
        if (c === BACKSLASH && next === 120 /* x */ && p + 3 < end && hexVal(line[p + 2]!) >= 0 && hexVal(line[p + 3]!) >= 0) {
          bytes.push(hexVal(line[p + 2]!) * 16 + hexVal(line[p + 3]!));
          p += 3;
        } else if (c === BACKSLASH && next !== 0) {
          p++;
          switch (next) {
            case 110: bytes.push(10); break; // \n
            case 114: bytes.push(13); break; // \r
            case 116: bytes.push(9); break; // \t
            case 98: bytes.push(8); break; // \b
            case 97: bytes.push(7); break; // \a
            default: bytes.push(next);
          }
        } else if (c === DQUOTE) {
          if (next !== 0 && !isSpace(next)) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          bytes.push(c);
        }
      } else if (insq) {
        if (c === BACKSLASH && next === SQUOTE) {
          p++;
          bytes.push(SQUOTE);
        } else if (c === SQUOTE) {
          if (next !== 0 && !isSpace(next)) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          bytes.push(c);
        }
      } else {
        switch (c) {
          case 32: case 10: case 13: case 9: case 0:
            done = true;
            break;
          case DQUOTE:
            inq = true;
            break;
          case SQUOTE:
            insq = true;
            break;
          default:
            bytes.push(c);
        }
      }
      if (p < end) p++;
    }
    out.push(Buffer.from(bytes));
  }
}
