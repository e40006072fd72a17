/**
 * The name (CLIENT SETNAME) a proxy gives each of its backend connections: `redslot-proxy:<proxyId>` for the
 * shared pipelined ones, `redslot-dedicated:<proxyId>` for dedicated ones (transactions, blocking, Pub/Sub).
 * The proxy id is the registration id of the lease the proxy held when the connection was opened. The
 * dashboard reads it back from CLIENT LIST to kill the connections of proxies that are no longer registered
 * (dashboard/topom/stale-connections.ts); a proxy without a coordinator (static topology) has no id and its
 * connections keep the bare `redslot-proxy` / `redslot-dedicated`, which nobody kills.
 */

export type ConnectionKind = 'proxy' | 'dedicated';

export function proxyConnectionName(kind: ConnectionKind, proxyId: string | null): string {
  return proxyId === null ? `redslot-${kind}` : `redslot-${kind}:${proxyId}`;
}

const NAMED = /^redslot-(?:proxy|dedicated):([A-Za-z0-9_.-]+)$/;

/** The proxy id a connection name carries, or null when it is not a registered proxy's connection. */
export function proxyIdOfConnectionName(name: string): string | null {
  return NAMED.exec(name)?.[1] ?? null;
}
