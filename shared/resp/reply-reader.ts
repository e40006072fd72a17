/**
 * Reading complete reply frames (as produced by ReplyFramer) where the proxy must look inside: merging
 * fan-out replies (MGET arrays, DEL sums, MSET status), checking handshake replies, MIGRATE's +NOKEY.
 * Everything works on views of the frame; nothing is decoded that the caller did not ask for.
 */

const CR = 13;
const LF = 10;
const MINUS = 45;

/** `-ERR ...` (RESP2 error) or `!N` (RESP3 blob error). */
export function isError(frame: Buffer): boolean {
  const c = frame[0];
  return c === 0x2d || c === 0x21;
}

/** The text of an error reply without the leading '-' and trailing CRLF (for logs and wrapping). */
export function errorText(frame: Buffer): string {
  if (frame[0] === 0x21) {
    const hdr = frame.indexOf(LF);
    return frame.toString('utf8', hdr + 1, frame.length - 2);
  }
  return frame.toString('utf8', 1, lineEnd(frame, 1));
}

/** True when the frame begins with `prefix` (e.g. `-NOSCRIPT`), without decoding it. */
export function startsWith(frame: Buffer, prefix: Buffer): boolean {
  return frame.length >= prefix.length && frame.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** True when the frame is exactly the simple string `+<text>\r\n`. */
export function isSimple(frame: Buffer, text: string): boolean {
  if (frame[0] !== 0x2b || frame.length !== text.length + 3) return false;
  for (let i = 0; i < text.length; i++) if (frame[i + 1] !== text.charCodeAt(i)) return false;
  return true;
}

/** Value of an integer reply `:N\r\n`; NaN when the frame is not an integer reply. */
export function readInteger(frame: Buffer): number {
  if (frame[0] !== 0x3a) return NaN;
  return parseIntAt(frame, 1, lineEnd(frame, 1));
}

/** Content of a bulk string reply as a view; null for `$-1`; undefined if not a bulk string. */
export function bulkValue(frame: Buffer): Buffer | null | undefined {
  if (frame[0] !== 0x24) return undefined;
  const hdrEnd = lineEnd(frame, 1);
  const n = parseIntAt(frame, 1, hdrEnd);
  if (n < 0) return null;
  return frame.subarray(hdrEnd + 2, hdrEnd + 2 + n);
}

/**
 * Elements of an array reply (`*N`) as views of complete element frames; null for `*-1`; undefined when the
 * frame is not an array (an error, for example).
 */
export function arrayElements(frame: Buffer): Buffer[] | null | undefined {
  if (frame[0] !== 0x2a) return undefined;
  const hdrEnd = lineEnd(frame, 1);
  const n = parseIntAt(frame, 1, hdrEnd);
  if (n < 0) return null;
  const out: Buffer[] = [];
  let pos = hdrEnd + 2;
  for (let i = 0; i < n; i++) {
    const end = skipValue(frame, pos);
    out.push(frame.subarray(pos, end));
    pos = end;
  }
  return out;
}

/** Position just after the value starting at `pos` in a buffer that holds it completely. */
export function skipValue(buf: Buffer, pos: number): number {
  let pending = 1;
  while (pending > 0) {
    const t = buf[pos];
    const hdrEnd = lineEnd(buf, pos + 1);
    if (hdrEnd >= buf.length) throw new RangeError('incomplete RESP value');
    switch (t) {
      case 0x24: // $
      case 0x21: // !
      case 0x3d: { // =
        const n = parseIntAt(buf, pos + 1, hdrEnd);
        pos = n < 0 ? hdrEnd + 2 : hdrEnd + 2 + n + 2;
        pending--;
        break;
      }
      case 0x2a: // *
      case 0x7e: // ~
      case 0x3e: { // >
        const n = parseIntAt(buf, pos + 1, hdrEnd);
        pos = hdrEnd + 2;
        pending += n < 0 ? -1 : n - 1;
        break;
      }
      case 0x25: { // %
        const n = parseIntAt(buf, pos + 1, hdrEnd);
        pos = hdrEnd + 2;
        pending += n < 0 ? -1 : 2 * n - 1;
        break;
      }
      case 0x7c: { // |
        const n = parseIntAt(buf, pos + 1, hdrEnd);
        pos = hdrEnd + 2;
        pending += 2 * n;
        break;
      }
      default:
        pos = hdrEnd + 2;
        pending--;
    }
  }
  if (pos > buf.length) throw new RangeError('incomplete RESP value');
  return pos;
}

/** Index of the '\r' ending the line that starts at `from` (or buf.length if none). */
function lineEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf(CR, from);
  return i < 0 ? buf.length : i;
}

function parseIntAt(buf: Buffer, from: number, to: number): number {
  if (from >= to) return NaN;
  let neg = false;
  let i = from;
  if (buf[i] === MINUS) {
    neg = true;
    i++;
    if (i >= to) return NaN;
  }
  let n = 0;
  for (; i < to; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}
