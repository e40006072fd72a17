/**
 * The coordinator: a small key-value store with etcd v3 semantics. Two implementations share one
 * contract test suite: `etcd.ts` (production, the `etcd3` package) and `memory.ts` (embedded, for
 * `redslot up` and fast tests).
 *
 * Semantics both must keep:
 * - revisions: one store-wide counter, strictly increasing; every successful put/delete/txn that changes
 *   something creates exactly one new revision, and all keys it changed carry it as modRevision;
 * - watch: prefix watch starting at a given revision delivers every change after it, in revision order,
 *   each revision's events together in one batch (a txn is applied atomically by watchers);
 * - leases: granted with a TTL, kept alive automatically; keys put with a lease are deleted when it expires
 *   or is revoked (a delete event is seen by watchers);
 * - txn: compare-and-swap over several keys, atomically.
 * Values are UTF-8 strings (JSON documents in practice).
 */

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the change that created the key. */
  createRevision: number;
  /** Revision of the last change to the key. */
  modRevision: number;
  /** Number of changes since creation (1 after the first put). */
  version: number;
  /** Lease id the key is attached to, if any. */
  lease?: string;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** Store revision the read was served at. */
  revision: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  /** For deletes: key set, value empty, modRevision = revision of the delete. */
  kv: KeyValue;
}

export interface WatchBatch {
  /** The revision all events of this batch belong to. */
  revision: number;
  events: WatchEvent[];
}

export interface WatchHandlers {
  /** Called once per revision, in order. */
  onBatch(batch: WatchBatch): void;
  /**
   * The watch can no longer deliver a gapless stream (history compacted, or the store's revision went
   * backwards because etcd was replaced). The watcher must reload everything and watch again.
   */
  onReset?(reason: string): void;
  /** Connection state changes (debounced): false while the store is unreachable. */
  onConnection?(up: boolean): void;
}

export interface Watch {
  cancel(): Promise<void>;
}

export type CompareTarget = 'mod' | 'create' | 'version' | 'value';
export type CompareOp = '==' | '!=' | '<' | '>';

export interface Compare {
  key: string;
  target: CompareTarget;
  op: CompareOp;
  /** number for mod/create/version (0 = key absent), string for value. */
  value: number | string;
}

export type TxnOp =
  | { type: 'put'; key: string; value: string; lease?: string }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string };

export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the txn (unchanged when nothing was written). */
  revision: number;
}

export type LeaseEvent = 'keepaliveSucceeded' | 'keepaliveFailed' | 'lost';

export interface Lease {
  readonly id: string;
  readonly ttlSeconds: number;
  /** Wall-clock ms (Date.now()) of the last successful grant or keep-alive: for display only, never for deadlines. */
  lastRenewedAt(): number;
  /**
   * Monotonic ms (performance.now()) at which the last successful grant or keep-alive was SENT: the
   * coordinator extended the lease no earlier than that, so `renewedAtMonotonic() + ttl` never overstates it,
   * even when the reply was read late (a frozen process) or the wall clock stepped. Every deadline uses this.
   */
  renewedAtMonotonic(): number;
  on(event: LeaseEvent, listener: () => void): void;
  off(event: LeaseEvent, listener: () => void): void;
  /** Deletes every key attached to the lease. */
  revoke(): Promise<void>;
  /** Stops keep-alives without revoking (the lease then expires by itself). */
  release(): void;
}

export interface Coordinator {
  /** Human-readable endpoint, without credentials. */
  readonly describe: string;
  get(key: string): Promise<KeyValue | undefined>;
  getPrefix(prefix: string): Promise<RangeResult>;
  /** Returns the new store revision. */
  put(key: string, value: string, opts?: { lease?: string }): Promise<number>;
  /** Returns the store revision after the delete. */
  delete(key: string): Promise<number>;
  txn(compares: Compare[], success: TxnOp[], failure?: TxnOp[]): Promise<TxnResult>;
  /** Watches keys under `prefix` for changes with revision >= fromRevision. */
  watchPrefix(prefix: string, fromRevision: number, handlers: WatchHandlers): Promise<Watch>;
  grantLease(ttlSeconds: number): Promise<Lease>;
  /** Revokes a lease by id (someone else's, e.g. a removed proxy's): its keys are deleted. No-op if gone. */
  revokeLease(id: string): Promise<void>;
  close(): Promise<void>;
}
