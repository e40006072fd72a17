/**
 * The request side's offsets path (issue 19): RequestDecoder hands a well-formed request inside one chunk to
 * RequestHandler.onRequestSpans as raw bytes and argument offsets (no argv views); everything built on the
 * offsets must agree with the view path: the arguments, the raw bytes, the command lookup, the key positions,
 * the slots and the fan-out parts' bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutputBatch, REF_AT } from '../../proxy/backend/output-batch.js';
import { allCommands, checkArity, commandKeys, keysByArgc, lookupCommand, lookupCommandAt } from '../../proxy/commands/lookup.js';
import { decodeArgv } from '../../shared/resp/decode-argv.js';
import { encodeCommand, encodeSelectedInto } from '../../shared/resp/encoder.js';
import { RequestDecoder } from '../../shared/resp/request-decoder.js';
import { argvOfSpans, spanEnd, type RequestSpans } from '../../shared/resp/request-spans.js';
import { slotOf, slotOfRange } from '../../shared/slot.js';

interface Got {
  argv: string[];
  raw: string | undefined;
}

const str = (b: Buffer): string => b.toString('latin1');

/** Decodes `wire` cut at `cuts`; with `accept`, the offsets path is on and takes the requests accept() says. */
function decode(wire: Buffer, cuts: number[], accept?: (n: number) => boolean): { got: Got[]; spans: number } {
  const got: Got[] = [];
  let spans = 0;
  const handler = {
    onRequest(argv: Buffer[], raw: Buffer | undefined) {
      got.push({ argv: argv.map(str), raw: raw === undefined ? undefined : str(raw) });
    },
    onProtocolError(message: string) {
      throw new Error(message);
    },
    onRequestSpans: undefined as undefined | ((raw: Buffer, s: RequestSpans) => boolean),
  };
  if (accept !== undefined) {
    handler.onRequestSpans = (raw, s) => {
      // What the offsets say, checked against the bytes: every header is a '$', data ends before CRLF.
      for (let i = 0; i < s.count; i++) {
        expect(raw[s.head[i]!]).toBe(0x24);
        const key = raw.subarray(s.data[i]!, spanEnd(s, i));
        expect(slotOfRange(raw, s.data[i]!, spanEnd(s, i))).toBe(slotOf(key));
      }
      expect(s.head[s.count]).toBe(raw.length);
      if (!accept(s.count)) return false;
      spans++;
      got.push({ argv: argvOfSpans(raw, s).map(str), raw: str(raw) });
      return true;
    };
  }
  const dec = new RequestDecoder(handler);
  let prev = 0;
  for (const p of [...cuts, wire.length]) {
    if (p <= prev) continue;
    dec.push(wire.subarray(prev, p));
    prev = p;
  }
  return { got, spans };
}

const argArb = fc.oneof(
  fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u)),
  fc.constantFrom('{tag}a', 'x{tag}', '{}', '{', 'k'.repeat(70), '{t}'.padEnd(90, 'z')).map((s) => Buffer.from(s)),
  fc.uint8Array({ minLength: 500, maxLength: 3000 }).map((u) => Buffer.from(u)),
);

describe('request decoder, offsets path (onRequestSpans)', () => {
  it('property: requests cut anywhere give the same argv and raw bytes through offsets as through views', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(argArb, { minLength: 1, maxLength: 90 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: 0, max: 2 }),
        (reqs, seeds, rule) => {
          const wire = Buffer.concat(reqs.map((r) => encodeCommand(r)));
          const cuts = [...new Set(seeds.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const views = decode(wire, cuts).got;
          // Accept all, none, or every other count: a declined request must come through onRequest unchanged.
          const accept = rule === 0 ? () => true : rule === 1 ? () => false : (n: number) => n % 2 === 0;
          const offsets = decode(wire, cuts, accept).got;
          expect(offsets).toEqual(views);
          expect(views.map((g) => g.argv)).toEqual(reqs.map((r) => r.map(str)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('requests with more arguments than the shared arrays hold (grown, then dropped) come out whole, and so do the next', () => {
    const big = ['MSET', ...Array.from({ length: 6000 }, (_, i) => `k${i}`)];
    const wire = Buffer.concat([encodeCommand(['GET', 'a']), encodeCommand(big), encodeCommand(['MSET', ...big.slice(1, 201)]), encodeCommand(['GET', 'b'])]);
    const { got, spans } = decode(wire, [], () => true);
    expect(spans).toBe(4);
    expect(got.map((g) => g.argv.length)).toEqual([2, 6001, 201, 2]);
    expect(got[1]!.argv).toEqual(big);
    expect(got[3]!.argv).toEqual(['GET', 'b']);
  });

  it('a handler that decodes inside its own call gets arrays of its own (the outer offsets stay intact)', () => {
    const seen: string[][] = [];
    const inner = new RequestDecoder({ onRequest: () => undefined, onProtocolError: () => undefined, onRequestSpans: () => true });
    const dec = new RequestDecoder({
      onRequest: () => undefined,
      onProtocolError: (m) => {
        throw new Error(m);
      },
      onRequestSpans(raw, s) {
        inner.push(encodeCommand(['SET', 'other-key', 'other-value', 'EX', '10']));
        seen.push(argvOfSpans(raw, s).map(str));
        return true;
      },
    });
    dec.push(encodeCommand(['MSET', 'a', '1', 'b', '2']));
    expect(seen).toEqual([['MSET', 'a', '1', 'b', '2']]);
  });

  it('protocol errors, inline commands and limits stay on the state machine (never through offsets)', () => {
    const calls: string[] = [];
    const dec = new RequestDecoder(
      {
        onRequest: (argv) => calls.push(`argv:${argv.map(str).join(' ')}`),
        onProtocolError: (m) => calls.push(`error:${m}`),
        onRequestSpans: () => {
          calls.push('spans');
          return true;
        },
      },
      { maxBulkBytes: 10, maxArrayLength: 4, maxInlineBytes: 64 },
    );
    dec.push(Buffer.from('PING x\r\n'));
    dec.push(encodeCommand(['GET', 'k']));
    dec.push(encodeCommand(['SET', 'k', 'v'.repeat(11)]));
    expect(calls).toEqual(['argv:PING x', 'spans', 'error:Protocol error: invalid bulk length']);
  });

  it('decodeArgv (the slow log of an offsets request) gives the request its arguments back', () => {
    expect(decodeArgv(encodeCommand(['MSET', 'a', '', 'b', 'x'.repeat(5000)])).map(str)).toEqual(['MSET', 'a', '', 'b', 'x'.repeat(5000)]);
    expect(decodeArgv(Buffer.from('*2\r\n$3\r\nGET'))).toEqual([]);
  });
});

describe('command lookup and keys from offsets', () => {
  it('lookupCommandAt finds what lookupCommand finds, in any case, at any offset', () => {
    for (const c of allCommands()) {
      for (const name of [c.name, c.name.toUpperCase()]) {
        const buf = Buffer.from(`xx${name}yy`, 'latin1');
        expect(lookupCommandAt(buf, 2, 2 + name.length)).toBe(lookupCommand(Buffer.from(name, 'latin1')));
      }
    }
    const buf = Buffer.from('getx');
    expect(lookupCommandAt(buf, 0, 4)).toBeUndefined();
    expect(lookupCommandAt(buf, 1, 1)).toBeUndefined();
  });

  it('keysByArgc agrees with commandKeys for every command it answers, at every argument count', () => {
    let answered = 0;
    for (const c of allCommands()) {
      for (let argc = 1; argc <= 12; argc++) {
        if (!checkArity(c, argc)) continue;
        const byArgc = keysByArgc(c, argc);
        if (byArgc === null) continue;
        answered++;
        // Arguments that are neither keywords nor numbers: the key finders must not look at them.
        const argv = [Buffer.from(c.name), ...Array.from({ length: argc - 1 }, (_, i) => Buffer.from(`zz${i}`))];
        expect(byArgc).toEqual(commandKeys(c, argv));
      }
    }
    for (const name of ['get', 'set', 'mset', 'mget', 'del', 'exists', 'hset', 'incr']) expect(keysByArgc(lookupCommand(Buffer.from(name))!, 5)).not.toBeNull();
    for (const name of ['eval', 'zunionstore', 'xread', 'sort', 'georadius', 'object']) expect(keysByArgc(lookupCommand(Buffer.from(name))!, 5)).toBeNull();
    expect(answered).toBeGreaterThan(500);
  });
});

describe('fan-out parts from offsets (OutputBatch.pushSpans)', () => {
  it('property: a part copied in runs from the client bytes is byte for byte the part encoded argument by argument', () => {
    const val = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: REF_AT - 10, maxLength: REF_AT + 50 })).map((u) => Buffer.from(u));
    fc.assert(
      fc.property(fc.constantFrom(1, 2), fc.array(val, { minLength: 1, maxLength: 24 }), fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }), (stride, args, pick) => {
        const n = Math.floor(args.length / stride) * stride;
        if (n === 0) return;
        const argv = [Buffer.from(stride === 2 ? 'MSET' : 'mGet'), ...args.slice(0, n)];
        const keys: number[] = [];
        for (let k = 1; k < argv.length; k += stride) if (pick[k]! || keys.length === 0) keys.push(k);
        const raw = encodeCommand(argv);
        let spans: RequestSpans | null = null;
        const dec = new RequestDecoder({
          onRequest: () => undefined,
          onProtocolError: () => undefined,
          onRequestSpans(r, s) {
            const batch = new OutputBatch();
            batch.pushSpans(r, s, keys, stride);
            spans = s;
            const out = Buffer.concat(batch.take());
            const want: Buffer[] = [];
            encodeSelectedInto(argv, keys, stride, want);
            expect(out.equals(Buffer.concat(want))).toBe(true);
            return true;
          },
        });
        dec.push(raw);
        expect(spans).not.toBeNull();
      }),
      { numRuns: 300 },
    );
  });
});
