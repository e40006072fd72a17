import net from 'node:net';
import Parser from 'redis-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerCommandCommand } from '../../proxy/commands/command-command.js';
import { allCommands, commandKeys, lookupCommand } from '../../proxy/commands/lookup.js';
import { RAW_COMMANDS } from '../../proxy/commands/redis7-data.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';

type Reply = string | number | null | { error: string } | Reply[];

/** One request in flight at a time; keeps each reply's raw bytes so tests can compare them exactly. */
class RawClient {
  private acc: Buffer[] = [];
  private waiting: ((r: { reply: Reply; raw: Buffer }) => void) | null = null;
  private readonly parser = new Parser({
    returnReply: (reply: Reply) => this.done(reply),
    returnError: (e: Error) => this.done({ error: e.message }),
  });

  constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.acc.push(d);
      this.parser.execute(d);
    });
  }

  private done(reply: Reply): void {
    const raw = Buffer.concat(this.acc);
    this.acc = [];
    const w = this.waiting;
    this.waiting = null;
    w?.({ reply, raw });
  }

  call(args: Buffer[]): Promise<{ reply: Reply; raw: Buffer }> {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(Buffer.concat(parts));
    });
  }
}

const bufs = (args: readonly string[]): Buffer[] => args.map((a) => Buffer.from(a, 'latin1'));

function parseOne(bytes: Buffer): Reply {
  let out: Reply = null;
  new Parser({ returnReply: (r: Reply) => (out = r), returnError: (e: Error) => (out = { error: e.message }) }).execute(bytes);
  return out;
}

/** COMMAND INFO entry with subcommands in name order (Redis lists them in hash order). */
function normalizeInfo(entry: Reply): Reply {
  if (!Array.isArray(entry)) return entry;
  const subs = (entry[9] as Reply[]).map(normalizeInfo).sort((a, b) => String((a as Reply[])[0]).localeCompare(String((b as Reply[])[0])));
  return [...entry.slice(0, 9), subs];
}

/** COMMAND DOCS of one command: redslot's `[redslot: ...]` mark removed, subcommand map in name order. */
function normalizeDocs(docs: Reply): Reply {
  const a = docs as Reply[];
  const out: Reply[] = [];
  for (let i = 0; i < a.length; i += 2) {
    const k = a[i] as string;
    let v = a[i + 1]!;
    if (k === 'summary') v = String(v).replace(/ \[redslot: .*\]$/, '');
    if (k === 'subcommands') {
      const pairs: Array<[string, Reply]> = [];
      const m = v as Reply[];
      for (let j = 0; j < m.length; j += 2) pairs.push([m[j] as string, normalizeDocs(m[j + 1]!)]);
      pairs.sort((x, y) => x[0].localeCompare(y[0]));
      v = pairs.flat();
    }
    out.push(k, v);
  }
  return out;
}

// Well-formed command lines: commandKeys must find exactly the keys the server's COMMAND GETKEYS finds.
const SAMPLE: string[][] = [
  ['get', 'k'],
  ['set', 'k', 'v'],
  ['set', 'k', 'v', 'NX', 'get'],
  ['bitfield', 'k', 'GET', 'u8', '0', 'OVERFLOW', 'SAT'],
  ['bitfield', 'k', 'GET', 'u8', '0', 'INCRBY', 'u8', '0', '1'],
  ['bitfield', 'k', 'GET', 'u8'],
  ['set', 'k', 'v', 'EX', '10', 'GET'],
  ['mget', 'a', 'b', 'c'],
  ['mset', 'a', '1', 'b', '2'],
  ['msetnx', 'a', '1', 'b', '2', 'c', '3'],
  ['del', 'a', 'b'],
  ['exists', 'a'],
  ['hset', 'h', 'f', 'v', 'f2', 'v2'],
  ['lmove', 'src', 'dst', 'LEFT', 'RIGHT'],
  ['rpoplpush', 'src', 'dst'],
  ['smove', 's1', 's2', 'm'],
  ['sinterstore', 'dst', 'a', 'b', 'c'],
  ['sintercard', '2', 'a', 'b', 'LIMIT', '5'],
  ['zunionstore', 'dst', '2', 'a', 'b', 'WEIGHTS', '1', '2', 'AGGREGATE', 'MAX'],
  ['zinter', '2', 'a', 'b', 'WITHSCORES'],
  ['zdiffstore', 'dst', '1', 'a'],
  ['zrangestore', 'dst', 'src', '0', '-1'],
  ['lmpop', '2', 'a', 'b', 'LEFT', 'COUNT', '3'],
  ['zmpop', '1', 'z', 'MIN'],
  ['blmpop', '0', '2', 'a', 'b', 'LEFT'],
  ['bzmpop', '1.5', '3', 'a', 'b', 'c', 'MAX', 'COUNT', '2'],
  ['eval', 'return 1', '2', 'k1', 'k2', 'a1'],
  ['evalsha_ro', 'abc', '1', 'k1'],
  ['fcall', 'fn', '3', 'a', 'b', 'c', 'x'],
  ['xread', 'COUNT', '1', 'STREAMS', 'a', 'b', '0', '0'],
  ['xread', 'BLOCK', '0', 'STREAMS', 'streams', '$'],
  ['xreadgroup', 'GROUP', 'g', 'c', 'NOACK', 'STREAMS', 's1', 's2', 's3', '>', '>', '>'],
  ['sort', 'src', 'BY', 'w_*', 'LIMIT', '0', '5', 'GET', '#', 'STORE', 'dst'],
  ['sort', 'src', 'ALPHA'],
  ['sort_ro', 'src', 'BY', 'nosort'],
  ['georadius', 'g', '15', '37', '200', 'km', 'COUNT', '3', 'STORE', 'dst'],
  ['georadius', 'g', '15', '37', '200', 'km', 'STOREDIST', 'd2'],
  ['georadiusbymember', 'g', 'm', '100', 'km', 'STORE', 'dst', 'STOREDIST', 'd2'],
  ['geosearchstore', 'dst', 'src', 'FROMMEMBER', 'm', 'BYRADIUS', '1', 'km'],
  ['object', 'encoding', 'k'],
  ['xinfo', 'stream', 's', 'FULL'],
  ['xgroup', 'createconsumer', 's', 'g', 'c'],
  ['memory', 'usage', 'k'],
  ['migrate', 'host', '6000', '', '0', '5000', 'COPY', 'AUTH', 'pw', 'KEYS', 'a', 'b'],
  ['migrate', 'host', '6000', 'k', '0', '5000'],
  ['bitop', 'AND', 'dst', 'a', 'b'],
  ['pfmerge', 'dst', 'a', 'b'],
  ['copy', 'a', 'b', 'REPLACE'],
  ['watch', 'a', 'b'],
  ['blpop', 'a', 'b', '0'],
  ['touch', 'a', 'b'],
];

// Command lines COMMAND GETKEYS rejects or answers specially; the proxy's own COMMAND must answer the same bytes.
const GETKEYS_EDGES: string[][] = [
  ['nosuchcommand', 'a'],
  ['ping'],
  ['ping', 'hello'],
  ['object'],
  ['object', 'help'],
  ['object', 'nosuch', 'k'],
  ['get', 'a', 'b'],
  ['zunion', '5', 'a'],
  ['lmpop', '0', 'a', 'LEFT'],
  ['eval', 'return 1', '0'],
  ['GET', 'MixedCase'],
];

describe('command table against a real Redis 7', () => {
  let redis: RedisServerHandle;
  let client: RawClient;
  let socket: net.Socket;

  beforeAll(async () => {
    redis = await startRedis();
    socket = net.connect(redis.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    client = new RawClient(socket);
  });

  afterAll(async () => {
    socket?.destroy();
    await redis?.stop();
  });

  it('runs the Redis version the data was generated from', async () => {
    const { reply } = await client.call(bufs(['INFO', 'server']));
    expect(String(reply)).toContain(`redis_version:${RAW_COMMANDS.redis_version}\r\n`);
  });

  it(`finds the same keys as the server's COMMAND GETKEYS for ${SAMPLE.length} command lines`, async () => {
    for (const line of SAMPLE) {
      const { reply } = await client.call(bufs(['COMMAND', 'GETKEYS', ...line]));
      const argv = bufs(line);
      const spec = lookupCommand(argv[0]!);
      expect(spec, line[0]).toBeDefined();
      const found = commandKeys(spec!, argv);
      expect(typeof found, line.join(' ')).not.toBe('string');
      const ours = (found as number[]).map((i) => line[i]);
      expect(ours, line.join(' ')).toEqual(reply);
    }
  });

  it('answers COMMAND GETKEYS / GETKEYSANDFLAGS with the server\'s exact bytes', async () => {
    for (const line of [...SAMPLE, ...GETKEYS_EDGES]) {
      for (const sub of ['GETKEYS', 'GETKEYSANDFLAGS']) {
        const args = bufs(['COMMAND', sub, ...line]);
        const { raw } = await client.call(args);
        expect(answerCommandCommand(args).toString('latin1'), `${sub} ${line.join(' ')}`).toBe(raw.toString('latin1'));
      }
    }
  });

  it('answers COMMAND COUNT and COMMAND LIST (with filters) like the server', async () => {
    for (const args of [['COMMAND', 'COUNT'], ['COMMAND', 'LIST'], ['COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'keyspace'],
      ['COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'x*'], ['COMMAND', 'LIST', 'FILTERBY', 'PATTERN', '*|h?lp'],
      ['COMMAND', 'LIST', 'FILTERBY', 'MODULE', 'm']]) {
      const { reply } = await client.call(bufs(args));
      const ours = parseOne(answerCommandCommand(bufs(args)));
      const sorted = (r: Reply): Reply => (Array.isArray(r) ? [...r].sort() : r);
      expect(sorted(ours), args.join(' ')).toEqual(sorted(reply));
    }
  });

  it('answers COMMAND INFO for every command like the server (exact bytes when there are no subcommands)', async () => {
    for (const c of allCommands()) {
      const args = bufs(['COMMAND', 'INFO', c.name]);
      const { raw, reply } = await client.call(args);
      const ours = answerCommandCommand(args);
      if (c.subcommands.length === 0) expect(ours.toString('latin1'), c.name).toBe(raw.toString('latin1'));
      else expect((parseOne(ours) as Reply[]).map(normalizeInfo), c.name).toEqual((reply as Reply[]).map(normalizeInfo));
    }
  });

  it('answers COMMAND DOCS for every command like the server, apart from the redslot mark', async () => {
    for (const c of allCommands()) {
      const args = bufs(['COMMAND', 'DOCS', c.name]);
      const { raw, reply } = await client.call(args);
      const ours = answerCommandCommand(args);
      const unmarked = c.route !== 'refused' && c.route !== 'local' && c.condition === undefined;
      if (unmarked && c.subcommands.length === 0) expect(ours.toString('latin1'), c.name).toBe(raw.toString('latin1'));
      const [name, docs] = parseOne(ours) as Reply[];
      const [serverName, serverDocs] = reply as Reply[];
      expect(name).toBe(serverName);
      expect(normalizeDocs(docs!), c.name).toEqual(normalizeDocs(serverDocs!));
    }
  });
});
