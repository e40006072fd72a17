/**
 * What must NOT fail over, on real servers (failover.downAfter shortened to 1 s to keep the test short):
 * - a partition: one proxy cannot reach a healthy master (its probes go through a relay that is closed) while
 *   the dashboard and the other proxy can: no failover, the group stays "suspect" with 1 of 2 votes;
 * - a group whose replica is gone too: no eligible replica, a loud alert (status, audit) and no promotion;
 * - a group with failover disabled: its dead master is reported, nothing is promoted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setLogLevel } from '../../shared/log.js';
import type { AuditRecord } from '../../shared/model/types.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { startFailoverCluster, until, type FailoverCluster } from './failover-cluster.js';

interface GroupView {
  gid: number;
  state: string;
  enabled: boolean;
  downVotes: number;
  quorum: number;
  liveProxies: number;
  masterReachable: boolean | null;
  alert?: string;
}

let c: FailoverCluster;
let relay: TcpRelay;
const redirect = new Map<string, string>();

beforeAll(async () => {
  setLogLevel('error');
  c = await startFailoverCluster({
    groups: 3,
    replicas: 1,
    proxies: 2,
    failover: { downAfterMs: 1000, cooldownMs: 0 },
    onServers: async (servers) => {
      const m = servers[0]![0]!;
      relay = await startTcpRelay(m.port);
      redirect.set(m.addr, relay.endpoint);
    },
    reachabilityDialAddr: [(a) => redirect.get(a) ?? a, undefined],
  });
}, 60_000);

afterAll(async () => {
  await c?.stop();
  await relay?.stop();
});

async function group(gid: number): Promise<GroupView> {
  const v = await c.api<{ groups: GroupView[] }>('GET', '/api/v1/failover');
  return v.groups.find((g) => g.gid === gid)!;
}

async function audit(): Promise<AuditRecord[]> {
  return (await c.api<{ entries: AuditRecord[] }>('GET', '/api/v1/audit?limit=200')).entries;
}

describe('failover quorum and refusals (real servers, downAfter 1 s)', () => {
  it('partition: one proxy cannot reach a healthy master, the dashboard and the other proxy can: no failover', async () => {
    const master = c.servers[0]![0]!.addr;
    await relay.close();
    // The cut proxy votes "down"; the other does not, and the dashboard reaches the master itself.
    const g = await until(async () => {
      const v = await group(1);
      return v.downVotes === 1 ? v : undefined;
    }, 10_000, 'one down vote for group 1');
    expect(g).toMatchObject({ liveProxies: 2, quorum: 2, masterReachable: true, state: 'suspect' });
    // Three times downAfter later: still the same master, nothing decided.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await c.group(1)).servers.find((s) => s.role === 'master')!.addr).toBe(master);
    expect((await audit()).filter((e) => e.action.startsWith('group.failover') && e.target === 'group 1')).toEqual([]);
    await relay.reopen();
    await until(async () => (await group(1)).state === 'ok', 10_000, 'group 1 ok again');
  }, 30_000);

  it('no eligible replica: master and replica both dead -> no promotion, an alert in status and the audit log', async () => {
    const [master, replica] = c.servers[1]!;
    await replica!.proc.kill9();
    await master!.proc.kill9();
    const g = await until(async () => {
      const v = await group(2);
      return v.state === 'no-eligible-replica' ? v : undefined;
    }, 15_000, 'group 2 alert');
    expect(g.alert).toMatch(/no replica is eligible/);
    expect(g.alert).toContain(replica!.addr);
    const refused = (await audit()).find((e) => e.action === 'group.failover' && e.target === 'group 2');
    expect(refused?.result).toBe('refused');
    expect(refused?.detail).toMatch(/"votes"/);
    expect((await c.group(2)).servers.find((s) => s.role === 'master')!.addr).toBe(master!.addr);
    const metrics = await (await fetch(`${c.dashboard.url}/metrics`)).text();
    expect(metrics).toMatch(/redslot_dashboard_failover_group_state\{group="2",state="no-eligible-replica"\} 1/);
  }, 30_000);

  it('failover disabled for a group: its dead master is reported, nothing is promoted', async () => {
    expect(await c.api('PUT', '/api/v1/groups/3/failover', { enabled: false })).toEqual({ gid: 3, enabled: false, sentinel: null });
    const master = c.servers[2]![0]!;
    await master.proc.kill9();
    const g = await until(async () => {
      const v = await group(3);
      return v.state === 'disabled' ? v : undefined;
    }, 15_000, 'group 3 reported down with failover disabled');
    expect(g.enabled).toBe(false);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await c.group(3)).servers.find((s) => s.role === 'master')!.addr).toBe(master.addr);
    const entries = await audit();
    expect(entries.some((e) => e.action === 'group.failover.disable' && e.target === 'group 3' && e.result === 'ok')).toBe(true);
    expect(entries.some((e) => e.action === 'group.failover.decided' && e.target === 'group 3')).toBe(false);
    // Enabled again: the failover happens.
    await c.api('PUT', '/api/v1/groups/3/failover', { enabled: true });
    await until(async () => (await c.group(3)).servers.find((s) => s.role === 'master')!.addr === c.servers[2]![1]!.addr, 15_000, 'group 3 failed over once enabled');
  }, 40_000);
});
