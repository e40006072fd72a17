/**
 * What a proxy reports about the servers it routes to (coordinator key health/<proxyId>, under a lease of the
 * proxy, so a dead proxy's report disappears with it). The dashboard leader reads these as votes when it
 * decides whether a master is down (dashboard/failover/detector.ts).
 */

export interface ServerReachability {
  /** The last probe (PING) got a reply. */
  ok: boolean;
  /** ISO time of the last good reply (proxy clock), null if none since the proxy started. */
  lastOkAt: string | null;
  /** How long the server has been failing, on the proxy's monotonic clock (0 while ok). */
  failingForMs: number;
  /** Why the last probe failed. */
  error?: string;
}

export interface ReachabilityReport {
  proxyId: string;
  /** ISO time of this report (proxy clock). */
  at: string;
  /** host:port -> reachability. */
  servers: Record<string, ServerReachability>;
}

/** Parses a stored report; null when it is not one (never throws on foreign data). */
export function parseReachabilityReport(text: string): ReachabilityReport | null {
  try {
    const v = JSON.parse(text) as Partial<ReachabilityReport>;
    if (typeof v !== 'object' || v === null || typeof v.proxyId !== 'string' || typeof v.servers !== 'object' || v.servers === null) return null;
    return { proxyId: v.proxyId, at: String(v.at ?? ''), servers: v.servers };
  } catch {
    return null;
  }
}
