/**
 * Buffer views per request on the pipeline-1 path (each costs ~80 ns: a FastBuffer built through the species
 * constructor): a read that is exactly one request, or one reply, is handed on as it is, not as a new view of
 * itself; a read that holds several still gets one view each.
 */
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { ReplyFramer } from '../../shared/resp/reply-framer.js';
import { RequestDecoder } from '../../shared/resp/request-decoder.js';

describe('no view of a whole read', () => {
  it('a chunk that is exactly one request is its raw bytes; requests sharing a chunk get views of their own', () => {
    const got: Array<{ argv: Buffer[]; raw: Buffer | undefined }> = [];
    const dec = new RequestDecoder({ onRequest: (argv, raw) => got.push({ argv, raw }), onProtocolError: () => {} });
    const one = encodeCommand(['SET', 'key:1', 'v']);
    dec.push(one);
    expect(got[0]!.raw).toBe(one);
    expect(got[0]!.argv.map((a) => a.toString())).toEqual(['SET', 'key:1', 'v']);
    const two = Buffer.concat([encodeCommand(['GET', 'a']), encodeCommand(['GET', 'b'])]);
    dec.push(two);
    expect(got[1]!.raw).not.toBe(two);
    expect(got[1]!.raw!.toString()).toBe(encodeCommand(['GET', 'a']).toString());
    expect(got[2]!.raw!.toString()).toBe(encodeCommand(['GET', 'b']).toString());
  });

  it('through onRequestSpans a chunk that is exactly one request makes no view at all (offsets, not argv)', () => {
    let spans = 0;
    const dec = new RequestDecoder({ onRequest: () => {}, onProtocolError: () => {}, onRequestSpans: () => ++spans > 0 });
    const mset = encodeCommand(['MSET', ...Array.from({ length: 20 }, (_, i) => `k${i}`)]);
    const proto = Buffer.prototype as unknown as { subarray: (...a: number[]) => Buffer };
    const subarray = proto.subarray;
    let views = 0;
    proto.subarray = function (this: Buffer, ...a: number[]) {
      views++;
      return subarray.apply(this, a);
    };
    try {
      dec.push(mset);
      dec.push(encodeCommand(['GET', 'a']));
    } finally {
      proto.subarray = subarray;
    }
    expect(spans).toBe(2);
    expect(views).toBe(0);
  });

  it('a chunk that is exactly one reply is the frame; replies sharing a chunk get views of their own', () => {
    const frames: Buffer[] = [];
    const f = new ReplyFramer({ onFrame: (b) => frames.push(b), onFramingError: () => {} });
    const one = Buffer.from('$3\r\nabc\r\n');
    f.push(one);
    expect(frames[0]).toBe(one);
    const two = Buffer.from('+OK\r\n:12\r\n');
    f.push(two);
    expect(frames[1]).not.toBe(two);
    expect(frames.slice(1).map((b) => b.toString())).toEqual(['+OK\r\n', ':12\r\n']);
  });
});
