/**
 * Following Redis Sentinel (optional per group), on real servers: a group of master + replica watched by a real
 * Sentinel (`redis-server --sentinel`, quorum 1, down-after 1 s). With `redslot failover sentinel 1 ...` the
 * dashboard no longer decides for the group: when the master is killed, Sentinel fails over and the dashboard
 * follows the master it announces through the barrier-guarded promotion (audited as group.failover.sentinel).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdminCommand } from '../../dashboard/cli/index.js';
import { setLogLevel } from '../../shared/log.js';
import type { AuditRecord } from '../../shared/model/types.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess, type Spawned } from '../support/processes.js';
import { startFailoverCluster, TOKEN, until, type FailoverCluster } from './failover-cluster.js';

let c: FailoverCluster;
let sentinel: Spawned | undefined;
let sentinelPort = 0;
let dir = '';

beforeAll(async () => {
  setLogLevel('error');
  c = await startFailoverCluster({ groups: 1, replicas: 1, proxies: 2 });
  const master = c.servers[0]![0]!;
  sentinelPort = await freePort();
  dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-sentinel-'));
  const conf = path.join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor g1 127.0.0.1 ${master.port} 1`,
      'sentinel down-after-milliseconds g1 1000',
      'sentinel failover-timeout g1 5000',
      '',
    ].join('\n'),
  );
  sentinel = spawnProcess('sentinel', 'redis-server', [conf, '--sentinel']);
  await waitForPort(sentinelPort);
}, 60_000);

afterAll(async () => {
  await sentinel?.stop();
  await c?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('following Redis Sentinel', () => {
  it('a group set to follow its Sentinel service takes the master Sentinel elects after kill -9, through the barrier', async () => {
    const [master, replica] = c.servers[0]!;
    const s = new Redis({ host: '127.0.0.1', port: sentinelPort, maxRetriesPerRequest: 0 });
    try {
      await until(async () => ((await s.call('SENTINEL', 'replicas', 'g1')) as unknown[]).length === 1, 20_000, 'Sentinel knows the replica');
    } finally {
      s.disconnect();
    }
    let out = '';
    const code = await runAdminCommand(['failover', 'sentinel', '1', 'g1', `127.0.0.1:${sentinelPort}`, '--dashboard', c.dashboard.url, '--token', TOKEN], { stdout: (x) => (out += x), stderr: (x) => (out += x), env: {} });
    expect(code, out).toBe(0);
    expect(out).toContain('follows Sentinel service g1');
    await until(async () => (await c.api<{ groups: Array<{ sentinel?: { master: string | null } }> }>('GET', '/api/v1/failover')).groups[0]!.sentinel?.master === master!.addr, 5000, 'the Sentinel view in status');

    await master!.proc.kill9();
    await until(async () => (await c.group(1)).servers.find((x) => x.role === 'master')?.addr === replica!.addr, 30_000, 'the model following Sentinel');
    const audit = (await c.api<{ entries: AuditRecord[] }>('GET', '/api/v1/audit?limit=100')).entries;
    const followed = audit.find((e) => e.action === 'group.failover.sentinel');
    expect(followed?.detail).toContain(`127.0.0.1:${sentinelPort}`);
    expect(audit.some((e) => e.action === 'group.failover.decided')).toBe(false);
    await until(async () => audit.some((e) => e.action === 'group.failover' && e.result === 'ok') || (await c.api<{ entries: AuditRecord[] }>('GET', '/api/v1/audit?limit=100')).entries.some((e) => e.action === 'group.failover' && e.result === 'ok'), 10_000, 'the promotion result audited');
    // Served again through both proxies by the new master.
    for (const p of c.proxies) {
      const r = new Redis({ host: '127.0.0.1', port: p.port, maxRetriesPerRequest: 0 });
      try {
        await until(async () => (await r.set('after:sentinel', String(p.port))) === 'OK', 10_000, 'a write through the proxy');
      } finally {
        r.disconnect();
      }
    }
    const direct = new Redis({ host: '127.0.0.1', port: replica!.port });
    expect(await direct.exists('after:sentinel')).toBe(1);
    direct.disconnect();
  }, 60_000);
});
