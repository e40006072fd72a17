/**
 * Dashboard high availability on a real etcd: two dashboard PROCESSES (`node dist/dashboard/entry.js`, or through tsx
 * when dist/ is stale),
 * spawned directly so the PID is the dashboard) share one cluster. One leads, the other is a standby that
 * serves reads and refuses writes naming the leader. The leader is killed with SIGKILL (no chance to revoke
 * its lease): the standby must lead within the lease TTL + 1 s, and a CLI command sent to it right after must
 * succeed. Then a graceful SIGTERM of a leader hands over at once (the lease is revoked on the way out).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeArgsFor } from '../support/compiled.js';
import { runAdminCommand } from '../../dashboard/cli/index.js';
import { DashboardClient } from '../../dashboard/cli/api-client.js';
import { startEtcd, type EtcdHandle } from '../support/etcd-server.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess, type Spawned } from '../support/processes.js';

const TOKEN = 'ha-test-token-0123456789';
const TTL_S = 3; // etcd's minimum lease TTL with default election timeouts

interface DashProc {
  proc: Spawned;
  url: string;
  client: DashboardClient;
}

let etcd: EtcdHandle;
const dashboards: DashProc[] = [];

async function spawnDashboard(cluster: string): Promise<DashProc> {
  const port = await freePort();
  const proc = spawnProcess('dashboard', process.execPath, [
    ...nodeArgsFor('dashboard/entry.ts'),
    '--coordinator', `etcd://${etcd.endpoint}/${cluster}`,
    '--listen', `127.0.0.1:${port}`,
    '--lease-ttl', `${TTL_S}s`,
    '--log-level', 'warn',
  ], { ...process.env, REDSLOT_DASHBOARD_TOKEN: TOKEN });
  const d: DashProc = { proc, url: `http://127.0.0.1:${port}`, client: new DashboardClient({ baseUrl: `http://127.0.0.1:${port}`, token: TOKEN, timeoutMs: 2000 }) };
  dashboards.push(d);
  try {
    await waitForPort(port, '127.0.0.1', 20_000);
  } catch (err) {
    throw new Error(`dashboard did not start: ${proc.log()}`, { cause: err });
  }
  return d;
}

/** A cluster name of its own per attempt: a retried test must not meet the dashboards of its first attempt. */
let attempt = 0;
function freshCluster(name: string): string {
  return `${name}-${++attempt}`;
}

async function roleOf(d: DashProc): Promise<string> {
  try {
    return (await d.client.health()).role;
  } catch {
    return 'down';
  }
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function cli(d: DashProc, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAdminCommand([...argv, '--dashboard', d.url], { stdout: (s) => (out += s), stderr: (s) => (err += s), env: { REDSLOT_TOKEN: TOKEN } });
  return { code, out, err };
}

beforeAll(async () => {
  etcd = await startEtcd();
});

afterAll(async () => {
  await Promise.all(dashboards.map((d) => d.proc.stop()));
  await etcd?.stop();
});

describe('two dashboards on etcd', () => {
  it('kill -9 of the leader: the standby leads within TTL + 1 s and a CLI command right after succeeds', async () => {
    const cluster = freshCluster('ha1');
    const [a, b] = await Promise.all([spawnDashboard(cluster), spawnDashboard(cluster)]);
    const roles = await until(async () => [await roleOf(a!), await roleOf(b!)], (r) => r.includes('leader') && r.includes('standby'), 15_000, 'one leader and one standby');
    const leader = roles[0] === 'leader' ? a! : b!;
    const standby = leader === a ? b! : a!;

    // The standby serves reads and refuses writes, naming the leader's address.
    expect((await cli(standby, 'status')).code).toBe(0);
    const refused = await cli(standby, 'group', 'create', '1');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('REDSLOT_ERR_NOT_LEADER');
    expect(refused.err).toContain(leader.url.replace('http://', ''));
    expect((await cli(leader, 'group', 'create', '1')).code).toBe(0);

    const killedAt = Date.now();
    await leader.proc.kill9();
    await until(() => roleOf(standby), (r) => r === 'leader', (TTL_S + 1) * 1000 + 2000, 'the standby to lead');
    const tookMs = Date.now() - killedAt;
    const created = await cli(standby, 'group', 'create', '2');
    expect(created, created.err).toMatchObject({ code: 0 });
    expect(tookMs).toBeLessThanOrEqual((TTL_S + 1) * 1000);

    const status = JSON.parse((await cli(standby, 'status', '--json')).out);
    expect(status.leader.addr).toBe(standby.url.replace('http://', ''));
    expect(status.groups.map((g: { id: number }) => g.id)).toEqual([1, 2]);
    expect(status.members).toHaveLength(1); // the killed one's membership expired with its lease
    const audit = JSON.parse((await cli(standby, 'audit', '--json')).out).entries as Array<{ action: string; result: string; target: string }>;
    expect(audit.slice(0, 3).map((e) => `${e.action} ${e.target} ${e.result}`)).toEqual(['group.create group 2 ok', 'group.create group 1 ok', 'group.create group 1 refused']);
    console.log(`dashboard takeover after kill -9: ${tookMs} ms (lease TTL ${TTL_S} s)`);
  });

  it('SIGTERM of the leader revokes its lease: the standby leads at once', async () => {
    const cluster = freshCluster('ha2');
    const [a, b] = await Promise.all([spawnDashboard(cluster), spawnDashboard(cluster)]);
    const roles = await until(async () => [await roleOf(a!), await roleOf(b!)], (r) => r.includes('leader') && r.includes('standby'), 15_000, 'one leader and one standby');
    const leader = roles[0] === 'leader' ? a! : b!;
    const standby = leader === a ? b! : a!;
    const stoppedAt = Date.now();
    await leader.proc.stop();
    expect(leader.proc.child.exitCode).toBe(0);
    // Bounded by the lease TTL, the property under test (no wait for expiry); 2 s was too tight on a loaded CI machine.
    await until(() => roleOf(standby), (r) => r === 'leader', TTL_S * 1000, 'the standby to lead');
    expect(Date.now() - stoppedAt).toBeLessThan(TTL_S * 1000);
    const created = await cli(standby, 'group', 'create', '5');
    expect(created, created.err).toMatchObject({ code: 0 });
  });
});
