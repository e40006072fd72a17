/** Inline commands (`PING hello`, telnet): Redis's sdssplitargs, on bytes. */

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
      if (inq || insq) {
        // Inside quotes (as Redis's sdssplitargs): escapes differ, the closing quote and the end are the same.
        const quote = inq ? DQUOTE : SQUOTE;
        if (inq && c === BACKSLASH && next === 120 /* x */ && p + 3 < end && hexVal(line[p + 2]!) >= 0 && hexVal(line[p + 3]!) >= 0) {
          bytes.push(hexVal(line[p + 2]!) * 16 + hexVal(line[p + 3]!));
          p += 3;
        } else if (inq && c === BACKSLASH && next !== 0) {
          p++;
          switch (next) {
            case 110: bytes.push(10); break; // \n
            case 114: bytes.push(13); break; // \r
            case 116: bytes.push(9); break; // \t
            case 98: bytes.push(8); break; // \b
            case 97: bytes.push(7); break; // \a
            default: bytes.push(next);
          }
        } else if (insq && c === BACKSLASH && next === SQUOTE) {
          p++;
          bytes.push(SQUOTE);
        } else if (c === quote) {
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
