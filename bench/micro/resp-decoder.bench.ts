/**
 * Request decoding: redslot's RequestDecoder vs redis-parser (returnBuffers: true) on pipelined client
 * traffic cut into 64 KB chunks (what socket reads deliver). Justifies writing our own decoder: it must also
 * do inline commands and size limits, and must not allocate from untrusted lengths; it should not be slower.
 */
import Parser from 'redis-parser';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { RequestDecoder } from '../../shared/resp/request-decoder.js';
import { compare, report } from './harness.js';

function chunks(wire: Buffer, size = 65536): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < wire.length; i += size) out.push(wire.subarray(i, i + size));
  return out;
}

function workload(name: string, make: (i: number) => Array<string | Buffer>, n: number): { name: string; parts: Buffer[]; bytes: number; n: number } {
  const wire = Buffer.concat(Array.from({ length: n }, (_, i) => encodeCommand(make(i))));
  return { name, parts: chunks(wire), bytes: wire.length, n };
}

const WORKLOADS = [
  workload('GET key:NNNNNN x1000', (i) => ['GET', `key:${String(i).padStart(6, '0')}`], 1000),
  workload('SET key 3 B x1000', (i) => ['SET', `key:${i}`, 'xyz'], 1000),
  workload('SET key 1 KB x500', (i) => ['SET', `key:${i}`, Buffer.alloc(1024, 0x61)], 500),
  workload('SET key 16 KB x100', (i) => ['SET', `key:${i}`, Buffer.alloc(16 * 1024, 0x61)], 100),
  workload('MSET 10 keys x500', (i) => ['MSET', ...Array.from({ length: 20 }, (_, j) => `k${i}:${j}`)], 500),
];

export function run(): void {
  for (const w of WORKLOADS) {
    let count = 0;
    const ours = new RequestDecoder({ onRequest: () => count++, onProtocolError: (m) => { throw new Error(m); } });
    const theirs = new Parser({
      returnBuffers: true,
      returnReply: () => count++,
      returnError: (e: Error) => { throw e; },
      returnFatalError: (e: Error) => { throw e; },
    });
    const results = compare(
      [
        { name: 'redis-parser (returnBuffers)', fn: () => { for (const p of w.parts) theirs.execute(p); } },
        { name: 'redslot RequestDecoder', fn: () => { for (const p of w.parts) ours.push(p); } },
      ],
      { bytesPerOp: w.bytes },
    );
    if (count === 0) throw new Error('nothing decoded');
    report(`${w.name} (${(w.bytes / 1024).toFixed(0)} KB per op, ${w.parts.length} chunk(s))`, results);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) run();
