/**
 * A master change of either group while a split syncs, on a real cluster in this process (memory:// coordinator,
 * a real proxy and redis-servers, a dashboard over HTTP). Group 1 owns every slot; groups 2 and 3 are new and
 * empty; groups 1 and 3 get a replica. The split knob `lagBytes: -1` (test only) keeps a split in `syncing`.
 *
 * The behaviour (docs/migration.md): before the switch, a promotion of either group is waited for (the split
 * writes neither group meanwhile), then the split aborts with `master change: ...` — the new master replicated
 * a server that no longer masters the source, or the new group's copy is no longer where the split put it. The
 * abort empties the new group's master as the model names it now (the promoted one after a promotion there).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { SplitView } from '../../dashboard/migration/split/service.js';
import { startRedis, type RedisServerHandle } from '../../deploy/local/spawn/redis.js';
import { setLogLevel } from '../../shared/log.js';
import { expectFilledKeys, expectSplitUndone, groupRecord, splitOf, SPLIT_ENDED, useSplitCluster, waitSplitStep } from '../support/split.js';
import { until } from '../support/until.js';

setLogLevel((process.env.REDSLOT_LOG_LEVEL as 'info' | undefined) ?? 'silent');

const KEYS = 5000;
const f = useSplitCluster({ spareGroups: 2, barrierTimeoutMs: 3000, redisArgs: ['--repl-diskless-sync-delay', '0'], split: { lagBytes: -1, retryMs: 1000 }, keys: KEYS });
const replicas: RedisServerHandle[] = [];

async function dbsize(port: number): Promise<number> {
  const r = new Redis({ port, host: '127.0.0.1' });
  try {
    return await r.dbsize();
  } finally {
    r.disconnect();
  }
}

const addr = (port: number) => `127.0.0.1:${port}`;
const masterOf = async (gid: number) => (await groupRecord(f.c, gid)).servers.find((s) => s.role === 'master')?.addr;

/**
 * Promotes `replica` in `gid` while the split of group `source` syncs; the split must still carry its marker on
 * `gid` when the promotion has ended (a promotion keeps a group's split marker), then abort for the master change.
 */
async function promoteMidSplit(source: number, gid: number, oldMaster: string, replica: string): Promise<SplitView> {
  const { c, api } = f;
  await api.request('POST', `/api/v1/groups/${gid}/promote`, { addr: replica });
  const g = await groupRecord(c, gid);
  expect(g.servers.find((s) => s.role === 'master')?.addr).toBe(replica);
  expect(g.promoting).toBeUndefined();
  // Read before the split: if the split has not aborted yet, the marker must have survived the promotion.
  if ((await splitOf(api, source)).step === 'syncing') expect(g.split).toMatchObject({ state: 'syncing', role: gid === source ? 'source' : 'target' });
  const aborted = await waitSplitStep(api, source, SPLIT_ENDED);
  expect(aborted.step).toBe('aborted');
  expect(aborted.reason).toBe(`master change: the master of group ${gid} changed from ${oldMaster} to ${replica} during the split`);
  return aborted;
}

/** Nothing but the masters changed: no marker, every slot group 1's, every key served once. */
async function expectUntouched(): Promise<void> {
  await expectSplitUndone(f.c, [1, 2, 3]);
  expect(await f.client.dbsize()).toBe(KEYS);
  await expectFilledKeys(f.client, KEYS, 53);
}

// A replica for group 1 and one for group 3 (an empty server added to a group becomes its master's replica).
beforeAll(async () => {
  for (const gid of [1, 3]) {
    const r = await startRedis(['--repl-diskless-sync-delay', '0']);
    replicas.push(r);
    await f.api.request('POST', `/api/v1/groups/${gid}/servers`, { addr: addr(r.port) });
  }
  await until('group 1 replica synced', async () => (await dbsize(replicas[0]!.port)) === KEYS);
}, 60_000);

afterAll(async () => {
  for (const r of replicas) await r.stop();
});

describe('split and a master change before the switch', () => {
  it("the source group's master is replaced while syncing: the split aborts (master change), the new group is emptied, the data stays", { timeout: 60_000 }, async () => {
    const { c, api } = f;
    const oldMaster = addr(c.redis[0]!.port);
    await api.request('POST', '/api/v1/splits', { source: 1, target: 2, confirm: true });
    await until('the new master holds the copy', async () => (await dbsize(c.redis[1]!.port)) === KEYS);
    await promoteMidSplit(1, 1, oldMaster, addr(replicas[0]!.port));
    const target = new Redis({ port: c.redis[1]!.port, host: '127.0.0.1' });
    expect(((await target.call('ROLE')) as unknown[])[0]).toBe('master');
    target.disconnect();
    await until('the new group emptied', async () => (await dbsize(c.redis[1]!.port)) === 0);
    await expectUntouched();
    // Group 1 stays whole: the old master follows the promoted one.
    await until('the old master follows the new one', async () => (await dbsize(c.redis[0]!.port)) === KEYS);
  });

  it("the new group's master is replaced while syncing: the split aborts and empties the promoted master (and its replica)", { timeout: 60_000 }, async () => {
    const { c, api } = f;
    const source = await masterOf(1);
    const oldTarget = addr(c.redis[2]!.port);
    const promoted = addr(replicas[1]!.port);
    await api.request('POST', '/api/v1/splits', { source: 1, target: 3, confirm: true });
    expect((await splitOf(api, 1)).sourceMaster).toBe(source);
    // Group 3's replica is chained behind its master: both receive the copy.
    await until('both servers of the new group hold the copy', async () => (await dbsize(c.redis[2]!.port)) === KEYS && (await dbsize(replicas[1]!.port)) === KEYS);
    await promoteMidSplit(1, 3, oldTarget, promoted);
    // The promoted master is emptied; the old one, now its replica, with it.
    const now = new Redis({ port: replicas[1]!.port, host: '127.0.0.1' });
    expect(((await now.call('ROLE')) as unknown[])[0]).toBe('master');
    now.disconnect();
    await until('the new group emptied', async () => (await dbsize(replicas[1]!.port)) === 0 && (await dbsize(c.redis[2]!.port)) === 0);
    await expectUntouched();
  });
});
