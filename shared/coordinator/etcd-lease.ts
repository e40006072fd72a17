/**
 * One etcd lease with keep-alives on our own schedule (every TTL/20 within [100 ms, 1 s]) and a deadline per
 * attempt, so a silent connection is noticed quickly and `renewedAtMonotonic()` is never older than necessary.
 * `lost` only when etcd says so (TTL 0 / not found): while etcd is unreachable we keep trying (an etcd restart
 * refreshes every lease); the follower fences on renewedAtMonotonic() timing, not on 'lost'.
 */
import { EtcdLeaseInvalidError, type Lease as EtcdLease3 } from 'etcd3';
import { log, mapError } from './etcd-common.js';
import { LeaseBase } from './lease-base.js';
import type { Lease } from './types.js';

export class EtcdLeaseHandle extends LeaseBase implements Lease {
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
    super(grantSentAt);
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
      const silentMs = performance.now() - this.renewedAtMonotonic();
      if (this.failing) log.info('coordinator.lease.renewed', { lease: this.id, silentMs: Math.round(silentMs) });
      this.failing = false;
      this.renewed(started);
      this.schedule(this.intervalMs);
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof EtcdLeaseInvalidError) {
        log.warn('coordinator.lease.lost', { lease: this.id, reason: 'etcd says the lease no longer exists' });
        this.stop();
        this.emit('lost');
        return;
      }
      if (!this.failing) log.warn('coordinator.lease.keepalive_failed', { lease: this.id, err });
      this.failing = true;
      this.emit('keepaliveFailed');
      this.schedule(Math.min(this.intervalMs, 200));
    } finally {
      this.inFlight = false;
    }
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
