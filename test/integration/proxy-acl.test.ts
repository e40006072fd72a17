/**
 * ACL users at the proxy (proxy/acl/) and the limits on unauthenticated connections (issue 14 item 6):
 * the same exchanges are run through the proxy and against a real redis-server 7.0.15 holding the same users,
 * and the replies compared byte for byte (NOPERM texts, EXECABORT, channel rules); the proxy's own ACL LIST
 * hides password digests; AUTH failures are counted and logged with the client address, a connection is
 * closed after auth.maxFailures, an unauthenticated one after auth.timeout, and auth.maxUnauthenticated caps
 * how many may wait; protected mode refuses non-loopback clients when no password is set.
 */
import net from 'node:net';
import os from 'node:os';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { setLogSink } from '../../shared/log.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { RawConn, rawExchange, sleep, startCluster, type Cluster } from './proxy-cluster.js';

const cleanups = cleanupsAfterEach();

const PW = 'correct-horse-battery';
const HASH = createHash('sha256').update(PW).digest('hex');
const USERS = [
  `user ro on #${HASH} ~app1:* +@read`,
  `user rw on #${HASH} ~app1:* %R~r:* &ch* +@all -@dangerous`,
];

async function cluster(overrides: Record<string, unknown> = {}): Promise<Cluster> {
  const c = await startCluster({ groups: 2, overrides: { acl: { users: USERS }, ...overrides } });
  cleanups.push(() => c.stop());
  return c;
}

async function redisWithUsers(): Promise<RedisServerHandle> {
  const r = await startRedis();
  cleanups.push(() => r.stop());
  const admin = new Redis({ port: r.port, maxRetriesPerRequest: 0 });
  for (const line of USERS) await admin.call('ACL', 'SETUSER', ...line.split(' ').slice(1));
  admin.disconnect();
  return r;
}

const cmds = (...lines: string[]): string => lines.map((l) => `${l}\r\n`).join('');

describe('ACL users: the same replies as Redis 7', () => {
  it('a read-only user cannot write, ~app1:* cannot touch app2:x, %R~ keys are read-only, &ch* limits PUBLISH/SUBSCRIBE', async () => {
    const [c, redis] = await Promise.all([cluster(), redisWithUsers()]);
    const script = cmds(
      `AUTH ro ${PW}`, 'SET app1:x 1', 'GET app2:x', 'GET app1:x', 'CONFIG GET maxmemory', 'MULTI', 'SET a b', 'EXEC',
      'ACL WHOAMI', 'PUBLISH c x', 'MGET app1:a app2:b',
      `AUTH rw ${PW}`, 'ACL WHOAMI', 'PUBLISH c x', 'PUBLISH ch1 x', 'SET r:1 x', 'GET r:1', 'FLUSHALL', 'MGET app1:a app2:b',
      'SET app1:k v', 'GET app1:k', 'DEL app1:k', 'OBJECT ENCODING app2:x', 'CLIENT KILL 1.2.3.4:5', 'KEYS *',
      'MULTI', 'SET app1:a 1', 'SET app2:a 1', 'EXEC',
      'EVAL "return 1" 1 app2:x', 'EVAL "return 1" 1 app1:x', 'LMPOP 2 app1:l app2:l LEFT', 'RENAME app1:a app2:a',
      'AUTH rw wrong-password', 'ACL WHOAMI',
      'PSUBSCRIBE ch1*', 'SUBSCRIBE x', 'PSUBSCRIBE ch*',
    );
    const [viaProxy, viaRedis] = await Promise.all([rawExchange(c.port, script, 800), rawExchange(redis.port, script, 800)]);
    expect(viaProxy.data.toString()).toBe(viaRedis.data.toString());
    // The comparison is only worth something if the denials are there.
    const text = viaProxy.data.toString();
    expect(text).toContain("-NOPERM this user has no permissions to run the 'set' command\r\n");
    expect(text).toContain("-NOPERM this user has no permissions to run the 'config|get' command\r\n");
    expect(text).toContain('-NOPERM this user has no permissions to access one of the keys used as arguments\r\n');
    expect(text).toContain('-NOPERM this user has no permissions to access one of the channels used as arguments\r\n');
    expect(text).toContain("-EXECABORT Transaction discarded because of: NOPERM this user has no permissions to run the 'exec' command\r\n");
    expect(text).toContain('-EXECABORT Transaction discarded because of previous errors.\r\n');
    // Nothing denied reached a backend.
    expect(await c.direct(c.groupOfKey('app2:a')).exists('app2:a')).toBe(0);
    expect(await c.direct(c.groupOfKey('r:1')).exists('r:1')).toBe(0);
  });

  it('ACL LIST shows users without password digests; ACL USERS, CAT; SETUSER is refused; clients log in with ioredis and node-redis', async () => {
    const c = await cluster({ auth: { password: 'default-password' } });
    const io = new Redis({ port: c.port, username: 'rw', password: PW, maxRetriesPerRequest: 0, enableReadyCheck: false });
    const admin = new Redis({ port: c.port, password: 'default-password', maxRetriesPerRequest: 0 });
    cleanups.push(() => io.disconnect(), () => admin.disconnect());
    expect(await io.call('ACL', 'WHOAMI')).toBe('rw');
    expect(await admin.call('ACL', 'WHOAMI')).toBe('default');
    // ACL LIST is @admin @dangerous: rw (-@dangerous) may not, as on Redis.
    await expect(io.call('ACL', 'LIST')).rejects.toThrow("NOPERM this user has no permissions to run the 'acl|list' command");
    const list = (await admin.call('ACL', 'LIST')) as string[];
    expect(list).toEqual([
      'user default on ~* &* +@all',
      'user ro on ~app1:* resetchannels -@all +@read',
      'user rw on ~app1:* %R~r:* resetchannels &ch* +@all -@dangerous',
    ]);
    expect(list.join(' ')).not.toContain(HASH);
    expect(await admin.call('ACL', 'USERS')).toEqual(['default', 'ro', 'rw']);
    const cats = (await io.call('ACL', 'CAT')) as string[];
    expect(cats).toEqual(expect.arrayContaining(['read', 'write', 'admin', 'dangerous', 'keyspace']));
    expect(await io.call('ACL', 'CAT', 'read')).toEqual(expect.arrayContaining(['get', 'mget', 'object|encoding']));
    await expect(admin.call('ACL', 'SETUSER', 'x', 'on')).rejects.toThrow(/command 'acl\|setuser' is not supported by redslot.*acl\.users/);
    await expect(io.set('app2:x', '1')).rejects.toThrow(/^NOPERM this user has no permissions to access one of the keys/);
    expect(await io.set('app1:x', '1')).toBe('OK');

    const nr = createClient({ socket: { port: c.port, reconnectStrategy: false }, username: 'ro', password: PW, RESP: 3 });
    nr.on('error', () => {});
    await nr.connect();
    cleanups.push(() => nr.close().catch(() => {}));
    expect(await nr.get('app1:x')).toBe('1');
    await expect(nr.set('app1:x', '2')).rejects.toThrow("NOPERM this user has no permissions to run the 'set' command");
    // HELLO 3 AUTH logs in as well; a wrong password leaves the client where it was.
    const hello = await rawExchange(c.port, cmds(`HELLO 3 AUTH ro wrong`, 'GET app1:x', `HELLO 3 AUTH ro ${PW}`, 'GET app1:x'), 500);
    expect(hello.data.toString()).toMatch(/^-WRONGPASS invalid username-password pair or user is disabled\.\r\n-NOAUTH Authentication required\.\r\n%7\r\n.*\$1\r\n1\r\n$/s);
  });

  it('rejects bad ACL configuration with a clear error (clear-text passwords, unknown categories/commands)', async () => {
    const { loadProxyConfig } = await import('../../proxy/config.js');
    const load = (users: string[]) => () => loadProxyConfig({ env: {}, overrides: { acl: { users } } });
    expect(load(['user a on >plain ~* +@all'])).toThrow(/clear-text passwords .* are not accepted/);
    expect(load(['user a on #abc ~* +@all'])).toThrow(/# followed by 64 hex digits/);
    expect(load(['user a on nopass +@nosuch'])).toThrow(/unknown command category 'nosuch'/);
    expect(load(['user a on nopass +nosuch'])).toThrow(/unknown command 'nosuch'/);
    expect(load(['user a on nopass (~x +get)'])).toThrow(/selectors/);
  });
});

describe('unauthenticated connections (issue 14: AUTH failures, auth.timeout, auth.maxUnauthenticated)', () => {
  it('failed AUTH is counted and logged with the client address; auth.maxFailures closes the connection', async () => {
    const lines: string[] = [];
    const { setLogLevel } = await import('../../shared/log.js');
    setLogSink((l) => lines.push(l));
    setLogLevel('warn');
    cleanups.push(() => {
      setLogSink((l) => process.stderr.write(l + '\n'));
      setLogLevel('silent');
    });
    const c = await cluster({ auth: { password: 'the-password', maxFailures: 3 } });
    const r = await rawExchange(c.port, cmds('AUTH a', 'AUTH ro b', 'AUTH nosuch c', 'PING', 'PING'), 2000);
    expect(r.data.toString()).toBe('-WRONGPASS invalid username-password pair or user is disabled.\r\n'.repeat(3));
    expect(r.closed).toBe(true);
    const failed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'session.auth_failed' || l.msg === 'session.auth_failed');
    expect(failed).toHaveLength(3);
    expect(failed.map((f) => f.user)).toEqual(['default', 'ro', 'nosuch']);
    expect(String(failed[0]!.client)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(failed[2]!.closing).toBe(true);
    const metrics = await (await fetch(`http://${c.proxy.adminAddr}/metrics`)).text();
    expect(metrics).toMatch(/^redslot_proxy_downstream_auth_failures_total 3$/m);
    expect(metrics).toMatch(/^redslot_proxy_downstream_cx_access_closed_total\{reason="auth_failures"\} 1$/m);
    // Two failures then a success: the connection lives on.
    const ok = await rawExchange(c.port, cmds('AUTH x', 'AUTH y', 'AUTH the-password', 'PING'), 500);
    expect(ok.data.toString()).toBe('-WRONGPASS invalid username-password pair or user is disabled.\r\n'.repeat(2) + '+OK\r\n+PONG\r\n');
    expect(ok.closed).toBe(false);
  });

  it('auth.timeout closes connections that never authenticate, not authenticated ones', async () => {
    const c = await cluster({ auth: { password: 'the-password', timeout: '300ms' } });
    const idle = await RawConn.open(c.port);
    const authed = await RawConn.open(c.port);
    cleanups.push(() => idle.close(), () => authed.close());
    authed.send('AUTH the-password\r\n');
    await authed.waitFor('+OK');
    await sleep(700);
    expect(idle.closed).toBe(true);
    expect(authed.closed).toBe(false);
    authed.send('PING\r\n');
    expect(await authed.waitFor('+PONG')).toContain('+PONG');
    const metrics = await (await fetch(`http://${c.proxy.adminAddr}/metrics`)).text();
    expect(metrics).toMatch(/^redslot_proxy_downstream_cx_access_closed_total\{reason="auth_timeout"\} 1$/m);
  });

  it('auth.maxUnauthenticated: more waiting connections are refused at accept; authenticating frees a place', async () => {
    const c = await cluster({ auth: { password: 'the-password', maxUnauthenticated: 2 } });
    const a = await RawConn.open(c.port);
    const b = await RawConn.open(c.port);
    cleanups.push(() => a.close(), () => b.close());
    await sleep(50);
    const third = await rawExchange(c.port, 'PING\r\n', 1000);
    expect(third.data.toString()).toBe('-ERR max number of unauthenticated clients reached\r\n');
    expect(third.closed).toBe(true);
    a.send('AUTH the-password\r\n');
    await a.waitFor('+OK');
    const fourth = await rawExchange(c.port, cmds('AUTH the-password', 'PING'), 500);
    expect(fourth.data.toString()).toBe('+OK\r\n+PONG\r\n');
  });
});

describe('protected mode', () => {
  const external = Object.values(os.networkInterfaces()).flat().find((i) => i !== undefined && !i.internal && i.family === 'IPv4')?.address;

  it('ClientAccess.admit refuses non-loopback clients without a password, unless protectedMode is false', async () => {
    const { ClientAccess } = await import('../../proxy/acl/access.js');
    const { isLoopback } = await import('../../shared/loopback.js');
    const { ProxyMetrics } = await import('../../proxy/metrics.js');
    const { createLogger } = await import('../../shared/log.js');
    const base = { acl: { users: [], file: '' }, auth: { user: '', password: '', maxFailures: 10, timeoutMs: 0, maxUnauthenticated: 10 } };
    const on = new ClientAccess({ ...base, protectedMode: true }, new ProxyMetrics({ defaultMetrics: false }), createLogger());
    expect(on.admit('10.1.2.3')?.toString()).toMatch(/^-DENIED redslot is running in protected mode/);
    expect(on.admit('::ffff:10.1.2.3')).not.toBeNull();
    expect(on.admit('127.0.0.1')).toBeNull();
    expect(on.admit('::ffff:127.0.0.1')).toBeNull();
    expect(on.admit('::1')).toBeNull();
    const off = new ClientAccess({ ...base, protectedMode: false }, new ProxyMetrics({ defaultMetrics: false }), createLogger());
    expect(off.admit('10.1.2.3')).toBeNull();
    const pw = new ClientAccess({ ...base, auth: { ...base.auth, password: 'x-password' }, protectedMode: true }, new ProxyMetrics({ defaultMetrics: false }), createLogger());
    expect(pw.admit('10.1.2.3')).toBeNull();
    expect(isLoopback('127.8.9.10')).toBe(true);
    expect(isLoopback('128.0.0.1')).toBe(false);
  });

  it.skipIf(external === undefined)('a client from a non-loopback address gets -DENIED and is closed; with a password it is served', async () => {
    const open = await startCluster({ groups: 1, overrides: { listen: '0.0.0.0:0' } });
    cleanups.push(() => open.stop());
    const viaExternal = (port: number, input: string) =>
      new Promise<{ data: string; closed: boolean }>((resolve) => {
        const s = net.connect(port, external!);
        let data = '';
        s.on('data', (d) => (data += d.toString()));
        s.on('close', () => resolve({ data, closed: true }));
        s.on('error', () => {});
        s.on('connect', () => s.write(input));
        setTimeout(() => {
          s.destroy();
          resolve({ data, closed: false });
        }, 1000);
      });
    const denied = await viaExternal(open.port, 'PING\r\n');
    expect(denied.data).toMatch(/^-DENIED redslot is running in protected mode .*protectedMode: false.*\r\n$/);
    expect(denied.closed).toBe(true);
    expect((await rawExchange(open.port, 'PING\r\n', 300)).data.toString()).toBe('+PONG\r\n');
    const locked = await startCluster({ groups: 1, overrides: { listen: '0.0.0.0:0', auth: { password: 'the-password-of-16+' } } });
    cleanups.push(() => locked.stop());
    expect((await viaExternal(locked.port, 'AUTH the-password-of-16+\r\nPING\r\n')).data).toBe('+OK\r\n+PONG\r\n');
  });
});
