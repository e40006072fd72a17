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
 *
 * Why a write queued before the deadline cannot land on a slot's source after the next migration step:
 * - The deadline is the follower's fence point, ttl - margin after the last keep-alive was SENT; etcd cannot
 *   expire the lease (and the barrier cannot skip this proxy) before ttl after that send. So every command
 *   routed before the deadline was routed at least `margin` (>= 1 s) before the control plane may move on.
 * - A routed command is written to its backend socket synchronously when the connection is ready and not
 *   congested: it is in the kernel by then, and the kernel delivers it (even while this process is frozen) in
 *   far less than the margin; Redis executes what it has read in order.
 * - Commands not routed yet when the deadline passes (client bytes still in our socket buffers, e.g. after
 *   SIGSTOP/SIGCONT) are refused here, whatever the timers have or have not done yet.
 * Not covered: a command queued in user space on a backend connection that is still connecting or congested
 * for longer than the margin (Redis not reading). Closing that needs the source to reject a stale proxy's
 * connection (e.g. the dashboard killing, after a barrier that skipped a proxy, the source connections named
 * after it); see the issue 15 report.
 */
import { now } from '../util/clock.js';

/** The fence reason while the lease deadline has passed (the router's refusal and /readyz say the same). */
export const LEASE_DEADLINE_PASSED = 'lost contact with the coordinator: its lease was not renewed before the local deadline; not serving until re-registered';

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
