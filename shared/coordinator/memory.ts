/**
 * Embedded in-memory coordinator with the semantics of etcd v3 as described in ./types.ts.
 *
 * Two layers:
 * - `MemoryStore`: the shared state of one cluster (keys, revision counter, bounded history, leases, watchers).
 *   Several components in one process share one store per name through the registry in ./index.ts.
 * - `MemoryCoordinator`: a client of a store (what `Coordinator` callers hold). close() stops the client's
 *   watches and keep-alives (its leases then expire by themselves, exactly like an etcd client going away).
 *
 * Invariants:
 * - the store revision starts at 1 (like a fresh etcd) and every write that changes something creates exactly one
 *   new revision; a history entry per revision (all events of that revision) is kept for the last
 *   `historyLimit` revisions, so a watch from a recent revision replays; older -> onReset('compacted');
 * - watch delivery is asynchronous (a microtask per batch), never re-entrant, in revision order per watcher;
 *   replayed history is queued before any live batch, in the same synchronous step that registers the watcher,
 *   so there is no gap and no duplicate;
 * - a lease's keys are deleted in ONE revision when it expires or is revoked (watchers see the deletes together).
 * All timers are unref'd: an idle store never keeps the process alive.
 */
import { createLogger } from '../log.js';
import { RedslotError } from '../errors.js';
import { CoordinatorErrors } from './errors.js';
import { LeaseBase } from './lease-base.js';
import type {
  Compare,
  Coordinator,
  KeyValue,
  Lease,
  RangeResult,
  TxnOp,
  TxnResult,
  Watch,
  WatchBatch,
  WatchEvent,
  WatchHandlers,
} from './types.js';

const log = createLogger({ component: 'coordinator.memory' });

export interface MemoryStoreOptions {
  /** Revisions of history kept for watches from a past revision (default 10 000). */
  historyLimit?: number;
  /** Lease keep-alive interval as a fraction of the TTL (default 1/3, like etcd3). */
  keepAliveFraction?: number;
  /** Max compares and max ops per txn branch (default 128, etcd's --max-txn-ops default). */
  maxTxnOps?: number;
}

export const DEFAULT_MAX_TXN_OPS = 128;

interface StoredKv {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease?: string;
}

interface StoredLease {
  id: string;
  ttlMs: number;
  expiresAt: number;
  keys: Set<string>;
  timer: NodeJS.Timeout;
  onExpire: () => void;
}

interface WatcherEntry {
  prefix: string;
  handlers: WatchHandlers;
  queue: WatchBatch[];
  scheduled: boolean;
  cancelled: boolean;
}

type Mutation = { type: 'put'; key: string; value: string; lease?: string } | { type: 'delete'; key: string };

export class MemoryStore {
  readonly name: string;
  private readonly historyLimit: number;
  readonly keepAliveFraction: number;
  readonly maxTxnOps: number;
  private rev = 1;
  private readonly kvs = new Map<string, StoredKv>();
  /** One entry per revision > compactedThrough, in order. */
  private readonly history: WatchBatch[] = [];
  /** Highest revision no longer in `history` (0 = nothing dropped). */
  private compactedThrough = 0;
  private readonly leases = new Map<string, StoredLease>();
  private readonly watchers = new Set<WatcherEntry>();
  private nextLeaseId = 0x1000;

  constructor(name: string, opts: MemoryStoreOptions = {}) {
    this.name = name;
    this.historyLimit = Math.max(1, opts.historyLimit ?? 10_000);
    this.keepAliveFraction = opts.keepAliveFraction ?? 1 / 3;
    this.maxTxnOps = opts.maxTxnOps ?? DEFAULT_MAX_TXN_OPS;
  }

  get revision(): number {
    return this.rev;
  }

  get(key: string): KeyValue | undefined {
    const kv = this.kvs.get(key);
    return kv ? toKeyValue(key, kv) : undefined;
  }

  getPrefix(prefix: string): RangeResult {
    const kvs: KeyValue[] = [];
    for (const [key, kv] of this.kvs) if (key.startsWith(prefix)) kvs.push(toKeyValue(key, kv));
    kvs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { kvs, revision: this.rev };
  }

  put(key: string, value: string, lease?: string): number {
    this.commit([{ type: 'put', key, value, lease }]);
    return this.rev;
  }

  delete(key: string): number {
    this.commit([{ type: 'delete', key }]);
    return this.rev;
  }

  txn(compares: Compare[], success: TxnOp[], failure: TxnOp[] = []): TxnResult {
    if (compares.length > this.maxTxnOps || success.length > this.maxTxnOps || failure.length > this.maxTxnOps) {
      // Same limit and wording as etcd (--max-txn-ops): split big changes into several txns.
      throw new RedslotError(CoordinatorErrors.REDSLOT_ERR_COORDINATOR_REQUEST_FAILED, {
        op: 'txn',
        reason: `etcdserver: too many operations in txn request (limit ${this.maxTxnOps})`,
      });
    }
    const ok = compares.every((c) => this.evaluate(c));
    const ops = ok ? success : failure;
    const mutations: Mutation[] = [];
    for (const op of ops) {
      if (op.type === 'put') mutations.push({ type: 'put', key: op.key, value: op.value, lease: op.lease });
      else if (op.type === 'delete') mutations.push({ type: 'delete', key: op.key });
      else for (const key of this.keysWithPrefix(op.prefix)) mutations.push({ type: 'delete', key });
    }
    this.commit(mutations);
    return { succeeded: ok, revision: this.rev };
  }

  /** Registers a watcher; replays history >= fromRevision first. Returns undefined when compacted. */
  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): WatcherEntry | undefined {
    const entry: WatcherEntry = { prefix, handlers, queue: [], scheduled: false, cancelled: false };
    const from = Math.max(1, Math.floor(fromRevision));
    if (from <= this.rev && from <= this.compactedThrough) return undefined;
    for (const batch of this.history) {
      if (batch.revision < from) continue;
      const filtered = filterBatch(batch, prefix);
      if (filtered) entry.queue.push(filtered);
    }
    this.watchers.add(entry);
    this.schedule(entry);
    return entry;
  }

  unwatch(entry: WatcherEntry): void {
    entry.cancelled = true;
    entry.queue.length = 0;
    this.watchers.delete(entry);
  }

  grantLease(ttlSeconds: number, onExpire: () => void): { id: string } {
    if (!(ttlSeconds > 0)) throw new RangeError(`lease TTL must be > 0 (got ${ttlSeconds})`);
    const id = String(this.nextLeaseId++);
    const ttlMs = Math.round(ttlSeconds * 1000);
    const lease: StoredLease = {
      id,
      ttlMs,
      expiresAt: Date.now() + ttlMs,
      keys: new Set(),
      timer: setTimeout(() => this.expire(id), ttlMs).unref(),
      onExpire,
    };
    this.leases.set(id, lease);
    return { id };
  }

  /** Renews a lease; false when it no longer exists. */
  keepAlive(id: string): boolean {
    const lease = this.leases.get(id);
    if (!lease) return false;
    lease.expiresAt = Date.now() + lease.ttlMs;
    clearTimeout(lease.timer);
    lease.timer = setTimeout(() => this.expire(id), lease.ttlMs).unref();
    return true;
  }

  hasLease(id: string): boolean {
    return this.leases.has(id);
  }

  revokeLease(id: string): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    this.dropLease(lease);
  }

  private expire(id: string): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    if (Date.now() < lease.expiresAt) {
      // Renewed after the timer was armed (cannot normally happen: keepAlive re-arms); re-arm defensively.
      lease.timer = setTimeout(() => this.expire(id), lease.expiresAt - Date.now()).unref();
      return;
    }
    log.info('coordinator.lease.expired', { store: this.name, lease: id, keys: lease.keys.size });
    this.dropLease(lease);
    lease.onExpire();
  }

  private dropLease(lease: StoredLease): void {
    clearTimeout(lease.timer);
    this.leases.delete(lease.id);
    this.commit([...lease.keys].sort().map((key) => ({ type: 'delete' as const, key })));
  }

  private keysWithPrefix(prefix: string): string[] {
    return [...this.kvs.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  private evaluate(c: Compare): boolean {
    const kv = this.kvs.get(c.key);
    if (c.target === 'value') {
      // etcd: a value compare on an absent key always fails.
      if (!kv) return false;
      return compare(kv.value, c.op, String(c.value));
    }
    const actual = !kv ? 0 : c.target === 'mod' ? kv.modRevision : c.target === 'create' ? kv.createRevision : kv.version;
    return compare(actual, c.op, Number(c.value));
  }

  /** Applies mutations as one revision (none if nothing changes). Validates leases first: all or nothing. */
  private commit(mutations: Mutation[]): void {
    for (const m of mutations) {
      if (m.type === 'put' && m.lease !== undefined && m.lease !== '' && !this.leases.has(m.lease)) {
        throw new RedslotError(CoordinatorErrors.REDSLOT_ERR_LEASE_NOT_FOUND, { lease: m.lease });
      }
    }
    const events: WatchEvent[] = [];
    const next = this.rev + 1;
    for (const m of mutations) {
      const cur = this.kvs.get(m.key);
      if (m.type === 'put') {
        if (cur?.lease) this.leases.get(cur.lease)?.keys.delete(m.key);
        const lease = m.lease ? m.lease : undefined;
        const kv: StoredKv = {
          value: m.value,
          createRevision: cur ? cur.createRevision : next,
          modRevision: next,
          version: (cur?.version ?? 0) + 1,
          lease,
        };
        if (lease) this.leases.get(lease)?.keys.add(m.key);
        this.kvs.set(m.key, kv);
        events.push({ type: 'put', kv: toKeyValue(m.key, kv) });
      } else {
        if (!cur) continue;
        if (cur.lease) this.leases.get(cur.lease)?.keys.delete(m.key);
        this.kvs.delete(m.key);
        events.push({ type: 'delete', kv: { key: m.key, value: '', createRevision: 0, modRevision: next, version: 0 } });
      }
    }
    if (events.length === 0) return;
    this.rev = next;
    const batch: WatchBatch = { revision: next, events };
    this.history.push(batch);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedThrough = dropped.revision;
    }
    for (const w of this.watchers) {
      const filtered = filterBatch(batch, w.prefix);
      if (!filtered) continue;
      w.queue.push(filtered);
      this.schedule(w);
    }
  }

  private schedule(w: WatcherEntry): void {
    if (w.scheduled || w.queue.length === 0) return;
    w.scheduled = true;
    queueMicrotask(() => {
      w.scheduled = false;
      while (!w.cancelled && w.queue.length > 0) {
        const batch = w.queue.shift()!;
        try {
          w.handlers.onBatch(batch);
        } catch (err) {
          log.error('coordinator.watch.handler_failed', { store: this.name, prefix: w.prefix, revision: batch.revision, err });
        }
      }
    });
  }
}

function compare<T extends number | string>(a: T, op: Compare['op'], b: T): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '>':
      return a > b;
  }
}

function toKeyValue(key: string, kv: StoredKv): KeyValue {
  const out: KeyValue = {
    key,
    value: kv.value,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  };
  if (kv.lease) out.lease = kv.lease;
  return out;
}

function filterBatch(batch: WatchBatch, prefix: string): WatchBatch | undefined {
  const events = batch.events.filter((e) => e.kv.key.startsWith(prefix));
  if (events.length === 0) return undefined;
  return { revision: batch.revision, events: events.map((e) => ({ type: e.type, kv: { ...e.kv } })) };
}

class MemoryLease extends LeaseBase implements Lease {
  private timer: NodeJS.Timeout | undefined;
  private gone = false;

  constructor(
    private readonly store: MemoryStore,
    readonly id: string,
    readonly ttlSeconds: number,
    private readonly onDone: (lease: MemoryLease) => void,
  ) {
    super(performance.now());
    const every = Math.max(50, Math.round(ttlSeconds * 1000 * store.keepAliveFraction));
    this.timer = setInterval(() => this.tick(), every).unref();
  }

  private tick(): void {
    if (this.gone) return;
    const sentAt = performance.now();
    if (this.store.keepAlive(this.id)) {
      this.renewed(sentAt);
    } else {
      this.markLost();
    }
  }

  /** Called by the store when the lease expired (keep-alives stopped, or never ran). */
  markLost(): void {
    if (this.gone) return;
    this.stop();
    this.gone = true;
    this.emit('lost');
  }

  async revoke(): Promise<void> {
    this.stop();
    this.gone = true;
    this.store.revokeLease(this.id);
  }

  release(): void {
    // Like etcd3: a released lease reports nothing more (it expires silently on the store).
    this.stop();
    this.gone = true;
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.onDone(this);
  }
}

/** A client of a MemoryStore implementing the Coordinator contract. */
export class MemoryCoordinator implements Coordinator {
  readonly describe: string;
  private closed = false;
  private readonly watches = new Set<WatcherEntry>();
  private readonly leases = new Set<MemoryLease>();

  constructor(readonly store: MemoryStore) {
    this.describe = `memory://${store.name}`;
  }

  private check(): void {
    if (this.closed) throw new RedslotError(CoordinatorErrors.REDSLOT_ERR_COORDINATOR_CLOSED, { describe: this.describe });
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.check();
    return this.store.get(key);
  }

  async getPrefix(prefix: string): Promise<RangeResult> {
    this.check();
    return this.store.getPrefix(prefix);
  }

  async put(key: string, value: string, opts?: { lease?: string }): Promise<number> {
    this.check();
    return this.store.put(key, value, opts?.lease);
  }

  async delete(key: string): Promise<number> {
    this.check();
    return this.store.delete(key);
  }

  async txn(compares: Compare[], success: TxnOp[], failure?: TxnOp[]): Promise<TxnResult> {
    this.check();
    return this.store.txn(compares, success, failure);
  }

  async watchPrefix(prefix: string, fromRevision: number, handlers: WatchHandlers): Promise<Watch> {
    this.check();
    const entry = this.store.watch(prefix, fromRevision, handlers);
    if (!entry) {
      // History no longer reaches back that far: tell the watcher to reload (asynchronously, like etcd).
      let cancelled = false;
      queueMicrotask(() => {
        if (!cancelled) handlers.onReset?.(`compacted: revision ${fromRevision} is older than the kept history`);
      });
      return {
        cancel: async () => {
          cancelled = true;
        },
      };
    }
    this.watches.add(entry);
    return {
      cancel: async () => {
        this.store.unwatch(entry);
        this.watches.delete(entry);
      },
    };
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    this.check();
    const { id } = this.store.grantLease(ttlSeconds, () => lease.markLost());
    const lease = new MemoryLease(this.store, id, ttlSeconds, (l) => this.leases.delete(l));
    this.leases.add(lease);
    return lease;
  }

  async revokeLease(id: string): Promise<void> {
    this.check();
    this.store.revokeLease(id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watches) this.store.unwatch(w);
    this.watches.clear();
    // Like an etcd client going away: keep-alives stop, the leases expire by themselves after their TTL.
    for (const l of [...this.leases]) l.release();
    this.leases.clear();
  }
}
