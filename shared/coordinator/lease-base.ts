/**
 * What every coordinator lease keeps the same way, whatever renews it (etcd keep-alives, the in-memory store):
 * when it was last renewed, on the wall clock (shown) and on the monotonic clock (the follower fences on it), and
 * its events.
 */
import { EventEmitter } from 'node:events';
import type { Lease, LeaseEvent } from './types.js';

export abstract class LeaseBase implements Pick<Lease, 'lastRenewedAt' | 'renewedAtMonotonic' | 'on' | 'off'> {
  private readonly emitter = new EventEmitter();
  private renewedAt = Date.now();

  /** `renewedMono`: performance.now() taken before the request that granted the lease. */
  protected constructor(private renewedMono: number) {}

  /** A keep-alive sent at `sentAtMono` (monotonic, taken before sending) succeeded. */
  protected renewed(sentAtMono: number): void {
    this.renewedMono = sentAtMono;
    this.renewedAt = Date.now();
    this.emitter.emit('keepaliveSucceeded');
  }

  protected emit(event: LeaseEvent): void {
    this.emitter.emit(event);
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
}
