/**
 * Deciding that a master is down, with a quorum (no split brain from one partitioned observer):
 *
 *   down  <=>  the leader's own probes failed for downAfterMs
 *         AND  a strict majority of live proxies (registrations present) report it unreachable for downAfterMs.
 *
 * Durations are measured on this dashboard's monotonic clock: a proxy's report carries `failingForMs` on the
 * proxy's own clock, turned into a local "failing since" the first time this dashboard sees that episode, so
 * clocks of different hosts are never compared. A proxy without a report, or whose report does not name the
 * master, votes "reachable" (an unknown is never counted toward a failover).
 */
import { performance } from 'node:perf_hooks';
import type { ReachabilityReport } from '../../shared/model/reachability.js';
import type { ProxyVote } from './types.js';

export interface MasterAssessment {
  gid: number;
  master: string;
  /** The leader's own view. */
  selfOk: boolean;
  selfFailingForMs: number;
  selfError?: string;
  liveProxies: number;
  /** Proxies that must agree (strict majority of the live ones). */
  quorum: number;
  votes: ProxyVote[];
  downVotes: number;
  down: boolean;
}

export class DownDetector {
  /** addr -> local time of the first failed probe of the current episode. */
  private readonly selfFailingSince = new Map<string, number>();
  private readonly selfError = new Map<string, string>();
  /** `${proxyId} ${addr}` -> local "failing since" of the episode the proxy reports. */
  private readonly proxyFailingSince = new Map<string, number>();

  constructor(private readonly downAfterMs: number) {}

  /** Records one probe of the leader; `startedAt` = performance.now() when the probe was sent. */
  selfProbe(addr: string, ok: boolean, startedAt: number, error?: string): void {
    if (ok) {
      this.selfFailingSince.delete(addr);
      this.selfError.delete(addr);
    } else {
      if (!this.selfFailingSince.has(addr)) this.selfFailingSince.set(addr, startedAt);
      if (error) this.selfError.set(addr, error);
    }
  }

  /** Folds the proxies' latest reports in (live proxies only). */
  proxyReports(reports: ReadonlyArray<ReachabilityReport>): void {
    const now = performance.now();
    const seen = new Set<string>();
    for (const r of reports) {
      for (const [addr, s] of Object.entries(r.servers)) {
        const k = `${r.proxyId} ${addr}`;
        if (s.ok) continue;
        seen.add(k);
        if (!this.proxyFailingSince.has(k)) this.proxyFailingSince.set(k, now - Math.max(0, Number(s.failingForMs) || 0));
      }
    }
    for (const k of this.proxyFailingSince.keys()) if (!seen.has(k)) this.proxyFailingSince.delete(k);
  }

  assess(gid: number, master: string, liveProxyIds: readonly string[], reports: ReadonlyMap<string, ReachabilityReport>): MasterAssessment {
    const now = performance.now();
    const since = this.selfFailingSince.get(master);
    const selfFailingForMs = since === undefined ? 0 : Math.round(now - since);
    const votes: ProxyVote[] = liveProxyIds.map((proxyId) => {
      const s = reports.get(proxyId)?.servers[master];
      if (!s) return { proxyId, ok: null, failingForMs: 0 };
      if (s.ok) return { proxyId, ok: true, failingForMs: 0 };
      const from = this.proxyFailingSince.get(`${proxyId} ${master}`);
      return { proxyId, ok: false, failingForMs: from === undefined ? 0 : Math.round(now - from) };
    });
    const downVotes = votes.filter((v) => v.ok === false && v.failingForMs >= this.downAfterMs).length;
    const quorum = Math.floor(liveProxyIds.length / 2) + 1;
    const selfDown = since !== undefined && selfFailingForMs >= this.downAfterMs;
    return {
      gid,
      master,
      selfOk: since === undefined,
      selfFailingForMs,
      ...(this.selfError.has(master) ? { selfError: this.selfError.get(master) } : {}),
      liveProxies: liveProxyIds.length,
      quorum,
      votes,
      downVotes,
      down: selfDown && liveProxyIds.length > 0 && downVotes >= quorum,
    };
  }

  /** Forget a master (after its failover, so a later episode starts from zero). */
  forget(addr: string): void {
    this.selfFailingSince.delete(addr);
    this.selfError.delete(addr);
  }
}
