/**
 * The local serve deadline: the monotonic instant after which this process must not route a command unless
 * its driver proved (by renewing the coordinator lease) that the control plane still counts it as live.
 *
 * Why a check on the request path and not only a timer: a process frozen (SIGSTOP, a VM pause, a long GC)
 * past its lease wakes up with client bytes already in its sockets. On resume libuv runs the I/O callbacks
 * (poll phase) before due timers, so a timer-driven fence would come after those commands were routed with a
 * table the dashboard may have moved past. The check reads the per-read stamped clock (proxy/util/clock.ts):
 * one comparison per command, no extra clock read.
 *
 * Each process (the single proxy, or every worker) keeps its own deadline on its own performance.now(): a
 * worker fences on it even if no IPC message from the primary arrives (the primary may be the one frozen).
 */
import { now } from '../util/clock.js';

export class ServeDeadline {
  /** performance.now() after which commands are refused; Infinity when no driver set one (static topology). */
  private until = Infinity;
  private expiredLogged = false;

  constructor(private readonly onExpired: (overdueMs: number) => void = () => undefined) {}

  /** Serve at most `remainingMs` more unless extended; null removes the deadline. */
  set(remainingMs: number | null): void {
    this.until = remainingMs === null ? Infinity : performance.now() + Math.max(0, remainingMs);
    this.expiredLogged = false;
  }

  /** True once the deadline passed (at the stamped time of the current read). */
  expired(): boolean {
    const t = now();
    if (t <= this.until) return false;
    if (!this.expiredLogged) {
      this.expiredLogged = true;
      this.onExpired(t - this.until);
    }
    return true;
  }

  /** Milliseconds left (negative when overdue), Infinity without a deadline. */
  remainingMs(): number {
    return this.until - performance.now();
  }
}
