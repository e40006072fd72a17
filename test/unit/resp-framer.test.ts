import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplyFramer } from '../../shared/resp/reply-framer.js';
import { ReadSlab } from '../../proxy/backend/read-slab.js';
import { arrayElements, bulkValue, errorText, isError, isSimple, readInteger, skipValue } from '../../shared/resp/reply-reader.js';
import {
  encodeArray,
  encodeBulk,
  encodeBulkArray,
  encodeCommand,
  encodeCommandInto,
  encodeSelectedInto,
  selectedSize,
  writeSelected,
  encodeError,
  encodeInteger,
  encodeSimple,
  BIG_ARG,
} from '../../shared/resp/encoder.js';

function frames(input: Buffer, mode: 'whole' | 'bytes'): { frames: string[]; error?: string } {
  const out: { frames: string[]; error?: string } = { frames: [] };
  const f = new ReplyFramer({
    onFrame: (fr) => out.frames.push(fr.toString('latin1')),
    onFramingError: (m) => (out.error = m),
  });
  if (mode === 'whole') f.push(input);
  else for (let i = 0; i < input.length; i++) f.push(input.subarray(i, i + 1));
  return out;
}

// Every reply must come out exactly as it went in: the proxy forwards these bytes verbatim.
const REPLIES = [
  '+OK\r\n',
  '$2\r\nOK\r\n',
  '-ERR wrong type\r\n',
  ':-42\r\n',
  '$-1\r\n',
  '*-1\r\n',
  '*0\r\n',
  '$0\r\n\r\n',
  '$4\r\n\r\n\r\n\r\n',
  '*3\r\n:1\r\n$-1\r\n*2\r\n+a\r\n-ERR nested\r\n',
  '*2\r\n*0\r\n*1\r\n*1\r\n:7\r\n',
  // RESP3
  '_\r\n',
  ',3.14\r\n',
  '#t\r\n',
  '(3492890328409238509324850943850943825024385\r\n',
  '!21\r\nSYNTAX invalid syntax\r\n',
  '=15\r\ntxt:Some string\r\n',
  '%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n:2\r\n',
  '~2\r\n+a\r\n+b\r\n',
  '>3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n',
  '|1\r\n+key-popularity\r\n*2\r\n$1\r\na\r\n,0.19\r\n*2\r\n:1\r\n:2\r\n',
  '%0\r\n',
];

describe('reply framer', () => {
  for (const mode of ['whole', 'bytes'] as const) {
    it(`frames every RESP2/RESP3 reply byte-for-byte (${mode})`, () => {
      const out = frames(Buffer.from(REPLIES.join(''), 'latin1'), mode);
      expect(out.error).toBeUndefined();
      expect(out.frames).toEqual(REPLIES);
    });

    it(`reports garbage (${mode})`, () => {
      const out = frames(Buffer.from('+OK\r\n?what\r\n'), mode);
      expect(out.frames).toEqual(['+OK\r\n']);
      expect(out.error).toMatch(/unexpected type byte/);
    });
  }

  it('emits views of the chunk for replies inside it', () => {
    const chunk = Buffer.from('+OK\r\n$3\r\nbar\r\n');
    const got: Buffer[] = [];
    new ReplyFramer({ onFrame: (f) => got.push(f), onFramingError: () => {} }).push(chunk);
    expect(got[1]!.buffer).toBe(chunk.buffer);
    expect(got[1]!.byteOffset).toBe(chunk.byteOffset + 5);
  });

  it('passes on a reply spanning reads into one slab as a view of the slab, not a copy (read-slab.ts)', () => {
    const got: Buffer[] = [];
    const f = new ReplyFramer({ onFrame: (fr) => got.push(fr), onFramingError: (m) => { throw new Error(m); } });
    const slab = new ReadSlab(f);
    const reply = encodeBulk(Buffer.alloc(40_000, 0x62));
    const wire = Buffer.concat([Buffer.from('+OK\r\n'), reply, Buffer.from(':7\r\n')]);
    // Three socket reads, cut inside the bulk: each lands right after the previous one in the slab (each read
    // goes to the framer before the next one, as the connection's read callback does).
    const reads: Buffer[] = [];
    for (const [a, b] of [[0, 1000], [1000, 30_000], [30_000, wire.length]] as const) {
      const into = slab.next();
      wire.copy(into, 0, a, b);
      reads.push(slab.take(b - a, into));
      f.push(reads[reads.length - 1]!);
    }
    expect(got.map((g) => g.toString('latin1'))).toEqual(['+OK\r\n', reply.toString('latin1'), ':7\r\n']);
    expect(got[1]!.buffer).toBe(reads[0]!.buffer);
    expect(got[1]!.byteOffset).toBe(reads[0]!.byteOffset + 5);
  });

  it('copies a reply whose pieces are not adjacent in memory (reads into separate buffers)', () => {
    const wire = encodeBulk(Buffer.alloc(3000, 0x63));
    const got: Buffer[] = [];
    const f = new ReplyFramer({ onFrame: (fr) => got.push(fr), onFramingError: (m) => { throw new Error(m); } });
    const pieces = [wire.subarray(0, 10), wire.subarray(10, 2000), wire.subarray(2000)].map((p) => {
      const own = Buffer.allocUnsafeSlow(p.length); // an ArrayBuffer of its own, as a per-read buffer is
      p.copy(own);
      return own;
    });
    for (const p of pieces) f.push(p);
    expect(got).toHaveLength(1);
    expect(got[0]!.equals(wire)).toBe(true);
    for (const p of pieces) expect(got[0]!.buffer).not.toBe(p.buffer);
  });

  it('frames a 10 MB bulk delivered in 64 KB chunks', () => {
    const wire = encodeBulk(Buffer.alloc(10 * 1024 * 1024, 0x61));
    const got: Buffer[] = [];
    const f = new ReplyFramer({ onFrame: (fr) => got.push(fr), onFramingError: (m) => { throw new Error(m); } });
    for (let i = 0; i < wire.length; i += 65536) f.push(wire.subarray(i, i + 65536));
    expect(got).toHaveLength(1);
    expect(got[0]!.equals(wire)).toBe(true);
  });

  it('property: any sequence of nested replies, split anywhere, comes out identical', () => {
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.uint8Array({ maxLength: 40 }).map((u) => encodeBulk(Buffer.from(u))),
        fc.integer().map((n) => encodeInteger(n)),
        fc.constantFrom(encodeSimple('OK'), encodeError('ERR x'), Buffer.from('$-1\r\n'), Buffer.from('*-1\r\n'), Buffer.from('_\r\n')),
        fc.array(tie('value'), { maxLength: 4 }).map((els) => encodeArray(els as Buffer[])),
        fc.array(tie('value'), { maxLength: 3 }).map((els) => {
          const e = els as Buffer[];
          return Buffer.concat([Buffer.from(`%${e.length}\r\n`), ...e.flatMap((x) => [encodeSimple('k'), x])]);
        }),
      ),
    }));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (vals, cuts) => {
        const wire = Buffer.concat(vals as Buffer[]);
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const got: Buffer[] = [];
        const f = new ReplyFramer({ onFrame: (fr) => got.push(fr), onFramingError: (m) => { throw new Error(m); } });
        let prev = 0;
        for (const p of [...points, wire.length]) {
          f.push(wire.subarray(prev, p));
          prev = p;
        }
        expect(got.length).toBe(vals.length);
        got.forEach((g, i) => expect(g.equals(vals[i] as Buffer)).toBe(true));
      }),
      { numRuns: 300 },
    );
  });
});

describe('reply reader', () => {
  it('reads integers, errors, bulk strings and array elements', () => {
    expect(readInteger(Buffer.from(':12345\r\n'))).toBe(12345);
    expect(readInteger(Buffer.from(':-3\r\n'))).toBe(-3);
    expect(readInteger(Buffer.from('+OK\r\n'))).toBeNaN();
    expect(isError(Buffer.from('-ERR x\r\n'))).toBe(true);
    expect(isError(Buffer.from('!3\r\nERR\r\n'))).toBe(true);
    expect(isError(Buffer.from('+OK\r\n'))).toBe(false);
    expect(errorText(Buffer.from('-WRONGTYPE Operation\r\n'))).toBe('WRONGTYPE Operation');
    expect(isSimple(Buffer.from('+NOKEY\r\n'), 'NOKEY')).toBe(true);
    expect(isSimple(Buffer.from('+OK\r\n'), 'NOKEY')).toBe(false);
    expect(bulkValue(Buffer.from('$3\r\nbar\r\n'))!.toString()).toBe('bar');
    expect(bulkValue(Buffer.from('$-1\r\n'))).toBeNull();
    const arr = Buffer.from('*4\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n:2\r\n-ERR e\r\n');
    expect(arrayElements(arr)!.map((e) => e.toString())).toEqual(['$1\r\na\r\n', '$-1\r\n', '*2\r\n:1\r\n:2\r\n', '-ERR e\r\n']);
    expect(arrayElements(Buffer.from('*-1\r\n'))).toBeNull();
    expect(arrayElements(Buffer.from('-ERR\r\n'))).toBeUndefined();
    expect(() => skipValue(Buffer.from('*2\r\n:1\r\n'), 0)).toThrow(RangeError);
  });
});

describe('encoder', () => {
  it('encodes commands exactly', () => {
    expect(encodeCommand(['SET', Buffer.from('k'), '']).toString()).toBe('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n');
  });

  it('does not copy big arguments', () => {
    const big = Buffer.alloc(BIG_ARG + 5, 0x62);
    const parts: Buffer[] = [];
    const n = encodeCommandInto([Buffer.from('SET'), Buffer.from('k'), big, Buffer.from('EX'), Buffer.from('10')], parts);
    expect(parts).toContain(big);
    const wire = Buffer.concat(parts);
    expect(wire.length).toBe(n);
    expect(wire.equals(Buffer.concat([Buffer.from('*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$' + big.length + '\r\n'), big, Buffer.from('\r\n$2\r\nEX\r\n$2\r\n10\r\n')]))).toBe(true);
  });

  it('encodes fan-out parts from argv exactly like the argument list (encodeSelectedInto)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 3, maxLength: 30 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.boolean(),
        (raw, stride, seed, withBig) => {
          const argv = raw.map((a) => Buffer.from(a));
          if (withBig) argv[1] = Buffer.alloc(BIG_ARG + (seed % 7), 0x61);
          const keys: number[] = [];
          for (let k = 1; k + stride - 1 < argv.length; k += stride) if ((seed >> k % 10) & 1 || keys.length === 0) keys.push(k);
          const list: Buffer[] = [argv[0]!];
          for (const k of keys) for (let j = 0; j < stride; j++) list.push(argv[k + j]!);
          const a: Buffer[] = [];
          const b: Buffer[] = [];
          const na = encodeCommandInto(list, a);
          const nb = encodeSelectedInto(argv, keys, stride, b);
          expect(nb).toBe(na);
          expect(Buffer.concat(b).equals(Buffer.concat(a))).toBe(true);
          if (withBig && keys[0] === 1) expect(b).toContain(argv[1]);
          // The slab path (BackendConnection.sendSelected): size, then the same bytes written at an offset.
          const size = selectedSize(argv, keys, stride);
          const hasBig = keys.some((k) => argv.slice(k, k + stride).some((x) => x.length >= BIG_ARG));
          expect(size).toBe(hasBig ? -1 : na);
          if (size >= 0) {
            const slab = Buffer.alloc(size + 10, 0x7e);
            expect(writeSelected(slab, 5, argv, keys, stride)).toBe(5 + size);
            expect(slab.subarray(5, 5 + size).equals(Buffer.concat(a))).toBe(true);
            expect(slab.subarray(0, 5).toString() + slab.subarray(5 + size).toString()).toBe('~'.repeat(10));
          }
        },
      ),
    );
  });

  it('encodes replies', () => {
    expect(encodeInteger(7).toString()).toBe(':7\r\n');
    expect(encodeInteger(-7).toString()).toBe(':-7\r\n');
    expect(encodeInteger(12345678901234n).toString()).toBe(':12345678901234\r\n');
    expect(encodeBulk(null).toString()).toBe('$-1\r\n');
    expect(encodeBulkArray(['a', null]).toString()).toBe('*2\r\n$1\r\na\r\n$-1\r\n');
    expect(encodeError('ERR bad\r\nthing').toString()).toBe('-ERR bad  thing\r\n');
    expect(encodeSimple('OK').toString()).toBe('+OK\r\n');
  });
});
