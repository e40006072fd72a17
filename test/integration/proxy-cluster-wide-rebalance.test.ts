/**
 * SCAN while a real rebalance runs (issue 7: "every key at least once while a rebalance runs"): redis-servers
 * for 3 groups, the memory:// coordinator, a proxy following it and a dashboard with the migration engine
 * (bench/migration/cluster.ts). The rebalance drains group 3 into groups 1 and 2 - keys move from the group
 * SCAN visits last to groups it visited before, the direction a group-by-group scan would lose - throttled so
 * it lasts several seconds, while clients scan again and again through the proxy with ioredis and node-redis.
 * Every scan that ran must have returned every key at least once; scans that overlapped moves must have
 * needed the rescan pass, and the scan after the rebalance returns every key exactly once.
 */
import { Redis } from 'ioredis';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigrationCluster, type MigrationCluster } from '../../bench/migration/cluster.js';
import type { JobView } from '../../dashboard/migration/views.js';
import { decodeCursor } from '../../proxy/router/requests/scan.js';
import type { DashboardClient } from '../../dashboard/cli/api-client.js';
import { setLogLevel } from '../../shared/log.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const N = 30_000;
let c: MigrationCluster;
let api: DashboardClient;
let io: Redis;
let nr: RedisClientType;

beforeAll(async () => {
  c = await startMigrationCluster({ groups: 3, proxies: 1, coordinator: 'memory', plugin: { retryMs: 300, pollMs: 100 } });
  api = await c.leader();
  io = new Redis({ port: c.proxies[0]!.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  nr = createClient({ socket: { port: c.proxies[0]!.port, host: '127.0.0.1', reconnectStrategy: false } });
  nr.on('error', () => {});
  await nr.connect();
  for (let i = 0; i < N; i += 1000) {
    const args: string[] = [];
    for (let k = i; k < i + 1000; k++) args.push(`rb:${k}`, String(k));
    await io.mset(...args);
  }
}, 120_000);

afterAll(async () => {
  io?.disconnect();
  await nr?.close().catch(() => {});
  await c?.stop();
});

interface Scan {
  seen: Uint8Array;
  rescan: boolean;
}

/** One whole scan, COUNT `count`; node-redis or ioredis. */
async function scanOnce(client: 'io' | 'nr', count: number): Promise<Scan> {
  const seen = new Uint8Array(N);
  let rescan = false;
  let cursor = '0';
  do {
    let keys: string[];
    if (client === 'io') [cursor, keys] = await io.scan(cursor, 'COUNT', count);
    else {
      const r = await nr.scan(cursor, { COUNT: count });
      cursor = String(r.cursor);
      keys = r.keys;
    }
    for (const k of keys) if (k.startsWith('rb:')) seen[Number(k.slice(3))] = Math.min(255, seen[Number(k.slice(3))]! + 1);
    const d = decodeCursor(Buffer.from(cursor));
    if (d !== null && d !== 'start' && d.phase === 1) rescan = true;
  } while (cursor !== '0');
  return { seen, rescan };
}

function missing(s: Scan): number {
  let n = 0;
  for (const v of s.seen) if (v === 0) n++;
  return n;
}

describe('SCAN during a real rebalance (drain group 3)', () => {
  it('every scan returns every key at least once while slots move; exactly once afterwards', async () => {
    const before = await scanOnce('io', 1000);
    expect(missing(before)).toBe(0);
    expect(Math.max(...before.seen)).toBe(1);

    // Throttled so the rebalance outlasts several scans.
    await api.request('PUT', '/api/v1/migrations/throttle', { keysPerSec: 3000, parallelSlots: 4 });
    const started = await api.request<{ started: boolean; job: JobView }>('POST', '/api/v1/migrations', {
      mode: 'rebalance',
      groups: [{ id: 1, weight: 1 }, { id: 2, weight: 1 }, { id: 3, weight: 0 }],
      confirm: true,
    });
    expect(started.started).toBe(true);
    let done = false;
    const watcher = (async () => {
      const deadline = Date.now() + 90_000;
      for (;;) {
        const j = await api.request<JobView>('GET', `/api/v1/migrations/${started.job.id}`);
        if (j.state === 'done') break;
        if (Date.now() > deadline) throw new Error(`rebalance still ${j.state}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      done = true;
    })();

    const scans: Array<Scan & { during: boolean }> = [];
    let i = 0;
    while (!done) {
      const during = !done; // started while the rebalance ran
      const s = await scanOnce(i % 2 === 0 ? 'io' : 'nr', 200);
      scans.push({ ...s, during });
      i++;
    }
    await watcher;
    await api.request('PUT', '/api/v1/migrations/throttle', { keysPerSec: 0 });

    const during = scans.filter((s) => s.during);
    expect(during.length).toBeGreaterThanOrEqual(2);
    for (const [n, s] of scans.entries()) expect(missing(s), `scan ${n} missed keys`).toBe(0);
    // Slots moved under every scan that ran during the rebalance: they needed the rescan pass.
    expect(during.every((s) => s.rescan)).toBe(true);

    // Group 3 is empty, the keys are all on groups 1 and 2, and a scan now sees each exactly once.
    const g3 = new Redis({ port: c.redis[2]!.port, host: '127.0.0.1' });
    try {
      expect(await g3.dbsize()).toBe(0);
    } finally {
      g3.disconnect();
    }
    // (The rescan pass looks back to 1 s before the scan's start second: let the last moves age first.)
    await new Promise((r) => setTimeout(r, 2500));
    const after = await scanOnce('nr', 1000);
    expect(missing(after)).toBe(0);
    expect(Math.max(...after.seen)).toBe(1);
    expect(await io.dbsize()).toBe(N);
  });
});
