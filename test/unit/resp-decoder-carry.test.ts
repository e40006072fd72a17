/**
 * RequestDecoder.carrier: a multibulk request left incomplete at the end of a read moves to a buffer of its own
 * and the next read lands right after it (readTarget), as proxy/session.ts arranges with the socket. Reads
 * that do not land there come from one scratch written over after every push. Every request must come out
 * as sent, whatever the cuts; spanning multibulk requests must come out as one view (raw) of that buffer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { RequestDecoder } from '../../shared/resp/request-decoder.js';

interface Seen {
  atRequest: string[][];
  /** Raw bytes as seen during onRequest (copies). */
  raws: Array<Buffer | undefined>;
  /** Requests not in the scratch (carried, or copies), read again at the end (after the scratch was written over many times). */
  kept: Array<{ index: number; argv: Buffer[]; raw: Buffer | undefined }>;
  /** Buffers the carrier handed out, in order (their sizes). */
  carried: number[];
  /** Reads that landed in a carry buffer. */
  inPlace: number;
  /** Carry buffers the decoder said it was done with. */
  done: number;
}

/**
 * Feeds `wire` like a socket whose reads return at most `readSizes[i]` bytes (cycled): into the decoder's
 * readTarget when it names one, else into a scratch of `scratchSize` bytes written over after each push.
 */
function decodeCarried(wire: Buffer, readSizes: number[], scratchSize = 4096): Seen {
  const seen: Seen = { atRequest: [], raws: [], kept: [], carried: [], inPlace: 0, done: 0 };
  const live = new Set<ArrayBufferLike>();
  const scratch = Buffer.alloc(scratchSize);
  const dec = new RequestDecoder({
    onRequest(argv, raw) {
      seen.atRequest.push(argv.map((a) => a.toString('latin1')));
      seen.raws.push(raw === undefined ? undefined : Buffer.from(raw));
      // Views of the scratch are valid during onRequest only; anything else must stay intact.
      if (raw?.buffer !== scratch.buffer) seen.kept.push({ index: seen.atRequest.length - 1, argv, raw });
    },
    onProtocolError(message) {
      throw new Error(message);
    },
  });
  dec.copySpanning = true;
  dec.carrier = {
    take(size) {
      seen.carried.push(size);
      const b = Buffer.alloc(size, 0xdd);
      live.add(b.buffer);
      return b;
    },
    done(buf) {
      expect(live.delete(buf.buffer)).toBe(true); // once, for a buffer it took
      seen.done++;
    },
  };
  let at = 0;
  for (let i = 0; at < wire.length; i++) {
    const target = dec.readTarget;
    const into = target ?? scratch;
    const n = Math.min(into.length, Math.max(1, readSizes[i % readSizes.length]!), wire.length - at);
    wire.copy(into, 0, at, at + n);
    at += n;
    if (target !== null) seen.inPlace++;
    dec.push(into.subarray(0, n));
    if (target === null) scratch.fill(0xee);
  }
  // Every buffer taken is given back once the decoder has nothing more to read into it.
  expect(live.size).toBe(dec.midRequest ? 1 : 0);
  if (dec.midRequest) {
    // Stopped mid-request (the session closes): never given back, the socket may still read into it.
    dec.stop();
    expect(live.size).toBe(1);
  }
  return seen;
}

const str = (bs: Buffer[]): string[] => bs.map((a) => a.toString('latin1'));

describe('request decoder carrying requests that span reads (carrier / readTarget)', () => {
  it('an MSET of 10 x 16 KB read 4 KB at a time: one carry buffer, one raw view, arguments views of it', () => {
    const args = ['MSET'];
    for (let i = 0; i < 10; i++) args.push(`key:${i}`, String.fromCharCode(97 + i).repeat(16384));
    const wire = encodeCommand(args);
    const seen = decodeCarried(wire, [4096], 4096);
    expect(seen.atRequest.length).toBe(1);
    expect(seen.atRequest[0]!.join(' ') === args.join(' ')).toBe(true);
    const { argv, raw } = seen.kept[0]!;
    expect(raw?.equals(wire)).toBe(true);
    for (const a of argv) expect(a.buffer).toBe(raw!.buffer); // views, nothing concatenated
    expect(str(argv).join(' ') === args.join(' ')).toBe(true); // still intact at the end
    expect(seen.inPlace).toBeGreaterThan(30);
    // Grown at most a few times (room from the declared lengths, bounded by what arrived).
    expect(seen.carried.length).toBeLessThanOrEqual(3);
  });

  it('a SET whose value spans reads: the rest of the value is read into the carry buffer, sized from its declared length', () => {
    const wire = Buffer.concat([encodeCommand(['SET', 'k', 'v'.repeat(20_000)]), encodeCommand(['GET', 'k'])]);
    const seen = decodeCarried(wire, [4096], 4096);
    expect(seen.atRequest.map((a) => a.join(' '))).toEqual([`SET k ${'v'.repeat(20_000)}`, 'GET k']);
    expect(seen.carried.length).toBe(1); // sized from the declared length: no regrowth
    expect(seen.carried[0]!).toBeGreaterThanOrEqual(encodeCommand(['SET', 'k', 'v'.repeat(20_000)]).length);
    expect(seen.kept[0]!.raw?.equals(encodeCommand(['SET', 'k', 'v'.repeat(20_000)]))).toBe(true);
  });

  it('nothing is allocated from an untrusted length: a huge declared bulk grows the buffer with what arrives', () => {
    const head = Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\nxx');
    const seen = decodeCarried(head, [head.length]);
    expect(seen.atRequest).toEqual([]);
    expect(seen.carried.length).toBe(1);
    expect(seen.carried[0]!).toBeLessThanOrEqual(head.length + 256 * 1024);
  });

  it('a carried request counts its reserved buffer in partialBytes (guard.maxClientsMemory sees it)', () => {
    const dec = new RequestDecoder({ onRequest: () => {}, onProtocolError: () => {} });
    dec.copySpanning = true;
    dec.carrier = { take: (size) => Buffer.alloc(size), done: () => {} };
    dec.push(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\nxx'));
    expect(dec.readTarget).not.toBeNull();
    expect(dec.partialBytes).toBeGreaterThan(100_000);
  });

  it('property: any requests (inline ones too), any read sizes: decoded as sent, still intact at the end', () => {
    const arg = fc
      .oneof(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ minLength: 1000, maxLength: 5000 }), fc.uint8Array({ minLength: 15_000, maxLength: 40_000 }))
      .map((u) => Buffer.from(u));
    const req = fc.oneof(
      { weight: 5, arbitrary: fc.array(arg, { minLength: 1, maxLength: 6 }).map((r) => ({ argv: r, wire: encodeCommand(r) })) },
      { weight: 1, arbitrary: fc.constantFrom('PING', 'ECHO hello').map((l) => ({ argv: l.split(' ').map((x) => Buffer.from(x)), wire: Buffer.from(`${l}\r\n`) })) },
    );
    fc.assert(
      fc.property(fc.array(req, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }), (reqs, reads) => {
        const wire = Buffer.concat(reqs.map((r) => r.wire));
        const seen = decodeCarried(wire, reads, 65_536);
        const want = reqs.map((r) => str(r.argv).join('\u0000'));
        // Compared as joined strings: a mismatch must not print megabytes of arguments.
        expect(seen.atRequest.map((a) => a.join('\u0000')).every((a, i) => a === want[i]) && seen.atRequest.length === want.length).toBe(true);
        seen.raws.forEach((raw, i) => expect(raw === undefined || raw.equals(reqs[i]!.wire)).toBe(true));
        for (const k of seen.kept) {
          expect(str(k.argv).join('\u0000') === want[k.index]).toBe(true);
          if (k.raw !== undefined) expect(k.raw.equals(reqs[k.index]!.wire)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});
