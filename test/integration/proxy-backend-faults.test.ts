/**
 * Backends that die, come back, hang, or refuse our credentials. The rule: a failure touches exactly the
 * requests that were pending on the broken backend, a down backend answers fast, and recovery is automatic.
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { waitForPort } from '../support/free-port.js';
import { spawnProcess } from '../support/processes.js';
import { startRedis } from '../support/redis-server.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { keysForEveryGroup, sleep, startCluster, type Cluster } from './proxy-cluster.js';

const cleanups = cleanupsAfterEach();

/** Busy-waits inside redis for `ms` (scripts block the server: requests behind it stay pending). */
const SLOW_SCRIPT = `local s = redis.call('TIME'); local t0 = s[1] * 1000000 + s[2]
repeat local t = redis.call('TIME') until (t[1] * 1000000 + t[2]) - t0 > tonumber(ARGV[1]) * 1000
return 1`;

function keyOn(c: Cluster, group: number, prefix: string): string {
  return keysForEveryGroup(c, 1, prefix)[group]!;
}

describe('a backend dies mid-pipeline', () => {
  it('fails exactly the requests pending on it; the other group answers; then it fails fast and recovers', async () => {
    const c = await startCluster({ groups: 2, overrides: { backend: { backoffMin: '20ms', backoffMax: '100ms' } } });
    cleanups.push(() => c.stop());
    const io = new Redis({ port: c.port, maxRetriesPerRequest: 0 });
    cleanups.push(async () => io.disconnect());
    const a = keyOn(c, 0, 'die:');
    const b = keyOn(c, 1, 'die:');
    await io.set(b, 'alive');

    // Group 0 is busy for 2 s in a script, so everything sent to it after the script stays pending.
    const p = io.pipeline();
    p.eval(SLOW_SCRIPT, 1, a, '2000');
    p.get(a);
    p.get(b);
    p.set(a, 'x');
    p.set(b, 'y');
    p.get(b);
    const pending = p.exec();
    await sleep(300);
    await c.groups[0]!.proc.kill9();
    const res = (await pending)!;
    const lost = `ERR backend ${c.groups[0]!.addr} connection lost`;
    expect(res.map(([err, v]) => (err ? (err as Error).message : v))).toEqual([lost, lost, 'alive', lost, 'OK', 'y']);

    // Down: answered at once with "unavailable", no dial timeout per request.
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) await expect(io.get(a)).rejects.toThrow(`ERR backend ${c.groups[0]!.addr} unavailable`);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await io.get(b)).toBe('y');
    // A fan-out touching the dead group gives one error, not a partial result.
    await expect(io.mget(a, b)).rejects.toThrow(`ERR backend ${c.groups[0]!.addr} unavailable`);

    // The backend comes back on the same port: the proxy reconnects by itself.
    const port = c.groups[0]!.port;
    const revived = spawnProcess('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    cleanups.push(() => revived.stop());
    await waitForPort(port);
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = await io.set(a, 'back').then(() => true, () => false);
      if (!ok) await sleep(50);
    }
    expect(ok).toBe(true);
    expect(await io.get(a)).toBe('back');
    expect(await io.mget(a, b)).toEqual(['back', 'y']);
  });
});

describe('fault: a backend that accepts connections and never answers', () => {
  it('fault: pending requests fail after backend.replyTimeout; other groups are unaffected', async () => {
    // A fake Redis: answers the connection handshake (CLIENT SETNAME) with +OK, then goes silent.
    const silent = net.createServer((sock) => {
      let answered = false;
      sock.on('data', () => {
        if (!answered) sock.write('+OK\r\n');
        answered = true;
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => silent.close(() => r())));
    const silentAddr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const good = await startRedis();
    cleanups.push(() => good.stop());
    const { startProxy } = await import('../../proxy/main.js');
    const { loadProxyConfig } = await import('../../proxy/config.js');
    const proxy = await startProxy({
      defaultMetrics: false,
      config: loadProxyConfig({
        env: {},
        overrides: {
          listen: '127.0.0.1:0',
          admin: '',
          backend: { replyTimeout: '400ms', backoffMin: '20ms' },
          topology: {
            groups: [
              { id: 1, servers: [{ addr: silentAddr, role: 'master' }] },
              { id: 2, servers: [{ addr: good.addr, role: 'master' }] },
            ],
            slots: [[0, 511, 1], [512, 1023, 2]],
          },
        },
      }),
    });
    cleanups.push(() => proxy.close({ deadlineMs: 500 }));
    const io = new Redis({ port: proxy.port, maxRetriesPerRequest: 0 });
    cleanups.push(async () => io.disconnect());
    const onSilent = 'bar'; // slot 170 -> group 1 (silent)
    const onGood = 'user1000'; // slot 870 -> group 2
    const t0 = Date.now();
    const hung = io.get(onSilent).then(
      () => 'answered',
      (e: Error) => e.message,
    );
    expect(await io.set(onGood, 'fine')).toBe('OK');
    expect(await hung).toBe(`ERR backend ${silentAddr} connection lost`);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(350);
    expect(took).toBeLessThan(3000);
  });
});

describe('backend credentials', () => {
  it('uses backend.password / backend.user to log in; a wrong password makes the group unavailable, fast', async () => {
    const r = await startRedis(['--requirepass', 'topsecret']);
    cleanups.push(() => r.stop());
    const admin = new Redis({ port: r.port, password: 'topsecret' });
    cleanups.push(async () => admin.disconnect());
    await admin.call('ACL', 'SETUSER', 'proxyuser', 'on', '>userpass', '~*', '&*', '+@all');
    const { startProxy } = await import('../../proxy/main.js');
    const { loadProxyConfig } = await import('../../proxy/config.js');
    const start = async (backend: Record<string, unknown>) => {
      const p = await startProxy({
        defaultMetrics: false,
        config: loadProxyConfig({
          env: {},
          overrides: {
            listen: '127.0.0.1:0',
            admin: '',
            backend,
            topology: { groups: [{ id: 1, servers: [{ addr: r.addr, role: 'master' }] }], slots: [[0, 1023, 1]] },
          },
        }),
      });
      cleanups.push(() => p.close({ deadlineMs: 500 }));
      const io = new Redis({ port: p.port, maxRetriesPerRequest: 0, db: 2 });
      cleanups.push(async () => io.disconnect());
      return io;
    };
    const withPassword = await start({ password: 'topsecret' });
    expect(await withPassword.set('cred', 'pw')).toBe('OK');
    expect(await admin.select(2).then(() => admin.get('cred'))).toBe('pw');
    const withUser = await start({ user: 'proxyuser', password: 'userpass' });
    expect(await withUser.get('cred')).toBe('pw');
    const wrong = await start({ password: 'nope' });
    await expect(wrong.get('cred')).rejects.toThrow(`ERR backend ${r.addr} unavailable`);
    const t0 = Date.now();
    await expect(wrong.get('cred')).rejects.toThrow('unavailable');
    expect(Date.now() - t0).toBeLessThan(200);
  });
});

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
