/**
 * ViewMaker (shared/resp/views.ts): views made without Buffer#subarray's per-view `buf.buffer` lookup must be
 * exactly what subarray makes (same memory, offset, length, class), whichever buffers it is given in turn, and
 * the pipelined paths that use it (decoder raw views, framer frames) hand out the right bytes per request.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { ReplyFramer } from '../../shared/resp/reply-framer.js';
import { RequestDecoder } from '../../shared/resp/request-decoder.js';
import { ViewMaker } from '../../shared/resp/views.js';

function sameView(got: Buffer, want: Buffer): void {
  expect(Object.getPrototypeOf(got)).toBe(Buffer.prototype);
  expect(got.buffer).toBe(want.buffer);
  expect(got.byteOffset).toBe(want.byteOffset);
  expect(got.length).toBe(want.length);
  expect(got.equals(want)).toBe(true);
}

describe('ViewMaker', () => {
  it('makes the view subarray makes, sharing the memory (a write through one shows in the other)', () => {
    const memory = Buffer.allocUnsafeSlow(64).fill(7);
    const buf = memory.subarray(10, 50); // a view at an offset of its ArrayBuffer
    const vm = new ViewMaker();
    const v = vm.view(buf, 3, 9);
    sameView(v, buf.subarray(3, 9));
    v[0] = 42;
    expect(buf[3]).toBe(42);
    expect(vm.view(buf, 5, 5).length).toBe(0);
  });

  it('property: any sources in any order (views of one memory at other offsets, pooled small buffers), any ranges', () => {
    const shared = Buffer.allocUnsafeSlow(256);
    for (let i = 0; i < shared.length; i++) shared[i] = i;
    const source = fc.oneof(
      fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => shared.subarray(Math.min(a, b), Math.max(a, b) + 1)),
      fc.uint8Array({ minLength: 1, maxLength: 40 }).map((u) => Buffer.from(u)), // from Node's pool: offsets into a shared slab
    );
    const step = fc.tuple(source, fc.nat(1000), fc.nat(1000), fc.boolean());
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        const vm = new ViewMaker();
        for (const [buf, a, b, forget] of steps) {
          const s = a % (buf.length + 1);
          const e = s + (b % (buf.length - s + 1));
          sameView(vm.view(buf, s, e), buf.subarray(s, e));
          // Asked again (the cached source), still right.
          sameView(vm.view(buf, 0, buf.length), buf);
          if (forget) vm.forget();
        }
      }),
    );
  });

  it('pipelined requests and replies in consecutive reads each get their own bytes (raw views, frames)', () => {
    const raws: string[] = [];
    const dec = new RequestDecoder({ onRequest: (_argv, raw) => raws.push(raw!.toString()), onProtocolError: () => {} });
    const frames: string[] = [];
    const framer = new ReplyFramer({ onFrame: (b) => frames.push(b.toString()), onFramingError: () => {} });
    const wantRaws: string[] = [];
    const wantFrames: string[] = [];
    for (let read = 0; read < 5; read++) {
      const reqs = Array.from({ length: 3 }, (_, i) => encodeCommand(['SET', `k${read}.${i}`, `v${i}`]));
      const reps = Array.from({ length: 3 }, (_, i) => Buffer.from(`$2\r\nr${i}\r\n`));
      // Each read is a view of one memory at a new offset, as reads into one slab are.
      const memory = Buffer.concat([Buffer.alloc(read * 7), ...reqs]);
      dec.push(memory.subarray(read * 7));
      framer.push(Buffer.concat([Buffer.alloc(read), ...reps]).subarray(read));
      wantRaws.push(...reqs.map((r) => r.toString()));
      wantFrames.push(...reps.map((r) => r.toString()));
    }
    expect(raws).toEqual(wantRaws);
    expect(frames).toEqual(wantFrames);
  });
});
