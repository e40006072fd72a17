/**
 * The dashboard's control plane over TLS to TLS-only redis-servers that require client certificates
 * (redisTls, the same settings the proxies use as backend.tls): servers are added (INFO, ROLE over TLS), slots
 * assigned, and keys migrated online from one group to another (the mover's SCAN/MIGRATE links over TLS, MIGRATE
 * between the servers over their own tls-cluster setting), then read through a TLS-backed proxy and on the
 * target directly. A dashboard without redisTls cannot reach these servers and says so.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdminCommand } from '../../dashboard/cli/index.js';
import { runMigrationCommand } from '../../dashboard/cli/migrations.js';
import { startDashboard, type RunningDashboard } from '../../dashboard/main.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy, type ProxyHandle } from '../../proxy/main.js';
import { openCoordinator, type OpenedCoordinator } from '../../shared/coordinator/index.js';
import { setLogLevel } from '../../shared/log.js';
import type { CertFiles, LocalCa } from '../../shared/tls/certs.js';
import { parseTlsClient } from '../../shared/tls/config.js';
import { freePort } from '../support/free-port.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { useTestCa } from '../support/test-ca.js';
import { uniqueCluster, waitFor } from '../unit/dashboard-harness.js';

setLogLevel('silent');
const TOKEN = 'redis-tls-test-token-0123';

let ca: LocalCa;
let server: CertFiles;
let client: CertFiles;
let opened: OpenedCoordinator;
let dashboard: RunningDashboard;
let proxy: ProxyHandle;
const redis: RedisServerHandle[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

async function cli(run: typeof runAdminCommand, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run([...argv, '--dashboard', dashboard.url, '--token', TOKEN], { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {} });
  return { code, out, err };
}

useTestCa('redslot-redis-tls-', 'server', (made) => ({ ca, server, client } = made));

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    // TLS only, client certificates required, and MIGRATE / replication between servers over TLS too.
    redis.push(await startRedis(['--port', '0', '--tls-port', String(port), '--tls-cert-file', server.cert, '--tls-key-file', server.key,
      '--tls-ca-cert-file', ca.cert, '--tls-auth-clients', 'yes', '--tls-cluster', 'yes', '--tls-replication', 'yes'], { port }));
  }
  const backendTls = { ca: ca.cert, cert: client.cert, key: client.key };
  opened = await openCoordinator(`memory://${uniqueCluster('redis-tls')}`);
  dashboard = await startDashboard({
    coordinator: opened,
    listen: '127.0.0.1:0',
    token: TOKEN,
    options: { redisTls: parseTlsClient(backendTls, 'redisTls'), stats: false, migration: { pollMs: 100 } },
  });
  cleanups.push(() => dashboard.close());
  await waitFor(() => dashboard.app.dashboard.election.isLeader(), 5000, 'leader');
  proxy = await startProxy({
    config: loadProxyConfig({ env: {}, overrides: { listen: '127.0.0.1:0', admin: '', coordinator: `memory://${opened.cluster}`, backend: { tls: backendTls } } }),
    defaultMetrics: false,
  });
  cleanups.push(() => proxy.close({ deadlineMs: 500 }));
});

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
  await opened?.coordinator.close();
  await Promise.all(redis.map((r) => r.stop()));
});

describe('dashboard -> Redis over TLS', () => {
  it('adds TLS-only servers, assigns slots and migrates keys between them', async () => {
    const [a, b] = redis.map((r) => r.addr) as [string, string];
    expect((await cli(runAdminCommand, 'group', 'create', '1')).code).toBe(0);
    expect((await cli(runAdminCommand, 'group', 'create', '2')).code).toBe(0);
    const addA = await cli(runAdminCommand, 'server', 'add', '1', a);
    expect(addA, addA.err).toMatchObject({ code: 0, err: '' });
    expect((await cli(runAdminCommand, 'server', 'add', '2', b)).code).toBe(0);
    expect((await cli(runAdminCommand, 'slots', 'assign', '--range', '0-1023', '--group', '1')).code).toBe(0);

    const io = new Redis({ port: proxy.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    cleanups.push(() => io.disconnect());
    await waitFor(async () => (await io.set('probe', '1').catch(() => null)) === 'OK', 10_000, 'proxy serves the new table');
    const keys = Array.from({ length: 300 }, (_, i) => `tls-mig:${i}`);
    await io.mset(...keys.flatMap((k) => [k, `v-${k}`]));

    const started = await cli(runMigrationCommand, 'migrate', 'range', '0-511', '--to', '2');
    expect(started, started.err).toMatchObject({ code: 0 });
    const watched = await cli(runMigrationCommand, 'migrations', '--watch', '--interval', '0.1');
    expect(watched.out).toMatch(/done/);

    // Every key still readable through the proxy; the target holds the moved ones (read over TLS directly).
    expect(await io.mget(...keys)).toEqual(keys.map((k) => `v-${k}`));
    const target = new Redis({ port: redis[1]!.port, host: '127.0.0.1', tls: { ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key) } });
    cleanups.push(() => target.disconnect());
    const moved = await target.dbsize();
    expect(moved).toBeGreaterThan(100);
    const source = new Redis({ port: redis[0]!.port, host: '127.0.0.1', tls: { ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key) } });
    cleanups.push(() => source.disconnect());
    expect(moved + (await source.dbsize())).toBe(keys.length + 1);
  });

  it('a dashboard without redisTls cannot reach TLS-only servers and says why', async () => {
    const plain = await startDashboard({ coordinator: `memory://${uniqueCluster('redis-plain')}`, listen: '127.0.0.1:0', token: TOKEN, options: { stats: false, dialTimeoutMs: 1000 } });
    cleanups.push(() => plain.close());
    await waitFor(() => plain.app.dashboard.election.isLeader(), 5000, 'leader');
    let err = '';
    await runAdminCommand(['group', 'create', '1', '--dashboard', plain.url, '--token', TOKEN], { stdout: () => undefined, stderr: () => undefined, env: {} });
    const code = await runAdminCommand(['server', 'add', '1', redis[0]!.addr, '--dashboard', plain.url, '--token', TOKEN], { stdout: () => undefined, stderr: (s) => (err += s), env: {} });
    expect(code).toBe(1);
    expect(err).toMatch(/REDSLOT_ERR_REDIS_(UNREACHABLE|TIMEOUT)/);
  });
});
