/**
 * `redslot up --replicas 1` as a user runs it (compiled CLI): a replica per group, and automatic failover works
 * out of the box (kill -9 of a master from the banner -> its replica is promoted). And `up` refuses a port
 * that a stale redis-server already owns instead of reporting that server as its own.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, waitForPort } from '../support/free-port.js';
import { pidAlive, Spawned } from '../support/processes.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';

const CLI = path.resolve('dist/deploy/bin/redslot.js');

interface FailoverBody {
  groups: Array<{ gid: number; master: string | null; replicas: Array<{ addr: string; linkUp: boolean }>; lastFailover?: { to: string; result: string } }>;
}

describe('redslot up --replicas (compiled CLI)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const f of cleanup) await f();
  });

  it('starts a replica per group; a killed master is replaced by its replica without an operator', async () => {
    const [port, admin, dash] = [await freePort(), await freePort(), await freePort()];
    const up = new Spawned(
      'redslot up',
      spawn(process.execPath, [CLI, 'up', '--replicas', '1', '--redis-port', '0', '--port', String(port), '--admin-port', String(admin), '--dashboard-port', String(dash)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, REDSLOT_LOG_LEVEL: 'warn' },
      }),
    );
    cleanup.push(() => up.kill9());
    await waitForPort(port, '127.0.0.1', 30_000);
    await expect.poll(() => up.log(), { timeout: 5000 }).toContain('Ctrl-C stops everything');
    const banner = up.log();
    const servers = [...banner.matchAll(/group (\d+)\s+(master|replica)\s+(\S+) \(pid (\d+)\)/g)].map((m) => ({ group: Number(m[1]), role: m[2]!, addr: m[3]!, pid: Number(m[4]) }));
    expect(servers.map((s) => `${s.group}:${s.role}`)).toEqual(['1:master', '1:replica', '2:master', '2:replica']);
    const token = /token: (\S+)/.exec(banner)![1]!;
    const api = async (): Promise<FailoverBody> => (await (await fetch(`http://127.0.0.1:${dash}/api/v1/failover`, { headers: { authorization: `Bearer ${token}` } })).json()) as FailoverBody;
    await expect.poll(async () => (await api()).groups.every((g) => g.replicas.length === 1 && g.replicas[0]!.linkUp), { timeout: 15_000 }).toBe(true);

    const m1 = servers.find((s) => s.group === 1 && s.role === 'master')!;
    const r1 = servers.find((s) => s.group === 1 && s.role === 'replica')!;
    process.kill(m1.pid, 'SIGKILL');
    await expect.poll(async () => (await api()).groups.find((g) => g.gid === 1)?.lastFailover, { timeout: 20_000 }).toMatchObject({ to: r1.addr, result: 'ok' });
    expect((await api()).groups.find((g) => g.gid === 1)!.master).toBe(r1.addr);

    up.child.kill('SIGTERM');
    expect(await up.exited).toBe(0);
    for (const s of servers) expect(pidAlive(s.pid)).toBe(false);
  }, 60_000);

  it('refuses a port a stale redis-server owns (instead of reporting it as its own master)', async () => {
    const stale: RedisServerHandle = await startRedis();
    cleanup.push(() => stale.stop());
    const up = new Spawned(
      'redslot up',
      spawn(process.execPath, [CLI, 'up', '--redis-port', String(stale.port), '--port', '0', '--admin-port', '0', '--dashboard-port', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, REDSLOT_LOG_LEVEL: 'warn' },
      }),
    );
    cleanup.push(() => up.kill9());
    expect(await up.exited).toBe(1);
    expect(up.log()).toContain(`owned by another process`);
    expect(up.log()).not.toContain('is up');
    expect(stale.proc.alive).toBe(true);
  }, 30_000);
});
