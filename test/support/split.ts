/**
 * The split tests' cluster and helpers. `useSplitCluster(options)` registers a test file's hooks: before all, a
 * cluster in this process (group 1 owns every slot, `spareGroups` new empty groups, a dashboard over HTTP, proxies)
 * with `keys` keys written through the first proxy; after each test (each attempt of a retried one), any split
 * still running is ended, aborted if it can be and else waited for, so that a retry does not fail for a split the
 * failed attempt left behind ("group 1 is already in split"), and a test that passed but left one running fails;
 * after all, everything stopped.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { Redis } from 'ioredis';
import { startMigrationCluster, type ClusterOptions, type MigrationCluster } from '../../bench/migration/cluster.js';
import { ApiError, type DashboardClient } from '../../dashboard/cli/api-client.js';
import { ABORTABLE_STEPS, type SplitStep } from '../../dashboard/migration/split/record.js';
import type { SplitView } from '../../dashboard/migration/split/service.js';
import type { GroupRecord, SlotRecord } from '../../shared/model/types.js';
import { slotOf } from '../../shared/slot.js';
import { slotRecords } from './placement.js';

export { slotRecords } from './placement.js';

/** The steps a split ends in. */
export const SPLIT_ENDED: SplitStep[] = ['done', 'aborted', 'failed'];

export interface SplitClusterOptions extends Partial<ClusterOptions> {
  /** Keys written through the first proxy before the tests: `key(i)` = `value(i)` for i < keys (`k${i}` = `v${i}`). */
  keys?: number;
  key?: (i: number) => string;
  value?: (i: number) => string;
  /** The timeout of the start (and fill), beyond the hooks' default. */
  startTimeoutMs?: number;
}

export interface SplitCluster {
  c: MigrationCluster;
  /** The leading dashboard at the start. */
  api: DashboardClient;
  /** Through the first proxy (no retries: an error is the test's to see). */
  client: Redis;
  /** One per redis-server of `c.redis`, in its order. */
  direct: Redis[];
}

/** Registers the hooks that start, clean between tests and stop a split test file's cluster; its parts once started. */
export function useSplitCluster(o: SplitClusterOptions = {}): SplitCluster {
  const f = {} as SplitCluster;
  beforeAll(async () => {
    const { keys = 0, key = (i: number) => `k${i}`, value = (i: number) => `v${i}`, startTimeoutMs: _, ...cluster } = o;
    f.c = await startMigrationCluster({ groups: 1, spareGroups: 1, proxies: 1, coordinator: 'memory', ...cluster });
    f.api = await f.c.leader();
    f.client = new Redis({ port: f.c.proxies[0]!.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    f.direct = f.c.redis.map((r) => new Redis({ port: r.port, host: '127.0.0.1' }));
    const p = f.client.pipeline();
    for (let i = 0; i < keys; i++) p.set(key(i), value(i));
    await p.exec();
  }, o.startTimeoutMs);
  afterEach(async (ctx) => {
    if (!f.c) return;
    const ended = await endRunningSplits(await f.c.leader());
    // After a failure that is the point; a test that passed must have ended its splits itself.
    if (ended.length > 0 && ctx.task.result?.state !== 'fail') throw new Error(`the test left the split of group(s) ${ended.join(', ')} running`);
  }, 90_000);
  afterAll(async () => {
    f.client?.disconnect();
    for (const r of f.direct ?? []) r.disconnect();
    await f.c?.stop();
  });
  return f;
}

/** Aborts every split still running (waits for those past their switch) until each has ended; their sources. */
export async function endRunningSplits(api: DashboardClient): Promise<number[]> {
  const { splits } = await api.request<{ splits: SplitView[] }>('GET', '/api/v1/splits');
  const running = splits.filter((x) => !SPLIT_ENDED.includes(x.step));
  for (const s of running) {
    if (ABORTABLE_STEPS.includes(s.step)) {
      await api.request('POST', `/api/v1/splits/${s.source}/abort`, {}).catch((err: unknown) => {
        // It went past its switch meanwhile: waited for below.
        if (!(err instanceof ApiError && err.code === 'REDSLOT_ERR_SPLIT_ABORT_REFUSED')) throw err;
      });
    }
    await waitSplitStep(api, s.source, SPLIT_ENDED, 60_000);
  }
  return running.map((s) => s.source);
}

export function splitOf(api: DashboardClient, source: number): Promise<SplitView> {
  return api.request<SplitView>('GET', `/api/v1/splits/${source}`);
}

/** Polls the split of `source` until its step is one of `steps`. */
export async function waitSplitStep(api: DashboardClient, source: number, steps: string[], timeoutMs = 30_000): Promise<SplitView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await splitOf(api, source);
    if (steps.includes(s.step)) return s;
    if (Date.now() > deadline) throw new Error(`split still ${s.step}: ${JSON.stringify(s.progress)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function groupRecord(c: MigrationCluster, gid: number): Promise<GroupRecord> {
  return JSON.parse((await c.opened.coordinator.get(c.opened.paths.group(gid)))!.value) as GroupRecord;
}

export async function slotRecord(c: MigrationCluster, sid: number): Promise<SlotRecord> {
  return JSON.parse((await c.opened.coordinator.get(c.opened.paths.slot(sid)))!.value) as SlotRecord;
}

/** The first `${prefix}${i}` whose slot passes `pred`. */
export function keyIn(pred: (slot: number) => boolean, prefix: string): string {
  for (let i = 0; ; i++) if (pred(slotOf(Buffer.from(`${prefix}${i}`)))) return `${prefix}${i}`;
}

/** After an abort: no group of `gids` carries a split marker, every slot is still group 1's, with no action. */
export async function expectSplitUndone(c: MigrationCluster, gids: number[]): Promise<void> {
  for (const gid of gids) expect((await groupRecord(c, gid)).split).toBeUndefined();
  expect((await slotRecords(c)).every((s) => s.group === 1 && s.action === undefined)).toBe(true);
}

/** Every `every`-th of the `keys` filled keys reads its value through `client`. */
export async function expectFilledKeys(client: Redis, keys: number, every: number): Promise<void> {
  for (let i = 0; i < keys; i += every) expect(await client.get(`k${i}`)).toBe(`v${i}`);
}
