/** Helpers of the split tests: the split record through the dashboard API, group records from the coordinator. */
import type { MigrationCluster } from '../../bench/migration/cluster.js';
import type { DashboardClient } from '../../dashboard/cli/api-client.js';
import type { SplitView } from '../../dashboard/migration/split/service.js';
import type { GroupRecord } from '../../shared/model/types.js';
import { slotOf } from '../../shared/slot.js';

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

/** The first `${prefix}${i}` whose slot passes `pred`. */
export function keyIn(pred: (slot: number) => boolean, prefix: string): string {
  for (let i = 0; ; i++) if (pred(slotOf(Buffer.from(`${prefix}${i}`)))) return `${prefix}${i}`;
}
