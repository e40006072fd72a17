/**
 * A split meeting faults, on a real cluster in this process (memory:// coordinator, 2 real proxies and
 * redis-servers, a dashboard over HTTP). Group 1 owns every slot; group 2 is new and empty. First a split stuck
 * in its `locked` step (the hold at the switch) past lockTimeoutMs; then a promotion of the new group's master
 * after the switch, while the (slowed) purge runs.
 *
 * The fault "the new master does not catch up" is forced with `CLIENT PAUSE WRITE` on the new master: a real
 * Redis mechanism (no fake) under which a replica keeps answering INFO but stops applying its master's write
 * stream, so its offset stands still. The pause also postpones the abort's FLUSHALL, so the test lifts it once
 * the abort is under way (the hold is released before that, by the abort's first txn).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type RedisServerHandle } from '../../deploy/local/spawn/redis.js';
import { setLogLevel } from '../../shared/log.js';
import { slotOf } from '../../shared/slot.js';
import { expectFilledKeys, expectSplitUndone, groupRecord, keyIn, slotRecords, splitOf, useSplitCluster, waitSplitStep } from '../support/split.js';
import { startIncrs, startProbe } from '../support/split-load.js';
import { until } from '../support/until.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const KEYS = 5000;
const LOCK_TIMEOUT_MS = 1000;
const f = useSplitCluster({
  proxies: 2,
  barrierTimeoutMs: 3000,
  redisArgs: ['--repl-diskless-sync-delay', '0'],
  split: { lockTimeoutMs: LOCK_TIMEOUT_MS, retryMs: 200, purgeBatchKeys: 100, purgePauseMs: 200 },
  keys: KEYS,
});
let replica: RedisServerHandle | undefined;

/** After an abort: the new group detached and empty, no marker, every slot still group 1's, the data intact. */
async function expectUntouched(target: Redis, extraKeys: number): Promise<void> {
  expect((await target.call('ROLE') as unknown[])[0]).toBe('master');
  await until('the new group flushed', async () => (await target.dbsize()) === 0);
  await expectSplitUndone(f.c, [1, 2]);
  expect(await f.client.dbsize()).toBe(KEYS + extraKeys);
  await expectFilledKeys(f.client, KEYS, 53);
}

afterAll(async () => {
  await replica?.stop();
});

describe('split faults', () => {
  it('a split stuck in `locked` past lockTimeoutMs aborts itself (fault forced: CLIENT PAUSE WRITE on the new master stalls its replication)', { timeout: 60_000 }, async () => {
    const { c, api, client, direct } = f;
    const target = direct[1]!;
    await target.call('CLIENT', 'PAUSE', '60000', 'WRITE');
    const moving = keyIn((s) => s >= 512, 'probe:');
    await client.set(moving, 'probe');
    // A slow writer on a staying slot: the source's offset moves on, the paused new master's does not.
    const staying = keyIn((s) => s < 512, 'ctr:');
    const writer = startIncrs(c.proxies[1]!.port, () => staying, 1);
    // A client of a moving slot: held while the slots are, served again once the split gives up.
    const prober = startProbe(c.proxies[1]!.port, moving);

    try {
      await api.request('POST', '/api/v1/splits', { source: 1, target: 2, confirm: true });
      const aborting = await waitSplitStep(api, 1, ['aborting', 'aborted', 'done', 'failed']);
      expect(aborting.step, JSON.stringify(aborting)).toBe('aborting');
      expect(aborting.reason).toMatch(/^lock timeout: 127\.0\.0\.1:\d+ did not reach offset \d+ of 127\.0\.0\.1:\d+ \(last seen \d+\) within lockTimeoutMs \(1000 ms\) while the slots of group 1 were held$/);
      // The hold is released by the abort's first txn, while the new master is still paused.
      const t0 = performance.now();
      expect(await client.get(moving)).toBe('probe');
      expect(performance.now() - t0).toBeLessThan(500);
      expect((await groupRecord(c, 1)).split).toBeUndefined();

      await target.call('CLIENT', 'UNPAUSE');
      const aborted = await waitSplitStep(api, 1, ['aborted']);
      const [{ requests: writes }, { maxMs }] = await Promise.all([writer.stop(), prober.stop()]);
      expect(aborted.reason).toBe(aborting.reason);
      // The moving slot's client waited for the hold (about lockTimeoutMs), not longer.
      expect(maxMs).toBeGreaterThan(LOCK_TIMEOUT_MS * 0.8);
      expect(maxMs).toBeLessThan(LOCK_TIMEOUT_MS + 2000);
      expect(Number(await client.get(staying))).toBe(writes);
      await expectUntouched(target, 2);
    } finally {
      await Promise.allSettled([writer.stop(), prober.stop()]);
      await target.call('CLIENT', 'UNPAUSE');
    }
  });

  it("the new group's master is replaced after the switch, during the purge: the promotion keeps the split markers, the split finishes with the new master", { timeout: 60_000 }, async () => {
    const { c, api, client, direct } = f;
    await api.request('POST', '/api/v1/splits', { source: 1, target: 2, confirm: true });
    await waitSplitStep(api, 1, ['purging']);
    // A replica for the new group (an empty server added to a group becomes its master's replica), promoted.
    replica = await startRedis(['--repl-diskless-sync-delay', '0']);
    const promoted = `127.0.0.1:${replica.port}`;
    await api.request('POST', '/api/v1/groups/2/servers', { addr: promoted });
    const r = new Redis({ port: replica.port, host: '127.0.0.1' });
    await until('the replica attached', async () => (await r.info('replication')).includes('master_link_status:up'));
    await api.request('POST', '/api/v1/groups/2/promote', { addr: promoted });
    const g = await groupRecord(c, 2);
    expect(g.servers.find((s) => s.role === 'master')?.addr).toBe(promoted);
    // The purge (slowed by purgePauseMs) still runs: the marker that tells proxies to filter its leftovers stays.
    expect((await splitOf(api, 1)).step).toBe('purging');
    expect(g.split).toMatchObject({ role: 'target', peer: 1, state: 'purging' });
    expect((await groupRecord(c, 1)).split).toMatchObject({ role: 'source', peer: 2, state: 'purging' });

    const done = await waitSplitStep(api, 1, ['done', 'failed']);
    expect(done.step, done.reason).toBe('done');
    expect((await groupRecord(c, 1)).split).toBeUndefined();
    expect((await groupRecord(c, 2)).split).toBeUndefined();
    for (const s of await slotRecords(c)) expect(s.group).toBe(s.id < 512 ? 1 : 2);
    // Each side holds only its own slots' keys (the purge followed the new master), every key served once.
    const { keys } = await r.info('keyspace').then((text) => ({ keys: Number(/keys=(\d+)/.exec(text)?.[1] ?? 0) }));
    let moving = 0;
    for (let i = 0; i < KEYS; i++) if (slotOf(Buffer.from(`k${i}`)) >= 512) moving++;
    expect(keys).toBe(moving + 1); // + the probe key of the first test
    expect(await direct[0]!.dbsize()).toBe(KEYS + 2 - keys);
    expect(await client.dbsize()).toBe(KEYS + 2);
    await expectFilledKeys(client, KEYS, 53);
    r.disconnect();
  });
});
