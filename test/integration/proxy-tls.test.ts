/**
 * TLS on the client and backend legs with real certificates (made with openssl in the test): redis-cli
 * --tls, ioredis and node-redis through a TLS proxy to TLS-only redis-servers that require a client
 * certificate; a client trusting another CA is refused, as is a client without a certificate when
 * tls.clientAuth is yes, and a proxy trusting another CA never reaches its backends; plain and TLS ports side
 * by side; certificates rotated without a restart.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { evenRanges } from '../../deploy/local/seed.js';
import { issueCert, type CertFiles, type LocalCa } from '../../shared/tls/certs.js';
import { freePort } from '../support/free-port.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { useTestCa } from '../support/test-ca.js';
import { rawExchange, sleep } from './proxy-cluster.js';

const run = promisify(execFile);

let dir: string;
let ca: LocalCa;
let otherCa: LocalCa;
let server: CertFiles;
let client: CertFiles;
const groups: RedisServerHandle[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

useTestCa('redslot-tls-', 'server', (made) => ({ dir, ca, otherCa, server, client } = made));

beforeAll(async () => {
  // TLS-only Redis (port 0 = no plain port) that requires a client certificate from our CA.
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    groups.push(await startRedis(['--port', '0', '--tls-port', String(port), '--tls-cert-file', server.cert, '--tls-key-file', server.key,
      '--tls-ca-cert-file', ca.cert, '--tls-auth-clients', 'yes'], { port }));
  }
});

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
  await Promise.all(groups.map((g) => g.stop()));
});

async function proxy(overrides: Record<string, unknown>): Promise<ProxyHandle> {
  const config = loadProxyConfig({
    env: {},
    overrides: {
      listen: '127.0.0.1:0',
      admin: '',
      topology: { groups: groups.map((g, i) => ({ id: i + 1, servers: [{ addr: g.addr, role: 'master' }] })), slots: evenRanges([1, 2]) },
      backend: { tls: { ca: ca.cert, cert: client.cert, key: client.key } },
      ...overrides,
    },
  });
  const p = await startProxy({ config, defaultMetrics: false });
  cleanups.push(() => p.close({ deadlineMs: 500 }));
  return p;
}

/** The SHA-256 fingerprint of the certificate a TLS server presents. */
function peerFingerprint(port: number, caFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', ca: readFileSync(caFile) }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

describe('TLS: clients -> proxy -> Redis', () => {
  it('redis-cli --tls, ioredis and node-redis through a TLS proxy to TLS-only backends (client certificate toward Redis)', async () => {
    const p = await proxy({ tls: { cert: server.cert, key: server.key } });
    // The RESP port is TLS only: plain RESP gets no reply.
    expect((await rawExchange(p.port, 'PING\r\n', 500)).data.toString()).not.toContain('+PONG');

    const cli = (...args: string[]) => run('redis-cli', ['--tls', '--cacert', ca.cert, '-h', '127.0.0.1', '-p', String(p.port), ...args]);
    expect((await cli('SET', 'tls:cli', 'v1')).stdout.trim()).toBe('OK');
    expect((await cli('GET', 'tls:cli')).stdout.trim()).toBe('v1');

    const io = new Redis({ port: p.port, host: '127.0.0.1', tls: { ca: readFileSync(ca.cert) }, maxRetriesPerRequest: 0 });
    cleanups.push(() => io.disconnect());
    const keys = Array.from({ length: 40 }, (_, i) => `tls:k${i}`);
    await io.mset(...keys.flatMap((k) => [k, `v-${k}`]));
    expect(await io.mget(...keys)).toEqual(keys.map((k) => `v-${k}`));

    const nr = createClient({ socket: { port: p.port, host: '127.0.0.1', tls: true, ca: readFileSync(ca.cert), reconnectStrategy: false } });
    nr.on('error', () => {});
    await nr.connect();
    cleanups.push(() => nr.close().catch(() => {}));
    expect(await nr.get('tls:cli')).toBe('v1');
    expect(await nr.dbSize()).toBe(41);
    // The keys are on both TLS backends.
    const direct = groups.map((g) => new Redis({ port: g.port, host: '127.0.0.1', tls: { ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key) } }));
    cleanups.push(() => direct.forEach((d) => d.disconnect()));
    const sizes = await Promise.all(direct.map((d) => d.dbsize()));
    expect(sizes.every((n) => n > 0)).toBe(true);
    // Fan-out values referenced rather than copied (4 KB and more) go out as several slices over TLS too.
    const big = keys.slice(0, 8).map((k, i) => [k, Buffer.alloc([3, 4095, 4096, 20_000][i % 4]!, 0x30 + i)] as const);
    expect(await io.mset(...big.flat())).toBe('OK');
    const back = await io.mgetBuffer(...big.map(([k]) => k));
    big.forEach(([, v], i) => expect(back[i]!.equals(v)).toBe(true));
  });

  it('a client trusting another CA is refused; tls.clientAuth yes refuses clients without a certificate', async () => {
    const p = await proxy({ tls: { cert: server.cert, key: server.key, ca: ca.cert, clientAuth: 'yes' } });
    await expect(run('redis-cli', ['--tls', '--cacert', otherCa.cert, '-h', '127.0.0.1', '-p', String(p.port), 'PING'])).rejects.toThrow();
    await expect(peerFingerprint(p.port, otherCa.cert)).rejects.toThrow(/unable to verify|self.signed|certificate/i);
    // Right CA, no client certificate: the handshake fails.
    const anonymous = run('redis-cli', ['--tls', '--cacert', ca.cert, '-h', '127.0.0.1', '-p', String(p.port), 'PING']);
    await expect(anonymous.then((r) => r.stdout)).rejects.toThrow();
    const withCert = await run('redis-cli', ['--tls', '--cacert', ca.cert, '--cert', client.cert, '--key', client.key, '-h', '127.0.0.1', '-p', String(p.port), 'PING']);
    expect(withCert.stdout.trim()).toBe('PONG');
  });

  it('a proxy that trusts another CA for its backends never talks to them', async () => {
    const p = await proxy({ tls: { cert: server.cert, key: server.key }, backend: { tls: { ca: otherCa.cert, cert: client.cert, key: client.key }, dialTimeout: '1s' } });
    const io = new Redis({ port: p.port, host: '127.0.0.1', tls: { ca: readFileSync(ca.cert) }, maxRetriesPerRequest: 0 });
    cleanups.push(() => io.disconnect());
    await expect(io.get('tls:cli')).rejects.toThrow(/^ERR backend 127\.0\.0\.1:\d+ (unavailable|connection lost)/);
  });

  it('plain and TLS ports side by side (tls.listen); a rotated certificate is served without a restart', async () => {
    const live = { cert: path.join(dir, 'live.crt'), key: path.join(dir, 'live.key') };
    copyFileSync(server.cert, live.cert);
    copyFileSync(server.key, live.key);
    const tlsPort = await freePort();
    const p = await proxy({ tls: { cert: live.cert, key: live.key, listen: `127.0.0.1:${tlsPort}`, reloadInterval: '100ms' } });
    expect((await rawExchange(p.port, 'PING\r\n', 500)).data.toString()).toBe('+PONG\r\n');
    const before = await peerFingerprint(tlsPort, ca.cert);
    expect(before).toBe(new crypto.X509Certificate(readFileSync(server.cert)).fingerprint256);
    const kept = new Redis({ port: tlsPort, host: '127.0.0.1', tls: { ca: readFileSync(ca.cert) }, maxRetriesPerRequest: 0 });
    cleanups.push(() => kept.disconnect());
    expect(await kept.ping()).toBe('PONG');

    const rotated = issueCert(ca, 'server-rotated');
    copyFileSync(rotated.key, live.key);
    copyFileSync(rotated.cert, live.cert);
    const want = new crypto.X509Certificate(readFileSync(rotated.cert)).fingerprint256;
    const deadline = Date.now() + 5000;
    let now = before;
    while (now !== want && Date.now() < deadline) {
      await sleep(100);
      now = await peerFingerprint(tlsPort, ca.cert);
    }
    expect(now).toBe(want);
    // The connection opened before the rotation keeps working.
    expect(await kept.ping()).toBe('PONG');
  });
});
