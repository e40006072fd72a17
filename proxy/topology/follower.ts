/**
 * The coordinator follower: a TopologyDriver (proxy/runtime.ts) that keeps a proxy's routing table equal to
 * the slot table in the coordinator, acknowledges every revision it applied, and fences the proxy when it can
 * no longer prove (by its lease) that the control plane still counts it as live.
 *
 * Lifecycle
 *   resync (start, watch reset, recovery after lost contact):
 *     lease (grant if none/lost) -> create proxies/<id> under it (create-if-absent) -> loadTopology at R -> applyTopology
 *     -> watch topology/ from R+1 -> put acks/<id> = {revision R} under the lease -> unfence if we fenced.
 *   steady: each watch batch -> applyBatch -> await runtime.applyTopology(next) -> ack (latest revision wins).
 *
 * Invariants
 * - Every call into the runtime (applyTopology) and every resync run on ONE promise chain: no overlap, and a
 *   batch is never applied on top of a table from another load (batches carry the generation of the watch
 *   that produced them; a resync bumps the generation and stale batches are dropped).
 * - An ack for revision X is written only after applyTopology(X) resolved (the runtime has drained).
 * - Fencing: when the lease has not been renewed for ttl - margin (margin = max(1 s, ttl/10) by default), the
 *   proxy fences itself BEFORE etcd can expire the lease; so "lease expired" implies "not routing" for the
 *   control plane. It unfences only after a resync with a freshly renewed lease. Every duration is measured
 *   on the monotonic clock from when the renewal was SENT (Lease.renewedAtMonotonic), and the same deadline is
 *   handed to the runtime (setServeDeadline), which refuses commands past it on its own request path, in
 *   every worker process, even if this monitor never runs (a frozen process wakes up I/O first).
 *   (`fencing: off` was removed in issue 15: the barrier cannot wait for a proxy whose lease expired, so
 *   serving on regardless could only route on a stale table.)
 * - Identity: one identity per lease. The registration is created only if absent (a second process with the
 *   same id is refused, REDSLOT_ERR_PROXY_ID_TAKEN). When the lease disappears (expired, or revoked by
 *   `redslot proxies remove`), the proxy fences at once and re-registers as `<baseId>.<n>` with a new lease,
 *   loading the current table before it serves again. A removal leaves a tombstone removed/<id> that the
 *   barrier waits for; the proxy deletes it once fenced (after the fence margin, for in-flight requests).
 */
import os from 'node:os';
import { RedslotError } from '../../shared/errors.js';
import { createLogger, type Logger } from '../../shared/log.js';
import type { Coordinator, Lease, Watch, WatchBatch } from '../../shared/coordinator/types.js';
import { clusterPaths, type ClusterPaths } from '../../shared/model/paths.js';
import { applyBatch, loadTopology } from '../../shared/model/topology.js';
import type { ProxyAck, ProxyRecord, Topology } from '../../shared/model/types.js';
import type { ProxyRuntime } from '../runtime.js';
import { FollowerErrors } from './errors.js';
import type { FencingMode, FollowerDriver, FollowerOptions, FollowerState, LeaseStatus } from './follower-types.js';
import { registerUnderLease } from './registration.js';

export type { FencingMode, FollowerDriver, FollowerOptions, FollowerState, LeaseStatus } from './follower-types.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

function describeError(err: unknown): string {
  if (err instanceof RedslotError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export class CoordinatorFollower {
  readonly paths: ClusterPaths;
  private readonly coord: Coordinator;
  private readonly log: Logger;
  private readonly ttl: number;
  private readonly fencing: FencingMode;
  private readonly marginMs: number;
  private readonly retryMs: number;
  private record: ProxyRecord;

  private runtime: ProxyRuntime | undefined;
  private lease: Lease | undefined;
  private leaseStatus: LeaseStatus = 'none';
  private watch: Watch | undefined;
  private watchState: 'starting' | 'up' | 'down' = 'starting';
  private topo: Topology | undefined;
  private generation = 0;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private loaded = false;
  private loadedRevision = 0;
  private wantAck = 0;
  private acked = 0;
  private ackLoop: Promise<void> | undefined;
  private fencedByUs: string | null = null;
  private wantResync = false;
  private resyncLoop: Promise<void> | undefined;
  private resyncs = 0;
  private lastError: string | null = null;
  private monitor: NodeJS.Timeout | undefined;
  private firstLoad: { resolve: () => void; reject: (err: Error) => void; promise: Promise<void> };
  /** 1 for the first lease; bumped each time the lease is lost (the identity is `<baseId>.<incarnation>`). */
  private incarnation = 1;
  private readonly baseId: string;

  constructor(private readonly opts: FollowerOptions) {
    this.coord = opts.coordinator;
    this.paths = clusterPaths(opts.cluster);
    this.ttl = opts.leaseTtlSeconds ?? (opts.leaseTtlMs !== undefined ? Math.ceil(opts.leaseTtlMs / 1000) : 10);
    if (!Number.isInteger(this.ttl) || this.ttl < 1) throw new RangeError(`leaseTtlSeconds must be an integer >= 1 (got ${this.ttl})`);
    if (opts.fencing !== undefined && (opts.fencing as string) !== 'strict') {
      throw new RangeError(`fencing '${String(opts.fencing)}' is not supported: only 'strict' (issue 15 removed 'off')`);
    }
    this.fencing = 'strict';
    this.marginMs = opts.fenceMarginMs ?? Math.max(1000, (this.ttl * 1000) / 10);
    if (this.marginMs >= this.ttl * 1000) throw new RangeError(`fenceMarginMs (${this.marginMs}) must be below the lease TTL (${this.ttl} s)`);
    this.retryMs = opts.retryDelayMs ?? 250;
    this.record = {
      version: process.env.npm_package_version ?? '0.0.0',
      startedAt: new Date().toISOString(),
      pid: process.pid,
      hostname: os.hostname(),
      ...opts.proxy,
      leaseTtlSeconds: this.ttl,
      baseId: opts.proxy.id,
    };
    this.baseId = opts.proxy.id;
    this.log = (opts.logger ?? createLogger()).child({ component: 'proxy.topology', proxy: this.record.id });
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined); // observed by start() when it waits; otherwise only logged
    this.firstLoad = { resolve, reject, promise };
  }

  /** The TopologyDriver entry point: resolves once the first table is applied and acknowledged. */
  async start(runtime: ProxyRuntime): Promise<{ stop(): Promise<void> }> {
    if (this.runtime) throw new Error('follower already started');
    this.runtime = runtime;
    this.log.info('topology.follower.start', { coordinator: this.coord.describe, cluster: this.opts.cluster, ttl: this.ttl, fencing: this.fencing });
    this.requestResync('start');
    const every = Math.max(25, Math.min(100, this.marginMs / 4));
    this.monitor = setInterval(() => this.checkLease(), every).unref();
    if (this.opts.waitForFirstLoad ?? true) await this.firstLoad.promise;
    return { stop: () => this.stop() };
  }

  fenceAfterMs(): number {
    return this.ttl * 1000 - this.marginMs;
  }

  state(): FollowerState {
    const l = this.lease;
    const sinceRenewal = l ? performance.now() - l.renewedAtMonotonic() : null;
    return {
      proxyId: this.record.id,
      coordinator: this.coord.describe,
      cluster: this.opts.cluster,
      fencing: this.fencing,
      lease: {
        id: l?.id ?? null,
        ttlSeconds: this.ttl,
        status: this.leaseStatus,
        lastRenewedAt: sinceRenewal === null ? null : new Date(Date.now() - sinceRenewal).toISOString(),
        sinceRenewalMs: sinceRenewal === null ? null : Math.round(sinceRenewal),
        fenceAfterMs: this.fenceAfterMs(),
      },
      watch: this.watchState,
      loadedRevision: this.loadedRevision,
      appliedRevision: this.topo?.revision ?? 0,
      ackedRevision: this.acked,
      fenced: this.runtime?.fenced() ?? this.fencedByUs,
      loaded: this.loaded,
      resyncs: this.resyncs,
      lastError: this.lastError,
    };
  }

  // ---- serialisation -------------------------------------------------------------------------------

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  // ---- resync --------------------------------------------------------------------------------------

  private requestResync(why: string): void {
    if (this.stopped) return;
    this.wantResync = true;
    if (this.resyncLoop) return;
    this.log.info('topology.resync.requested', { why });
    this.resyncLoop = (async () => {
      let delay = this.retryMs;
      while (this.wantResync && !this.stopped) {
        this.wantResync = false;
        try {
          await this.enqueue(() => this.resync());
          delay = this.retryMs;
        } catch (err) {
          if (this.stopped) break;
          this.lastError = describeError(err);
          if (err instanceof RedslotError && err.code === FollowerErrors.REDSLOT_ERR_PROXY_ID_TAKEN.code && !this.loaded) {
            // Nothing to wait for: another live process owns this id. Starting fails with the reason.
            this.log.error('topology.register.refused', { err });
            this.firstLoad.reject(err);
            break;
          }
          this.log.warn('topology.resync.failed', { err, retryInMs: delay });
          this.wantResync = true;
          await sleep(delay);
          delay = Math.min(2000, delay * 2);
        }
      }
      this.resyncLoop = undefined;
    })();
  }

  private async resync(): Promise<void> {
    if (this.stopped) return;
    const runtime = this.runtime!;
    this.resyncs++;
    this.generation++;
    const gen = this.generation;
    const old = this.watch;
    this.watch = undefined;
    if (old) await old.cancel().catch(() => undefined);

    // 1. A live lease (a new one if it was lost or never granted).
    let lease = this.lease;
    if (!lease || this.leaseStatus === 'lost') {
      lease = await this.coord.grantLease(this.ttl);
      this.adoptLease(lease);
    }
    // 2. Register (again: after an expiry the record is gone).
    try {
      await this.register(lease);
    } catch (err) {
      if (err instanceof RedslotError && err.code === 'REDSLOT_ERR_LEASE_NOT_FOUND') this.markLeaseLost(lease, 'registration says the lease is gone');
      throw err;
    }
    // Connections opened from now on carry this registration's id (the dashboard kills unregistered ones).
    runtime.setIdentity?.(this.record.id);
    // 3. The whole table at one revision, applied atomically.
    const topo = await loadTopology(this.coord, this.paths);
    if (this.stopped || gen !== this.generation) return;
    await runtime.applyTopology(topo);
    this.topo = topo;
    this.loadedRevision = topo.revision;
    // 4. Follow from R+1 (events written meanwhile are replayed by the watch).
    this.watchState = 'starting';
    this.watch = await this.coord.watchPrefix(this.paths.topology, topo.revision + 1, {
      onBatch: (b) => this.onBatch(b, gen),
      onReset: (reason) => {
        if (gen !== this.generation) return;
        this.log.warn('topology.watch.reset', { reason });
        this.requestResync(`watch reset: ${reason}`);
      },
      onConnection: (up) => {
        if (gen !== this.generation) return;
        this.watchState = up ? 'up' : 'down';
      },
    });
    if (this.watchState === 'starting') this.watchState = 'up';
    // 5. Acknowledge the loaded revision (awaited: contact is proven by this write). Acks restart from this
    //    load: after etcd was replaced, revisions restart too, so older (higher) numbers mean nothing.
    this.acked = 0;
    this.wantAck = 0;
    await this.writeAck(topo.revision, lease);
    this.lastError = null;
    this.log.info('topology.loaded', { revision: topo.revision, groups: topo.groups.size, resync: this.resyncs });
    if (!this.loaded) {
      this.loaded = true;
      this.firstLoad.resolve();
    }
    // 6. Unfence only with a lease that is fresh by the same rule that fenced us.
    if (this.fencedByUs !== null) {
      if (this.leaseFresh()) this.unfence();
      else this.log.warn('topology.fence.kept', { reason: 'table reloaded but the lease has not been renewed yet' });
    }
  }

  /** Create-if-absent under our lease (registration.ts). */
  private register(lease: Lease): Promise<void> {
    return registerUnderLease(this.coord, this.paths.proxy(this.record.id), JSON.stringify(this.record), lease, this.record.id);
  }

  private onBatch(batch: WatchBatch, gen: number): void {
    void this.enqueue(async () => {
      if (this.stopped || gen !== this.generation || !this.topo) return;
      if (batch.revision <= this.topo.revision) return;
      const next = applyBatch(this.topo, this.paths, batch);
      await this.runtime!.applyTopology(next);
      this.topo = next;
      this.requestAck(next.revision);
    }).catch((err: unknown) => {
      this.lastError = describeError(err);
      this.log.error('topology.apply.failed', { revision: batch.revision, err });
      // The runtime's table and ours may now disagree: start from a full load.
      this.requestResync('apply failed');
    });
  }

  // ---- acknowledgements ----------------------------------------------------------------------------

  private async writeAck(revision: number, lease: Lease): Promise<void> {
    const ack: ProxyAck = { revision, at: new Date().toISOString() };
    await this.coord.put(this.paths.ack(this.record.id), JSON.stringify(ack), { lease: lease.id });
    if (revision > this.acked) this.acked = revision;
    if (revision > this.wantAck) this.wantAck = revision;
  }

  /** Writes the latest applied revision; retries until written (a newer revision supersedes an older one). */
  private requestAck(revision: number): void {
    if (revision > this.wantAck) this.wantAck = revision;
    if (this.ackLoop) return;
    this.ackLoop = (async () => {
      let delay = this.retryMs;
      while (!this.stopped && this.acked < this.wantAck) {
        const lease = this.lease;
        if (!lease || this.leaseStatus === 'lost') break; // the resync after re-grant writes the ack
        const rev = this.wantAck;
        try {
          await this.writeAck(rev, lease);
          delay = this.retryMs;
        } catch (err) {
          if (err instanceof RedslotError && err.code === 'REDSLOT_ERR_LEASE_NOT_FOUND') {
            this.markLeaseLost(lease, 'ack write says the lease is gone');
            break;
          }
          this.log.warn('topology.ack.failed', { revision: rev, err, retryInMs: delay });
          await sleep(delay);
          delay = Math.min(2000, delay * 2);
        }
      }
      this.ackLoop = undefined;
    })();
  }

  // ---- lease and fencing ---------------------------------------------------------------------------

  private adoptLease(lease: Lease): void {
    const prev = this.lease;
    if (prev && prev !== lease) prev.release();
    this.lease = lease;
    this.leaseStatus = 'alive';
    this.extendServeDeadline(lease);
    lease.on('keepaliveSucceeded', () => {
      if (this.lease !== lease) return;
      this.extendServeDeadline(lease);
      if (this.leaseStatus === 'renewal-failing') this.log.info('topology.lease.renewed', { lease: lease.id });
      this.leaseStatus = 'alive';
      // Contact is back: if we fenced ourselves (or lost track of an ack), re-register and reload.
      if (this.fencedByUs !== null) this.requestResync('lease renewed after lost contact');
      else if (this.acked < this.wantAck) this.requestAck(this.wantAck);
    });
    lease.on('keepaliveFailed', () => {
      if (this.lease !== lease || this.leaseStatus === 'lost') return;
      if (this.leaseStatus === 'alive') this.log.warn('topology.lease.renewal_failing', { lease: lease.id });
      this.leaseStatus = 'renewal-failing';
    });
    lease.on('lost', () => {
      if (this.lease === lease) this.markLeaseLost(lease, 'the coordinator says the lease expired');
    });
    this.log.info('topology.lease.granted', { lease: lease.id, ttl: this.ttl });
  }

  /** The runtime refuses commands past this lease's fence point on its own (ProxyRuntime.setServeDeadline). */
  private extendServeDeadline(lease: Lease): void {
    this.runtime?.setServeDeadline?.(this.fenceAfterMs() - (performance.now() - lease.renewedAtMonotonic()));
  }

  private markLeaseLost(lease: Lease, why: string): void {
    if (this.lease !== lease || this.leaseStatus === 'lost') return;
    this.leaseStatus = 'lost';
    lease.release();
    const oldId = this.record.id;
    this.log.error('topology.lease.lost', { lease: lease.id, why });
    this.fence(`lease ${lease.id} of proxy ${oldId} is gone on the coordinator ${this.coord.describe} (${why}); re-registering`);
    // A new identity for the new lease: the old id's registration and ack died with the old lease, and an
    // operator who removed it must not see it come back.
    this.incarnation++;
    this.record = { ...this.record, id: `${this.baseId}.${this.incarnation}`, startedAt: new Date().toISOString() };
    this.log.warn('topology.identity.changed', { from: oldId, to: this.record.id });
    this.clearTombstone(oldId);
    this.requestResync('lease lost');
  }

  /**
   * removed/<oldId> tells the barrier this proxy may still route; we are fenced now, and after the fence
   * margin (the time the lease rule gives in-flight requests) we say so by deleting it. Best effort: if the
   * coordinator is unreachable the tombstone expires by itself.
   */
  private clearTombstone(oldId: string): void {
    const key = this.paths.removedProxy(oldId);
    setTimeout(() => {
      this.coord.delete(key).catch((err: unknown) => this.log.warn('topology.tombstone.delete_failed', { id: oldId, err }));
    }, this.marginMs).unref();
  }

  private leaseFresh(): boolean {
    const l = this.lease;
    return !!l && this.leaseStatus !== 'lost' && performance.now() - l.renewedAtMonotonic() <= this.fenceAfterMs();
  }

  private checkLease(): void {
    // Guard as soon as the runtime routes with a table we gave it, even if that first resync has not finished
    // (e.g. contact lost between the apply and the ack): serving is what must stop.
    if (this.stopped || !this.topo || !this.lease || this.leaseStatus === 'lost') return;
    const since = performance.now() - this.lease.renewedAtMonotonic();
    if (since <= this.fenceAfterMs()) return;
    const why = `lease ${this.lease.id} not renewed for ${(since / 1000).toFixed(1)} s (TTL ${this.ttl} s)`;
    if (this.fencedByUs === null) this.fence(`lost contact with the coordinator ${this.coord.describe}: ${why}; not serving until re-registered`);
  }

  private fence(reason: string): void {
    this.fencedByUs = reason;
    this.runtime?.setFenced(reason);
    this.log.error('topology.fenced', { reason, appliedRevision: this.topo?.revision ?? 0 });
  }

  private unfence(): void {
    const was = this.fencedByUs;
    this.fencedByUs = null;
    // Only lift our own fence (someone else may have fenced the runtime for another reason since).
    if (this.runtime && this.runtime.fenced() === was) this.runtime.setFenced(null);
    this.log.info('topology.unfenced', { revision: this.topo?.revision ?? 0, lease: this.lease?.id });
  }

  // ---- stop ----------------------------------------------------------------------------------------

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.generation++;
    this.firstLoad.resolve(); // a start() still waiting returns; the runtime never got a table
    if (this.monitor) clearInterval(this.monitor);
    const w = this.watch;
    this.watch = undefined;
    await w?.cancel().catch(() => undefined);
    // A resync stuck on an unreachable coordinator must not hold the shutdown: its calls time out anyway.
    await Promise.race([this.chain, sleep(5000)]);
    const lease = this.lease;
    this.lease = undefined;
    if (lease) {
      if ((this.opts.revokeOnStop ?? true) && this.leaseStatus !== 'lost') {
        // Bounded: when the coordinator is unreachable the lease simply expires.
        await Promise.race([lease.revoke().catch(() => undefined), sleep(2000)]);
      }
      lease.release();
    }
    if (this.opts.closeCoordinatorOnStop) await this.coord.close();
    this.log.info('topology.follower.stopped', { appliedRevision: this.topo?.revision ?? 0, ackedRevision: this.acked });
  }
}

/** A TopologyDriver following the coordinator; `state()` feeds the admin API. */
export function createFollowerDriver(opts: FollowerOptions): FollowerDriver & { follower: CoordinatorFollower } {
  const follower = new CoordinatorFollower(opts);
  const driver = (async (runtime: ProxyRuntime) => follower.start(runtime)) as FollowerDriver & { follower: CoordinatorFollower };
  driver.state = () => follower.state();
  driver.follower = follower;
  return driver;
}
