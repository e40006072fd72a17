/**
 * Request decoding: redslot's RequestDecoder vs redis-parser (returnBuffers: true) on pipelined client
 * traffic cut into 64 KB chunks (what socket reads deliver). Justifies writing our own decoder: it must also
 * do inline commands and size limits, must not allocate from untrusted lengths, and gives the proxy the
 * client's own request bytes to forward. Two tables per workload: decode only (RequestDecoder also creates
 * that raw view, one more Buffer per request), and decode + the bytes the proxy must send to the backend.
 *
 *   npm run bench:micro            (under tsx)      node dist/bench/micro/run.js   (compiled, after build)
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
    report(`${w.name} (${(w.bytes / 1024).toFixed(0)} KB per op, ${w.parts.length} chunk(s)): decode only`, results);

    // What the proxy needs per request: argv (to route) AND the bytes to send to the backend. redis-parser
    // forces a re-encode; RequestDecoder hands over the client's own bytes when the request is in one chunk.
    let sent = 0;
    const oursFwd = new RequestDecoder({
      onRequest: (argv, raw) => { sent += raw !== undefined ? raw.length : encodeCommand(argv).length; },
      onProtocolError: (m) => { throw new Error(m); },
    });
    const theirsFwd = new Parser({
      returnBuffers: true,
      returnReply: (argv: Buffer[]) => { sent += encodeCommand(argv).length; },
      returnError: (e: Error) => { throw e; },
      returnFatalError: (e: Error) => { throw e; },
    });
    const fwd = compare(
      [
        { name: 'redis-parser + re-encode', fn: () => { for (const p of w.parts) theirsFwd.execute(p); } },
        { name: 'redslot RequestDecoder + raw bytes', fn: () => { for (const p of w.parts) oursFwd.push(p); } },
      ],
      { bytesPerOp: w.bytes },
    );
    if (sent === 0) throw new Error('nothing forwarded');
    report(`${w.name}: decode + bytes to forward (what the proxy does)`, fwd);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) run();
