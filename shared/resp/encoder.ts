/**
 * RESP encoding for commands (proxy -> backend, dashboard -> redis) and for replies the proxy makes itself.
 * Commands: small arguments are packed into one buffer; arguments of BIG_ARG bytes or more are pushed as
 * their own Buffer (no copy) so a 10 MB value is never duplicated. Common replies are preallocated.
 */

const CRLF = Buffer.from('\r\n');
/** Arguments at least this big are written as separate buffers instead of being copied. */
export const BIG_ARG = 16 * 1024;

/** Number of decimal digits of a non-negative integer. */
export function decimalLength(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes a non-negative integer in decimal at `pos`; returns the position after it. */
export function writeDecimal(buf: Buffer, pos: number, n: number): number {
  const d = decimalLength(n);
  let p = pos + d - 1;
  do {
    buf[p--] = 48 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return pos + d;
}

function toBuf(a: Buffer | string): Buffer {
  return typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
}

/**
 * Encodes argv as a RESP multibulk command. Small args are copied into one buffer; big ones (>= BIG_ARG) are
 * appended to `out` as they are. Returns the number of bytes appended.
 */
export function encodeCommandInto(argv: readonly (Buffer | string)[], out: Buffer[]): number {
  // Strings are rare (dashboard, tests): convert only when there is one (the proxy passes Buffers).
  let args = argv as readonly Buffer[];
  for (let i = 0; i < argv.length; i++) {
    if (typeof argv[i] === 'string') {
      args = argv.map(toBuf);
      break;
    }
  }
  let total = 0;
  let small = 1 + decimalLength(args.length) + 2;
  for (const a of args) {
    const hdr = 1 + decimalLength(a.length) + 2;
    small += a.length >= BIG_ARG ? hdr + 2 : hdr + a.length + 2; // a big arg's CRLF goes to the next small buffer
  }
  let buf = Buffer.allocUnsafe(small);
  let pos = 0;
  buf[pos++] = 0x2a; // *
  pos = writeDecimal(buf, pos, args.length);
  buf[pos++] = 13;
  buf[pos++] = 10;
  for (const a of args) {
    pos = writeBulkHeader(buf, pos, a.length);
    if (a.length >= BIG_ARG) {
      // Flush what we have, then the big argument as is; its CRLF starts the next small buffer.
      out.push(buf.subarray(0, pos), a);
      total += pos + a.length;
      small -= pos;
      buf = Buffer.allocUnsafe(small);
      pos = 0;
      buf[pos++] = 13;
      buf[pos++] = 10;
      continue;
    }
    buf.set(a, pos); // TypedArray#set: cheaper than Buffer#copy for small arguments (bench/micro)
    pos += a.length;
    buf[pos++] = 13;
    buf[pos++] = 10;
  }
  if (pos > 0) {
    out.push(pos === buf.length ? buf : buf.subarray(0, pos));
    total += pos;
  }
  return total;
}

/**
 * Encodes the command `argv[0]` followed, for each index k of `keys`, by `stride` arguments from argv[k]: a
 * fan-out part (MGET: stride 1, MSET: key and value, stride 2) encoded straight from the client's argv, without
 * building its argument list first. Same output as encodeCommandInto on that list (big arguments not copied).
 */
export function encodeSelectedInto(argv: readonly Buffer[], keys: readonly number[], stride: number, out: Buffer[]): number {
  const small = selectedSize(argv, keys, stride);
  if (small < 0) {
    // Rare: let the general encoder split out the big arguments.
    const args: Buffer[] = [argv[0]!];
    for (let i = 0; i < keys.length; i++) for (let j = 0; j < stride; j++) args.push(argv[keys[i]! + j]!);
    return encodeCommandInto(args, out);
  }
  const buf = Buffer.allocUnsafe(small);
  const pos = writeSelected(buf, 0, argv, keys, stride);
  out.push(buf);
  return pos;
}

/**
 * Bytes encodeSelectedInto's output takes when it is one contiguous buffer, or -1 when an argument is big
 * (>= BIG_ARG: encodeSelectedInto then leaves it uncopied, in a buffer of its own).
 */
export function selectedSize(argv: readonly Buffer[], keys: readonly number[], stride: number): number {
  const nk = keys.length;
  const argc = 1 + nk * stride;
  const name = argv[0]!;
  let small = 1 + decimalLength(argc) + 2 + 1 + decimalLength(name.length) + 2 + name.length + 2;
  for (let i = 0; i < nk; i++) {
    const k = keys[i]!;
    for (let j = 0; j < stride; j++) {
      const l = argv[k + j]!.length;
      if (l >= BIG_ARG) return -1;
      small += 1 + decimalLength(l) + 2 + l + 2;
    }
  }
  return small;
}

/**
 * Writes the selected command (see encodeSelectedInto) at `pos` of `buf`, which must have selectedSize bytes
 * free there; returns the position after it.
 */
export function writeSelected(buf: Buffer, pos: number, argv: readonly Buffer[], keys: readonly number[], stride: number): number {
  const nk = keys.length;
  buf[pos++] = 0x2a; // *
  pos = writeDecimal(buf, pos, 1 + nk * stride);
  buf[pos++] = 13;
  buf[pos++] = 10;
  pos = writeBulk(buf, pos, argv[0]!);
  for (let i = 0; i < nk; i++) {
    const k = keys[i]!;
    for (let j = 0; j < stride; j++) pos = writeBulk(buf, pos, argv[k + j]!);
  }
  return pos;
}

/** `$<len>\r\n` at pos; returns the position after it. */
export function writeBulkHeader(buf: Buffer, pos: number, len: number): number {
  buf[pos++] = 0x24; // $
  pos = writeDecimal(buf, pos, len);
  buf[pos++] = 13;
  buf[pos++] = 10;
  return pos;
}

/** `$<len>\r\n<a>\r\n` at pos; returns the position after it. */
export function writeBulk(buf: Buffer, pos: number, a: Buffer): number {
  pos = writeBulkHeader(buf, pos, a.length);
  buf.set(a, pos);
  pos += a.length;
  buf[pos++] = 13;
  buf[pos++] = 10;
  return pos;
}

/** Encodes argv as one contiguous buffer (copies everything; for small commands and tests). */
export function encodeCommand(argv: readonly (Buffer | string)[]): Buffer {
  const parts: Buffer[] = [];
  const n = encodeCommandInto(argv, parts);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
}

// ---------------------------------------------------------------------------------------------------------
// Replies

export function encodeSimple(text: string): Buffer {
  return Buffer.from(`+${text.replace(/[\r\n]/g, ' ')}\r\n`, 'utf8');
}

/** `line` is the whole error line without '-' and CRLF, e.g. `ERR unknown command`. CR/LF become spaces. */
export function encodeError(line: string): Buffer {
  return Buffer.from(`-${line.replace(/[\r\n]/g, ' ')}\r\n`, 'utf8');
}

/** Same as encodeError for a line given as raw bytes (error text containing client bytes, latin1-safe). */
export function encodeErrorBytes(line: Buffer): Buffer {
  const out = Buffer.allocUnsafe(line.length + 3);
  out[0] = 0x2d;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    out[i + 1] = c === 13 || c === 10 ? 32 : c;
  }
  out[line.length + 1] = 13;
  out[line.length + 2] = 10;
  return out;
}

const SMALL_INTS: Buffer[] = [];
for (let i = 0; i <= 64; i++) SMALL_INTS.push(Buffer.from(`:${i}\r\n`));

export function encodeInteger(n: number | bigint): Buffer {
  if (typeof n === 'number' && n >= 0 && n <= 64 && Number.isInteger(n)) return SMALL_INTS[n]!;
  return Buffer.from(`:${n}\r\n`, 'latin1');
}

export function encodeBulk(value: Buffer | string | null): Buffer {
  if (value === null) return Replies.nullBulk;
  const v = toBuf(value);
  const out = Buffer.allocUnsafe(1 + decimalLength(v.length) + 2 + v.length + 2);
  out[0] = 0x24;
  let pos = writeDecimal(out, 1, v.length);
  out[pos++] = 13;
  out[pos++] = 10;
  pos += v.copy(out, pos);
  out[pos++] = 13;
  out[pos] = 10;
  return out;
}

export function encodeArrayHeader(n: number): Buffer {
  if (n === 0) return Replies.emptyArray;
  const out = Buffer.allocUnsafe(1 + decimalLength(n) + 2);
  out[0] = 0x2a;
  const pos = writeDecimal(out, 1, n);
  out[pos] = 13;
  out[pos + 1] = 10;
  return out;
}

/** An array whose elements are already-encoded replies. */
export function encodeArray(elements: readonly Buffer[]): Buffer {
  return Buffer.concat([encodeArrayHeader(elements.length), ...elements]);
}

/** An array of bulk strings (null -> $-1). */
export function encodeBulkArray(values: readonly (Buffer | string | null)[]): Buffer {
  return encodeArray(values.map(encodeBulk));
}

/** Preallocated replies (never mutate them). */
export const Replies = {
  ok: Buffer.from('+OK\r\n'),
  pong: Buffer.from('+PONG\r\n'),
  zero: SMALL_INTS[0]!,
  one: SMALL_INTS[1]!,
  nullBulk: Buffer.from('$-1\r\n'),
  nullArray: Buffer.from('*-1\r\n'),
  emptyArray: Buffer.from('*0\r\n'),
  crlf: CRLF,
} as const;
