/**
 * Backend replies: redslot's ReplyFramer (finds boundaries, forwards bytes) vs redis-parser (decodes, and
 * a proxy would then have to re-encode) on pipelined replies cut into 64 KB chunks.
 */
import Parser from 'redis-parser';
import { encodeArray, encodeBulk, encodeInteger, Replies } from '../../shared/resp/encoder.js';
import { ReplyFramer } from '../../shared/resp/reply-framer.js';
import { compare, report } from './harness.js';

function chunks(wire: Buffer, size = 65536): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < wire.length; i += size) out.push(wire.subarray(i, i + size));
  return out;
}

const WORKLOADS: Array<{ name: string; wire: Buffer }> = [
  { name: '+OK x2000', wire: Buffer.concat(Array.from({ length: 2000 }, () => Replies.ok)) },
  { name: '$3 value x2000', wire: Buffer.concat(Array.from({ length: 2000 }, () => encodeBulk('xyz'))) },
  { name: ':N x2000', wire: Buffer.concat(Array.from({ length: 2000 }, (_, i) => encodeInteger(i * 7919))) },
  { name: '$1024 value x500', wire: Buffer.concat(Array.from({ length: 500 }, () => encodeBulk(Buffer.alloc(1024, 0x61)))) },
  { name: 'MGET 10 values x500', wire: Buffer.concat(Array.from({ length: 500 }, () => encodeArray(Array.from({ length: 10 }, (_, j) => (j % 3 ? encodeBulk(`v${j}`) : Replies.nullBulk))))) },
];

export function run(): void {
  for (const w of WORKLOADS) {
    const parts = chunks(w.wire);
    let n = 0;
    const framer = new ReplyFramer({ onFrame: () => n++, onFramingError: (m) => { throw new Error(m); } });
    const parser = new Parser({
      returnBuffers: true,
      returnReply: () => n++,
      returnError: () => n++,
      returnFatalError: (e: Error) => { throw e; },
    });
    const results = compare(
      [
        { name: 'redis-parser (returnBuffers)', fn: () => { for (const p of parts) parser.execute(p); } },
        { name: 'redslot ReplyFramer', fn: () => { for (const p of parts) framer.push(p); } },
      ],
      { bytesPerOp: w.wire.length },
    );
    if (n === 0) throw new Error('nothing parsed');
    report(`${w.name} (${(w.wire.length / 1024).toFixed(0)} KB per op)`, results);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) run();
