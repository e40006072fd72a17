/**
 * etcd over TLS with client-certificate authentication (--cert-file/--key-file/--trusted-ca-file
 * --client-cert-auth, certificates made by openssl in the test): a dashboard (configured as `redslot dashboard`
 * would be, etcd.tls in its config) leads and writes the topology, a real proxy (etcd.tls in its config)
 * registers, follows the table and serves commands; a client trusting another CA, or without a client
 * certificate, or over plain http, is refused. `redslot etcd-auth` (the Kubernetes Job) then enables
 * authentication over TLS with the least-privilege roles, idempotently.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDashboardConfig } from '../../dashboard/config.js';
import { dashboardOptionsFromConfig, startDashboard } from '../../dashboard/main.js';
import { seedTopology } from '../../deploy/local/seed.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy } from '../../proxy/main.js';
import { parseEtcdSecurity } from '../../shared/coordinator/etcd-security.js';
import { openCoordinator } from '../../shared/coordinator/index.js';
import { slotsFromRanges } from '../../shared/model/topology.js';
import type { CertFiles, LocalCa } from '../../shared/tls/certs.js';
import { startEtcd, type EtcdHandle } from '../support/etcd-server.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { waitFor } from '../unit/dashboard-harness.js';
import { runEtcdAuthCommand } from '../../deploy/etcd/auth-setup.js';
import { useTestCa } from '../support/test-ca.js';

const CLUSTER = 'tlsc';
const TOKEN = 'etcd-tls-test-token-0123';

let ca: LocalCa;
let otherCa: LocalCa;
let server: CertFiles;
let client: CertFiles;
let etcd: EtcdHandle;
let redis: RedisServerHandle;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

useTestCa('redslot-etcd-tls-', 'etcd', (made) => ({ ca, otherCa, server, client } = made));

beforeAll(async () => {
  [etcd, redis] = await Promise.all([startEtcd({ tls: { cert: server.cert, key: server.key, ca: ca.cert, clientCertAuth: true } }), startRedis()]);
});

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
  await Promise.all([etcd?.stop(), redis?.stop()]);
});

const url = () => `etcd://${etcd.endpoint}/${CLUSTER}`;

async function open(tls: Record<string, string> | null) {
  const security = parseEtcdSecurity(tls === null ? {} : { tls }, 'etcd');
  const o = await openCoordinator(url(), { etcd: { callTimeoutMs: 2000, security } });
  cleanups.push(() => o.coordinator.close());
  return o;
}

describe('etcd over TLS with client certificates', () => {
  it('the dashboard and a real proxy work with the CA and a client certificate', async () => {
    const etcdTls = { ca: ca.cert, cert: client.cert, key: client.key };
    const cfg = loadDashboardConfig({ coordinator: url(), listen: '127.0.0.1:0', token: TOKEN, etcd: { tls: etcdTls } }, {});
    const dashboard = await startDashboard({ ...dashboardOptionsFromConfig(cfg), options: { ...dashboardOptionsFromConfig(cfg).options, stats: false } });
    cleanups.push(() => dashboard.close());
    await waitFor(() => dashboard.app.dashboard.election.isLeader(), 10_000, 'leader over TLS');

    const admin = await open(etcdTls);
    await seedTopology(admin.coordinator, admin.paths, CLUSTER, [{ id: 1, weight: 1, servers: [{ addr: redis.addr, role: 'master' }] }], slotsFromRanges([[0, 1023, 1]]));
    const proxy = await startProxy({
      config: loadProxyConfig({ env: {}, overrides: { listen: '127.0.0.1:0', admin: '', coordinator: url(), etcd: { tls: etcdTls } } }),
      defaultMetrics: false,
    });
    cleanups.push(() => proxy.close({ deadlineMs: 500 }));
    const io = new Redis({ port: proxy.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    cleanups.push(() => io.disconnect());
    await waitFor(async () => (await io.set('etcd-tls', 'yes').catch(() => null)) === 'OK', 10_000, 'proxy serves');
    expect(await io.get('etcd-tls')).toBe('yes');
    // The proxy registered itself in etcd (over TLS); the dashboard lists it.
    await waitFor(async () => (await admin.coordinator.getPrefix(admin.paths.proxies)).kvs.length === 1, 10_000, 'proxy registered');
    const listed = await dashboard.app.inject({ method: 'GET', url: '/api/v1/proxies', headers: { authorization: `Bearer ${TOKEN}` } });
    expect((listed.json() as { proxies: unknown[] }).proxies).toHaveLength(1);
  });

  it('another CA, no client certificate, and plain http are refused', async () => {
    const wrongCa = await open({ ca: otherCa.cert, cert: client.cert, key: client.key });
    await expect(wrongCa.coordinator.get(wrongCa.paths.slot(0))).rejects.toThrow();
    const anonymous = await open({ ca: ca.cert });
    await expect(anonymous.coordinator.get(anonymous.paths.slot(0))).rejects.toThrow();
    const plain = await open(null);
    await expect(plain.coordinator.get(plain.paths.slot(0))).rejects.toThrow();
    // The right settings read what the first test wrote.
    const good = await open({ ca: ca.cert, cert: client.cert, key: client.key });
    expect((await good.coordinator.get(good.paths.slot(0)))?.value.toString()).toContain('"group":1');
  });

  it('redslot etcd-auth turns on authentication with the least-privilege roles over TLS, and runs again unchanged', async () => {
    const etcdTls = { ca: ca.cert, cert: client.cert, key: client.key };
    const env = {
      REDSLOT_ETCD_ROOT_PASSWORD: 'root-password-0123456',
      REDSLOT_ETCD_PROXY_PASSWORD: 'proxy-password-0123456',
      REDSLOT_ETCD_DASHBOARD_PASSWORD: 'dashboard-password-0123',
    };
    const argv = ['--coordinator', url(), '--ca', ca.cert, '--cert', client.cert, '--key', client.key];
    expect(await runEtcdAuthCommand(argv, env)).toBe(0);
    // A second run (the Job on the next deploy) connects as root (the client certificate alone is no user now).
    expect(await runEtcdAuthCommand(argv, env)).toBe(0);
    expect(await runEtcdAuthCommand(argv, { ...env, REDSLOT_ETCD_PROXY_PASSWORD: 'short' })).toBe(1);

    const asUser = async (user: string, password: string) => {
      const o = await openCoordinator(url(), { etcd: { callTimeoutMs: 2000, security: parseEtcdSecurity({ tls: etcdTls, user, password }, 'etcd') } });
      cleanups.push(() => o.coordinator.close());
      return o;
    };
    const proxyUser = await asUser('redslot-proxy', env.REDSLOT_ETCD_PROXY_PASSWORD);
    expect((await proxyUser.coordinator.get(proxyUser.paths.slot(0)))?.value.toString()).toContain('"group":1');
    await expect(proxyUser.coordinator.put(proxyUser.paths.slot(0), '{}')).rejects.toThrow(/permission denied/i);
    const dashUser = await asUser('redslot-dashboard', env.REDSLOT_ETCD_DASHBOARD_PASSWORD);
    const before = (await dashUser.coordinator.get(dashUser.paths.slot(0)))!.value.toString();
    await dashUser.coordinator.put(dashUser.paths.slot(0), before);
    // A client certificate alone (no user) no longer reads anything.
    const certOnly = await open(etcdTls);
    await expect(certOnly.coordinator.get(certOnly.paths.slot(0))).rejects.toThrow();
  });
});
