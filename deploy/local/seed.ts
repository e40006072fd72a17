/**
 * Writing an initial topology into an empty cluster (the local cluster, tests, a static config imported
 * into etcd). One txn, guarded by "meta does not exist yet", so it never overwrites a live cluster.
 */
import type { Coordinator, TxnOp } from '../../shared/coordinator/types.js';
import { SLOT_COUNT } from '../../shared/slot.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import type { ClusterMeta, GroupRecord, SlotRecord } from '../../shared/model/types.js';

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
  const ops: TxnOp[] = [];
  for (const g of groups) ops.push({ type: 'put', key: paths.group(g.id), value: JSON.stringify(g) });
  for (const s of slots) if (s.group !== 0 || s.action) ops.push({ type: 'put', key: paths.slot(s.id), value: JSON.stringify(s) });
  // etcd caps a txn at 128 operations: write in chunks, each still guarded by "no cluster yet", and the
  // meta key last, so a half-seeded cluster is re-seeded rather than taken as existing.
  const absent = [{ key: paths.meta, target: 'create' as const, op: '==' as const, value: 0 }];
  let revision = 0;
  for (let i = 0; i < ops.length; i += TXN_CHUNK) {
    const res = await coord.txn(absent, ops.slice(i, i + TXN_CHUNK));
    if (!res.succeeded) return { created: false, revision: res.revision };
    revision = res.revision;
  }
  const res = await coord.txn(absent, [{ type: 'put', key: paths.meta, value: JSON.stringify(meta) }]);
  return { created: res.succeeded, revision: res.succeeded ? res.revision : revision };
}

const TXN_CHUNK = 100;

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
