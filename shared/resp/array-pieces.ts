/**
 * The elements of an array reply that arrived in pieces (a big reply passed on as the views of the reads it
 * landed in, never assembled: ReplyFramer streaming), as views of those pieces: an element inside one piece
 * is one view, an element cut by a piece's end is the views of its parts. For flat arrays of bulk strings and
 * one-line values (MGET's reply, RESP2 or RESP3); anything else (nested aggregates, malformed) is null, and
 * the caller assembles the reply instead.
 */

import { CR, LF, MINUS, NINE, STAR, ZERO } from './ascii.js';

/** Per type byte: 1 = one-line value, 2 = bulk (length line, data, CRLF), 0 = not taken here. */
const KIND = new Uint8Array(256);
for (const c of '+-:_,#(') KIND[c.charCodeAt(0)] = 1;
for (const c of '$!=') KIND[c.charCodeAt(0)] = 2;

/** An element: one view, or the views of its parts in order (cut by a piece's end). */
export type PiecedElement = Buffer | Buffer[];

/** Bytes of an element. */
export function elementLength(e: PiecedElement): number {
  if (!Array.isArray(e)) return e.length;
  let n = 0;
  for (let i = 0; i < e.length; i++) n += e[i]!.length;
  return n;
}

/** The elements of the flat array reply whose bytes are `pieces`, in order (see the file's comment). */
export function arrayElementsInPieces(pieces: readonly Buffer[]): PiecedElement[] | null {
  let total = 0;
  for (let i = 0; i < pieces.length; i++) total += pieces[i]!.length;
  // A forward cursor: piece `pi` holds the bytes from `base` on.
  let pi = 0;
  let base = 0;
  const byteAt = (g: number): number => {
    while (g >= base + pieces[pi]!.length) base += pieces[pi++]!.length;
    return pieces[pi]![g - base]!;
  };
  /** The number on the line from g (sign allowed) up to its CR; sets `pos` after its LF. -2 when malformed. */
  let pos = 0;
  const lineNumber = (g: number): number => {
    let neg = false;
    let n = 0;
    let digits = 0;
    for (;;) {
      if (g >= total) return -2;
      const c = byteAt(g++);
      if (c === CR) break;
      if (c === MINUS && digits === 0 && !neg) neg = true;
      else if (c >= ZERO && c <= NINE && ++digits <= 15) n = n * 10 + (c - ZERO);
      else return -2;
    }
    if (digits === 0) return -2;
    pos = g + 1;
    return neg ? -n : n;
  };
  if (total === 0 || byteAt(0) !== STAR) return null;
  const count = lineNumber(1);
  if (count < 0) return null;
  const out: PiecedElement[] = [];
  for (let i = 0; i < count; i++) {
    const start = pos;
    if (start >= total) return null;
    const kind = KIND[byteAt(start)]!; // moves the cursor to the piece holding `start`
    const startPiece = pi;
    const startBase = base;
    if (kind === 0) return null;
    let end: number;
    if (kind === 1) {
      end = start + 1;
      while (end < total && byteAt(end) !== LF) end++;
      end++;
    } else {
      const n = lineNumber(start + 1);
      if (n === -2 || n < -1) return null;
      end = n < 0 ? pos : pos + n + 2;
    }
    if (end > total) return null;
    pos = end;
    out.push(viewsOf(pieces, startPiece, startBase, start, end));
  }
  return pos === total ? out : null;
}

/** Views of the bytes [start, end) of the pieces, the piece at `pi` beginning at byte `base` and holding `start`. */
function viewsOf(pieces: readonly Buffer[], pi: number, base: number, start: number, end: number): PiecedElement {
  const first = pieces[pi]!;
  if (end - base <= first.length) return first.subarray(start - base, end - base);
  const views: Buffer[] = [first.subarray(start - base)];
  base += first.length;
  while (base < end) {
    const p = pieces[++pi]!;
    if (p.length > 0) views.push(end - base >= p.length ? p : p.subarray(0, end - base));
    base += p.length;
  }
  return views;
}
