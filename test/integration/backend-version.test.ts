/**
 * Backend Redis version detection at the handshake (proxy/backend/server-version.ts) with a real proxy and
 * real Redis 7 servers. No Redis 3.2 binary exists here, so the old-server case sets a FAKE VERSION
 * (3.2.11, codis-server's) on the proxy's backend record — the one thing a real server here cannot
 * produce — and checks the refusal a client then gets; the parsing and the reasons are unit-tested in
 * test/unit/codis-import-plan.test.ts and below.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { explainHandshakeFailure, resp3Refusal, VersionProbe } from '../../proxy/backend/server-version.js';
import { parseRedisVersion } from '../../shared/redis-version.js';
import { rawExchange, type Cluster } from './proxy-cluster.js';
import { useProxyCluster } from './use-proxy-cluster.js';

let c: Cluster;

useProxyCluster({ groups: 2 }, (s) => ({ cluster: c } = s));

describe('backend version detection', () => {
  it('learns each backend version from INFO server at the handshake', async () => {
    const r = new Redis({ port: c.port, lazyConnect: true });
    try {
      await r.set('v1', '1');
      await r.set('v2', '2');
      await r.set('v3', '3');
    } finally {
      r.disconnect();
    }
    const servers = c.proxy.runtime.pool.all();
    expect(servers.length).toBeGreaterThan(0);
    for (const s of servers) expect(s.version?.major, s.addr).toBeGreaterThanOrEqual(7);
    // RESP3 works against Redis 7.
    const hello = await rawExchange(c.port, '*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n', 300);
    expect(hello.data.toString()).toMatch(/^%7\r\n/);
  });

  it('refuses HELLO 3 naming the backend and why, once a backend is known to run Redis 3.2 (FAKE VERSION)', async () => {
    const s = c.proxy.runtime.pool.all()[0]!;
    const real = s.version;
    s.version = parseRedisVersion('3.2.11');
    try {
      const res = await rawExchange(c.port, '*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n', 300);
      expect(res.data.toString()).toBe(`-ERR HELLO 3 refused: backend ${s.addr}: RESP3 (HELLO 3) needs Redis >= 6.0; the server runs 3.2.11\r\n+PONG\r\n`);
      // RESP2 clients are unaffected.
      const two = await rawExchange(c.port, '*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n', 300);
      expect(two.data.toString()).toMatch(/^\*14\r\n/);
    } finally {
      s.version = real;
    }
  });
});

describe('server-version helpers', () => {
  it('VersionProbe reads a bulk INFO reply and ignores errors', () => {
    const h = { addr: 'a:1', version: null as ReturnType<typeof parseRedisVersion> };
    new VersionProbe(h).onReply(Buffer.from('-NOPERM no INFO for you\r\n'));
    expect(h.version).toBeNull();
    const info = '# Server\r\nredis_version:3.2.11\r\n';
    new VersionProbe(h).onReply(Buffer.from(`$${info.length}\r\n${info}\r\n`));
    expect(h.version).toMatchObject({ major: 3, minor: 2, patch: 11 });
    expect(resp3Refusal([{ addr: 'b:2', version: parseRedisVersion('7.2.4') }, h])).toBe('a:1: RESP3 (HELLO 3) needs Redis >= 6.0; the server runs 3.2.11'.replace(/^/, 'backend '));
    expect(resp3Refusal([{ addr: 'b:2', version: parseRedisVersion('7.2.4') }, { addr: 'c:3', version: null }])).toBeNull();
  });

  it('explains a failed AUTH user / HELLO 3 handshake on an old server', () => {
    const old = { addr: 'a:1', version: parseRedisVersion('3.2.11') };
    expect(explainHandshakeFailure('AUTH', "ERR wrong number of arguments for 'auth' command", old, true)).toContain('ACL users (AUTH user password, MIGRATE ... AUTH2) need Redis >= 6.0');
    expect(explainHandshakeFailure('AUTH', 'ERR invalid password', old, false)).toBe('AUTH: ERR invalid password');
    const unknown = { addr: 'a:1', version: null };
    expect(explainHandshakeFailure('HELLO 3', "ERR unknown command 'HELLO'", unknown, false)).toBe("HELLO 3: ERR unknown command 'HELLO' (RESP3 (HELLO 3) needs Redis >= 6.0)");
  });
});
