/**
 * incompleteTail (shared/resp/incomplete-tail.ts) says where a read's trailing incomplete request begins, so
 * that the session copies the requests before it into the arena and carries that one straight from the
 * scratch. It must never be wrong in the unsafe direction: a decoder pushed the bytes before the offset
 * delivers every request in them and ends between requests; pushed the rest, it delivers none.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { incompleteTail } from '../../shared/resp/incomplete-tail.js';
import { RequestDecoder } from '../../shared/resp/request-decoder.js';

function decoder(): { dec: RequestDecoder; requests: number; errors: number } {
  const s = { dec: null as unknown as RequestDecoder, requests: 0, errors: 0 };
  s.dec = new RequestDecoder({ onRequest: () => void s.requests++, onProtocolError: () => void s.errors++ });
  return s;
}

describe('incompleteTail', () => {
  it('the first 64 KB of an MSET of 10 x 16 KB: the request starts at 0; after two small requests: where it starts', () => {
    const mset = encodeCommand(['MSET', ...Array.from({ length: 10 }, (_, i) => [`k${i}`, 'v'.repeat(16384)]).flat()]);
    expect(incompleteTail(mset, 65536, 64)).toBe(0);
    const small = Buffer.concat([encodeCommand(['SET', 'a', 'b']), encodeCommand(['PING'])]);
    const read = Buffer.concat([small, mset]);
    expect(incompleteTail(read, 65536, 64)).toBe(small.length);
    expect(incompleteTail(mset, mset.length, 64)).toBe(-1); // complete: ends at a request boundary
    expect(incompleteTail(read, small.length, 64)).toBe(-1);
  });

  it('anything else is -1: inline, *0, a sign, a leading zero, a bad byte, too many length lines to read', () => {
    const t = (s: string, max = 64) => incompleteTail(Buffer.from(s), s.length, max);
    expect(t('PING\r\n*1\r\n$4\r\nPI')).toBe(-1);
    expect(t('*0\r\n*1\r\n$4\r\nPI')).toBe(-1);
    expect(t('*-1\r\n')).toBe(-1);
    expect(t('*1\r\n$-1\r\n')).toBe(-1);
    expect(t('*1\r\n$01\r\nx')).toBe(-1);
    expect(t('*1\r\nx')).toBe(-1);
    expect(t('*2\r\n$1\r\nx\r\n$1\r\n')).toBe(0);
    expect(t('*2\r\n$1\r\nx\r\n$1\r\n', 2)).toBe(-1);
    expect(t('*1')).toBe(0);
    expect(t('*')).toBe(0);
  });

  it('property: any multibulk requests, any cut: the bytes before the offset decode to whole requests, the rest to none', () => {
    const arg = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 200, maxLength: 3000 }));
    const request = fc.array(arg, { minLength: 1, maxLength: 8 }).map((args) => encodeCommand(args.map((a) => Buffer.from(a))));
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 6 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 64 }), (reqs, cutAt, max) => {
        const wire = Buffer.concat(reqs);
        const n = Math.max(1, Math.floor(cutAt * wire.length));
        const k = incompleteTail(wire, n, max);
        if (k < 0) return;
        const a = decoder();
        a.dec.push(wire.subarray(0, k));
        expect(a.errors).toBe(0);
        expect(a.dec.midRequest).toBe(false);
        let ends = 0;
        for (let at = 0; at < k; at += reqs[ends++]!.length);
        expect(a.requests).toBe(ends); // k lies on a request boundary
        a.dec.push(wire.subarray(k, n));
        expect(a.requests).toBe(ends);
        expect(a.errors).toBe(0);
        expect(a.dec.midRequest).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
