/**
 * RequestDecoder.copySpanning: chunks are views of one buffer written over after every push (the shared
 * client read slab, proxy/session/client-reads.ts). A request inside one chunk may be a view of it (it is
 * lent and read during onRequest); everything else (a request spanning chunks, a partial one, an inline
 * one) must come out intact however the bytes were cut.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { RequestDecoder } from '../../shared/resp/request-decoder.js';

interface Seen {
  /** Arguments as read during onRequest. */
  atRequest: string[][];
  /** The argv of requests without raw bytes, to read again at the end (after the buffer was written over). */
  kept: Array<{ index: number; argv: Buffer[] }>;
  raws: Array<string | undefined>;
}

/** Pushes `wire` cut at `cuts` through one scratch that is overwritten with 0xEE after each push. */
function decodeThroughScratch(wire: Buffer, cuts: number[]): Seen {
  const seen: Seen = { atRequest: [], kept: [], raws: [] };
  const dec = new RequestDecoder({
    onRequest(argv, raw) {
      seen.atRequest.push(argv.map((a) => a.toString('latin1')));
      seen.raws.push(raw?.toString('latin1'));
      if (raw === undefined) seen.kept.push({ index: seen.atRequest.length - 1, argv });
    },
    onProtocolError(message) {
      throw new Error(message);
    },
  });
  dec.copySpanning = true;
  const scratch = Buffer.alloc(wire.length + 1);
  let prev = 0;
  for (const p of [...cuts, wire.length]) {
    if (p <= prev) continue;
    wire.copy(scratch, 0, prev, p);
    dec.push(scratch.subarray(0, p - prev));
    scratch.fill(0xee);
    prev = p;
  }
  return seen;
}

const cmds: string[][] = [
  ['SET', 'key:1', 'v'.repeat(40)],
  ['MSET', 'a', '1', 'b', 'x'.repeat(300)],
  ['GET', 'k'],
  ['SET', 'big', 'z'.repeat(20_000)],
];

describe('request decoder over a buffer written over after each push (copySpanning)', () => {
  it('a request cut at every byte boundary comes out intact, and stays intact after the buffer is reused', () => {
    const wire = Buffer.concat([...cmds.map((c) => encodeCommand(c)), Buffer.from('PING hello\r\n')]);
    const want = [...cmds, ['PING', 'hello']];
    for (let cut = 0; cut <= wire.length; cut += cut < 400 || cut > wire.length - 400 ? 1 : 97) {
      const seen = decodeThroughScratch(wire, [cut]);
      expect(seen.atRequest).toEqual(want);
      for (const k of seen.kept) expect(k.argv.map((a) => a.toString('latin1'))).toEqual(want[k.index]);
    }
  });

  it('only requests inside one chunk come with raw bytes (the lent view); inline and spanning ones without', () => {
    const wire = Buffer.concat([encodeCommand(['GET', 'a']), encodeCommand(['GET', 'b']), Buffer.from('PING\r\n')]);
    const seen = decodeThroughScratch(wire, [5]); // the first request cut, the second whole, then inline
    expect(seen.raws).toEqual([undefined, encodeCommand(['GET', 'b']).toString('latin1'), undefined]);
  });

  it('property: any requests, cut anywhere, decode as sent and stay so after every reuse of the buffer', () => {
    const arg = fc.oneof(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ minLength: 1000, maxLength: 5000 })).map((u) => Buffer.from(u));
    fc.assert(
      fc.property(fc.array(fc.array(arg, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (reqs, cutSeeds) => {
        const wire = Buffer.concat(reqs.map((r) => encodeCommand(r)));
        const cuts = [...new Set(cutSeeds.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const seen = decodeThroughScratch(wire, cuts);
        const want = reqs.map((r) => r.map((a) => a.toString('latin1')));
        expect(seen.atRequest).toEqual(want);
        for (const k of seen.kept) expect(k.argv.map((a) => a.toString('latin1'))).toEqual(want[k.index]);
      }),
      { numRuns: 300 },
    );
  });
});
