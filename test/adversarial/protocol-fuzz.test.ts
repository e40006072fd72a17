/**
 * Protocol fuzzer against a live proxy process (2 real redis-servers behind it), bounded in time:
 * REDSLOT_FUZZ_SECONDS (default 60). Cases are generated with fast-check (REDSLOT_FUZZ_SEED to replay):
 * - structured: 1..20 pipelined requests, each a RESP2 array of bulk strings or an inline line, naming real
 *   commands (and unknown ones) with adversarial arguments (numkeys-style integers, hash tags, huge and
 *   binary values, RESP-looking bytes); RESP3 via HELLO 3 mid-stream; MULTI / SUBSCRIBE / CLIENT REPLY
 *   state changes. Then RESET + PING <token>: the token must come back (or the proxy closed the connection
 *   after a protocol error) within 5 s, else it is a hang;
 * - mutated: the same bytes with framing damage (flipped / deleted / inserted bytes, truncation, wrong
 *   lengths, RESP3 types as requests); nothing is required of the reply except its form;
 * - every case's bytes are written split at random boundaries, some with pauses between the pieces.
 * Everything the proxy sends must parse as well-formed RESP2/RESP3 replies (a strict reader that is not the
 * proxy's code). At the end: the proxy process never exited (0 crashes), a bystander client was served
 * throughout, and the proxy's RSS is within 64 MB of its baseline. The case count and RSS are printed.
 */
import net from 'node:net';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { client, figure, spawnProxy, splitReplies, type ProxyProcess } from './support.js';

const SECONDS = Number(process.env.REDSLOT_FUZZ_SECONDS ?? 60);
const SEED = process.env.REDSLOT_FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.REDSLOT_FUZZ_SEED);
const HANG_MS = 5000;

let p: ProxyProcess;
let bystander: Redis;

beforeAll(async () => {
  // Low byte limits so the limit paths are reached by the fuzzer too.
  p = await spawnProxy({
    limits: { maxBulkBytes: '1mb', maxArrayLength: 5000, maxPipeline: 200 },
    guard: { maxQueryBuffer: '2mb', maxMultiBytes: '1mb', maxMergedReply: '4mb', holdTimeout: '1s' },
    scan: { settleTimeout: '1s' },
  });
  bystander = await client(p.port);
});

afterAll(async () => {
  bystander?.disconnect();
  await p?.stop();
});

// ---- generators

const COMMANDS = [
  'GET', 'SET', 'MGET', 'MSET', 'MSETNX', 'DEL', 'EXISTS', 'UNLINK', 'INCR', 'INCRBY', 'APPEND', 'GETRANGE', 'SETRANGE',
  'LPUSH', 'RPUSH', 'LRANGE', 'LPOP', 'LMPOP', 'HSET', 'HGETALL', 'HINCRBY', 'SADD', 'SINTER', 'SINTERCARD', 'ZADD',
  'ZRANGE', 'ZUNION', 'ZINTERSTORE', 'ZMPOP', 'XADD', 'XRANGE', 'XLEN', 'PFADD', 'PFCOUNT', 'BITFIELD', 'SETBIT',
  'EXPIRE', 'TTL', 'TYPE', 'OBJECT', 'SORT', 'COPY', 'RENAME', 'EVAL', 'EVALSHA', 'EVAL_RO', 'FCALL', 'SCRIPT',
  'FUNCTION', 'MULTI', 'EXEC', 'DISCARD', 'WATCH', 'UNWATCH', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE',
  'PUBLISH', 'PUBSUB', 'PING', 'ECHO', 'HELLO', 'SELECT', 'INFO', 'DBSIZE', 'KEYS', 'SCAN', 'RANDOMKEY', 'CONFIG',
  'CLIENT', 'COMMAND', 'SLOWLOG', 'LATENCY', 'TIME', 'MEMORY', 'RESET', 'AUTH', 'WAIT', 'MIGRATE', 'MOVE', 'SWAPDB',
  'NOSUCHCMD', 'get', 'sEt', '', 'X'.repeat(300),
];
const TOKENS = [
  '0', '1', '2', '-1', '5', '-5', '10000', '99999999999999999999', '1.5', 'x', '', '{a}1', '{a}2', '{b}1', 'k', 'key',
  '*', '?', 'LEFT', 'RIGHT', 'MIN', 'MAX', 'COUNT', 'LIMIT', 'EX', 'PX', 'NX', 'XX', 'GET', 'WITHSCORES', 'STORE',
  'STREAMS', 'MATCH', 'TYPE', 'REPLY', 'OFF', 'ON', 'SKIP', 'SETNAME', 'LIST', 'KILL', 'ID', 'GETNAME', 'INFO', 'LOAD',
  'FLUSH', 'EXISTS', 'HELP', 'requirepass', 'maxmemory', 'dir', 'SET', '3', '2', 'AUTH', 'default', 'return 1',
  "return redis.call('get', KEYS[1])", "return redis.call('set', KEYS[1], ARGV[1])", 'return {1,2,{3}}', "return redis.error_reply('x')",
  '*1\r\n$4\r\nPING\r\n', '$-1\r\n', '-ERR x\r\n', '\r\n', '\0', '"', "'", 'ch', 'ch*', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db',
];

const arg: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TOKENS).map((t) => Buffer.from(t, 'latin1')) },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }).map((t) => Buffer.from(t)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 300_000 }).map((n) => Buffer.alloc(n, 0x61)) },
);

interface Request {
  argv: Buffer[];
  inline: boolean;
}

const request: fc.Arbitrary<Request> = fc.record({
  name: fc.constantFrom(...COMMANDS),
  args: fc.array(arg, { maxLength: 12 }),
  inline: fc.integer({ min: 0, max: 9 }).map((n) => n < 3),
}).map(({ name, args, inline }) => {
  const argv = [Buffer.from(name, 'latin1'), ...args];
  // Never block forever or silence the connection on purpose: bounded timeouts only.
  const upper = name.toUpperCase();
  if (upper === 'WAIT') argv.splice(1, argv.length - 1, Buffer.from('0'), Buffer.from('10'));
  return { argv, inline };
});

function encodeRequest(r: Request): Buffer {
  if (!r.inline) return encodeCommand(r.argv);
  // Inline: arguments without CR/LF, separated by spaces.
  const words = r.argv.map((a) => a.toString('latin1').replace(/[\r\n]/g, '').slice(0, 200));
  return Buffer.from(`${words.join(' ')}\r\n`, 'latin1');
}

type Mutation = { kind: 'flip' | 'delete' | 'insert' | 'truncate' | 'length' | 'resp3'; at: number; n: number; bytes: Buffer };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'delete', 'insert', 'truncate', 'length', 'resp3'),
  at: fc.nat(),
  n: fc.integer({ min: 1, max: 16 }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }).map((a) => Buffer.from(a)),
});

function mutate(buf: Buffer, m: Mutation): Buffer {
  const at = buf.length === 0 ? 0 : m.at % buf.length;
  switch (m.kind) {
    case 'flip': {
      const out = Buffer.from(buf);
      for (let i = 0; i < m.n && at + i < out.length; i++) out[at + i]! ^= m.bytes[i % m.bytes.length]! | 1;
      return out;
    }
    case 'delete':
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.n)]);
    case 'insert':
      return Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]);
    case 'truncate':
      return buf.subarray(0, at);
    case 'length': {
      // Rewrite the first length header at or after `at` to a wrong (maybe negative or huge) value.
      const text = buf.toString('latin1');
      const i = text.slice(at).search(/[*$]\d+\r\n/);
      if (i < 0) return buf;
      const start = at + i + 1;
      const end = text.indexOf('\r\n', start);
      const wrong = ['-2', '0', '99999999999', String(m.n), '1x', ''][m.n % 6]!;
      return Buffer.concat([buf.subarray(0, start), Buffer.from(wrong), buf.subarray(end)]);
    }
    case 'resp3':
      return Buffer.concat([buf.subarray(0, at), Buffer.from(['%1\r\n+a\r\n+b\r\n', '~1\r\n$1\r\nx\r\n', '#t\r\n', ',1.5\r\n', '_\r\n'][m.n % 5]!), buf.subarray(at)]);
  }
}

interface Case {
  requests: Request[];
  mutations: Mutation[];
  cuts: number[];
  pauses: boolean;
}

const fuzzCase: fc.Arbitrary<Case> = fc.record({
  requests: fc.array(request, { minLength: 1, maxLength: 20 }),
  mutations: fc.oneof({ weight: 3, arbitrary: fc.constant<Mutation[]>([]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }),
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
  pauses: fc.boolean(),
});

// ---- running one case

interface Outcome {
  data: Buffer;
  closed: boolean;
  /** The sentinel token came back. */
  answered: boolean;
}

function runCase(port: number, payload: Buffer, cuts: number[], pauses: boolean, token: string | null): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    let done = false;
    const finish = (answered: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closed, answered });
    };
    const timer = setTimeout(() => finish(false), token === null ? 400 : HANG_MS);
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      if (token !== null && d.includes(token)) {
        // Read until the token's reply is complete (it may span chunks).
        const all = Buffer.concat(chunks);
        if (all.indexOf(token) + token.length + 2 <= all.length) finish(true);
      }
    });
    s.on('close', () => {
      closed = true;
      finish(false);
    });
    s.on('error', () => {});
    s.on('connect', async () => {
      try {
        const points = [...new Set(cuts.map((c) => (payload.length === 0 ? 0 : c % payload.length)))].sort((a, b) => a - b);
        let from = 0;
        for (const at of [...points, payload.length]) {
          if (at <= from) continue;
          if (s.destroyed) return;
          s.write(payload.subarray(from, at));
          from = at;
          if (pauses) await new Promise((r) => setTimeout(r, 2));
          else await new Promise((r) => setImmediate(r));
        }
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

describe('protocol fuzzer', () => {
  it(`${SECONDS} s of random and mutated RESP2/RESP3/inline requests: 0 crashes, 0 hangs, every reply well-formed`, async () => {
    const rss0 = await p.rssMb();
    let cases = 0;
    let requests = 0;
    let mutated = 0;
    let closedByProxy = 0;
    let rssPeak = rss0;
    let bystanderWorst = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fuzzCase, async (c) => {
        cases++;
        requests += c.requests.length;
        let payload: Buffer = Buffer.concat(c.requests.map(encodeRequest));
        for (const m of c.mutations) payload = mutate(payload, m);
        const structured = c.mutations.length === 0;
        if (!structured) mutated++;
        const token = structured ? `tok${cases}x${SEED}` : null;
        if (token !== null) payload = Buffer.concat([payload, encodeCommand(['RESET']), encodeCommand(['PING', token])]);
        const out = await runCase(p.port, payload, c.cuts, c.pauses, token);
        // Everything sent is well-formed; an incomplete tail only when the proxy did not close the connection.
        const { rest } = splitReplies(out.data);
        if (out.closed) expect(rest, 'a reply cut short before the proxy closed').toBe(0);
        if (out.closed) closedByProxy++;
        if (token !== null && !out.answered && !out.closed) {
          throw new Error(`hang: no reply to PING ${token} within ${HANG_MS} ms; got ${JSON.stringify(out.data.subarray(-300).toString('latin1'))}`);
        }
        expect(p.proc.alive, `proxy crashed: ${p.proc.log().slice(-2000)}`).toBe(true);
        if (cases % 50 === 0) {
          const t0 = performance.now();
          expect(await bystander.ping()).toBe('PONG');
          bystanderWorst = Math.max(bystanderWorst, performance.now() - t0);
          rssPeak = Math.max(rssPeak, p.rssNowMb());
        }
      }),
      { seed: SEED, numRuns: 1_000_000, interruptAfterTimeLimit: SECONDS * 1000, markInterruptAsFailure: false, endOnFailure: true },
    );
    const seconds = (Date.now() - started) / 1000;
    expect(p.proc.alive).toBe(true);
    expect(await bystander.set('fuzz-bystander', 'ok')).toBe('OK');
    expect(await bystander.get('fuzz-bystander')).toBe('ok');
    const rss1 = await p.rssMb();
    figure('fuzz: seed', SEED);
    figure('fuzz: cases / requests / mutated cases / closed by the proxy', `${cases} / ${requests} / ${mutated} / ${closedByProxy}`);
    figure('fuzz: seconds', seconds, ' s');
    figure('fuzz: bystander worst PING during the run', bystanderWorst, ' ms');
    figure('fuzz: proxy RSS baseline / peak (no GC) / after', `${rss0.toFixed(1)} / ${rssPeak.toFixed(1)} / ${rss1.toFixed(1)}`, ' MB');
    expect(cases).toBeGreaterThan(10);
    expect(rss1 - rss0).toBeLessThan(64);
  }, (SECONDS + 120) * 1000);
});
