/**
 * Reachability reporter: PINGs every server the proxy routes to (the masters of its table) on a connection of
 * its own, and writes what it saw to health/<proxyId> under a lease of its own (same TTL as the proxy's), so
 * the report disappears with the proxy. The dashboard leader counts these reports as votes before it declares
 * a master down (dashboard/failover/detector.ts): one proxy that cannot reach a master never causes a failover.
 *
 * The report is rewritten when a server's state flips, and every `refreshMs` otherwise (lastOkAt for
 * operators). It is separate from the proxy's registration on purpose: that record is the proxy's identity.
 */
import { performance } from 'node:perf_hooks';
import type { Coordinator, Lease } from '../../shared/coordinator/types.js';
import type { Logger } from '../../shared/log.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import type { ReachabilityReport, ServerReachability } from '../../shared/model/reachability.js';
import { RedisAdmin } from '../../dashboard/redis/admin.js';

export interface ReachabilityOptions {
  coord: Coordinator;
  paths: ClusterPaths;
  proxyId: string;
  /** Servers to probe now (read each round). */
  servers: () => Iterable<string>;
  intervalMs: number;
  timeoutMs: number;
  leaseTtlSeconds: number;
  /** Rewrite an unchanged report this often (default 2 s). */
  refreshMs?: number;
  user?: string;
  password?: string;
  /** Where to dial `addr` (default: addr itself). Tests point one proxy's probes through a relay to cut them. */
  dialAddr?: (addr: string) => string;
  log: Logger;
}

interface Probe {
  admin: RedisAdmin;
  ok: boolean;
  lastOkAt: string | null;
  failingSince: number;
  error?: string;
}

export class ReachabilityReporter {
  private readonly probes = new Map<string, Probe>();
  private lease: Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private lastWrite = 0;
  private stopped = false;

  constructor(private readonly opts: ReachabilityOptions) {}

  start(): void {
    if (this.opts.intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.round ??= this.tick().finally(() => (this.round = undefined));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** The current view, as it would be reported. */
  report(): ReachabilityReport {
    const now = performance.now();
    const servers: Record<string, ServerReachability> = {};
    for (const [addr, p] of this.probes) {
      servers[addr] = { ok: p.ok, lastOkAt: p.lastOkAt, failingForMs: p.ok ? 0 : Math.round(now - p.failingSince), ...(p.error ? { error: p.error } : {}) };
    }
    return { proxyId: this.opts.proxyId, at: new Date().toISOString(), servers };
  }

  private async tick(): Promise<void> {
    const want = new Set(this.opts.servers());
    for (const [addr, p] of this.probes) {
      if (!want.has(addr)) {
        p.admin.close();
        this.probes.delete(addr);
      }
    }
    let flipped = false;
    await Promise.all(
      [...want].map(async (addr) => {
        let p = this.probes.get(addr);
        if (!p) {
          const admin = new RedisAdmin({
            addr: this.opts.dialAddr?.(addr) ?? addr,
            username: this.opts.user || undefined,
            password: this.opts.password || undefined,
            connectTimeoutMs: this.opts.timeoutMs,
            commandTimeoutMs: this.opts.timeoutMs,
          });
          p = { admin, ok: true, lastOkAt: null, failingSince: 0 };
          this.probes.set(addr, p);
          flipped = true;
        }
        const t0 = performance.now();
        try {
          await p.admin.connect();
          await p.admin.ping();
          if (!p.ok) flipped = true;
          p.ok = true;
          p.error = undefined;
          p.lastOkAt = new Date().toISOString();
        } catch (err) {
          if (p.ok) {
            flipped = true;
            p.failingSince = t0; // from the probe that got no answer, not from its timeout
            this.opts.log.warn('reachability.server_unreachable', { server: addr, err });
          }
          p.ok = false;
          p.error = (err as Error).message;
        }
      }),
    );
    if (this.stopped) return;
    if (flipped || Date.now() - this.lastWrite >= (this.opts.refreshMs ?? 2000)) await this.write();
  }

  private async write(): Promise<void> {
    try {
      if (!this.lease) {
        this.lease = await this.opts.coord.grantLease(this.opts.leaseTtlSeconds);
        this.lease.on('lost', () => (this.lease = undefined));
      }
      await this.opts.coord.put(this.opts.paths.healthOf(this.opts.proxyId), JSON.stringify(this.report()), { lease: this.lease.id });
      this.lastWrite = Date.now();
    } catch (err) {
      this.lease?.release();
      this.lease = undefined;
      this.opts.log.warn('reachability.report_failed', { err });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.round?.catch(() => undefined);
    for (const p of this.probes.values()) p.admin.close();
    this.probes.clear();
    await this.lease?.revoke().catch(() => undefined);
  }
}
