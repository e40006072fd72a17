/**
 * The reply watchdog of a backend connection: requests pending and no reply for a while. After
 * BUSY_PROBE_AFTER_MS the server is probed for a running script (busy-watch.ts); after replyTimeoutMs the
 * connection is reset (its pending requests fail as "connection lost"), unless a script runs on it. Checked
 * periodically by the pool, so the hot path only counts replies (no timer per request).
 */
import { BUSY_PROBE_AFTER_MS, BusyWatch } from './busy-watch.js';
import type { BackendOptions, ConnectionOwner } from './connection-types.js';

export class StallWatch {
  /** Whether a script runs on this connection (side-PING probe after a stall). */
  readonly busy: BusyWatch;
  /** Replies seen so far and at the last stall check (watchdog without hot-path timers). */
  private replies = 0;
  private repliesAtCheck = 0;
  private stalledSince = 0;

  constructor(
    owner: ConnectionOwner,
    private readonly opts: BackendOptions,
    db: number,
    /** Requests waiting for a reply now (for the busy probe's log). */
    private readonly pendingNow: () => number,
  ) {
    this.busy = new BusyWatch(owner, opts, db);
  }

  /** A reply (or a part of one) came: progress, and no script runs on the connection any more. */
  progress(): void {
    this.replies++;
    if (this.busy.active) this.busy.clear();
  }

  /** True when the connection must be reset now: `pending` requests and no reply for replyTimeoutMs (0 = nothing pending or not ready). */
  check(now: number, pending: number): boolean {
    if (pending === 0) {
      this.stalledSince = 0;
      this.repliesAtCheck = this.replies;
      return false;
    }
    if (this.replies !== this.repliesAtCheck) {
      this.repliesAtCheck = this.replies;
      this.stalledSince = 0;
      return false;
    }
    if (this.stalledSince === 0) {
      this.stalledSince = now;
      return false;
    }
    const stalled = now - this.stalledSince;
    if (stalled >= BUSY_PROBE_AFTER_MS) this.busy.start(this.pendingNow);
    if (this.opts.replyTimeoutMs > 0 && stalled >= this.opts.replyTimeoutMs) {
      if (this.busy.reply !== null) return false; // a long script: alive, and a reset would lose the replies queued behind it
      this.stalledSince = 0;
      return true;
    }
    return false;
  }
}
