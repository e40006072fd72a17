/**
 * arrayElementsInPieces (shared/resp/array-pieces.ts): an MGET part's big reply merged from the pieces it
 * arrived in. Whatever the cuts, its elements are the same bytes as those of the whole reply, as views of the
 * pieces (nothing copied); anything it does not take (nested arrays, malformed, short) is null.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrayElementsInPieces, elementLength, type PiecedElement } from '../../shared/resp/array-pieces.js';
import { arrayElements } from '../../shared/resp/reply-reader.js';

const bytesOf = (e: PiecedElement): Buffer => (Array.isArray(e) ? Buffer.concat(e) : e);

/** `whole` cut at `cuts` (offsets), each piece its own memory (as reads into different slabs). */
function cut(whole: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => Math.min(whole.length, c)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const c of [...at, whole.length]) {
    pieces.push(Buffer.from(whole.subarray(from, c)));
    from = c;
  }
  return pieces;
}

describe('array elements in pieces', () => {
  it('an MGET reply of 5 x 16 KB cut inside a value, a length line and a CRLF: the same elements, views of the pieces', () => {
    const whole = Buffer.concat([Buffer.from('*6\r\n'), ...Array.from({ length: 5 }, (_, i) => Buffer.from(`$16384\r\n${String.fromCharCode(97 + i).repeat(16384)}\r\n`)), Buffer.from('$-1\r\n')]);
    const pieces = cut(whole, [3, 10_000, 16_397, 16_398, 33_000, 82_000]);
    const els = arrayElementsInPieces(pieces)!;
    expect(els.map((e) => bytesOf(e).toString('latin1'))).toEqual(arrayElements(whole)!.map((e) => e.toString('latin1')));
    const memory = new Set(pieces.map((p) => p.buffer));
    for (const e of els) for (const v of Array.isArray(e) ? e : [e]) expect(memory.has(v.buffer)).toBe(true);
    expect(Array.isArray(els[0])).toBe(true); // cut at 10,000: two views
    expect(els.reduce((n, e) => n + elementLength(e), 0)).toBe(whole.length - 4);
  });

  it('RESP3 nulls and one-line values are elements; nested arrays, a short or malformed reply are null', () => {
    expect(arrayElementsInPieces(cut(Buffer.from('*3\r\n_\r\n$1\r\nx\r\n:5\r\n'), [5, 9]))!.map((e) => bytesOf(e).toString())).toEqual(['_\r\n', '$1\r\nx\r\n', ':5\r\n']);
    expect(arrayElementsInPieces(cut(Buffer.from('*1\r\n*1\r\n$1\r\nx\r\n'), [6]))).toBeNull();
    expect(arrayElementsInPieces(cut(Buffer.from('*2\r\n$1\r\nx\r\n'), [6]))).toBeNull();
    expect(arrayElementsInPieces(cut(Buffer.from('*1\r\n$1\r\nxyz\r\n'), [6]))).toBeNull();
    expect(arrayElementsInPieces(cut(Buffer.from('*1\r\n$x\r\n'), [6]))).toBeNull();
    expect(arrayElementsInPieces([Buffer.from('$1\r\nx\r\n')])).toBeNull();
  });

  it('property: any flat array of bulks and nulls, any cuts: the elements of the whole reply', () => {
    const el = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((v) => Buffer.concat([Buffer.from(`$${v.length}\r\n`), Buffer.from(v), Buffer.from('\r\n')])),
      fc.constantFrom(Buffer.from('$-1\r\n'), Buffer.from('_\r\n'), Buffer.from(':12\r\n')),
    );
    fc.assert(
      fc.property(fc.array(el, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (els, cuts) => {
        const whole = Buffer.concat([Buffer.from(`*${els.length}\r\n`), ...els]);
        const got = arrayElementsInPieces(cut(whole, cuts.map((c) => c % (whole.length + 1))))!;
        expect(got.map((e) => bytesOf(e).toString('latin1'))).toEqual(els.map((e) => e.toString('latin1')));
      }),
      { numRuns: 500 },
    );
  });
});
