/**
 * `redslot up` as a user runs it: the compiled CLI starts redis-servers, a proxy and a dashboard, serves
 * commands, and on SIGTERM stops every child it started (no orphan redis-server).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { freePort, waitForPort } from '../support/free-port.js';
import { Spawned } from '../support/processes.js';
import { slotOf } from '../../shared/slot.js';

const CLI = path.resolve('dist/deploy/bin/redslot.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('redslot up (compiled CLI)', () => {
  let up: Spawned | undefined;
  afterAll(async () => {
    await up?.kill9();
  });

  it('starts a working cluster and stops every child on SIGTERM', async () => {
    const [port, admin, dash] = [await freePort(), await freePort(), await freePort()];
    up = new Spawned(
      'redslot up',
      spawn(process.execPath, [CLI, 'up', '--redis-port', '0', '--port', String(port), '--admin-port', String(admin), '--dashboard-port', String(dash)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, REDSLOT_LOG_LEVEL: 'warn' },
      }),
    );
    await waitForPort(port, '127.0.0.1', 20_000);
    // The banner names every redis-server with its pid.
    await expect.poll(() => up!.log(), { timeout: 5000 }).toContain('Ctrl-C stops everything');
    const banner = up.log();
    const redis = [...banner.matchAll(/group (\d+)\s+master\s+(\S+) \(pid (\d+)\)/g)].map((m) => ({ group: Number(m[1]), addr: m[2]!, pid: Number(m[3]) }));
    expect(redis).toHaveLength(2);
    expect(banner).toMatch(/token: \S+/);

    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    await client.connect();
    const keys = Array.from({ length: 50 }, (_, i) => `up:key:${i}`);
    await client.mset(...keys.flatMap((k) => [k, k.toUpperCase()]));
    expect(await client.mget(...keys)).toEqual(keys.map((k) => k.toUpperCase()));
    // Slots 0-511 belong to group 1 and 512-1023 to group 2: each key is on the server its slot names.
    for (const r of redis) {
      const direct = new Redis({ port: Number(r.addr.split(':')[1]), host: '127.0.0.1' });
      const mine = keys.filter((k) => (slotOf(Buffer.from(k)) < 512 ? 1 : 2) === r.group);
      expect(await direct.exists(...mine)).toBe(mine.length);
      await direct.quit();
    }
    await client.quit();

    const status = await fetch(`http://127.0.0.1:${admin}/readyz`);
    expect(status.status).toBe(200);
    await waitForPort(dash);

    up.child.kill('SIGTERM');
    const code = await up.exited;
    expect(code).toBe(0);
    for (const r of redis) expect(alive(r.pid)).toBe(false);
  }, 60_000);

  it('explains how to install redis-server when it is missing', async () => {
    // A PATH holding only node: redis-server cannot be found.
    const bin = mkdtempSync(path.join(os.tmpdir(), 'redslot-path-'));
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const proc = new Spawned(
      'redslot up',
      spawn(process.execPath, [CLI, 'up', '--redis-port', '0', '--port', '0', '--admin-port', '0', '--dashboard-port', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PATH: bin },
      }),
    );
    const code = await proc.exited;
    expect(code).toBe(1);
    expect(proc.log()).toContain('redis-server not found');
    expect(proc.log()).toContain('apt-get install -y redis-server');
  });
});
