/**
 * The admin CLI (runAdminCommand) against a running local cluster: real redis-servers, a dashboard listening
 * on a free loopback port (startDashboard, embedded memory coordinator) and a proxy's coordinator follower
 * registered and acknowledging. Scenario: create groups, add their servers, assign slots, read the status in
 * human and --json form, then the error paths and their exit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_COMMANDS, runAdminCommand } from '../../dashboard/cli/index.js';
import { startDashboard, type RunningDashboard } from '../../dashboard/main.js';
import { createFollowerDriver } from '../../proxy/topology/follower.js';
import { openCoordinator, type OpenedCoordinator } from '../../shared/coordinator/index.js';
import { withRedisAdmin } from '../../dashboard/redis/admin.js';
import { freePort } from '../support/free-port.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { uniqueCluster, waitFor } from '../unit/dashboard-harness.js';
import { RecordingRuntime } from './follower-support.js';

const TOKEN = 'cli-test-token-123456';

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

let dashboard: RunningDashboard;
let opened: OpenedCoordinator;
let follower: { stop(): Promise<void> };
const redis: RedisServerHandle[] = [];

async function cli(...argv: string[]): Promise<Out> {
  let stdout = '';
  let stderr = '';
  const code = await runAdminCommand([...argv, '--dashboard', dashboard.url], {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: { REDSLOT_TOKEN: TOKEN },
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  redis.push(...(await Promise.all([startRedis(), startRedis(), startRedis()])));
  opened = await openCoordinator(`memory://${uniqueCluster('cli')}`);
  dashboard = await startDashboard({ coordinator: opened, listen: '127.0.0.1:0', token: TOKEN, options: { stats: true, statsIntervalMs: 200 } });
  await waitFor(() => dashboard.app.dashboard.election.isLeader(), 5000, 'leader');
  const driver = createFollowerDriver({
    coordinator: opened.coordinator,
    cluster: opened.cluster,
    proxy: { id: 'proxy-a', addr: '127.0.0.1:19999', adminAddr: `127.0.0.1:${await freePort()}` },
    leaseTtlSeconds: 5,
  });
  follower = await driver(new RecordingRuntime());
});

afterAll(async () => {
  await follower?.stop();
  await dashboard?.close();
  await opened?.coordinator.close();
  await Promise.all(redis.map((r) => r.stop()));
});

describe('redslot CLI on a local cluster', () => {
  it('exports the command list the redslot dispatcher routes here', () => {
    expect([...ADMIN_COMMANDS].sort()).toEqual(['audit', 'failover', 'group', 'leader', 'overview', 'promote', 'proxies', 'server', 'slots', 'status']);
  });

  it('creates groups, adds servers, assigns slots, and reads the status', async () => {
    const [a, b, c] = redis.map((r) => r.addr) as [string, string, string];
    expect(await cli('group', 'create', '1')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^created group 1 \(revision \d+\)\n$/) });
    expect((await cli('group', 'create', '2', '--weight', '2')).code).toBe(0);
    const addA = await cli('server', 'add', '1', a);
    expect(addA).toMatchObject({ code: 0, stderr: '' });
    expect(addA.stdout).toContain('group 1: added as the group master');
    const addB = await cli('server', 'add', '--group', '1', b);
    expect(addB.code).toBe(0);
    expect(addB.stdout).toContain(`issued REPLICAOF ${a}`);
    expect((await cli('server', 'add', '2', c)).code).toBe(0);
    const range = await cli('slots', 'assign', '--range', '0-99', '--group', '2');
    expect(range.code).toBe(0);
    expect(range.stdout).toContain('assigned 100 slots');
    const even = await cli('slots', 'assign', '--even');
    expect(even.code).toBe(0);
    expect(even.stdout).toContain('assigned 924 slots');

    const status = await cli('status');
    expect(status.code).toBe(0);
    const lines = status.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^cluster ${opened.cluster}  revision \\d+  leader \\S+ at ${dashboard.addr.replace(/\./g, '\\.')}  \\(1 dashboard\\)$`));
    expect(lines[1]).toBe('slots: 1024 assigned, 0 offline, 0 migrating');
    expect(status.stdout).toMatch(new RegExp(`^1\\s+512\\s+100-611\\s+${a} \\(master\\), ${b} \\(replica\\)$`, 'm'));
    expect(status.stdout).toMatch(new RegExp(`^2\\s+512\\s+0-99,612-1023\\s+${c} \\(master\\)$`, 'm'));
    expect(status.stdout).toMatch(/^PROXY\s+ADDR\s+ACKED\s+STATE$/m);
    // The proxy acknowledges the latest revision shortly after the writes.
    await waitFor(async () => /^proxy-a\s+127\.0\.0\.1:19999\s+\d+\s+ready$/m.test((await cli('status')).stdout), 5000, 'proxy ready in status');

    const json = await cli('status', '--json');
    expect(json.code).toBe(0);
    const s = JSON.parse(json.stdout);
    expect(s.offlineSlots).toBe(0);
    expect(s.groups.map((g: { id: number; slotCount: number; weight: number }) => [g.id, g.slotCount, g.weight])).toEqual([
      [1, 512, 1],
      [2, 512, 2],
    ]);
    expect(s.slotRanges).toEqual([
      { from: 0, to: 99, group: 2 },
      { from: 100, to: 611, group: 1 },
      { from: 612, to: 1023, group: 2 },
    ]);
    expect(s.proxies[0]).toMatchObject({ id: 'proxy-a', upToDate: true, fenced: false });
    expect(s.leader.addr).toBe(dashboard.addr);
    expect((await withRedisAdmin({ addr: b }, (x) => x.role())).role).toBe('replica');
  });

  it('list and read commands: group list/show, slots, proxies, audit, overview, leader (human and --json)', async () => {
    const groups = await cli('group', 'list');
    expect(groups.stdout).toMatch(/^GROUP\s+SLOTS\s+RANGES\s+SERVERS$/m);
    expect(JSON.parse((await cli('group', 'show', '1', '--json')).stdout).group.id).toBe(1);
    const slots = await cli('slots');
    expect(slots.stdout).toMatch(/^0\s+99\s+100\s+2$/m);
    expect(JSON.parse((await cli('slots', 'list', '--json')).stdout).slots).toHaveLength(1024);
    const proxies = await cli('proxies');
    expect(proxies.stdout).toMatch(/^proxy-a\s+127\.0\.0\.1:19999\s+\S+\s+\S+\s+\d+\s+ready\s+unavailable: /m);
    const audit = await cli('audit', '--limit', '3');
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/slots\.assign_even\s+offline slots\s+ok/);
    const auditJson = JSON.parse((await cli('audit', '--json')).stdout);
    expect(auditJson.entries.every((e: { who: string }) => e.who.startsWith('operator@'))).toBe(true);
    await waitFor(async () => {
      const o = JSON.parse((await cli('overview', '--json')).stdout);
      return o.current?.keys !== undefined && o.history.length >= 2;
    }, 5000, 'stats history');
    const overview = await cli('overview');
    expect(overview.stdout).toMatch(/^GROUP\s+SERVER\s+ROLE\s+UP\s+LINK\s+OPS\/S\s+KEYS\s+MEMORY$/m);
    expect(overview.stdout).toContain(redis[0]!.addr);
    const leader = await cli('leader');
    expect(leader.stdout).toMatch(/\(this\)\s+\S+\s+leader/);
  });

  it('refusals exit 1 with the reason; usage errors exit 2; auth and unreachable exit 3', async () => {
    const busy = await cli('group', 'remove', '1');
    expect(busy.code).toBe(1);
    expect(busy.stderr).toBe('redslot group: group 1 cannot be removed: it owns 512 slots; move them to another group first [REDSLOT_ERR_GROUP_NOT_EMPTY]\n');
    const busyJson = await cli('group', 'remove', '1', '--json');
    expect(JSON.parse(busyJson.stderr)).toMatchObject({ error: { code: 'REDSLOT_ERR_GROUP_NOT_EMPTY', status: 409 } });
    expect((await cli('slots', 'assign', '--even')).code).toBe(1);
    for (const argv of [['group', 'create'], ['group', 'create', 'x'], ['slots', 'assign'], ['slots', 'assign', '--range', '9-3', '--group', '1'], ['server', 'add', '1', 'nohost'], ['frobnicate'], ['status', '--bogus'], ['status', 'extra']]) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^redslot/);
    }
    expect(await runAdminCommand([], { stdout: () => undefined, stderr: () => undefined })).toBe(2);
    let err = '';
    const noAuth = await runAdminCommand(['status', '--dashboard', dashboard.url], { stdout: () => undefined, stderr: (s) => (err += s), env: {} });
    expect(noAuth).toBe(3);
    expect(err).toContain('no token given');
    const wrong = await runAdminCommand(['status', '--dashboard', dashboard.url, '--token', 'wrong-token-xx'], { stdout: () => undefined, stderr: () => undefined, env: {} });
    expect(wrong).toBe(3);
    let err2 = '';
    const down = await runAdminCommand(['status', '--dashboard', `http://127.0.0.1:${await freePort()}`], { stdout: () => undefined, stderr: (s) => (err2 += s), env: { REDSLOT_TOKEN: TOKEN } });
    expect(down).toBe(3);
    expect(err2).toContain('unreachable');
    let help = '';
    expect(await runAdminCommand(['--help'], { stdout: (s) => (help += s), stderr: () => undefined })).toBe(0);
    expect(help).toContain('slots assign --range A-B --group G');
  });

  it('--if-revision turns a stale decision into a refusal', async () => {
    const rev = JSON.parse((await cli('status', '--json')).stdout).revision as number;
    expect((await cli('group', 'create', '3', '--if-revision', String(rev))).code).toBe(0);
    const stale = await cli('group', 'remove', '3', '--if-revision', '1');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('REDSLOT_ERR_CAS_CONFLICT');
  });
});
