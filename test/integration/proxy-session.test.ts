/**
 * Client sessions: authentication at the proxy, connection limits, idle timeout, pipelining order when
 * groups answer out of order, backpressure (reading pauses at limits.maxPipeline), QUIT and half-closed
 * clients.
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { keysForEveryGroup, RawConn, rawExchange, sleep, startCluster, type Cluster } from './proxy-cluster.js';

const cleanups = cleanupsAfterEach();

async function cluster(overrides: Record<string, unknown> = {}): Promise<Cluster> {
  const c = await startCluster({ groups: 2, overrides });
  cleanups.push(() => c.stop());
  return c;
}

function ioredis(port: number, opts: Record<string, unknown> = {}): Redis {
  const r = new Redis({ port, maxRetriesPerRequest: 0, ...opts });
  cleanups.push(() => r.disconnect());
  return r;
}

const SLOW_SCRIPT = `local s = redis.call('TIME'); local t0 = s[1] * 1000000 + s[2]
repeat local t = redis.call('TIME') until (t[1] * 1000000 + t[2]) - t0 > tonumber(ARGV[1]) * 1000
return 1`;

describe('AUTH at the proxy', () => {
  it('requires auth.password: NOAUTH before, WRONGPASS on a bad one, OK with password or user+password', async () => {
    const c = await cluster({ auth: { password: 's3cret' } });
    const r = await rawExchange(
      c.port,
      'GET x\r\nPING\r\nAUTH wrong\r\nAUTH default wrong\r\nAUTH s3cret\r\nGET x\r\nAUTH default s3cret\r\nAUTH a b c\r\n',
      500,
    );
    expect(r.data.toString()).toBe(
      '-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n' +
        '-WRONGPASS invalid username-password pair or user is disabled.\r\n' +
        '-WRONGPASS invalid username-password pair or user is disabled.\r\n' +
        '+OK\r\n$-1\r\n+OK\r\n-ERR syntax error\r\n',
    );
    // Unknown commands and wrong arity are reported before NOAUTH, as Redis does.
    const order = await rawExchange(c.port, 'NOSUCH\r\nGET\r\n', 300);
    expect(order.data.toString()).toBe("-ERR unknown command 'NOSUCH', with args beginning with: \r\n-ERR wrong number of arguments for 'get' command\r\n");
    // Unauthenticated clients get Redis's stricter request limits.
    const big = await rawExchange(c.port, '*2\r\n$3\r\nGET\r\n$20000\r\n', 2000);
    expect(big.data.toString()).toBe('-ERR Protocol error: unauthenticated bulk length\r\n');
    expect(big.closed).toBe(true);

    const io = ioredis(c.port, { password: 's3cret' });
    expect(await io.set('authed', '1')).toBe('OK');
    const nr = createClient({ socket: { port: c.port, reconnectStrategy: false }, password: 's3cret' });
    nr.on('error', () => {});
    await nr.connect();
    cleanups.push(() => nr.close().catch(() => {}));
    expect(await nr.get('authed')).toBe('1');
    // HELLO 2 AUTH logs in and answers the server map (RESP2: a flat array).
    const hello = await rawExchange(c.port, 'HELLO 2 AUTH default wrong\r\nHELLO 2 AUTH default s3cret\r\nGET authed\r\n', 400);
    expect(hello.data.toString()).toMatch(/^-WRONGPASS invalid username-password pair or user is disabled\.\r\n\*14\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n.*\$1\r\n1\r\n$/s);
  });

  it('auth.user names the ACL-style user; AUTH without a configured password is an error like Redis', async () => {
    const c = await cluster({ auth: { user: 'app', password: 'pw' } });
    const r = await rawExchange(c.port, 'AUTH default pw\r\nAUTH app pw\r\nGET x\r\n', 300);
    expect(r.data.toString()).toBe('-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n$-1\r\n');
    const open = await cluster();
    const r2 = await rawExchange(open.port, 'AUTH pw\r\nAUTH default anything\r\n', 300);
    expect(r2.data.toString()).toBe(
      '-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n+OK\r\n',
    );
  });
});

describe('limits', () => {
  it('limits.maxClients: the next client gets "-ERR max number of clients reached" and is closed', async () => {
    const c = await cluster({ limits: { maxClients: 2 } });
    const a = await RawConn.open(c.port);
    const b = await RawConn.open(c.port);
    cleanups.push(() => a.close(), () => b.close());
    a.send('PING\r\n');
    await a.waitFor('+PONG');
    const third = await rawExchange(c.port, 'PING\r\n', 2000);
    expect(third.data.toString()).toBe('-ERR max number of clients reached\r\n');
    expect(third.closed).toBe(true);
    b.send('PING\r\n');
    expect(await b.waitFor('+PONG')).toBe('+PONG\r\n');
    a.close();
    await sleep(50);
    const fourth = await rawExchange(c.port, 'PING\r\n', 300);
    expect(fourth.data.toString()).toBe('+PONG\r\n');
  });

  it('limits.idleTimeout closes idle clients, not busy ones', async () => {
    const c = await cluster({ limits: { idleTimeout: '300ms' } });
    const idle = await RawConn.open(c.port);
    const busy = await RawConn.open(c.port);
    cleanups.push(() => idle.close(), () => busy.close());
    const key = keysForEveryGroup(c, 1, 'idle:')[0]!;
    busy.send(`*4\r\n$4\r\nEVAL\r\n$${Buffer.byteLength(SLOW_SCRIPT)}\r\n${SLOW_SCRIPT}\r\n$1\r\n1\r\n$${key.length}\r\n${key}\r\n`.replace('*4', '*5') + '$3\r\n700\r\n');
    await sleep(550);
    expect(idle.closed).toBe(true);
    expect(busy.closed).toBe(false);
    expect(await busy.waitFor(':1\r\n')).toBe(':1\r\n');
  });

  it('limits.maxPipeline pauses reading: pending requests stay bounded and every reply still arrives in order', async () => {
    const c = await cluster({ limits: { maxPipeline: 10 } });
    const key = keysForEveryGroup(c, 1, 'bp:')[0]!;
    const conn = await RawConn.open(c.port);
    cleanups.push(() => conn.close());
    conn.send(`*5\r\n$4\r\nEVAL\r\n$${Buffer.byteLength(SLOW_SCRIPT)}\r\n${SLOW_SCRIPT}\r\n$1\r\n1\r\n$${key.length}\r\n${key}\r\n$3\r\n800\r\n`);
    for (let i = 0; i < 50; i++) {
      let batch = '';
      for (let j = 0; j < 10; j++) batch += `*2\r\n$4\r\nECHO\r\n$${String(i * 10 + j).length}\r\n${i * 10 + j}\r\n`;
      conn.send(batch);
      await sleep(4);
    }
    await sleep(100);
    const state = (await (await fetch(`http://${c.proxy.adminAddr}/api/v1/proxy`)).json()) as { stats: { requestsActive: number } };
    // The script holds group 1; ECHOs are answered locally but must queue behind it. Reading paused at ~10.
    expect(state.stats.requestsActive).toBeGreaterThanOrEqual(10);
    expect(state.stats.requestsActive).toBeLessThanOrEqual(30);
    const want = ':1\r\n' + Array.from({ length: 500 }, (_, i) => `$${String(i).length}\r\n${i}\r\n`).join('');
    expect(await conn.waitFor('$3\r\n499\r\n', 5000)).toBe(want);
  });
});

describe('clients that do not read', () => {
  it('limits.maxClientOutput closes a client whose unread replies pile up; others are unaffected', async () => {
    const c = await cluster({ limits: { maxClientOutput: '4mb' } });
    const io = ioredis(c.port);
    await io.set('bigval', Buffer.alloc(1024 * 1024, 0x62));
    const hog = net.connect(c.port, '127.0.0.1');
    cleanups.push(() => {
      hog.destroy();
    });
    hog.on('error', () => {});
    await new Promise<void>((r) => hog.on('connect', () => r()));
    hog.pause(); // never reads
    hog.write('GET bigval\r\n'.repeat(200));
    // The proxy drops it (a paused socket cannot notice that itself, so ask the proxy).
    const dropped = async () => (await (await fetch(`http://${c.proxy.adminAddr}/metrics`)).text()).includes('redslot_proxy_downstream_cx_output_limit_total 1');
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = await dropped();
      if (!ok) await sleep(50);
    }
    expect(ok).toBe(true);
    expect(c.proxy.runtime.server.sessions.size).toBe(1); // only `io` is left
    expect(await io.get('bigval').then((v) => v?.length)).toBe(1024 * 1024);
  });
});

describe('pipelining and order', () => {
  it('replies leave in request order although groups answer out of order; other clients are not delayed', async () => {
    const c = await cluster();
    const [k1, k2] = keysForEveryGroup(c, 1, 'ord:');
    const io = ioredis(c.port);
    const other = ioredis(c.port);
    await io.set(k2!, 'fast');
    const p = io.pipeline();
    p.eval(SLOW_SCRIPT, 1, k1!, '400');
    p.get(k2!);
    p.set(k1!, 'after');
    p.get(k1!);
    const t0 = Date.now();
    const res = p.exec();
    await sleep(50);
    expect(await other.get(k2!)).toBe('fast');
    expect(Date.now() - t0).toBeLessThan(300);
    expect((await res)!.map(([, v]) => v)).toEqual([1, 'fast', 'OK', 'after']);
  });

  it('QUIT answers +OK and closes; nothing after it runs', async () => {
    const c = await cluster();
    const r = await rawExchange(c.port, 'SET q 1\r\nQUIT\r\nSET q 2\r\n', 2000);
    expect(r.data.toString()).toBe('+OK\r\n+OK\r\n');
    expect(r.closed).toBe(true);
    expect(await c.direct(c.groupOfKey('q')).get('q')).toBe('1');
  });

  it('a client that half-closes after sending still gets every reply', async () => {
    const c = await cluster();
    const keys = keysForEveryGroup(c, 2, 'hc:');
    const got = await new Promise<string>((resolve) => {
      const s = net.connect(c.port, '127.0.0.1');
      let data = '';
      s.on('data', (d: Buffer) => (data += d.toString()));
      s.on('close', () => resolve(data));
      s.on('connect', () => {
        s.end(keys.map((k) => `SET ${k} v\r\nGET ${k}\r\n`).join(''));
      });
    });
    expect(got).toBe(keys.map(() => '+OK\r\n$1\r\nv\r\n').join(''));
  });
});
