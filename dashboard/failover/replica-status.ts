/** A replica as the failover status shows it: role, link, lag behind the master, stale (not replicating it). */
import type { RedisInfo } from '../redis/admin.js';
import { sameAddr } from '../topom/groups.js';
import { candidateFromInfo } from './elect.js';
import type { ReplicaStatus } from './types.js';

export function replicaStatus(addr: string, info: RedisInfo | Error | undefined, master: string, masterOffset: number | null): ReplicaStatus {
  if (info === undefined || info instanceof Error) return { addr, role: 'unreachable', linkUp: false, lagBytes: null, silentMs: null, stale: false };
  if (info.role !== 'slave') return { addr, role: 'master', linkUp: false, lagBytes: null, silentMs: null, stale: true };
  const c = candidateFromInfo(addr, info, master, Number.POSITIVE_INFINITY);
  const stale = !sameAddr(c.master ?? '', master);
  return {
    addr,
    role: 'replica',
    linkUp: c.linkUp,
    lagBytes: masterOffset !== null && c.offset >= 0 && !stale ? Math.max(0, masterOffset - c.offset) : null,
    silentMs: Number.isFinite(c.silentMs) ? c.silentMs : null,
    stale,
  };
}
