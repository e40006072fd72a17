/**
 * Reading and writing split records (splits/<source gid>) together with the groups' split markers: a step
 * and the markers proxies follow change in one CAS txn (the store adds the leader fence), so a new leader
 * always finds them consistent.
 */
import type { Compare, Coordinator, TxnOp } from '../../../shared/coordinator/types.js';
import { RedslotError } from '../../../shared/errors.js';
import type { ClusterPaths } from '../../../shared/model/paths.js';
import type { GroupRecord, GroupSplitMarker } from '../../../shared/model/types.js';
import type { TopologyStore, Versioned } from '../../topom/store.js';
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
  async write(next: SplitRecord, recordMod: number, markers: MarkerChange[] = [], known?: ReadonlyMap<number, Versioned<GroupRecord>>): Promise<number> {
    // `known`: the groups as the caller last wrote or read them (saves a topology read while slots are held).
    const groups = markers.length === 0 ? undefined : (known ?? (await this.store.read()).groups);
    const compares: Compare[] = [this.store.guard(this.paths.split(next.source), recordMod)];
    const ops: TxnOp[] = [this.recordPut(next)];
    for (const m of markers) {
      const g = groups!.get(m.gid);
      if (!g) throw new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_FAILED, { source: next.source, target: next.target, step: next.step, reason: `group ${m.gid} disappeared` });
      // A promotion's own CAS writes must not lose to a marker change: wait until it ended.
      if (g.record.promoting) throw promotingError(next.source, m.gid, g.record);
      compares.push(this.store.guard(this.paths.group(m.gid), g.modRevision));
      ops.push(this.store.groupPut(withMarker(g.record, m.marker)));
    }
    return this.store.commit(`split of group ${next.source} (${next.step})`, 0, compares, ops);
  }

  recordPut(r: SplitRecord): TxnOp {
    return { type: 'put', key: this.paths.split(r.source), value: JSON.stringify({ ...r, updatedAt: new Date().toISOString() }) };
  }

  recordGuard(source: number, mod: number): Compare {
    return this.store.guard(this.paths.split(source), mod);
  }
}

function withMarker(g: GroupRecord, marker: GroupSplitMarker | undefined): GroupRecord {
  const rec: GroupRecord = { ...g };
  if (marker === undefined) delete rec.split;
  else rec.split = marker;
  return rec;
}

/** The groups as a write() with `markers` committed at `revision` left them (what the next CAS compares). */
export function groupsAfter(
  groups: ReadonlyMap<number, Versioned<GroupRecord>>,
  markers: MarkerChange[],
  revision: number,
): Map<number, Versioned<GroupRecord>> {
  const out = new Map<number, Versioned<GroupRecord>>();
  for (const m of markers) {
    const g = groups.get(m.gid);
    if (g) out.set(m.gid, { record: withMarker(g.record, m.marker), modRevision: revision });
  }
  return out;
}

export function promotingError(source: number, gid: number, g: GroupRecord): RedslotError {
  return new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_GROUP_PROMOTING, { source, gid, newMaster: g.promoting?.newMaster ?? '?' });
}
