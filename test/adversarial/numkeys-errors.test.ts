/**
 * Argument errors of numkeys-style commands through the proxy are byte-identical to a real Redis 7's
 * (the proxy answers them itself when it cannot find the keys, so it must use Redis's exact wording per
 * command): each case is sent raw to a redis-server and to the proxy, and the reply bytes compared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { RawConn, startCluster, type Cluster } from '../integration/proxy-cluster.js';

let c: Cluster;
let plain: RedisServerHandle;

beforeAll(async () => {
  c = await startCluster({ groups: 2 });
  plain = await startRedis([]);
});

afterAll(async () => {
  await c?.stop();
  await plain?.stop();
});

const NUMKEYS = ['0', '-1', 'x', '5', '99999999999999999999', '1.5', ''];
const CASES: string[][] = [];
for (const n of NUMKEYS) {
  CASES.push(
    ['LMPOP', n, '{a}1', 'LEFT'],
    ['BLMPOP', '0', n, '{a}1', 'LEFT'],
    ['ZMPOP', n, '{a}1', 'MIN'],
    ['BZMPOP', '0', n, '{a}1', 'MIN'],
    ['SINTERCARD', n, '{a}1'],
    ['ZINTERCARD', n, '{a}1'],
    ['ZUNION', n, '{a}1'],
    ['ZINTER', n, '{a}1'],
    ['ZDIFF', n, '{a}1'],
    ['ZUNIONSTORE', '{a}d', n, '{a}1'],
    ['ZINTERSTORE', '{a}d', n, '{a}1'],
    ['ZDIFFSTORE', '{a}d', n, '{a}1'],
    ['EVAL', 'return 1', n, '{a}1'],
    ['EVAL_RO', 'return 1', n, '{a}1'],
    ['EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', n, '{a}1'],
    ['FCALL', 'nosuchfn', n, '{a}1'],
    ['FCALL_RO', 'nosuchfn', n, '{a}1'],
  );
}

/** The reply to `argv` (a PING after it marks the end). */
async function replyOf(port: number, argv: string[]): Promise<string> {
  const conn = await RawConn.open(port);
  try {
    conn.send(Buffer.concat([encodeCommand(argv), encodeCommand(['PING'])]));
    return (await conn.waitFor('+PONG\r\n', 3000)).replace(/\+PONG\r\n$/, '');
  } finally {
    conn.close();
  }
}

describe('numkeys argument errors are byte-identical to Redis 7', () => {
  it('every case', async () => {
    const diffs: string[] = [];
    for (const argv of CASES) {
      const want = await replyOf(plain.port, argv);
      const got = await replyOf(c.port, argv);
      if (want.startsWith('-') && got !== want) diffs.push(`${argv.join(' ')}\n  redis: ${JSON.stringify(want)}\n  proxy: ${JSON.stringify(got)}`);
    }
    expect(diffs.join('\n')).toBe('');
  }, 60_000);
});
