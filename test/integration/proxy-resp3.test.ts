/**
 * RESP3 through the proxy: HELLO 3 (with AUTH and SETNAME) answers Redis 7's map, the session's commands go
 * over backend connections that said HELLO 3 so replies (maps, `_` nulls, doubles) come back in RESP3 and are
 * forwarded byte for byte, proxy-made replies use RESP3 types, Pub/Sub messages arrive as `>` pushes while
 * the client keeps running commands, HELLO 2 goes back. With raw RESP, compared with a redis-server, and
 * with node-redis `RESP: 3`.
 */
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { ReplyFramer } from '../../shared/resp/reply-framer.js';
import { RawConn, sleep, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

let c: Cluster;
const cleanups: Array<() => unknown> = [];

useProxyCluster({ groups: 3, proxies: 2, overrides: { auth: { password: 'pw' } } }, (s) => ({ cluster: c } = s));
afterAll(async () => {
  for (const f of cleanups.reverse()) await f();
});

function countReplies(data: string): number {
  let n = 0;
  const framer = new ReplyFramer({ onFrame: () => n++, onFramingError: () => {} });
  framer.push(Buffer.from(data, 'latin1'));
  return n;
}

/** Sends inline commands, returns the bytes once `replies` frames (replies and pushes) arrived. */
async function exchange(port: number, cmds: string[], replies = cmds.length): Promise<string> {
  const conn = await RawConn.open(port);
  try {
    conn.send(cmds.join('\r\n') + '\r\n');
    const deadline = Date.now() + 5000;
    while (countReplies(conn.received()) < replies && !conn.closed && Date.now() < deadline) await conn.waitFor('\u0000', 20);
    return conn.received();
  } finally {
    conn.close();
  }
}

const helloMap = (proto: 2 | 3) =>
  new RegExp(
    `^${proto === 3 ? '%7' : '\\*14'}\\r\\n\\$6\\r\\nserver\\r\\n\\$5\\r\\nredis\\r\\n\\$7\\r\\nversion\\r\\n\\$6\\r\\n7\\.0\\.15\\r\\n\\$5\\r\\nproto\\r\\n:${proto}\\r\\n` +
      '\\$2\\r\\nid\\r\\n:\\d+\\r\\n\\$4\\r\\nmode\\r\\n\\$10\\r\\nstandalone\\r\\n\\$4\\r\\nrole\\r\\n\\$6\\r\\nmaster\\r\\n\\$7\\r\\nmodules\\r\\n\\*0\\r\\n',
  );

describe('HELLO', () => {
  it('HELLO 3 AUTH user pass SETNAME name: logs in, names the client, answers the RESP3 map; HELLO 2 goes back', async () => {
    const out = await exchange(c.port, ['HELLO 3', 'HELLO 3 AUTH default pw SETNAME r3', 'CLIENT GETNAME', 'HELLO', 'HELLO 2', 'HELLO 4', 'HELLO 3 SETNAME']);
    expect(out.startsWith('-NOAUTH HELLO must be called with the client already authenticated')).toBe(true);
    const rest = out.slice(out.indexOf('\r\n') + 2);
    const first = rest.match(helloMap(3))![0];
    const afterFirst = rest.slice(first.length);
    expect(afterFirst.startsWith('$2\r\nr3\r\n')).toBe(true);
    const third = afterFirst.slice('$2\r\nr3\r\n'.length);
    const m3 = third.match(helloMap(3))![0];
    const afterHello = third.slice(m3.length);
    const m2 = afterHello.match(helloMap(2))![0];
    expect(afterHello.slice(m2.length)).toBe("-NOPROTO unsupported protocol version\r\n-ERR Syntax error in HELLO option 'SETNAME'\r\n");
  });
});

describe('RESP3 replies', () => {
  it('are forwarded byte for byte as the redis-server sends them in RESP3 (maps, _ nulls, doubles, sets)', async () => {
    // Keys of one group, so the same bytes can be sent to that group's redis-server directly.
    const cmds = [
      'HSET {r3}h a 1 b 2', 'HGETALL {r3}h', 'GET {r3}none', 'ZADD {r3}z 1.5 m', 'ZSCORE {r3}z m', 'SADD {r3}s x',
      'SMEMBERS {r3}s', 'XADD {r3}x 1-1 f v', 'XRANGE {r3}x - +', 'MGET {r3}h {r3}none', 'HRANDFIELD {r3}none', 'DEL {r3}h {r3}z {r3}s {r3}x',
    ];
    const viaProxy = await exchange(c.port, ['HELLO 3 AUTH default pw', ...cmds]);
    const direct = await exchange(c.groups[c.groupOfKey('{r3}h')]!.port, ['HELLO 3', ...cmds]);
    const strip = (s: string) => s.replace(helloMap(3), '');
    expect(strip(viaProxy)).toBe(strip(direct));
    expect(strip(viaProxy)).toContain('%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n'); // HGETALL map
    expect(strip(viaProxy)).toContain(',1.5\r\n'); // ZSCORE double
    expect(strip(viaProxy)).toContain('~1\r\n$1\r\nx\r\n'); // SMEMBERS set
  });

  it('fan-out over groups and proxy-made replies use RESP3 types', async () => {
    const out = await exchange(c.port, [
      'HELLO 3 AUTH default pw', 'SET r3:a 1', 'MGET r3:a r3:missing1 r3:missing2 r3:missing3', 'WATCH r3:a', 'SET r3:a 2', 'MULTI', 'GET r3:a',
      'EXEC', 'UNSUBSCRIBE', 'DEL r3:a',
    ]);
    const body = out.replace(helloMap(3), '');
    expect(body).toBe(
      '+OK\r\n*4\r\n$1\r\n1\r\n_\r\n_\r\n_\r\n+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n' +
        '_\r\n' + // EXEC after a WATCHed key changed: RESP3 null
        '>3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n' + // push, nil channel as _
        ':1\r\n',
    );
  });

  it('the backend connections of a RESP3 client said HELLO 3 (CLIENT LIST on the redis-server shows resp=3)', async () => {
    await exchange(c.port, ['AUTH pw', 'GET r3:conn']);
    await exchange(c.port, ['HELLO 3 AUTH default pw', 'GET r3:conn']);
    const list = (await c.direct(c.groupOfKey('r3:conn')).call('CLIENT', 'LIST')) as string;
    const proxyConns = list.split('\n').filter((l) => l.includes('name=redslot-proxy'));
    expect(proxyConns.some((l) => l.endsWith('resp=3'))).toBe(true);
    expect(proxyConns.some((l) => l.endsWith('resp=2'))).toBe(true);
    // The proxy's own CLIENT LIST shows the protocol of each client.
    const mine = await exchange(c.port, ['HELLO 3 AUTH default pw', 'CLIENT INFO']);
    expect(mine).toMatch(/resp=3/);
  });
});

describe('Pub/Sub pushes in RESP3', () => {
  it('messages arrive as > pushes, and the client keeps running commands while subscribed', async () => {
    const conn = await RawConn.open(c.port);
    cleanups.push(() => conn.close());
    conn.send('HELLO 3 AUTH default pw\r\nSUBSCRIBE r3:ch\r\nPSUBSCRIBE r3:*\r\nSET r3:k v\r\nGET r3:k\r\n');
    await conn.waitFor('$1\r\nv\r\n');
    const pub = createClient({ socket: { port: c.proxies[1]!.port, reconnectStrategy: false }, password: 'pw' });
    pub.on('error', () => {});
    await pub.connect();
    cleanups.push(() => pub.close().catch(() => {}));
    expect(await pub.publish('r3:ch', 'hello')).toBe(2);
    await conn.waitFor('hello\r\n>4');
    await conn.waitFor('$5\r\nhello\r\n', 2000);
    const body = conn.received().replace(helloMap(3), '');
    expect(body.startsWith('>3\r\n$9\r\nsubscribe\r\n$5\r\nr3:ch\r\n:1\r\n>3\r\n$10\r\npsubscribe\r\n$4\r\nr3:*\r\n:2\r\n+OK\r\n$1\r\nv\r\n')).toBe(true);
    await sleep(50);
    const pushes = body.slice(body.indexOf('$1\r\nv\r\n') + 7);
    expect(pushes).toContain('>3\r\n$7\r\nmessage\r\n$5\r\nr3:ch\r\n$5\r\nhello\r\n');
    expect(pushes).toContain('>4\r\n$8\r\npmessage\r\n$4\r\nr3:*\r\n$5\r\nr3:ch\r\n$5\r\nhello\r\n');
    conn.close();
    await pub.del('r3:k');
  });

  it('node-redis RESP: 3: commands with RESP3 types, Pub/Sub on the same connection, transactions, blocking pops', async () => {
    const nr = createClient({ RESP: 3, socket: { port: c.port, reconnectStrategy: false }, password: 'pw' });
    nr.on('error', () => {});
    await nr.connect();
    cleanups.push(() => nr.close().catch(() => {}));
    await nr.hSet('{n3}h', { a: '1', b: '2' });
    expect({ ...(await nr.hGetAll('{n3}h')) }).toEqual({ a: '1', b: '2' });
    expect(await nr.get('{n3}none')).toBeNull();
    await nr.zAdd('{n3}z', { score: 2.5, value: 'm' });
    expect(await nr.zScore('{n3}z', 'm')).toBe(2.5);
    expect({ ...(await nr.configGet('maxmemory')) }).toEqual({ maxmemory: '0' });
    expect(await nr.multi().hGet('{n3}h', 'a').zScore('{n3}z', 'm').exec()).toEqual(['1', 2.5]);
    const got: string[] = [];
    await nr.subscribe('n3:ch', (m, ch) => got.push(`${ch}=${m}`));
    await nr.pSubscribe('n3:*', (m, ch) => got.push(`*${ch}=${m}`));
    expect(await nr.get('{n3}none')).toBeNull(); // a RESP3 client may run commands while subscribed
    const pub = createClient({ RESP: 3, socket: { port: c.proxies[1]!.port, reconnectStrategy: false }, password: 'pw' });
    pub.on('error', () => {});
    await pub.connect();
    cleanups.push(() => pub.close().catch(() => {}));
    expect(await pub.publish('n3:ch', 'x')).toBe(2);
    const blocked = nr.duplicate();
    blocked.on('error', () => {});
    await blocked.connect();
    cleanups.push(() => blocked.close().catch(() => {}));
    const pop = blocked.blPop('{n3}q', 5);
    await sleep(50);
    await pub.rPush('{n3}q', 'item');
    expect(await pop).toEqual({ key: '{n3}q', element: 'item' });
    const deadline = Date.now() + 2000;
    while (got.length < 2 && Date.now() < deadline) await sleep(10);
    expect(got.sort()).toEqual(['*n3:ch=x', 'n3:ch=x']);
    await nr.unsubscribe('n3:ch');
    await nr.pUnsubscribe('n3:*');
    await nr.del(['{n3}h', '{n3}z']);
  });
});
