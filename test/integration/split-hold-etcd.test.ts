/**
 * The hold at a split's switch on a real etcd, for 512 slots (issue 17: under 100 ms). Real etcd, redis-servers,
 * 2 proxies and a dashboard in this process. While the split runs, a probe client per proxy GETs a key of a
 * moving slot back to back (its longest request is the hold a client sees) and a writer INCRs keys of staying
 * slots (the source's replication offset keeps moving). The switch is one coordinator txn: the markers carry
 * the moving ranges, the slot records are rewritten after the hold is released.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startMigrationCluster, type MigrationCluster } from '../../bench/migration/cluster.js';
import type { DashboardClient } from '../../dashboard/cli/api-client.js';
import type { SplitView } from '../../dashboard/migration/split/service.js';
import { setLogLevel } from '../../shared/log.js';
import type { GroupRecord, SlotRecord } from '../../shared/model/types.js';
import { waitSplitStep, keyIn } from '../support/split.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const KEYS = 20_000;
let c: MigrationCluster;
let api: DashboardClient;

/** GETs `key` back to back until stopped; the longest request (ms). */
function probe(port: number, key: string): { stop: () => Promise<{ maxMs: number; requests: number }> } {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  let stopped = false;
  let maxMs = 0;
  let requests = 0;
  const loop = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      expect(await r.get(key)).toBe('probe');
      maxMs = Math.max(maxMs, performance.now() - t0);
      requests++;
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      r.disconnect();
      return { maxMs, requests };
    },
  };
}

beforeAll(async () => {
  c = await startMigrationCluster({
    groups: 1,
    spareGroups: 1,
    proxies: 2,
    coordinator: 'etcd',
    barrierTimeoutMs: 3000,
    redisArgs: ['--repl-diskless-sync-delay', '0'],
    split: { purgeBatchKeys: 1000, retryMs: 200 },
  });
  api = await c.leader();
  const client = new Redis({ port: c.proxies[0]!.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  const p = client.pipeline();
  for (let i = 0; i < KEYS; i++) p.set(`k${i}`, `v${i}`);
  await p.exec();
  client.disconnect();
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

describe('split switch hold on etcd', () => {
  it('512 slots switch in one txn (no slot record changes while held, all rewritten after); the hold measured by the runner and by probe clients', { timeout: 90_000 }, async () => {
    const moving = keyIn((s) => s >= 512, 'probe:');
    const admin = new Redis({ port: c.proxies[0]!.port, host: '127.0.0.1' });
    await admin.set(moving, 'probe');
    const probes = c.proxies.map((p) => probe(p.port, moving));
    const writer = new Redis({ port: c.proxies[1]!.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    const staying = keyIn((s) => s < 512, 'ctr:');
    let incrs = 0;
    let stopWriter = false;
    const writes = (async () => {
      while (!stopWriter) {
        await writer.incr(staying);
        incrs++;
      }
    })();
    // The topology as proxies follow it: when group 1's marker changed state, and when slot records changed.
    const { opened } = c;
    const markerAt = new Map<string, number>();
    const slotPuts: number[] = [];
    const from = (await opened.coordinator.getPrefix(opened.paths.topology)).revision + 1;
    const watch = await opened.coordinator.watchPrefix(opened.paths.topology, from, {
      onBatch: (b) => {
        for (const e of b.events) {
          if (e.kv.key === opened.paths.group(1) && e.type === 'put') {
            const state = (JSON.parse(e.kv.value) as GroupRecord).split?.state ?? 'none';
            if (!markerAt.has(state)) markerAt.set(state, b.revision);
          } else if (e.kv.key.startsWith(opened.paths.slots)) slotPuts.push(b.revision);
        }
      },
    });
    const started = await api.request<{ started: boolean; split: SplitView }>('POST', '/api/v1/splits', { source: 1, target: 2, confirm: true });
    expect(started.split.slots).toEqual([[512, 1023]]);
    const done = await waitSplitStep(api, 1, ['done', 'aborted', 'failed']);
    const seen = await Promise.all(probes.map((p) => p.stop()));
    stopWriter = true;
    await writes;
    writer.disconnect();
    expect(done.step, done.reason).toBe('done');
    const probeMax = Math.max(...seen.map((s) => s.maxMs));
    console.log(
      `RESULT split-hold-etcd ${JSON.stringify({ slots: 512, holdMs: done.holdMs, holdPartsMs: done.holdPartsMs, probeMaxMs: Number(probeMax.toFixed(1)), probeRequests: seen.map((s) => s.requests), incrs })}`,
    );
    await watch.cancel();
    // The switch is ONE txn: no slot record changes while the slots are held; all 512 are rewritten after.
    const locked = markerAt.get('locked')!;
    const switched = markerAt.get('switched')!;
    expect(locked).toBeGreaterThan(0);
    expect(switched).toBeGreaterThan(locked);
    expect(slotPuts.filter((rev) => rev > locked && rev <= switched)).toEqual([]);
    expect(slotPuts.filter((rev) => rev > switched)).toHaveLength(512);
    // Timing (issue 17's target: under 100 ms; 35-88 ms measured here on a loaded 2-core machine). The bounds
    // leave room for a busy machine, and still fail the former switch (159 ms, CAS chunks while held).
    expect(done.holdMs).toBeLessThan(150);
    // Where the hold went adds up to it (each part measured by the leader that held the slots).
    const parts = done.holdPartsMs!;
    for (const ms of Object.values(parts)) expect(ms).toBeGreaterThanOrEqual(0);
    expect(parts.lockTxn + parts.barrier + parts.catchUp + parts.promote).toBe(done.holdMs);
    // The probe's longest request also includes the proxies' apply and ack around the hold (and this process's
    // event loop, which runs the proxies, the dashboard and the clients).
    expect(probeMax).toBeLessThan(250);

    // The slot records name the new group; the markers are gone; the data is intact through the proxies.
    const slots = (await c.opened.coordinator.getPrefix(c.opened.paths.slots)).kvs.map((kv) => JSON.parse(kv.value) as SlotRecord);
    for (const s of slots) expect(s.group).toBe(s.id < 512 ? 1 : 2);
    for (let i = 0; i < KEYS; i += 101) expect(await admin.get(`k${i}`)).toBe(`v${i}`);
    expect(await admin.get(moving)).toBe('probe');
    admin.disconnect();
  });
});
