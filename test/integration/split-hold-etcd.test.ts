/**
 * The hold at a split's switch on a real etcd, for 512 slots (issue 17: under 100 ms). Real etcd, redis-servers,
 * 2 proxies and a dashboard in this process. While the split runs, a probe client per proxy GETs a key of a
 * moving slot back to back (its longest request is the hold a client sees) and a writer INCRs keys of staying
 * slots (the source's replication offset keeps moving). The switch is one coordinator txn: the markers carry
 * the moving ranges, the slot records are rewritten after the hold is released.
 */
import { describe, expect, it } from 'vitest';
import type { SplitView } from '../../dashboard/migration/split/service.js';
import { setLogLevel } from '../../shared/log.js';
import type { GroupRecord } from '../../shared/model/types.js';
import { keyIn, slotRecords, SPLIT_ENDED, useSplitCluster, waitSplitStep } from '../support/split.js';
import { startIncrs, startProbe } from '../support/split-load.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const KEYS = 20_000;
const f = useSplitCluster({
  proxies: 2,
  coordinator: 'etcd',
  barrierTimeoutMs: 3000,
  redisArgs: ['--repl-diskless-sync-delay', '0'],
  split: { purgeBatchKeys: 1000, retryMs: 200 },
  keys: KEYS,
  startTimeoutMs: 120_000,
});

describe('split switch hold on etcd', () => {
  it('512 slots switch in one txn (no slot record changes while held, all rewritten after); the hold measured by the runner and by probe clients', { timeout: 90_000 }, async () => {
    const { c, api, client: admin } = f;
    const moving = keyIn((s) => s >= 512, 'probe:');
    await admin.set(moving, 'probe');
    const probes = c.proxies.map((p) => startProbe(p.port, moving));
    const staying = keyIn((s) => s < 512, 'ctr:');
    const writer = startIncrs(c.proxies[1]!.port, () => staying);
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
    const done = await waitSplitStep(api, 1, SPLIT_ENDED);
    const seen = await Promise.all(probes.map((p) => p.stop()));
    const { requests: incrs } = await writer.stop();
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
    for (const s of await slotRecords(c)) expect(s.group).toBe(s.id < 512 ? 1 : 2);
    for (let i = 0; i < KEYS; i += 101) expect(await admin.get(`k${i}`)).toBe(`v${i}`);
    expect(await admin.get(moving)).toBe('probe');
  });
});
