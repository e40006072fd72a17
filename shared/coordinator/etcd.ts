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
 * The watch lives in etcd-watch.ts, the lease in etcd-lease.ts, what they share with this file in etcd-common.ts.
 */
import { Etcd3, isRecoverableError, type IRequestOp } from 'etcd3';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { RedslotError } from '../errors.js';
import { CoordinatorErrors } from './errors.js';
import { etcdConnectionOptions, type EtcdSecurity } from './etcd-security.js';
import type { Compare, Coordinator, KeyValue, Lease, RangeResult, TxnOp, TxnResult, Watch, WatchHandlers } from './types.js';
import { mapError, toKeyValue } from './etcd-common.js';
import { EtcdLeaseHandle } from './etcd-lease.js';
import { EtcdWatch } from './etcd-watch.js';

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

const COMPARE_RESULT = { '==': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater' } as const;
const COMPARE_TARGET = { mod: 'Mod', create: 'Create', version: 'Version', value: 'Value' } as const;

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
