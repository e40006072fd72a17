/**
 * The new group's replicas (servers added to the target group with `server add`) during and after a split.
 *
 * - During the sync they are chained: each follows the target's master (as `server add` left it), so when that
 *   master replicates the source, Redis resyncs them from it (a replica of a replica: they receive the source's
 *   dataset and stream before the switch, not after it), and after REPLICAOF NO ONE they go on with a partial
 *   resync (PSYNC on the promoted master's replid2). `chain` re-points one found following anything else. The
 *   hold waits until they follow with their link up (`following`; at most replicaTimeoutMs after the master
 *   caught up). An abort flushes them with their master (FLUSHALL is replicated).
 * - After the purge (step `attaching`, persisted, resumed by a new leader) `attach` checks that each replica of
 *   the target group follows the group's master with its link up and has reached the master's offset as read
 *   when the step began (so it holds the purge's deletions), re-pointing any that does not, for at most
 *   `replicaTimeoutMs` (an unreachable one is not waited for); replicas not attached are reported in the record as warnings.
 * The source group's replicas are never touched (they follow the source and receive its purge by replication).
 */
import type { Logger } from '../../../shared/log.js';
import { masterOf } from '../../../shared/model/topology.js';
import type { RedisAdmin } from '../../redis/admin.js';
import type { TopologySnapshot } from '../../topom/store.js';
import type { ReplicaProgress } from './progress.js';
import { replicationOf, sameAddr, type ReplicationState } from './replication.js';

/** A replica's outcome, persisted with `done`. */
export interface ReplicaOutcome {
  addr: string;
  attached: boolean;
  /** Why not, or what was done (re-pointed). */
  detail?: string;
}

export interface ReplicaDeps {
  /** A connected admin client (the runner's, checked against the model). */
  dial: (addr: string) => Promise<RedisAdmin>;
  redisPassword?: string;
  redisUsername?: string;
  log: Logger;
}

/** The replicas of a group in the model (every server but its master). */
export function replicasOf(snap: TopologySnapshot, gid: number): string[] {
  return (snap.groups.get(gid)?.record.servers ?? []).filter((s) => s.role !== 'master').map((s) => s.addr);
}

/** The group's master in the model now. */
export function groupMaster(snap: TopologySnapshot, gid: number): string | undefined {
  return masterOf(snap.groups.get(gid)?.record);
}

function progressOf(addr: string, t: ReplicationState | undefined, masterOffset: number, error?: string): ReplicaProgress {
  if (!t) return { addr, role: 'unknown', linkUp: false, syncing: false, lagBytes: -1, error };
  const following = t.role === 'slave' && t.linkUp && !t.syncInProgress;
  return {
    addr,
    role: t.role,
    ...(t.master !== undefined ? { master: t.master } : {}),
    linkUp: t.linkUp,
    syncing: t.syncInProgress,
    lagBytes: following && masterOffset >= 0 ? Math.max(0, masterOffset - t.replicaOffset) : -1,
    ...(error !== undefined ? { error } : {}),
  };
}

export class SplitReplicas {
  /** Live state of the target's replicas (the split's progress shows it). */
  progress: ReplicaProgress[] = [];
  private lastPoll = 0;
  /** Replicas this runner told REPLICAOF (reported in the outcome). */
  private readonly repointed = new Set<string>();

  constructor(private readonly deps: ReplicaDeps) {}

  /** Makes `addr` a replica of `master` unless it already is one (the old data is discarded by the resync). */
  async chain(addr: string, master: string): Promise<ReplicationState> {
    const c = await this.deps.dial(addr);
    const t = await replicationOf(c);
    if (t.role === 'slave' && sameAddr(t.master, master)) return t;
    if (this.deps.redisPassword !== undefined) {
      await c.call('CONFIG', 'SET', 'masterauth', this.deps.redisPassword);
      if (this.deps.redisUsername !== undefined) await c.call('CONFIG', 'SET', 'masteruser', this.deps.redisUsername);
    }
    await c.replicaOf(master);
    this.repointed.add(addr);
    this.deps.log.info('split.replica_repointed', { replica: addr, master, was: t.role === 'slave' ? `replica of ${t.master}` : t.role });
    return replicationOf(c);
  }

  /** Chains every replica to the target's master; one that cannot be reached is left to `attach`. */
  async chainAll(addrs: readonly string[], master: string): Promise<void> {
    await Promise.all(
      addrs.map((a) =>
        this.chain(a, master).catch((err: unknown) => {
          this.deps.log.warn('split.replica_chain_failed', { replica: a, master, err });
        }),
      ),
    );
  }

  /** Refreshes `progress` at most every `everyMs` (the sync loop calls it at each poll). */
  async observe(addrs: readonly string[], masterOffset: number, everyMs = 1000): Promise<void> {
    if (Date.now() - this.lastPoll < everyMs) return;
    this.lastPoll = Date.now();
    this.progress = await Promise.all(
      addrs.map(async (a) => {
        try {
          return progressOf(a, await replicationOf(await this.deps.dial(a)), masterOffset);
        } catch (err) {
          return progressOf(a, undefined, masterOffset, (err as Error).message);
        }
      }),
    );
  }

  /**
   * As last observed, every replica follows `master` with its link up and no full sync running (one that could
   * not be polled is not waited for). The sync waits for this before the hold, so the new group is whole at the
   * switch and its master does not fork for a replica's full sync right after it starts serving.
   */
  following(master: string): boolean {
    return this.progress.every((p) => p.error !== undefined || (p.role === 'slave' && sameAddr(p.master, master) && p.linkUp && !p.syncing));
  }

  /**
   * One round of the `attaching` step: every replica re-pointed if needed and checked against `targetOffset`
   * (the master's offset when the step began). Returns the outcomes, `attached` true for the caught-up ones.
   */
  async attachRound(addrs: readonly string[], master: string, masterOffset: number, targetOffset: number): Promise<ReplicaOutcome[]> {
    const out: ReplicaOutcome[] = [];
    const progress: ReplicaProgress[] = [];
    await Promise.all(
      addrs.map(async (addr, i) => {
        try {
          const t = await this.chain(addr, master);
          progress[i] = progressOf(addr, t, masterOffset);
          const ok = t.role === 'slave' && sameAddr(t.master, master) && t.linkUp && !t.syncInProgress && t.replicaOffset >= targetOffset;
          const detail = ok ? (this.repointed.has(addr) ? `re-pointed to ${master}` : undefined) : notYet(t, master, targetOffset);
          out[i] = { addr, attached: ok, ...(detail !== undefined ? { detail } : {}) };
        } catch (err) {
          progress[i] = progressOf(addr, undefined, masterOffset, (err as Error).message);
          out[i] = { addr, attached: false, detail: `${UNREACHABLE}${(err as Error).message}` };
        }
      }),
    );
    this.progress = progress;
    return out;
  }
}

function notYet(t: ReplicationState, master: string, offset: number): string {
  if (!(t.role === 'slave' && sameAddr(t.master, master))) return `${t.role} ${t.master ?? ''}, not a replica of ${master}`.replace('  ', ' ');
  if (!t.linkUp) return `link to ${master} down`;
  if (t.syncInProgress) return `full sync from ${master} running`;
  return `at offset ${t.replicaOffset}, below ${offset}`;
}

const UNREACHABLE = 'unreachable: ';

/**
 * The `attaching` step is over: every replica attached, except unreachable ones, which are not waited for (as
 * in the sync): one that comes back follows the master it was given, or the failover monitor re-points it.
 */
export function attachSettled(outcomes: readonly ReplicaOutcome[]): boolean {
  return outcomes.every((o) => o.attached || o.detail?.startsWith(UNREACHABLE));
}

/** The warning a replica not attached leaves in the record. */
export function replicaWarning(o: ReplicaOutcome, master: string, timeoutMs: number): string {
  const [host, port] = [master.slice(0, master.lastIndexOf(':')), master.slice(master.lastIndexOf(':') + 1)];
  const why = o.detail?.startsWith(UNREACHABLE) ? `could not be reached (${o.detail.slice(UNREACHABLE.length)})` : `was not attached within ${timeoutMs} ms (${o.detail ?? 'unknown state'})`;
  return `replica ${o.addr} of the new group ${why}; check it and run REPLICAOF ${host} ${port} on it`;
}
