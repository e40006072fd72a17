/**
 * What every backend connection (shared and dedicated) consults before it hands a client's bytes to a socket,
 * and the name it gives itself: one per process (ProxyCore), fed by the coordinator follower.
 *
 * Why (issue 15, hole 5): the router refuses commands after the lease deadline, but a command routed just
 * before it may still sit in user space: in a connection's output of this turn, queued behind a handshake
 * (connecting backend), or follow a MIGRATE/EVAL reply (migrate-on-access) that arrives after a freeze. Past
 * the deadline such bytes are never written: the connection is destroyed instead and what was pending on it
 * fails (never acknowledged). So every client byte reaches the kernel before the deadline, on a connection
 * whose handshake (including CLIENT SETNAME redslot-proxy:<id>) Redis had already answered: the dashboard
 * can name and kill it. The full argument is in dashboard/topom/stale-connections.ts.
 */
import { proxyConnectionName, type ConnectionKind } from '../../shared/model/connection-name.js';

/** The router's serve deadline, seen from here (proxy/router/serve-deadline.ts). */
export interface DeadlineView {
  remainingMs(): number;
}

export class WriteFence {
  private proxyId: string | null = null;

  constructor(
    private readonly deadline: DeadlineView,
    /** The reply of a request whose bytes were dropped here (never sent): the router's fence refusal. */
    readonly refusal: Buffer,
  ) {}

  /** True once the serve deadline passed (real time, not the per-read stamp: flushes also run from timers). */
  passed(): boolean {
    return this.deadline.remainingMs() < 0;
  }

  /** The registration id connections opened from now on are named after (null: no coordinator). */
  setProxyId(id: string | null): void {
    this.proxyId = id;
  }

  name(kind: ConnectionKind): string {
    return proxyConnectionName(kind, this.proxyId);
  }
}
