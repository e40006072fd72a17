/**
 * Command lookup on the raw name bytes (proxy/commands: NameTable, FNV-1a over lower-cased bytes, no
 * allocation) plus key finding (commandKeys) vs the obvious alternative: name.toString().toLowerCase() into a
 * Map. Names as clients send them (upper case, like redis-benchmark, and lower case).
 */
import { commandKeys, lookupCommand } from '../../proxy/commands/lookup.js';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { RequestDecoder } from '../../shared/resp/request-decoder.js';
import { allCommands } from '../../proxy/commands/lookup.js';
import { compare, report } from './harness.js';

const byString = new Map(allCommands().map((c) => [c.name, c]));

function requests(make: (i: number) => string[], n: number): Buffer[][] {
  const out: Buffer[][] = [];
  const d = new RequestDecoder({ onRequest: (argv) => out.push(argv), onProtocolError: (m) => { throw new Error(m); } });
  d.push(Buffer.concat(Array.from({ length: n }, (_, i) => encodeCommand(make(i)))));
  return out;
}

const WORKLOADS = [
  { name: 'GET key (upper case)', reqs: requests((i) => ['GET', `key:${i}`], 1000) },
  { name: 'set key value (lower case)', reqs: requests((i) => ['set', `key:${i}`, 'v'], 1000) },
  { name: 'mixed: GET SET INCR LPUSH MSET(10) HGETALL', reqs: requests((i) => {
    const k = `key:${i}`;
    switch (i % 6) {
      case 0: return ['GET', k];
      case 1: return ['SET', k, 'v'];
      case 2: return ['INCR', k];
      case 3: return ['LPUSH', 'mylist', 'v'];
      case 4: return ['MSET', ...Array.from({ length: 20 }, (_, j) => `${k}:${j}`)];
      default: return ['HGETALL', k];
    }
  }, 1200) },
];

export function run(): void {
  for (const w of WORKLOADS) {
    let sink = 0;
    const results = compare([
      { name: 'toString().toLowerCase() + Map', fn: () => { for (const argv of w.reqs) sink += byString.get(argv[0]!.toString('latin1').toLowerCase())!.id; } },
      { name: 'lookupCommand (bytes, no allocation)', fn: () => { for (const argv of w.reqs) sink += lookupCommand(argv[0]!)!.id; } },
      { name: 'lookupCommand + commandKeys', fn: () => {
        for (const argv of w.reqs) {
          const spec = lookupCommand(argv[0]!)!;
          const keys = commandKeys(spec, argv);
          sink += typeof keys === 'string' ? 0 : keys.length;
        }
      } },
    ]);
    if (sink === -1) throw new Error('unreachable');
    report(`${w.name} x${w.reqs.length} (ops = batches)`, results);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) run();
