/**
 * The replication-based split on a real cluster in this process: redis-servers, the memory:// coordinator,
 * real proxies and a real dashboard driven over its HTTP API. Group 1 owns every slot; group 2 is new and empty.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { SplitView } from '../../dashboard/migration/split/service.js';
import { setLogLevel } from '../../shared/log.js';
import { slotOf } from '../../shared/slot.js';
import { countPlacedKeys } from '../support/placement.js';
import { groupRecord, slotRecords, splitOf, SPLIT_ENDED, useSplitCluster, waitSplitStep } from '../support/split.js';
import { startIncrs } from '../support/split-load.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const KEYS = 20_000;
const f = useSplitCluster({ proxies: 2, barrierTimeoutMs: 3000, split: { purgeBatchKeys: 200, purgePauseMs: 25, retryMs: 200 }, keys: KEYS });

beforeAll(async () => {
  const p = f.client.pipeline();
  for (let i = 0; i < 2000; i++) p.hset('big{h}', `f${i}`, `x${i}`);
  await p.exec();
});

describe('split by replication (memory coordinator, real proxies and redis-servers)', () => {
  it('moves the upper half of the slots under INCR load: data intact, hold measured, purge done, DBSIZE exact', { timeout: 90_000 }, async () => {
    const { c, api, client, direct } = f;
    const preview = await api.request<{ started: boolean; plan: { slotCount: number; slots: number[][]; keeps: number } }>('POST', '/api/v1/splits', { source: 1, target: 2 });
    expect(preview.started).toBe(false);
    expect(preview.plan.slotCount).toBe(512);
    expect(preview.plan.slots).toEqual([[512, 1023]]);
    expect((await groupRecord(c, 1)).split).toBeUndefined();

    // Load through the other proxy: INCR counters spread over every slot, with the latency of each.
    const writer = startIncrs(c.proxies[1]!.port, (n) => `ctr{${n % 500}}`);
    const started = await api.request<{ started: boolean; split: SplitView }>('POST', '/api/v1/splits', { source: 1, target: 2, confirm: true });
    expect(started.started).toBe(true);
    expect(started.split.step).toBe('syncing');
    // While the purge runs, both masters hold keys of slots they no longer own: cluster-wide commands through a
    // proxy must not show them. Some moved keys are deleted first (their copy on the source is a leftover).
    await waitSplitStep(api, 1, ['purging'], 60_000);
    const deleted: string[] = [];
    for (let i = 0; deleted.length < 200; i++) if (slotOf(Buffer.from(`k${i}`)) >= 512) deleted.push(`k${i}`);
    expect(await client.del(...deleted)).toBe(deleted.length);
    const during = await splitOf(api, 1);
    expect(during.step).toBe('purging');
    const scanned: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
      cursor = next;
      scanned.push(...keys);
    } while (cursor !== '0');
    // (SCAN may return a key twice: slots that changed route just before the scan began are rescanned.)
    const gone = new Set(deleted);
    expect(scanned.filter((k) => gone.has(k))).toEqual([]);
    expect(new Set(scanned).size).toBeGreaterThanOrEqual(KEYS + 1 - deleted.length);
    const listed = await client.keys('k*');
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed.filter((k) => gone.has(k))).toEqual([]);
    expect(listed.length).toBe(KEYS - deleted.length);
    for (let i = 0; i < 200; i++) {
      const k = await client.randomkey();
      expect(k === null || !gone.has(k), `RANDOMKEY answered deleted key ${k}`).toBe(true);
    }
    expect((await splitOf(api, 1)).step, 'the purge was still running during the checks').toBe('purging');
    const done = await waitSplitStep(api, 1, SPLIT_ENDED, 60_000);
    const { requests: incrs, maxMs } = await writer.stop();
    expect(done.step).toBe('done');
    console.log(`split: hold ${done.holdMs} ms, purge ${JSON.stringify(done.purge)}, ${incrs} INCRs, max client latency ${maxMs.toFixed(1)} ms`);
    expect(done.holdMs).toBeGreaterThanOrEqual(0);
    expect(done.holdMs).toBeLessThan(1000);
    expect(done.purge!.sourceDeleted + done.purge!.targetDeleted).toBeGreaterThan(KEYS * 0.9);

    // Ownership: 0-511 stay with group 1, 512-1023 belong to group 2; no marker left.
    for (const s of await slotRecords(c)) expect(s.group).toBe(s.id < 512 ? 1 : 2);
    expect((await groupRecord(c, 1)).split).toBeUndefined();
    expect((await groupRecord(c, 2)).split).toBeUndefined();

    // Data intact through the proxies, every acknowledged INCR counted once.
    for (let i = 0; i < KEYS; i += 97) expect(await client.get(`k${i}`)).toBe(gone.has(`k${i}`) ? null : `v${i}`);
    expect(await client.hlen('big{h}')).toBe(2000);
    let sum = 0;
    for (let i = 0; i < 500; i++) sum += Number((await client.get(`ctr{${i}}`)) ?? 0);
    expect(sum).toBe(incrs);
    const counters = Math.min(incrs, 500);
    expect(await countPlacedKeys(c)).toBe(KEYS - deleted.length + 1 + counters);
    expect(await client.dbsize()).toBe(KEYS - deleted.length + 1 + counters);
    // After the switch there is nothing to abort: slots go back with a migration.
    await expect(api.request('POST', '/api/v1/splits/1/abort', {})).rejects.toMatchObject({ code: 'REDSLOT_ERR_SPLIT_ABORT_REFUSED' });
    // The new master is a master now, with its own writes.
    expect(await direct[1]!.call('ROLE').then((r) => (r as unknown[])[0])).toBe('master');
    expect(await client.set('after-split{x}', '1')).toBe('OK');
    await client.del('after-split{x}');
  });
});
