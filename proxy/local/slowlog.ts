/**
 * SLOWLOG GET | LEN | RESET | HELP answered from the proxy's own slow log: commands whose END-TO-END time
 * in the proxy (request decoded -> reply ready: backend, network, migrate-on-access, holds included) was at
 * least slowlog.slowerThan µs (-1 = log nothing, 0 = everything), the newest slowlog.maxLen kept. Entries
 * have Redis's shape, so redis-cli and monitoring tools read them: [id, unix time, µs, [args], client
 * address, client name] - the name field also says which backend the command went to (`backend=host:port`,
 * `backend=all` for cluster-wide commands, `backend=proxy` for answers of the proxy itself). Arguments are
 * cut like Redis cuts them (32 arguments, 128 bytes each); only entries actually logged are copied.
 */
import { encodeArray, encodeArrayHeader, encodeBulk, encodeInteger, encodeSimple, Replies } from '../../shared/resp/encoder.js';

const MAX_ARGS = 32;
const MAX_ARG_BYTES = 128;

interface Entry {
  id: number;
  unixSeconds: number;
  micros: number;
  args: Buffer[];
  client: string;
  name: string;
}

export class SlowLog {
  private entries: Entry[] = [];
  private nextId = 0;

  constructor(
    /** µs; -1 = off. */
    readonly slowerThanUs: number,
    readonly maxLen: number,
  ) {}

  /** Whether a command that took `micros` is logged. */
  wants(micros: number): boolean {
    return this.slowerThanUs >= 0 && this.maxLen > 0 && micros >= this.slowerThanUs;
  }

  add(argv: readonly Buffer[], micros: number, client: string, name: string): void {
    const n = Math.min(argv.length, MAX_ARGS);
    // The arguments as logged, copied into one buffer (one allocation per entry, not two per argument: at
    // pipeline 16 with big values every command can be slow, and this ran for each).
    const tails: Array<string | null> = [];
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const a = argv[i]!;
      const more = i === MAX_ARGS - 1 && argv.length > MAX_ARGS;
      const tail = more ? `... (${argv.length - MAX_ARGS + 1} more arguments)` : a.length > MAX_ARG_BYTES ? `... (${a.length - MAX_ARG_BYTES} more bytes)` : null;
      tails.push(tail);
      bytes += more ? tail!.length : Math.min(a.length, MAX_ARG_BYTES) + (tail === null ? 0 : tail.length);
    }
    const store = Buffer.allocUnsafe(bytes);
    const args: Buffer[] = [];
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const start = pos;
      const tail = tails[i]!;
      if (!(i === MAX_ARGS - 1 && argv.length > MAX_ARGS)) {
        const a = argv[i]!;
        const l = Math.min(a.length, MAX_ARG_BYTES);
        store.set(a.subarray(0, l), pos);
        pos += l;
      }
      if (tail !== null) pos += store.write(tail, pos, 'latin1');
      args.push(store.subarray(start, pos));
    }
    this.entries.unshift({ id: this.nextId++, unixSeconds: Math.floor(Date.now() / 1000), micros: Math.round(micros), args, client, name });
    if (this.entries.length > this.maxLen) this.entries.length = this.maxLen;
  }

  get length(): number {
    return this.entries.length;
  }

  reset(): void {
    this.entries = [];
  }

  /** SLOWLOG GET [count]: the newest `count` entries (default 10, -1 = all). */
  get(count: number): Buffer {
    const list = count < 0 ? this.entries : this.entries.slice(0, count);
    const out: Buffer[] = [encodeArrayHeader(list.length)];
    for (const e of list) {
      out.push(
        encodeArray([
          encodeInteger(e.id),
          encodeInteger(e.unixSeconds),
          encodeInteger(e.micros),
          encodeArray(e.args.map((a) => encodeBulk(a))),
          encodeBulk(e.client),
          encodeBulk(e.name),
        ]),
      );
    }
    return Buffer.concat(out);
  }
}

const HELP = [
  'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GET [<count>]',
  '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
  '    Entries are made of:',
  '    id, timestamp, time in microseconds, arguments array, client IP and port,',
  '    client name (here also the backend the command went to)',
  'LEN',
  '    Return the length of the slowlog.',
  'RESET',
  '    Reset the slowlog.',
  'HELP',
  '    Print this help.',
];

function is(b: Buffer, word: string): boolean {
  return b.toString('latin1').toLowerCase() === word;
}

/** The SLOWLOG command (arity checked by the table). */
export function slowlogCommand(log: SlowLog, argv: Buffer[]): Buffer | undefined {
  const sub = argv[1]!;
  if (is(sub, 'get') && argv.length <= 3) {
    let count = 10;
    if (argv.length === 3) {
      const v = argv[2]!.toString('latin1');
      if (!/^-?\d+$/.test(v) || Number(v) < -1) return encodeErrorCount();
      count = Number(v);
    }
    return log.get(count);
  }
  if (is(sub, 'len') && argv.length === 2) return encodeInteger(log.length);
  if (is(sub, 'reset') && argv.length === 2) {
    log.reset();
    return Replies.ok;
  }
  if (is(sub, 'help') && argv.length === 2) return encodeArray(HELP.map((l) => encodeSimple(l)));
  return undefined; // unknown subcommand / wrong arity: the session's usual replies
}

function encodeErrorCount(): Buffer {
  // Redis 7: getRangeLongFromObjectOrReply(c, argv[2], -1, LONG_MAX, &count, "count should be greater than or equal to -1")
  return Buffer.from('-ERR count should be greater than or equal to -1\r\n');
}
