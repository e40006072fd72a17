/**
 * Reading and writing split records (splits/<source gid>) together with the groups' split markers: a step
 * and the markers proxies follow change in one CAS txn (the store adds the leader fence), so a new leader
 * always finds them consistent.
 */
import type { Compare, Coordinator, TxnOp } from '../../../shared/coordinator/types.js';
import { RedslotError } from '../../../shared/errors.js';
import type { ClusterPaths } from '../../../shared/model/paths.js';
import type { GroupRecord, GroupSplitMarker } from '../../../shared/model/types.js';
import type { TopologyStore } from '../../topom/store.js';
import { SplitErrors } from './errors.js';
import { parseSplit, type SplitRecord } from './record.js';

export interface StoredSplit {
  record: SplitRecord;
  modRevision: number;
}

/** A group's new marker (undefined = remove it), compared against the group's modRevision as read. */
export interface MarkerChange {
  gid: number;
  marker: GroupSplitMarker | undefined;
}

export class SplitPersistence {
  constructor(
    private readonly coord: Coordinator,
    private readonly paths: ClusterPaths,
    private readonly store: TopologyStore,
  ) {}

  async read(source: number): Promise<StoredSplit> {
    const kv = await this.coord.get(this.paths.split(source));
    const record = kv ? parseSplit(kv.value) : undefined;
    if (!kv || !record) throw new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_NOT_FOUND, { source });
    return { record, modRevision: kv.modRevision };
  }

  /** modRevision of the record key (0 = absent). */
  async modOf(source: number): Promise<number> {
    return (await this.coord.get(this.paths.split(source)))?.modRevision ?? 0;
  }

  async list(): Promise<StoredSplit[]> {
    const res = await this.coord.getPrefix(this.paths.splits);
    const out: StoredSplit[] = [];
    for (const kv of res.kvs) {
      const record = parseSplit(kv.value);
      if (record) out.push({ record, modRevision: kv.modRevision });
    }
    return out.sort((a, b) => a.record.source - b.record.source);
  }

  /**
   * Writes `next` (CAS on `recordMod`) and the marker changes (CAS on each group as read now) in one txn.
   * Returns the new store revision.
   */
  async write(next: SplitRecord, recordMod: number, markers: MarkerChange[] = [], extra: { compares: Compare[]; ops: TxnOp[] } = { compares: [], ops: [] }): Promise<number> {
    const snap = markers.length > 0 ? await this.store.read() : undefined;
    const compares: Compare[] = [this.store.guard(this.paths.split(next.source), recordMod), ...extra.compares];
    const ops: TxnOp[] = [{ type: 'put', key: this.paths.split(next.source), value: JSON.stringify({ ...next, updatedAt: new Date().toISOString() }) }, ...extra.ops];
    for (const m of markers) {
      const g = snap!.groups.get(m.gid);
      if (!g) throw new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_FAILED, { source: next.source, target: next.target, step: next.step, reason: `group ${m.gid} disappeared` });
      const rec: GroupRecord = { ...g.record };
      if (m.marker === undefined) delete rec.split;
      else rec.split = m.marker;
      compares.push(this.store.guard(this.paths.group(m.gid), g.modRevision));
      ops.push(this.store.groupPut(rec));
    }
    return this.store.commit(`split of group ${next.source} (${next.step})`, snap?.revision ?? 0, compares, ops);
  }
}
