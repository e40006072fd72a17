/**
 * The Coordinator contract (./types.ts) over etcd v3, with the `etcd3` package and tuned cockatiel-3 fault
 * handling (../shared/reference/toolchain.md §3).
 *
 * Things etcd3 does not do for us, done here:
 * - Watch resume point. etcd3 resumes a watch from `header.revision + 1` of the last response it saw, which
 *   skips events when a create response arrives before the replayed history (the header carries the CURRENT
 *   revision). We track the revision after the last event we delivered and write it back into the watcher's
 *   request on every 'disconnected', so the reconnect asks for exactly the next revision: no gap, no duplicate
 *   (events below it are dropped defensively anyway).
 * - Per-revision batches: a watch response may carry several revisions; events are grouped by mod_revision and
 *   delivered one batch per revision, in order.
 * - Store replaced / compacted: if a (re)connected watch sees a header revision below one it already saw, or
 *   the raft term or cluster id going backwards/changing, etcd was replaced (e.g. empty data dir): onReset. A
 *   watch cancelled by the server (compaction) -> onReset. After onReset the watch is dead; the caller reloads.
 * - Lease keep-alive on our own schedule (every TTL/20 within [100 ms, 1 s]) with a deadline per attempt, so a proxy notices
 *   a silent connection quickly and `renewedAtMonotonic()` is never older than necessary. A lease is reported `lost`
 *   only when etcd says so (TTL 0 / not found): while etcd is unreachable we keep trying, because an etcd
 *   restart refreshes every lease; the follower fences on renewedAtMonotonic() timing, not on 'lost'.
 */
import { EventEmitter } from 'node:events';
import {
  Etcd3,
  EtcdLeaseInvalidError,
  isRecoverableError,
  type IKeyValue,
  type IRequestOp,
  type IResponseHeader,
  type IWatchResponse,
  type Lease as EtcdLease3,
  type Watcher,
} from 'etcd3';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, isBrokenCircuitError, retry } from 'cockatiel';
import { CommonErrors, RedslotError } from '../errors.js';
import { createLogger } from '../log.js';
import { CoordinatorErrors } from './errors.js';
import { etcdConnectionOptions, type EtcdSecurity } from './etcd-security.js';
import type {
  Compare,
  Coordinator,
  KeyValue,
  Lease,
  LeaseEvent,
  RangeResult,
  TxnOp,
  TxnResult,
  Watch,
  WatchBatch,
  WatchEvent,
  WatchHandlers,
} from './types.js';

const log = createLogger({ component: 'coordinator.etcd' });

export interface EtcdCoordinatorOptions {
  /** Deadline in ms for unary calls (default 3000). */
  callTimeoutMs?: number;
  /** Circuit breaker half-open delay in ms (default 300). */
  halfOpenAfterMs?: number;
  /** Max watch reconnect backoff in ms (default 1000). */
  watchMaxBackoffMs?: number;
  /** Lease keep-alive interval in ms (default TTL/20 within [100, 1000]: 500 ms for a 10 s TTL). */
  keepAliveIntervalMs?: number;
  /** TLS and authentication toward etcd (shared/coordinator/etcd-security.ts). */
  security?: EtcdSecurity;
}

function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // whole keyspace
}

function toKeyValue(kv: IKeyValue): KeyValue {
  const out: KeyValue = {
    key: kv.key.toString('utf8'),
    value: kv.value ? kv.value.toString('utf8') : '',
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
  };
  if (kv.lease && kv.lease !== '0') out.lease = String(kv.lease);
  return out;
}

/** Maps etcd3/cockatiel errors to redslot errors. */
function mapError(op: string, err: unknown): RedslotError {
  if (err instanceof RedslotError) return err;
  const e = err as Error;
  if (err instanceof EtcdLeaseInvalidError) {
    return new RedslotError(CoordinatorErrors.REDSLOT_ERR_LEASE_NOT_FOUND, { lease: 'requested' }, { cause: err });
  }
  if ((e && typeof e === 'object' && isRecoverableError(e)) || isBrokenCircuitError(e) || /closed|unavailable|deadline|ECONNREFUSED/i.test(String(e?.message))) {
    return new RedslotError(CommonErrors.REDSLOT_ERR_COORDINATOR_UNAVAILABLE, { reason: `${op}: ${e?.message ?? String(err)}` }, { cause: err });
  }
  return new RedslotError(CoordinatorErrors.REDSLOT_ERR_COORDINATOR_REQUEST_FAILED, { op, reason: e?.message ?? String(err) }, { cause: err });
}

const COMPARE_RESULT = { '==': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;
const COMPARE_TARGET = { mod: 'Mod', create: 'Create', version: 'Version', value: 'Value' } as const;

class EtcdLeaseHandle implements Lease {
  private readonly emitter = new EventEmitter();
  private renewedAt: number;
  private renewedMono: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private inFlight = false;
  private failing = false;

  constructor(
    private readonly inner: EtcdLease3,
    readonly id: string,
    readonly ttlSeconds: number,
    private readonly intervalMs: number,
    private readonly onDone: (l: EtcdLeaseHandle) => void,
    grantSentAt: number,
  ) {
    this.renewedAt = Date.now();
    this.renewedMono = grantSentAt;
    this.schedule(this.intervalMs);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms).unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    // Monotonic, and taken BEFORE the request: etcd renewed no earlier than this, however late we read the reply.
    const started = performance.now();
    try {
      // Deadline: long enough for a loaded etcd, short enough to retry several times within the TTL.
      const deadline = Date.now() + Math.max(500, Math.min(2000, (this.ttlSeconds * 1000) / 4));
      await this.inner.keepaliveOnce({ deadline: new Date(deadline) });
      if (this.stopped) return;
      const silentMs = performance.now() - this.renewedMono;
      this.renewedMono = started;
      this.renewedAt = Date.now();
      if (this.failing) log.info('coordinator.lease.renewed', { lease: this.id, silentMs: Math.round(silentMs) });
      this.failing = false;
      this.emitter.emit('keepaliveSucceeded');
      this.schedule(this.intervalMs);
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof EtcdLeaseInvalidError) {
        log.warn('coordinator.lease.lost', { lease: this.id, reason: 'etcd says the lease no longer exists' });
        this.stop();
        this.emitter.emit('lost');
        return;
      }
      if (!this.failing) log.warn('coordinator.lease.keepalive_failed', { lease: this.id, err });
      this.failing = true;
      this.emitter.emit('keepaliveFailed');
      this.schedule(Math.min(this.intervalMs, 200));
    } finally {
      this.inFlight = false;
    }
  }

  lastRenewedAt(): number {
    return this.renewedAt;
  }

  renewedAtMonotonic(): number {
    return this.renewedMono;
  }

  on(event: LeaseEvent, listener: () => void): void {
    this.emitter.on(event, listener);
  }

  off(event: LeaseEvent, listener: () => void): void {
    this.emitter.off(event, listener);
  }

  async revoke(): Promise<void> {
    this.stop();
    try {
      await this.inner.revoke();
    } catch (err) {
      throw mapError('lease.revoke', err);
    }
  }

  release(): void {
    this.stop();
    this.inner.release();
  }

  private stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.onDone(this);
  }
}

/** One prefix watch: resume point, batching, reset detection. */
class EtcdWatch implements Watch {
  /** Next revision we expect (everything below it was delivered). */
  private next: number;
  /** Highest header revision seen on this watch. */
  private seenRevision = 0;
  private seenTerm = 0;
  private clusterId: string | undefined;
  private dead = false;
  private up = true;
  private watcher: Watcher | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    fromRevision: number,
    private readonly handlers: WatchHandlers,
    private readonly onDone: (w: EtcdWatch) => void,
    private readonly createTimeoutMs: number,
  ) {
    this.next = Math.max(1, Math.floor(fromRevision));
  }

  async start(): Promise<void> {
    const w = this.client.watch().prefix(this.prefix).startRevision(String(this.next)).watcher();
    this.watcher = w;
    w.on('data', (res: IWatchResponse) => this.onData(res));
    w.on('connected', (res: IWatchResponse) => this.onConnected(res));
    w.on('disconnected', (err: Error) => this.onDisconnected(err));
    w.on('error', (err: Error) => this.onError(err));
    await new Promise<void>((resolve, reject) => {
      // etcd3 retries a watch forever while etcd is unreachable; the caller gets an error after the call timeout.
      const timer = setTimeout(() => {
        w.off('connected', ok);
        w.off('error', fail);
        reject(new RedslotError(CommonErrors.REDSLOT_ERR_COORDINATOR_UNAVAILABLE, { reason: `watch ${this.prefix}: not established within ${this.createTimeoutMs} ms` }));
      }, this.createTimeoutMs);
      const ok = (): void => {
        clearTimeout(timer);
        w.off('error', fail);
        resolve();
      };
      const fail = (err: Error): void => {
        clearTimeout(timer);
        w.off('connected', ok);
        // The server refused the watch (e.g. compacted): the error handler already reported onReset.
        if (this.dead) resolve();
        else reject(mapError('watch', err));
      };
      w.once('connected', ok);
      w.once('error', fail);
    });
  }

  /** Compares a response header with what this watch saw; true if the store was replaced. */
  private checkHeader(h: IResponseHeader | undefined, reconnect: boolean): boolean {
    if (!h) return false;
    const rev = Number(h.revision);
    const term = Number(h.raft_term);
    const cid = String(h.cluster_id);
    let reason: string | undefined;
    if (this.clusterId !== undefined && cid !== this.clusterId) reason = `cluster id changed ${this.clusterId} -> ${cid}`;
    else if (rev < this.seenRevision) reason = `store revision went backwards ${this.seenRevision} -> ${rev}`;
    else if (reconnect && rev < this.next - 1) reason = `store revision ${rev} is below the last delivered ${this.next - 1}`;
    else if (term > 0 && term < this.seenTerm) reason = `raft term went backwards ${this.seenTerm} -> ${term}`;
    if (reason) {
      this.reset(`etcd replaced: ${reason}`);
      return true;
    }
    this.seenRevision = Math.max(this.seenRevision, rev);
    this.seenTerm = Math.max(this.seenTerm, term);
    this.clusterId = cid;
    return false;
  }

  private reconnects = 0;

  private onConnected(res: IWatchResponse): void {
    if (this.dead) return;
    const reconnect = this.reconnects > 0;
    if (this.checkHeader(res.header, reconnect)) return;
    if (!this.up) {
      this.up = true;
      log.info('coordinator.watch.reconnected', { prefix: this.prefix, from: this.next });
      this.handlers.onConnection?.(true);
    }
  }

  private onDisconnected(err: Error): void {
    if (this.dead) return;
    this.reconnects++;
    // Resume exactly after the last delivered revision (etcd3 would use the last header revision + 1).
    const req = (this.watcher as unknown as { request: { start_revision?: string | number } } | undefined)?.request;
    if (req) req.start_revision = String(this.next);
    if (this.up) {
      this.up = false;
      log.warn('coordinator.watch.disconnected', { prefix: this.prefix, resumeFrom: this.next, err });
      this.handlers.onConnection?.(false);
    }
  }

  private onError(err: Error): void {
    if (this.dead) return;
    const msg = String(err?.message ?? err);
    // etcd3 drops the compact_revision of a cancel response; ask etcd whether our resume point is compacted.
    const from = this.next;
    this.dead = true;
    void this.client.kv
      .range({ key: Buffer.from(this.prefix), revision: from, limit: 1 })
      .then(
        () => `watch cancelled by etcd: ${msg}`,
        (probe: Error) =>
          /compacted/i.test(String(probe?.message)) ? `compacted: revision ${from} is older than etcd's history` : `watch cancelled by etcd: ${msg}`,
      )
      .then((reason) => {
        this.dead = false;
        this.reset(reason);
      });
  }

  private onData(res: IWatchResponse): void {
    if (this.dead) return;
    if (this.checkHeader(res.header, false)) return;
    if (res.canceled) return; // handled through 'error'
    const byRev = new Map<number, WatchEvent[]>();
    for (const ev of res.events ?? []) {
      const kv = toKeyValue(ev.kv);
      const rev = kv.modRevision;
      if (rev < this.next) continue; // already delivered (defensive)
      const event: WatchEvent =
        ev.type === 'Delete'
          ? { type: 'delete', kv: { key: kv.key, value: '', createRevision: 0, modRevision: rev, version: 0 } }
          : { type: 'put', kv };
      let list = byRev.get(rev);
      if (!list) byRev.set(rev, (list = []));
      list.push(event);
    }
    const revs = [...byRev.keys()].sort((a, b) => a - b);
    for (const rev of revs) {
      if (this.dead) return;
      this.next = rev + 1;
      const batch: WatchBatch = { revision: rev, events: byRev.get(rev)! };
      try {
        this.handlers.onBatch(batch);
      } catch (err) {
        log.error('coordinator.watch.handler_failed', { prefix: this.prefix, revision: rev, err });
      }
    }
  }

  private reset(reason: string): void {
    if (this.dead) return;
    log.warn('coordinator.watch.reset', { prefix: this.prefix, reason, next: this.next });
    void this.cancel();
    this.handlers.onReset?.(reason);
  }

  async cancel(): Promise<void> {
    if (this.dead && !this.watcher) return;
    this.dead = true;
    this.onDone(this);
    const w = this.watcher;
    this.watcher = undefined;
    if (w) {
      try {
        await w.cancel();
      } catch {
        // cancelling a watch on a broken stream: nothing left to do
      }
    }
  }
}

export class EtcdCoordinator implements Coordinator {
  readonly describe: string;
  private readonly client: Etcd3;
  private readonly callTimeoutMs: number;
  private readonly keepAliveIntervalMs: number | undefined;
  private readonly watches = new Set<EtcdWatch>();
  private readonly leases = new Set<EtcdLeaseHandle>();
  private closed = false;

  constructor(hosts: string[], opts: EtcdCoordinatorOptions = {}) {
    if (hosts.length === 0) throw new RangeError('etcd coordinator needs at least one host');
    this.describe = `etcd://${hosts.join(',')}`;
    this.callTimeoutMs = opts.callTimeoutMs ?? 3000;
    this.keepAliveIntervalMs = opts.keepAliveIntervalMs;
    const callTimeoutMs = this.callTimeoutMs;
    this.client = new Etcd3({
      ...etcdConnectionOptions(hosts, opts.security),
      dialTimeout: callTimeoutMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        // A watch replay may carry up to 1000 revisions in one response; grpc-js's 4 MB default is too small.
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
      },
      faultHandling: {
        host: () =>
          circuitBreaker(handleWhen(isRecoverableError), {
            halfOpenAfter: opts.halfOpenAfterMs ?? 300,
            breaker: new ConsecutiveBreaker(3),
          }),
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 3 }),
        // Typed as IBackoff in etcd3 1.1.2 but used as a cockatiel-3 backoff factory at runtime.
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: opts.watchMaxBackoffMs ?? 1000 }) as never,
      },
    });
  }

  private check(): void {
    if (this.closed) throw new RedslotError(CoordinatorErrors.REDSLOT_ERR_COORDINATOR_CLOSED, { describe: this.describe });
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.check();
    try {
      const res = await this.client.kv.range({ key: Buffer.from(key) });
      const kv = res.kvs[0];
      return kv ? toKeyValue(kv) : undefined;
    } catch (err) {
      throw mapError('get', err);
    }
  }

  async getPrefix(prefix: string): Promise<RangeResult> {
    this.check();
    try {
      const key = Buffer.from(prefix);
      const res = await this.client.kv.range({ key, range_end: prefixEnd(key), sort_order: 'Ascend', sort_target: 'Key' });
      return { kvs: res.kvs.map(toKeyValue), revision: Number(res.header.revision) };
    } catch (err) {
      throw mapError('getPrefix', err);
    }
  }

  async put(key: string, value: string, opts?: { lease?: string }): Promise<number> {
    this.check();
    try {
      const res = await this.client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), lease: opts?.lease ?? 0 });
      return Number(res.header.revision);
    } catch (err) {
      const e = mapError('put', err);
      if (e.code === CoordinatorErrors.REDSLOT_ERR_LEASE_NOT_FOUND.code) {
        throw new RedslotError(CoordinatorErrors.REDSLOT_ERR_LEASE_NOT_FOUND, { lease: opts?.lease ?? '?' }, { cause: err });
      }
      throw e;
    }
  }

  async delete(key: string): Promise<number> {
    this.check();
    try {
      const res = await this.client.kv.deleteRange({ key: Buffer.from(key) });
      return Number(res.header.revision);
    } catch (err) {
      throw mapError('delete', err);
    }
  }

  async txn(compares: Compare[], success: TxnOp[], failure: TxnOp[] = []): Promise<TxnResult> {
    this.check();
    const compare = compares.map((c) => {
      const base = { key: Buffer.from(c.key), target: COMPARE_TARGET[c.target], result: COMPARE_RESULT[c.op] };
      switch (c.target) {
        case 'mod':
          return { ...base, mod_revision: Number(c.value) };
        case 'create':
          return { ...base, create_revision: Number(c.value) };
        case 'version':
          return { ...base, version: Number(c.value) };
        case 'value':
          return { ...base, value: Buffer.from(String(c.value)) };
      }
    });
    const toOps = (ops: TxnOp[]): IRequestOp[] =>
      ops.map((op) => {
        if (op.type === 'put') {
          return { request_put: { key: Buffer.from(op.key), value: Buffer.from(op.value), lease: op.lease ?? 0 } };
        }
        if (op.type === 'delete') return { request_delete_range: { key: Buffer.from(op.key) } };
        const key = Buffer.from(op.prefix);
        return { request_delete_range: { key, range_end: prefixEnd(key) } };
      });
    try {
      const res = await this.client.kv.txn({ compare, success: toOps(success), failure: toOps(failure) });
      return { succeeded: Boolean(res.succeeded), revision: Number(res.header.revision) };
    } catch (err) {
      throw mapError('txn', err);
    }
  }

  async watchPrefix(prefix: string, fromRevision: number, handlers: WatchHandlers): Promise<Watch> {
    this.check();
    const w = new EtcdWatch(this.client, prefix, fromRevision, handlers, (x) => this.watches.delete(x), this.callTimeoutMs);
    this.watches.add(w);
    try {
      await w.start();
    } catch (err) {
      await w.cancel();
      throw err;
    }
    return w;
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    this.check();
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`etcd lease TTL must be an integer >= 1 s (got ${ttlSeconds})`);
    const inner = this.client.lease(ttlSeconds, { autoKeepAlive: false, deadline: new Date(Date.now() + this.callTimeoutMs) });
    inner.on('lost', () => undefined); // reported by EtcdLeaseHandle
    const sentAt = performance.now();
    let id: string;
    try {
      id = String(await inner.grant());
    } catch (err) {
      inner.release();
      throw mapError('grantLease', err);
    }
    const interval = this.keepAliveIntervalMs ?? Math.max(100, Math.min(1000, Math.round((ttlSeconds * 1000) / 20)));
    const lease = new EtcdLeaseHandle(inner, id, ttlSeconds, interval, (l) => this.leases.delete(l), sentAt);
    this.leases.add(lease);
    return lease;
  }

  async revokeLease(id: string): Promise<void> {
    this.check();
    try {
      await this.client.leaseClient.leaseRevoke({ ID: id });
    } catch (err) {
      const e = mapError('revokeLease', err);
      if (e.code === CoordinatorErrors.REDSLOT_ERR_LEASE_NOT_FOUND.code || /not found/i.test(e.message)) return;
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.watches].map((w) => w.cancel()));
    for (const l of [...this.leases]) l.release();
    this.client.close();
  }
}
