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
  /** The arguments as logged, already encoded as the RESP array SLOWLOG GET sends (one buffer, no view per argument). */
  args: Buffer;
  client: string;
  name: string;
}

export class SlowLog {
  /**
   * The newest maxLen entries, a ring written at `next` (no `unshift` per entry). At pipeline 16 with big
   * values every command can be slow: an entry is one object and one buffer, as they live long enough to be
   * promoted and then die in a full GC.
   */
  private ring: Entry[] = [];
  private next = 0;
  private count = 0;
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
    const cutArgs = argv.length > MAX_ARGS;
    // Sized first, then written once: header, and per argument `$len`, its first bytes, the tail saying what was cut.
    let bytes = 3 + decimalLength(n);
    for (let i = 0; i < n; i++) {
      const len = loggedLength(argv, i, cutArgs);
      bytes += 5 + decimalLength(len) + len;
    }
    const store = Buffer.allocUnsafe(bytes);
    let pos = store.write(`*${n}\r\n`, 0, 'latin1');
    for (let i = 0; i < n; i++) {
      pos += store.write(`$${loggedLength(argv, i, cutArgs)}\r\n`, pos, 'latin1');
      if (cutArgs && i === MAX_ARGS - 1) pos += store.write(`... (${argv.length - MAX_ARGS + 1} more arguments)`, pos, 'latin1');
      else {
        const a = argv[i]!;
        const l = Math.min(a.length, MAX_ARG_BYTES);
        store.set(l === a.length ? a : a.subarray(0, l), pos);
        pos += l;
        if (a.length > MAX_ARG_BYTES) pos += store.write(`... (${a.length - MAX_ARG_BYTES} more bytes)`, pos, 'latin1');
      }
      store[pos++] = 13;
      store[pos++] = 10;
    }
    this.ring[this.next] = { id: this.nextId++, unixSeconds: Math.floor(Date.now() / 1000), micros: Math.round(micros), args: store, client, name };
    this.next = this.next + 1 === this.maxLen ? 0 : this.next + 1;
    if (this.count < this.maxLen) this.count++;
  }

  get length(): number {
    return this.count;
  }

  reset(): void {
    this.ring = [];
    this.next = 0;
    this.count = 0;
  }

  /** SLOWLOG GET [count]: the newest `count` entries (default 10, -1 = all). */
  get(count: number): Buffer {
    const k = count < 0 ? this.count : Math.min(count, this.count);
    const out: Buffer[] = [encodeArrayHeader(k)];
    for (let i = 0; i < k; i++) {
      const e = this.ring[(this.next - 1 - i + 2 * this.maxLen) % this.maxLen]!;
      out.push(encodeArrayHeader(6), encodeInteger(e.id), encodeInteger(e.unixSeconds), encodeInteger(e.micros), e.args, encodeBulk(e.client), encodeBulk(e.name));
    }
    return Buffer.concat(out);
  }
}

/** Bytes argument `i` is logged as: its first MAX_ARG_BYTES and what says how much was cut, or the last one's "more arguments". */
function loggedLength(argv: readonly Buffer[], i: number, cutArgs: boolean): number {
  if (cutArgs && i === MAX_ARGS - 1) return `... (${argv.length - MAX_ARGS + 1} more arguments)`.length;
  const len = argv[i]!.length;
  return len <= MAX_ARG_BYTES ? len : MAX_ARG_BYTES + `... (${len - MAX_ARG_BYTES} more bytes)`.length;
}

function decimalLength(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : String(n).length;
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
