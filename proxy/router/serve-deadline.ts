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
 * Why a write routed before the deadline cannot land on a slot's source after the next migration step:
 * - The deadline is the follower's fence point, ttl - margin after the last keep-alive was SENT; etcd cannot
 *   expire the lease (and the barrier cannot skip this proxy) before ttl after that send. So every command
 *   routed before the deadline was routed at least `margin` (>= 1 s) before the control plane may move on.
 * - Commands not routed yet when the deadline passes (client bytes still in our socket buffers, e.g. after
 *   SIGSTOP/SIGCONT) are refused here, whatever the timers have or have not done yet.
 * - Routed commands whose bytes are still in user space (this turn's output, queued behind a backend
 *   handshake, sent after a MIGRATE or source-first reply) are never written past the deadline
 *   (proxy/backend/write-fence.ts): the backend connection is destroyed instead and they fail.
 * - Bytes already handed to the kernel may still be on the way arbitrarily late (a congested backend
 *   socket, a slow network): the margin alone does not bound that. They travel on connections named after
 *   this proxy's registration id, which the dashboard kills on a step's masters, after the barrier and
 *   before the step, when the id is no longer registered (dashboard/topom/stale-connections.ts has the whole
 *   argument): they run before the step or never.
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
