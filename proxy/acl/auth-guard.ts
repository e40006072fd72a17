/**
 * Limits on connections that have not authenticated, so password guessing and idle unauthenticated sockets
 * cannot take the proxy's client slots:
 * - every failed AUTH is counted (metric) and logged with the client address (one line per failure);
 * - after auth.maxFailures failures on one connection it is closed once the error reply is written;
 * - a connection that must authenticate and does not within auth.timeout is closed;
 * - at most auth.maxUnauthenticated connections may wait unauthenticated; more are refused at accept,
 *   before they count against limits.maxClients.
 */
import type { Logger } from '../../shared/log.js';
import type { ProxyMetrics } from '../metrics.js';

export interface AuthGuardConfig {
  /** Failed AUTH attempts on one connection before it is closed (0 = unlimited). */
  maxFailures: number;
  /** Time a connection may stay unauthenticated (0 = unlimited). */
  timeoutMs: number;
  /** Connections allowed to wait unauthenticated at once. */
  maxUnauthenticated: number;
}

/** What the guard needs of a client connection. */
export interface GuardedClient {
  readonly id: number;
  readonly remoteAddress: string;
  /** Closes the connection now. */
  kill(): void;
}

export class AuthGuard {
  /** Unauthenticated connections and their timeout timers. */
  private readonly waiting = new Map<GuardedClient, NodeJS.Timeout | null>();
  private readonly failures = new WeakMap<GuardedClient, number>();

  constructor(
    private readonly cfg: AuthGuardConfig,
    private readonly metrics: ProxyMetrics,
    private readonly log: Logger,
  ) {}

  /** Room for one more unauthenticated connection (checked at accept). */
  hasRoom(): boolean {
    return this.waiting.size < this.cfg.maxUnauthenticated;
  }

  refused(remoteAddress: string): void {
    this.metrics.accessClosed.unauthenticated_limit++;
    this.log.warn('session.unauthenticated_limit', { client: remoteAddress, limit: this.cfg.maxUnauthenticated });
  }

  /** A connection starts (or, after RESET, is again) unauthenticated: its auth.timeout starts. */
  unauthenticated(c: GuardedClient): void {
    if (this.waiting.has(c)) return;
    let timer: NodeJS.Timeout | null = null;
    if (this.cfg.timeoutMs > 0) {
      timer = setTimeout(() => {
        if (!this.waiting.delete(c)) return;
        this.metrics.accessClosed.auth_timeout++;
        this.log.info('session.auth_timeout', { id: c.id, client: c.remoteAddress, timeoutMs: this.cfg.timeoutMs });
        c.kill();
      }, this.cfg.timeoutMs);
      timer.unref();
    }
    this.waiting.set(c, timer);
  }

  /** The connection authenticated or closed. */
  forget(c: GuardedClient): void {
    const t = this.waiting.get(c);
    if (t === undefined) return;
    if (t !== null) clearTimeout(t);
    this.waiting.delete(c);
  }

  /** Unauthenticated connections now. */
  get unauthenticatedCount(): number {
    return this.waiting.size;
  }

  /** A failed AUTH on `c` for `user`; true when the connection must close after this reply. */
  failed(c: GuardedClient, user: string): boolean {
    const n = (this.failures.get(c) ?? 0) + 1;
    this.failures.set(c, n);
    this.metrics.authFailures++;
    const close = this.cfg.maxFailures > 0 && n >= this.cfg.maxFailures;
    // The user name is the client's claim, cut and cleaned so a log line stays one line.
    this.log.warn('session.auth_failed', { id: c.id, client: c.remoteAddress, user: user.replace(/[\r\n]/g, ' ').slice(0, 64), failures: n, closing: close });
    if (close) this.metrics.accessClosed.auth_failures++;
    return close;
  }
}
