/**
 * The Redis version of each backend, learned right after the first connection's handshake (one `INFO server`
 * per server and process, queued like a request), and what it rules out for redslot on old servers (codis-server is a
 * Redis 3.2.11 fork; see shared/redis-version.ts):
 * - RESP3: HELLO 3 from a client is refused while any backend in use runs Redis < 6 (its commands could
 *   reach any group, and an old server would fail the RESP3 connection's handshake);
 * - ACL users: `AUTH user pass` (backend.user) fails on Redis < 6; the handshake failure says so.
 * Everything else a 3.2 server has works as on Redis 7: commands it lacks are refused by the server itself.
 */
import { capabilitiesOf, versionFromInfo, type RedisVersion } from '../../shared/redis-version.js';

/** Where the version lands (BackendServer). */
export interface VersionHolder {
  readonly addr: string;
  version: RedisVersion | null;
}

/** The handshake's `INFO server` step: records the version; a failure (e.g. INFO renamed) is harmless. */
export class VersionProbe {
  constructor(private readonly holder: VersionHolder) {}

  onReply(reply: Buffer): void {
    if (reply[0] !== 0x24 && reply[0] !== 0x3d) return; // bulk (RESP2) or verbatim (RESP3); an error leaves it unknown
    const v = versionFromInfo(reply.toString('latin1'));
    if (v !== null) this.holder.version = v;
  }
}

/** Why the handshake step `what` failed, with the version's explanation when it is the cause. */
export function explainHandshakeFailure(what: string, error: string, holder: VersionHolder, aclUser: boolean): string {
  const base = `${what}: ${error}`;
  const v = holder.version;
  if (what.startsWith('HELLO') && (v !== null || /unknown command/i.test(error))) {
    return `${base} (${v !== null ? (capabilitiesOf(v).resp3 ?? 'RESP3 refused by the server') : 'RESP3 (HELLO 3) needs Redis >= 6.0'})`;
  }
  if (what === 'AUTH' && aclUser && (v !== null ? capabilitiesOf(v).aclUser !== null : /wrong number of arguments/i.test(error))) {
    return `${base} (${v !== null ? capabilitiesOf(v).aclUser : 'ACL users (AUTH user password) need Redis >= 6.0: use backend.password without backend.user'})`;
  }
  return base;
}

/** The first backend (by address) that cannot speak RESP3, with the reason; null when all can (or unknown). */
export function resp3Refusal(servers: Iterable<VersionHolder>): string | null {
  for (const s of servers) {
    const why = s.version !== null ? capabilitiesOf(s.version).resp3 : null;
    if (why !== null) return `backend ${s.addr}: ${why}`;
  }
  return null;
}
