/**
 * The Kubernetes bootstrap script (deploy/k8s/config/bootstrap.sh, run by the redslot-bootstrap Job) against a
 * real dashboard and real redis-servers, through the real `redslot` CLI.
 *
 * Scenario 1: two groups, each a master plus a replica already replicating it (as redis-start.sh starts them
 * in the StatefulSets). First run: both groups are created, the four servers registered with the right roles
 * and the 1024 slots spread evenly. Second run (the Job re-applied): nothing to do, and the model revision does
 * not move.
 * Scenario 2 (another cluster on the same servers): an operator already created group 1 with its master and
 * gave it slots 0-99 by hand. The bootstrap completes what is missing (the replica, group 2) but leaves the
 * slot table alone, so a re-run can never undo an operator's decisions.
 */
import { nodeArgsFor } from '../support/compiled.js';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../dashboard/main.js';
import { setLogLevel } from '../../shared/log.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = path.join(ROOT, 'deploy/k8s/config/bootstrap.sh');
const TOKEN = 'bootstrap-test-token-0123456789';

// The CLI as the image runs it (compiled) when dist/ is newer than every source file (CI builds first);
// otherwise the TypeScript source through tsx (slower to start, never stale).
const CLI = [process.execPath, ...nodeArgsFor('deploy/bin/redslot.ts')].join(' ');

let dashboard: RunningDashboard | undefined;
let dashboard2: RunningDashboard | undefined;
const redis: RedisServerHandle[] = [];

async function runBootstrap(groupsSpec: string, url = dashboard!.url): Promise<{ code: number | null; out: string }> {
  const child = spawn('sh', [SCRIPT], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      REDSLOT_DASHBOARD: url,
      REDSLOT_TOKEN: TOKEN,
      REDSLOT_BOOTSTRAP_GROUPS: groupsSpec,
      REDSLOT_CLI: CLI,
    },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, out };
}

async function api(method: string, p: string, body?: unknown, url = dashboard!.url): Promise<any> {
  const r = await fetch(`${url}${p}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  setLogLevel('error');
  for (let g = 0; g < 2; g++) {
    const master = await startRedis();
    redis.push(master);
    redis.push(await startRedis(['--replicaof', '127.0.0.1', String(master.port)]));
  }
  dashboard = await startDashboard({ coordinator: 'memory://deploy-bootstrap', listen: '127.0.0.1:0', token: TOKEN });
  dashboard2 = await startDashboard({ coordinator: 'memory://deploy-bootstrap-2', listen: '127.0.0.1:0', token: TOKEN });
}, 60_000);

afterAll(async () => {
  await dashboard?.close();
  await dashboard2?.close();
  await Promise.all(redis.map((r) => r.stop()));
});

describe('deploy/k8s/config/bootstrap.sh', () => {
  it('registers the groups, then re-runs change nothing', async () => {
    const spec = `1=${redis[0]!.addr},${redis[1]!.addr} 2=${redis[2]!.addr},${redis[3]!.addr}`;

    const first = await runBootstrap(spec);
    expect(first.code, first.out).toBe(0);
    let status = await api('GET', '/api/v1/status');
    const servers = (gid: number) => status.groups.find((g: any) => g.id === gid)?.servers.map((s: any) => `${s.addr}/${s.role}`);
    expect(servers(1)).toEqual([`${redis[0]!.addr}/master`, `${redis[1]!.addr}/replica`]);
    expect(servers(2)).toEqual([`${redis[2]!.addr}/master`, `${redis[3]!.addr}/replica`]);
    expect(status.offlineSlots).toBe(0);
    expect(status.groups.map((g: any) => g.slotCount)).toEqual([512, 512]);
    const revision = status.revision;

    const second = await runBootstrap(spec);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(/group 1 exists/);
    expect(second.out).toMatch(new RegExp(`server ${redis[3]!.addr} already registered`));
    expect(second.out).toMatch(/slots already assigned: leaving the slot table alone/);
    status = await api('GET', '/api/v1/status');
    expect(status.revision).toBe(revision);

  }, 180_000);

  it('never assigns slots once an operator has', async () => {
    const url = dashboard2!.url;
    await api('POST', '/api/v1/groups', { id: 1 }, url);
    await api('POST', '/api/v1/groups/1/servers', { addr: redis[0]!.addr }, url);
    await api('PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 99, group: 1 }, url);

    const run = await runBootstrap(`1=${redis[0]!.addr},${redis[1]!.addr} 2=${redis[2]!.addr},${redis[3]!.addr}`, url);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toMatch(/slots already assigned: leaving the slot table alone/);
    const status = await api('GET', '/api/v1/status', undefined, url);
    expect(status.groups.map((g: any) => [g.id, g.servers.length, g.slotCount])).toEqual([[1, 2, 100], [2, 2, 0]]);
    expect(status.offlineSlots).toBe(924);
  }, 180_000);
});
