/**
 * Choosing the replica to promote: among the group's replicas that replicate the failed master and heard from
 * it within maxLagMs (link up and master_last_io_seconds_ago, or master_link_down_since_seconds when the link
 * is down), the one with the highest replication offset (ties: model order).
 */
import type { RedisInfo } from '../redis/admin.js';
import { sameAddr } from '../topom/groups.js';
import type { ReplicaCandidate } from './types.js';

export function candidateFromInfo(addr: string, info: RedisInfo, failedMaster: string, maxLagMs: number): ReplicaCandidate {
  const repl = info.sections['replication'] ?? {};
  if (info.role !== 'slave') {
    return { addr, role: 'master', linkUp: false, silentMs: 0, offset: info.masterReplOffset ?? 0, eligible: false, why: 'it is a master' };
  }
  const master = `${info.masterHost ?? ''}:${info.masterPort ?? ''}`;
  const linkUp = info.masterLinkStatus === 'up';
  const lastIo = Number(repl['master_last_io_seconds_ago'] ?? -1);
  const downSince = Number(repl['master_link_down_since_seconds'] ?? -1);
  const silentS = linkUp ? lastIo : downSince;
  const silentMs = silentS >= 0 ? silentS * 1000 : Number.POSITIVE_INFINITY;
  const offset = info.slaveReplOffset ?? -1;
  const base = { addr, role: 'replica' as const, master, linkUp, silentMs, offset };
  if (!sameAddr(master, failedMaster)) return { ...base, eligible: false, why: `it replicates ${master}, not ${failedMaster}` };
  if (!(silentMs <= maxLagMs)) return { ...base, eligible: false, why: `no word from the master for ${Number.isFinite(silentMs) ? `${silentMs} ms` : 'ever'} (> failover.maxLag ${maxLagMs} ms)` };
  if (offset < 0) return { ...base, eligible: false, why: 'no replication offset yet (initial sync)' };
  return { ...base, eligible: true, why: `offset ${offset}, master silent ${silentMs} ms` };
}

export function unreachableCandidate(addr: string, err: unknown): ReplicaCandidate {
  return { addr, role: 'unreachable', linkUp: false, silentMs: Number.POSITIVE_INFINITY, offset: -1, eligible: false, why: `unreachable: ${(err as Error).message}` };
}

/** The best eligible candidate, or null. */
export function pickReplica(candidates: readonly ReplicaCandidate[]): ReplicaCandidate | null {
  let best: ReplicaCandidate | null = null;
  for (const c of candidates) if (c.eligible && (best === null || c.offset > best.offset)) best = c;
  return best;
}
