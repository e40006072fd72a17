/**
 * Reading the topology with the modRevision of every key, and committing compare-and-swap writes to it.
 *
 * Rules every writer follows (the migration engine too):
 * - a txn compares the modRevision of every key it writes (0 = must be absent) with what it read;
 * - a txn that makes any slot point at group g (as owner or action target) also compares g's modRevision and
 *   re-puts g, so "remove group g only when it owns no slots" cannot race an assignment (removal compares g's
 *   modRevision too);
 * - every txn also compares the leader key's createRevision with this dashboard's own term (fencing: a
 *   dashboard that lost the lease without noticing cannot write);
 * - etcd refuses txns with more than 128 compares or operations (default --max-txn-ops), so large writes are
 *   split into chunks of at most CHUNK keys, each chunk its own CAS.
 * A failed compare is REDSLOT_ERR_CAS_CONFLICT (409): the caller re-reads and decides again; nothing retries
 * silently, so two operators never overwrite each other.
 */
import type { Compare, Coordinator, TxnOp } from '../../shared/coordinator/types.js';
import { CommonErrors, RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import { lastSegment } from '../../shared/model/paths.js';
import { emptySlots, parseGroup, parseSlot } from '../../shared/model/topology.js';
import { OFFLINE_GROUP, type GroupRecord, type SlotRecord } from '../../shared/model/types.js';
import { SLOT_COUNT } from '../../shared/slot.js';
import type { DashboardMetrics } from '../metrics/dashboard.js';

/** Max keys written per txn (etcd's default limit is 128 operations and 128 compares). */
export const CHUNK = 100;

export interface Versioned<T> {
  record: T;
  /** 0 when the key is absent. */
  modRevision: number;
}

export interface TopologySnapshot {
  revision: number;
  groups: Map<number, Versioned<GroupRecord>>;
  /** Exactly SLOT_COUNT entries. */
  slots: Array<Versioned<SlotRecord>>;
}

/** Provides the leader fencing compare; null when this dashboard is not the leader. */
export type FenceProvider = () => Compare | null;

export class TopologyStore {
  /** Revision of the last topology txn this dashboard committed (0 = none yet). */
  lastCommitted = 0;

  constructor(
    private readonly coord: Coordinator,
    readonly paths: ClusterPaths,
    private readonly fence: FenceProvider,
    private readonly log: Logger,
    private readonly metrics?: DashboardMetrics,
  ) {}

  async read(): Promise<TopologySnapshot> {
    const res = await this.coord.getPrefix(this.paths.topology);
    const slots: Array<Versioned<SlotRecord>> = emptySlots().map((record) => ({ record, modRevision: 0 }));
    const groups = new Map<number, Versioned<GroupRecord>>();
    for (const kv of res.kvs) {
      if (kv.key.startsWith(this.paths.groups)) {
        const gid = Number(lastSegment(kv.key));
        if (Number.isInteger(gid)) groups.set(gid, { record: parseGroup(kv.value), modRevision: kv.modRevision });
      } else if (kv.key.startsWith(this.paths.slots)) {
        const sid = Number(lastSegment(kv.key));
        if (Number.isInteger(sid) && sid >= 0 && sid < SLOT_COUNT) {
          slots[sid] = { record: parseSlot(kv.value, sid), modRevision: kv.modRevision };
        }
      }
    }
    return { revision: res.revision, groups, slots };
  }

  /**
   * Refuses with 409 when the caller's `ifRevision` is older than a key the call is about to touch: the caller
   * decided on a state that has changed since.
   */
  checkIfRevision(ifRevision: number | undefined, what: string, touched: Array<{ modRevision: number }>): void {
    if (ifRevision === undefined) return;
    if (touched.some((t) => t.modRevision > ifRevision)) this.conflict(what, ifRevision);
  }

  conflict(what: string, revision: number): never {
    this.metrics?.casConflicts.inc();
    throw new RedslotError(CommonErrors.REDSLOT_ERR_CAS_CONFLICT, { what, revision });
  }

  /** mod == expected (0 = absent). */
  guard(key: string, modRevision: number): Compare {
    return { key, target: 'mod', op: '==', value: modRevision };
  }

  /**
   * Commits one CAS txn (plus the leader fence). Returns the new store revision; throws CAS_CONFLICT when a
   * compare failed (the fence failing means leadership was lost: also a conflict, with that reason).
   */
  async commit(what: string, readRevision: number, compares: Compare[], ops: TxnOp[]): Promise<number> {
    const fence = this.fence();
    if (fence === null) this.conflict(`${what} (this dashboard is no longer the leader)`, readRevision);
    if (compares.length + 1 > 128 || ops.length > 128) throw new Error(`txn too large for etcd: ${compares.length} compares, ${ops.length} ops`);
    const res = await this.coord.txn([...compares, fence], ops);
    if (!res.succeeded) {
      this.log.warn('topology.cas_conflict', { what, readRevision });
      this.conflict(what, readRevision);
    }
    this.lastCommitted = Math.max(this.lastCommitted, res.revision);
    return res.revision;
  }

  groupPut(g: GroupRecord): TxnOp {
    return { type: 'put', key: this.paths.group(g.id), value: JSON.stringify(g) };
  }

  slotPut(s: SlotRecord): TxnOp {
    // Offline slots without an action are stored as absent keys (the model's default).
    if (s.group === OFFLINE_GROUP && !s.action) return { type: 'delete', key: this.paths.slot(s.id) };
    const rec: SlotRecord = s.action ? { id: s.id, group: s.group, action: s.action } : { id: s.id, group: s.group };
    return { type: 'put', key: this.paths.slot(s.id), value: JSON.stringify(rec) };
  }
}

/** Slots owned by (or migrating to) a group. */
export function slotsOfGroup(snap: TopologySnapshot, gid: number): { owned: number; targeted: number } {
  let owned = 0;
  let targeted = 0;
  for (const s of snap.slots) {
    if (s.record.group === gid) owned++;
    if (s.record.action?.target === gid) targeted++;
  }
  return { owned, targeted };
}

/** Compresses a slot table into contiguous ranges of one group (offline ranges included, group 0). */
export function slotRanges(slots: ReadonlyArray<{ id: number; group: number }>, includeOffline = false): Array<{ from: number; to: number; group: number }> {
  const out: Array<{ from: number; to: number; group: number }> = [];
  for (const s of slots) {
    const last = out[out.length - 1];
    if (last && last.group === s.group && last.to === s.id - 1) last.to = s.id;
    else out.push({ from: s.id, to: s.id, group: s.group });
  }
  return includeOffline ? out : out.filter((r) => r.group !== OFFLINE_GROUP);
}
