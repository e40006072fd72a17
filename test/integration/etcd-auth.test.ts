/**
 * etcd with authentication enabled and redslot's least-privilege roles (etcdRoleCommands): the dashboard's
 * user may write the slot table; a proxy's user may not, yet it can do everything a proxy does (register,
 * follow the table, acknowledge) - a real proxy serves commands with only those rights. Unauthenticated and
 * wrong-password clients are refused.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy } from '../../proxy/main.js';
import { etcdRoleCommands, type EtcdSecurity } from '../../shared/coordinator/etcd-security.js';
import { openCoordinator } from '../../shared/coordinator/index.js';
import { seedTopology } from '../../deploy/local/seed.js';
import { slotsFromRanges } from '../../shared/model/topology.js';
import { startEtcd, type EtcdHandle } from '../support/etcd-server.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';

const run = promisify(execFile);
const CLUSTER = 'authc';
const creds = (user: string, password: string): EtcdSecurity => ({ tls: null, user, password });
const DASHBOARD = creds('dash', 'dashboard-password-1');
const PROXY = creds('proxy-a', 'proxy-password-1');

let etcd: EtcdHandle;
let redis: RedisServerHandle;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  [etcd, redis] = await Promise.all([startEtcd(), startRedis()]);
  const ctl = (...args: string[]) => run('etcdctl', ['--endpoints', `http://${etcd.endpoint}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  await ctl('user', 'add', 'root', '--new-user-password', 'root-password-1');
  await ctl('user', 'grant-role', 'root', 'root');
  await ctl('user', 'add', PROXY.user, '--new-user-password', PROXY.password);
  await ctl('user', 'add', DASHBOARD.user, '--new-user-password', DASHBOARD.password);
  for (const c of etcdRoleCommands(CLUSTER, { proxy: PROXY.user, dashboard: DASHBOARD.user })) await ctl(...c);
  await ctl('auth', 'enable');
});

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
  await Promise.all([etcd?.stop(), redis?.stop()]);
});

async function open(security: EtcdSecurity | undefined) {
  const o = await openCoordinator(`etcd://${etcd.endpoint}/${CLUSTER}`, { etcd: { callTimeoutMs: 2000, ...(security ? { security } : {}) } });
  cleanups.push(() => o.coordinator.close());
  return o;
}

describe('etcd authentication with least-privilege roles', () => {
  it("the dashboard's user writes the slot table; a proxy's user cannot, but registers; no or wrong credentials are refused", async () => {
    const dash = await open(DASHBOARD);
    await seedTopology(dash.coordinator, dash.paths, CLUSTER, [{ id: 1, weight: 1, servers: [{ addr: redis.addr, role: 'master' }] }], slotsFromRanges([[0, 1023, 1]]));
    expect((await dash.coordinator.get(dash.paths.slot(5)))?.value.toString()).toContain('"group":1');

    const proxy = await open(PROXY);
    expect((await proxy.coordinator.get(proxy.paths.slot(5)))?.value.toString()).toContain('"group":1');
    await expect(proxy.coordinator.put(proxy.paths.slot(5), JSON.stringify({ id: 5, group: 2 }))).rejects.toThrow(/permission denied/i);
    await expect(proxy.coordinator.put(proxy.paths.group(9), '{}')).rejects.toThrow(/permission denied/i);
    const lease = await proxy.coordinator.grantLease(5);
    await proxy.coordinator.put(proxy.paths.proxy('p-test'), '{}', { lease: lease.id });
    await proxy.coordinator.put(proxy.paths.ack('p-test'), '{"revision":1}', { lease: lease.id });
    // Nothing outside its cluster either.
    await expect(proxy.coordinator.put('/redslot/other/proxies/x', '{}')).rejects.toThrow(/permission denied/i);
    expect((await dash.coordinator.get(dash.paths.slot(5)))?.value.toString()).toContain('"group":1');

    const anonymous = await open(undefined);
    await expect(anonymous.coordinator.get(anonymous.paths.slot(5))).rejects.toThrow(/user name is empty|permission denied|authentication/i);
    const wrong = await open(creds(PROXY.user, 'not-the-password'));
    await expect(wrong.coordinator.get(wrong.paths.slot(5))).rejects.toThrow(/authentication failed|invalid/i);
  });

  it("a real proxy follows the table and serves commands with only the proxy role's rights", async () => {
    const config = loadProxyConfig({
      env: {},
      overrides: { listen: '127.0.0.1:0', admin: '', coordinator: `etcd://${etcd.endpoint}/${CLUSTER}`, etcd: { user: PROXY.user, password: PROXY.password } },
    });
    const p = await startProxy({ config, defaultMetrics: false });
    cleanups.push(() => p.close({ deadlineMs: 500 }));
    expect(p.runtime.appliedRevision()).toBeGreaterThan(0);
    const io = new Redis({ port: p.port, maxRetriesPerRequest: 0 });
    cleanups.push(() => io.disconnect());
    expect(await io.set('etcd-auth', 'ok')).toBe('OK');
    expect(await io.get('etcd-auth')).toBe('ok');
    const dash = await open(DASHBOARD);
    const acks = await dash.coordinator.getPrefix(dash.paths.acks);
    expect(acks.kvs.length).toBeGreaterThan(0);
  });
});
