/**
 * Writing an initial topology into an empty cluster (the local cluster, tests, a static config imported
 * into etcd). One txn, guarded by "meta does not exist yet", so it never overwrites a live cluster.
 */
import type { Coordinator, TxnOp } from '../coordinator/types.js';
import { SLOT_COUNT } from '../slot.js';
import type { ClusterPaths } from './paths.js';
import type { ClusterMeta, GroupRecord, SlotRecord } from './types.js';

export interface SeedResult {
  /** False when the cluster already existed (nothing written). */
  created: boolean;
  revision: number;
}

export async function seedTopology(
  coord: Coordinator,
  paths: ClusterPaths,
  cluster: string,
  groups: GroupRecord[],
  slots: SlotRecord[],
): Promise<SeedResult> {
  const meta: ClusterMeta = { name: cluster, slotCount: SLOT_COUNT, createdAt: new Date().toISOString() };
  const ops: TxnOp[] = [{ type: 'put', key: paths.meta, value: JSON.stringify(meta) }];
  for (const g of groups) ops.push({ type: 'put', key: paths.group(g.id), value: JSON.stringify(g) });
  for (const s of slots) if (s.group !== 0 || s.action) ops.push({ type: 'put', key: paths.slot(s.id), value: JSON.stringify(s) });
  const res = await coord.txn([{ key: paths.meta, target: 'create', op: '==', value: 0 }], ops);
  return { created: res.succeeded, revision: res.revision };
}

/** Slots split into contiguous, near-equal ranges over the given group ids, in order. */
export function evenRanges(groupIds: number[]): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  const n = groupIds.length;
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * SLOT_COUNT) / n);
    const to = Math.floor(((i + 1) * SLOT_COUNT) / n) - 1;
    out.push([from, to, groupIds[i]!]);
  }
  return out;
}
