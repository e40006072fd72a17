/**
 * Kills, on a slot step's masters, every backend connection of a proxy that is no longer registered, before
 * the step goes on (issue 15, hole 5: writes already queued when a proxy fences or a slot advances).
 *
 * The hole: the barrier skips a proxy whose lease expired (frozen by SIGSTOP, a VM pause, a partition). The
 * proxy refuses to route past its serve deadline, but bytes it routed BEFORE the deadline may still be on
 * the way: in its kernel send buffer behind a congested backend socket, in the network, in Node's writable
 * buffer. Nothing bounds how late they arrive; if they arrive after the mover moved their key, a write made
 * with the old table lands on the source and is lost (or forks the key).
 *
 * The argument, in four steps:
 * 1. A proxy hands client bytes to a backend socket only before its serve deadline D (proxy/backend/
 *    write-fence.ts: checked at every flush, including the flush of what waited for a handshake; past D the
 *    connection is destroyed and what was pending on it fails, unacknowledged). Those bytes are written only
 *    once the connection's handshake was answered, and the handshake names the connection
 *    `redslot-proxy:<id>` / `redslot-dedicated:<id>` (shared/model/connection-name.ts), <id> being the
 *    registration the proxy held. So every connection that can still deliver a stale byte was named, in
 *    Redis, before D.
 * 2. D lies at least the fence margin (>= 1 s) before etcd can expire the lease (the follower measures it
 *    from when the keep-alive was SENT; etcd counts the TTL from when it got it), and the registration dies
 *    with the lease. Ids are never reused (a proxy that lost its lease re-registers as <baseId>.<n+1>).
 * 3. This runs after the barrier was reached (so after the expiry of every proxy it skipped) and before the
 *    round commits the next step or starts a mover: CLIENT LIST, then the registrations, then CLIENT KILL ID
 *    for each proxy connection whose id is not registered. Read in that order, a connection listed under a
 *    live registration belongs to a proxy that acknowledged (or will, before any later step) and has
 *    nothing stale in flight; anything else is killed.
 * 4. Redis runs one connection's commands in order on one thread; once CLIENT KILL has run, nothing more is
 *    read from that connection and bytes still on the way meet a closed socket. So each write of a skipped
 *    proxy ran on this master before the kill, i.e. before the step, or never runs at all.
 * A proxy that re-registers (a new id after a lost lease) renames its open shared connections in-band
 * (BackendConnection.rename: CLIENT SETNAME behind every byte sent before it), so a connection listed under a
 * live id has run everything it carried from the old incarnation, and a serving proxy's connections are not
 * killed for its past (its dedicated ones keep the old name until closed, and may be).
 * A connection opened after the LIST carries no stale byte: by step 1 a skipped proxy's bytes only go on
 * connections whose handshake Redis answered before D, long before the LIST. Limits: a backend ACL user that may not CLIENT SETNAME leaves the proxy's connections unnamed and
 * so unkillable here (the proxy logs the failed step); a proxy on a static topology has no id and never fences.
 *
 * Cost: one CLIENT LIST per master involved in a step, once per barrier the scheduler waits for.
 */
import type { Coordinator } from '../../shared/coordinator/types.js';
import type { Logger } from '../../shared/log.js';
import { proxyIdOfConnectionName } from '../../shared/model/connection-name.js';
import { lastSegment, type ClusterPaths } from '../../shared/model/paths.js';
import type { RedisAdmin } from '../redis/admin.js';

export interface StaleConnectionDeps {
  coord: Coordinator;
  paths: ClusterPaths;
  log: Logger;
  /** Runs `fn` on a connection to `addr` (the dialer's SSRF-guarded one-shot connection). */
  withServer: <T>(addr: string, fn: (c: RedisAdmin) => Promise<T>) => Promise<T>;
}

export interface ProxyConnection {
  /** CLIENT ID */
  id: string;
  proxyId: string;
  addr: string;
}

/** The connections of a CLIENT LIST reply that are named after a registered proxy id. */
export function proxyConnections(list: string): ProxyConnection[] {
  const out: ProxyConnection[] = [];
  for (const line of list.split('\n')) {
    const fields = new Map<string, string>();
    for (const f of line.trim().split(' ')) {
      const eq = f.indexOf('=');
      if (eq > 0) fields.set(f.slice(0, eq), f.slice(eq + 1));
    }
    const proxyId = proxyIdOfConnectionName(fields.get('name') ?? '');
    const id = fields.get('id');
    if (proxyId !== null && id !== undefined) out.push({ id, proxyId, addr: fields.get('addr') ?? '' });
  }
  return out;
}

async function registeredIds(deps: StaleConnectionDeps): Promise<Set<string>> {
  const regs = await deps.coord.getPrefix(deps.paths.proxies);
  return new Set(regs.kvs.map((kv) => lastSegment(kv.key)));
}

/** On one master: the connections of unregistered proxies, killed (see the header). Returns how many. */
export async function killStaleOn(deps: StaleConnectionDeps, master: string): Promise<number> {
  return deps.withServer(master, async (c) => {
    const list = await c.call('CLIENT', 'LIST', 'TYPE', 'normal');
    const conns = proxyConnections(typeof list === 'string' ? list : '');
    if (conns.length === 0) return 0;
    const live = await registeredIds(deps); // after the LIST: see the header, step 3
    const stale = conns.filter((k) => !live.has(k.proxyId));
    let killed = 0;
    for (const k of stale) {
      // "No such client": it closed meanwhile, which is as good.
      const r = await c.callBuffers('CLIENT', 'KILL', 'ID', k.id);
      if (!(r instanceof Error)) killed++;
    }
    if (stale.length > 0) {
      deps.log.warn('migration.stale_proxy_connections_killed', { master, killed, proxies: [...new Set(stale.map((k) => k.proxyId))] });
    }
    return killed;
  });
}

/** The same on every master in `masters` (in parallel); throws if any of them could not be checked. */
export async function killStaleProxyConnections(deps: StaleConnectionDeps, masters: Iterable<string>): Promise<number> {
  const counts = await Promise.all([...new Set(masters)].map((m) => killStaleOn(deps, m)));
  return counts.reduce((a, b) => a + b, 0);
}
