import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { RequestDecoder, splitInlineArgs, type RequestLimits, DEFAULT_REQUEST_LIMITS } from '../../shared/resp/request-decoder.js';

interface Outcome {
  requests: string[][];
  raws: Array<string | undefined>;
  error?: string;
}

/** Feeds `input` either whole or byte by byte and records what came out (args as latin1 strings). */
function decode(input: Buffer, mode: 'whole' | 'bytes', limits?: Partial<RequestLimits>, unauth = false): Outcome {
  const out: Outcome = { requests: [], raws: [] };
  const dec = new RequestDecoder(
    {
      onRequest(argv, raw) {
        out.requests.push(argv.map((a) => a.toString('latin1')));
        out.raws.push(raw?.toString('latin1'));
      },
      onProtocolError(message) {
        if (out.error !== undefined) throw new Error('second protocol error reported');
        out.error = message;
      },
    },
    { ...DEFAULT_REQUEST_LIMITS, ...limits },
  );
  dec.unauthenticated = unauth;
  if (mode === 'whole') dec.push(input);
  else for (let i = 0; i < input.length; i++) dec.push(input.subarray(i, i + 1));
  return out;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

interface Case {
  name: string;
  input: Buffer;
  requests: string[][];
  error?: string;
  limits?: Partial<RequestLimits>;
  unauth?: boolean;
}

// Each case is checked twice: the whole input in one chunk, and one byte per chunk.
const CASES: Case[] = [
  { name: 'one multibulk GET', input: b('*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n'), requests: [['GET', 'foo']] },
  {
    name: 'pipelined requests',
    input: b('*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n'),
    requests: [['PING'], ['SET', 'k', ''], ['ECHO', 'hi']],
  },
  { name: 'binary bulk with CRLF inside', input: b('*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\x00\xff\r\n'), requests: [['ECHO', '\r\n\x00\xff']] },
  { name: '*0 is ignored', input: b('*0\r\n*1\r\n$4\r\nPING\r\n'), requests: [['PING']] },
  { name: '*-1 is ignored', input: b('*-1\r\n*1\r\n$4\r\nPING\r\n'), requests: [['PING']] },
  { name: '*-7 is ignored', input: b('*-7\r\n*1\r\n$4\r\nPING\r\n'), requests: [['PING']] },
  { name: 'inline PING', input: b('PING\r\n'), requests: [['PING']] },
  { name: 'inline with LF only', input: b('PING\n'), requests: [['PING']] },
  { name: 'inline with several spaces and tabs', input: b('  SET \t k   v  \r\n'), requests: [['SET', 'k', 'v']] },
  { name: 'empty inline lines are ignored', input: b('\r\n\n   \r\nPING\r\n'), requests: [['PING']] },
  { name: 'inline double quotes with escapes', input: b('SET "a b" "x\\n\\x41\\"z"\r\n'), requests: [['SET', 'a b', 'x\nA"z']] },
  { name: 'inline single quotes', input: b("SET 'it\\'s' 'a\"b'\r\n"), requests: [['SET', "it's", 'a"b']] },
  { name: 'inline quote starting mid-token', input: b('SET a"b c" x\r\n'), requests: [['SET', 'ab c', 'x']] },
  { name: 'inline then multibulk', input: b('PING\r\n*1\r\n$4\r\nPING\r\n'), requests: [['PING'], ['PING']] },
  { name: 'inline unbalanced quotes', input: b('SET "abc\r\n'), requests: [], error: 'Protocol error: unbalanced quotes in request' },
  { name: 'inline closing quote followed by a letter', input: b('SET "a"b\r\n'), requests: [], error: 'Protocol error: unbalanced quotes in request' },
  {
    name: 'inline too big without newline',
    input: Buffer.alloc(70 * 1024, 0x61),
    requests: [],
    error: 'Protocol error: too big inline request',
  },
  {
    name: 'inline limit is a knob',
    input: b('PINGPINGPING'),
    limits: { maxInlineBytes: 8 },
    requests: [],
    error: 'Protocol error: too big inline request',
  },
  { name: 'bulk without $', input: b('*1\r\n+PING\r\n'), requests: [], error: "Protocol error: expected '$', got '+'" },
  { name: 'bulk header CR shown as space', input: b('*1\r\n\r\n'), requests: [], error: "Protocol error: expected '$', got ' '" },
  { name: 'negative bulk length', input: b('*1\r\n$-1\r\n'), requests: [], error: 'Protocol error: invalid bulk length' },
  { name: 'huge bulk length', input: b('*1\r\n$999999999\r\n'), requests: [], error: 'Protocol error: invalid bulk length' },
  { name: 'bulk length with letters', input: b('*1\r\n$3x\r\nfoo\r\n'), requests: [], error: 'Protocol error: invalid bulk length' },
  { name: 'bulk length leading zero', input: b('*1\r\n$03\r\nfoo\r\n'), requests: [], error: 'Protocol error: invalid bulk length' },
  { name: 'empty bulk length', input: b('*1\r\n$\r\n'), requests: [], error: 'Protocol error: invalid bulk length' },
  { name: 'bulk length beyond a small knob', input: b('*1\r\n$11\r\n'), limits: { maxBulkBytes: 10 }, requests: [], error: 'Protocol error: invalid bulk length' },
  { name: '2M-element array header', input: b('*2000000\r\n'), requests: [], error: 'Protocol error: invalid multibulk length' },
  { name: 'array length digits overflow', input: b('*99999999999999999999999\r\n'), requests: [], error: 'Protocol error: invalid multibulk length' },
  { name: 'array length with letters', input: b('*1a\r\n'), requests: [], error: 'Protocol error: invalid multibulk length' },
  { name: 'empty array length', input: b('*\r\n'), requests: [], error: 'Protocol error: invalid multibulk length' },
  { name: 'array length "-0"', input: b('*-0\r\n'), requests: [], error: 'Protocol error: invalid multibulk length' },
  {
    name: 'requests before an error are delivered',
    input: b('*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n*1\r\n$4\r\nPING\r\n'),
    requests: [['PING']],
    error: 'Protocol error: invalid bulk length',
  },
  { name: 'unauthenticated: array over 10', input: b('*11\r\n'), unauth: true, requests: [], error: 'Protocol error: unauthenticated multibulk length' },
  { name: 'unauthenticated: bulk over 16 KB', input: b('*1\r\n$16385\r\n'), unauth: true, requests: [], error: 'Protocol error: unauthenticated bulk length' },
  { name: 'unauthenticated: AUTH still works', input: b('*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n'), unauth: true, requests: [['AUTH', 'pw']] },
  // Redis skips the 2 bytes after a bulk string without checking them; so do we (the backend parses the same way).
  { name: 'bytes after bulk are skipped like Redis', input: b('*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n'), requests: [['PING'], ['PING']] },
];

describe('request decoder: case table', () => {
  for (const c of CASES) {
    for (const mode of ['whole', 'bytes'] as const) {
      it(`${c.name} (${mode})`, () => {
        const out = decode(c.input, mode, c.limits, c.unauth);
        expect(out.requests).toEqual(c.requests);
        expect(out.error).toBe(c.error);
      });
    }
  }
});

describe('request decoder: raw bytes and views', () => {
  it('gives the exact request bytes when the request is inside one chunk', () => {
    const input = b('*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n*1\r\n$4\r\nPING\r\n');
    const out = decode(input, 'whole');
    expect(out.raws).toEqual(['*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n', '*1\r\n$4\r\nPING\r\n']);
  });

  it('gives no raw bytes for a request split across chunks, or for inline requests', () => {
    expect(decode(b('*1\r\n$4\r\nPING\r\n'), 'bytes').raws).toEqual([undefined]);
    expect(decode(b('PING\r\n'), 'whole').raws).toEqual([undefined]);
  });

  it('returns arguments as views of the chunk (no copy) when they fit in it', () => {
    const chunk = b('*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n');
    let argv: Buffer[] = [];
    new RequestDecoder({ onRequest: (a) => (argv = a), onProtocolError: () => {} }).push(chunk);
    expect(argv[1]!.buffer).toBe(chunk.buffer);
    expect(argv[1]!.byteOffset).toBe(chunk.byteOffset + 17);
  });

  it('does not allocate from a huge declared length before the bytes arrive', () => {
    // 500 MB declared, 5 bytes sent: the decoder must hold only what arrived.
    const before = process.memoryUsage().arrayBuffers;
    const dec = new RequestDecoder({ onRequest: () => {}, onProtocolError: () => {} });
    dec.push(b('*1\r\n$524288000\r\nhello'));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(50 * 1024 * 1024);
    expect(dec.midRequest).toBe(true);
  });

  it('assembles a 10 MB argument delivered in 64 KB chunks', () => {
    const value = Buffer.alloc(10 * 1024 * 1024, 0x78);
    value[0] = 0x41;
    value[value.length - 1] = 0x5a;
    const wire = encodeCommand([b('SET'), b('k'), value]);
    const got: Buffer[][] = [];
    const dec = new RequestDecoder({ onRequest: (a) => got.push(a), onProtocolError: (m) => { throw new Error(m); } });
    for (let i = 0; i < wire.length; i += 65536) dec.push(wire.subarray(i, i + 65536));
    expect(got).toHaveLength(1);
    expect(got[0]![2]!.equals(value)).toBe(true);
  });

  it('stop() inside onRequest drops the rest of the chunk (QUIT)', () => {
    const seen: string[] = [];
    const dec: RequestDecoder = new RequestDecoder({
      onRequest(argv) {
        seen.push(argv[0]!.toString());
        if (argv[0]!.toString() === 'QUIT') dec.stop();
      },
      onProtocolError: () => {},
    });
    dec.push(b('*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n'));
    dec.push(b('*1\r\n$4\r\nPING\r\n'));
    expect(seen).toEqual(['PING', 'QUIT']);
  });

  it('reports a protocol error once and then ignores input', () => {
    let errors = 0;
    let requests = 0;
    const dec = new RequestDecoder({ onRequest: () => requests++, onProtocolError: () => errors++ });
    dec.push(b('*1\r\n$x'));
    dec.push(b('*1\r\n$4\r\nPING\r\n'));
    expect(errors).toBe(1);
    expect(requests).toBe(0);
    expect(dec.dead).toBe(true);
  });
});

describe('inline splitting (sdssplitargs)', () => {
  const cases: Array<[string, string[] | null]> = [
    ['a b c', ['a', 'b', 'c']],
    ['"\\x4g"', ['x4g']], // not a valid hex escape: backslash-x becomes x
    ['"\\xff"', ['\xff']],
    ['"a\\tb"', ['a\tb']],
    ["'a\\nb'", ['a\\nb']], // single quotes keep backslashes
    ['""', ['']],
    ["''", ['']],
    ['"a" "b"', ['a', 'b']],
    ['"a"b', null],
    ["'a", null],
    ["'a'b", null], // a closing single quote must end the token too
    ['"a', null],
    ["'a\\x41'", ['a\\x41']], // no hex escapes inside single quotes
    ['"it\'s"', ["it's"]],
    ["'say \"hi\"'", ['say "hi"']],
    ['a\x00b c', ['a']], // NUL ends the line (C string)
  ];
  for (const [line, want] of cases) {
    it(JSON.stringify(line), () => {
      const got = splitInlineArgs(b(line));
      expect(got === null ? null : got.map((x) => x.toString('latin1'))).toEqual(want);
    });
  }
});

describe('request decoder: property', () => {
  it('encode argv -> split at random points -> decode gives argv back', () => {
    const arg = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((u) => Buffer.from(u));
    const request = fc.array(arg, { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (reqs, cuts) => {
        const wire = Buffer.concat(reqs.map((r) => encodeCommand(r)));
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((x, y) => x - y);
        const got: Buffer[][] = [];
        const raws: Array<Buffer | undefined> = [];
        const dec = new RequestDecoder({
          onRequest: (a, raw) => {
            got.push(a);
            raws.push(raw);
          },
          onProtocolError: (m) => {
            throw new Error(m);
          },
        });
        let prev = 0;
        for (const p of [...points, wire.length]) {
          dec.push(wire.subarray(prev, p));
          prev = p;
        }
        expect(got.length).toBe(reqs.length);
        got.forEach((argv, i) => {
          expect(argv.length).toBe(reqs[i]!.length);
          argv.forEach((a, j) => expect(a.equals(reqs[i]![j]!)).toBe(true));
          const raw = raws[i];
          if (raw !== undefined) expect(raw.equals(encodeCommand(reqs[i]!))).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });
});
