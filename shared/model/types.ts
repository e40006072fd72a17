/**
 * Persisted shapes of the topology, stored as JSON in the coordinator (paths in ./paths.ts).
 * Every field here is part of the on-disk format: add fields, never rename them.
 */

export const OFFLINE_GROUP = 0;

export type ServerRole = 'master' | 'replica';

export interface ServerRecord {
  /** host:port as the proxy and dashboard dial it. */
  addr: string;
  role: ServerRole;
}

export interface GroupRecord {
  /** 1..9999 */
  id: number;
  servers: ServerRecord[];
  /** Relative share of slots for rebalance (default 1). */
  weight: number;
  /** Set while a master promotion runs; the group's slots are held like a migration's locked step. */
  promoting?: {
    state: 'preparing' | 'prepared' | 'finished';
    newMaster: string;
    /** Set by an automatic failover: the old master was declared down; proxies fail what is pending on it. */
    abandon?: string;
  };
  /** Set while a replication-based split involves this group (dashboard/migration/split/). */
  split?: GroupSplitMarker;
}

/**
 * What proxies must know of a split (docs/migration.md, "Split by replication"):
 * - the target group (`role: 'target'`) is left out of every cluster-wide command while it is a replica of the
 *   source (`syncing`, `locked`): it holds a copy of keys it does not own;
 * - `locked` with `slots`: those slots of this group are held (like a migration's `prepared` step) while the
 *   switch runs;
 * - `switched` with `slots` (on the source): those slots are served by the peer (the target) even though
 *   their slot records still name the source: ONE txn switches every moving slot and releases the hold; the
 *   slot records are rewritten afterwards, outside the hold. Otherwise like `purging`;
 * - `purging`: the group still holds keys of slots it does not own (being deleted in the background); keyed
 *   cluster-wide replies (SCAN, KEYS, RANDOMKEY) filter them out, DBSIZE counts them until the purge ends.
 */
export interface GroupSplitMarker {
  /** The split's id (its record: splits/<source gid>). */
  id: string;
  role: 'source' | 'target';
  /** The other group of the split. */
  peer: number;
  state: 'syncing' | 'locked' | 'switched' | 'purging';
  /** While `locked` or `switched`: the moving slots as inclusive [from, to] ranges. */
  slots?: Array<[number, number]>;
}

/**
 * Slot action states (Codis's machine, driven by the dashboard leader; each persisted before it takes effect
 * and advanced only after every live proxy acknowledged the previous one):
 * - pending: queued; proxies route to the owner as usual.
 * - preparing: picked; proxies still route to the owner (source).
 * - prepared: proxies HOLD new requests for the slot and drain in-flight ones, then acknowledge.
 * - migrating: proxies move touched keys source -> target with MIGRATE, then run the command on the target.
 * - finished: all keys moved; proxies route to the target only.
 * When cleared, the mapping becomes { group: target } without an action.
 */
export type SlotActionState = 'pending' | 'preparing' | 'prepared' | 'migrating' | 'finished';

export interface SlotAction {
  state: SlotActionState;
  /** Destination group. */
  target: number;
  /** Global FIFO order of actions. */
  index: number;
  /** Migration job this action belongs to. */
  job?: string;
  /** Set when an abort reversed the move (source and target swapped). */
  aborted?: boolean;
}

export interface SlotRecord {
  id: number;
  /** Owning (source) group; 0 = offline (no group: commands for it fail with CLUSTERDOWN). */
  group: number;
  action?: SlotAction;
}

export interface ClusterMeta {
  name: string;
  slotCount: number;
  createdAt: string;
}

export interface ProxyRecord {
  id: string;
  /** RESP address clients use. */
  addr: string;
  /** Admin HTTP address. */
  adminAddr: string;
  version: string;
  startedAt: string;
  pid: number;
  hostname: string;
  /**
   * TTL of the lease the registration is attached to (added in issue 15; absent from older proxies). The
   * dashboard keeps a removed live proxy's tombstone that long: by then the proxy fenced itself.
   */
  leaseTtlSeconds?: number;
  /** Id the operator or deployment gave the process; `id` is this lease's identity (base, base.2, ...). */
  baseId?: string;
}

/**
 * removed/<proxyId>: written (under a lease that is never renewed) when a live proxy is removed. The barrier
 * waits while it exists; the proxy deletes it once it fenced itself, else it expires after the old lease's TTL.
 */
export interface RemovedProxyRecord {
  id: string;
  at: string;
  /** Seconds the tombstone lives (the removed registration's lease TTL + 1). */
  ttlSeconds: number;
}

export interface ProxyAck {
  /** Highest topology revision the proxy has applied (and drained for). */
  revision: number;
  at: string;
  /** True while the proxy is fenced (not serving). */
  fenced?: boolean;
}

export interface LeaderRecord {
  id: string;
  addr: string;
  since: string;
}

export interface AuditRecord {
  at: string;
  who: string;
  action: string;
  target?: string;
  params?: unknown;
  /** 'started': the intent, written before the action ran; replaced by the outcome (issue 15). */
  result: 'started' | 'ok' | 'refused' | 'failed';
  /** When the intent was written (the outcome's `at` is when it finished). Absent before issue 15. */
  startedAt?: string;
  detail?: string;
}

/** The part of the model every proxy follows: groups and slots, read together at one revision. */
export interface Topology {
  revision: number;
  groups: Map<number, GroupRecord>;
  /** Exactly SLOT_COUNT entries, index = slot id. */
  slots: SlotRecord[];
}
