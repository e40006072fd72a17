/** Shapes shared by the failover modules (persisted ones are part of the on-disk format: add, never rename). */

/** Persisted per group under failover/<gid>. */
export interface FailoverGroupState {
  gid: number;
  /** Automatic failover for this group (default: the global failover.enabled). */
  enabled?: boolean;
  /** Follow this Sentinel service instead of deciding (optional per group). */
  sentinel?: SentinelConfig;
  lastFailover?: LastFailover;
}

export interface SentinelConfig {
  /** The master name the Sentinels monitor (`sentinel monitor <name> ...`). */
  name: string;
  /** host:port of each Sentinel. */
  addrs: string[];
}

export interface LastFailover {
  at: string;
  from: string;
  to: string;
  result: 'ok' | 'failed';
  /** From "declared down" until the promotion returned (other replicas re-pointed included). */
  durationMs: number;
  detail: string;
  /** When the old master was first seen replicating the new one (it is reported stale until then). */
  rejoinedAt?: string;
}

/** One proxy's vote about one master. */
export interface ProxyVote {
  proxyId: string;
  /** null: the proxy has not reported this server. */
  ok: boolean | null;
  failingForMs: number;
}

export interface ReplicaCandidate {
  addr: string;
  role: 'replica' | 'master' | 'unreachable';
  /** Whom it replicates (host:port). */
  master?: string;
  linkUp: boolean;
  /** How long since it last heard from its master (ms), from INFO replication. */
  silentMs: number;
  offset: number;
  eligible: boolean;
  why: string;
}

export type GroupFailoverState =
  | 'ok'
  | 'suspect'
  | 'failing-over'
  | 'no-eligible-replica'
  | 'cooldown'
  | 'disabled'
  | 'not-leader';

export interface ReplicaStatus {
  addr: string;
  role: 'replica' | 'master' | 'unreachable';
  linkUp: boolean;
  /** Bytes behind the master (master offset - replica offset), null when unknown. */
  lagBytes: number | null;
  /** Since it last heard from its master (ms), null when unknown. */
  silentMs: number | null;
  /** Not (yet) a replica of the group's master: the old master after a failover, until it rejoined. */
  stale: boolean;
}
