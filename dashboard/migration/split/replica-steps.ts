/**
 * The split's two uses of the new group's replicas (replicas.ts), one call each from the runner:
 * - `readyToLock`, at every poll of the sync: the first call chains the replicas to the new master; the hold may
 *   start once the new master is caught up AND its replicas follow it in sync (or replicaTimeoutMs after the
 *   master caught up: a replica that cannot sync must not block the split for ever);
 * - `attach`, the `attaching` step after the purge: every replica follows the promoted master with the purge's
 *   deletions (re-pointed if needed), at most replicaTimeoutMs from the step's start across leaders; outcomes
 *   and warnings for the record.
 * Addresses come from the model as it is now and are checked against it (assertAllowed), like the masters.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../../../shared/log.js';
import type { RedisAdmin } from '../../redis/admin.js';
import { knownServers } from '../../topom/dialer.js';
import type { SplitDeps, SplitKnobs } from './context.js';
import type { SplitProgress } from './progress.js';
import type { SplitRecord } from './record.js';
import { replicationOf } from './replication.js';
import { attachSettled, groupMaster, replicasOf, replicaWarning, SplitReplicas, type ReplicaOutcome } from './replicas.js';

export class ReplicaSteps {
  private readonly replicas: SplitReplicas;
  /** The replicas chained by this runner's sync (listed at its first poll). */
  private chained: string[] | undefined;
  /** When the new master was first seen caught up (the wait for its replicas counts from there). */
  private caughtUpAt: number | undefined;

  constructor(
    private readonly deps: SplitDeps,
    private readonly knobs: SplitKnobs,
    private readonly progress: SplitProgress,
    private readonly dial: (addr: string) => Promise<RedisAdmin>,
    private readonly log: Logger,
  ) {
    this.replicas = new SplitReplicas({ dial, redisPassword: deps.redisPassword, redisUsername: deps.redisUsername, log });
  }

  /** True once the hold may start: the new master is caught up and its replicas follow it, in sync. */
  async readyToLock(r: SplitRecord, masterCaughtUp: boolean, masterOffset: number): Promise<boolean> {
    if (this.chained === undefined) {
      const { replicas } = await this.group(r.target);
      await this.replicas.chainAll(replicas, r.targetMaster);
      this.chained = replicas;
    }
    await this.replicas.observe(this.chained, masterOffset, masterCaughtUp ? 200 : 1000);
    this.progress.replicas = this.replicas.progress;
    if (!masterCaughtUp) return false;
    this.caughtUpAt ??= Date.now();
    return this.replicas.following(r.targetMaster) || Date.now() - this.caughtUpAt > this.knobs.replicaTimeoutMs;
  }

  /** The `attaching` step's work: each replica's outcome, and a warning for each one not attached. */
  async attach(r: SplitRecord, signal: AbortSignal): Promise<{ outcomes: ReplicaOutcome[]; warnings: string[] }> {
    const { master, replicas } = await this.group(r.target);
    if (master === undefined || replicas.length === 0) return { outcomes: [], warnings: [] };
    const m = await this.dial(master);
    // Every write up to here, the purge's deletions included, must reach each replica.
    const offset = (await replicationOf(m)).masterOffset;
    const deadline = (r.attachingSinceMs ?? Date.now()) + this.knobs.replicaTimeoutMs;
    for (;;) {
      const outcomes = await this.replicas.attachRound(replicas, master, (await replicationOf(m)).masterOffset, offset);
      this.progress.replicas = this.replicas.progress;
      if (attachSettled(outcomes) || Date.now() > deadline) {
        const warnings = outcomes.filter((o) => !o.attached).map((o) => replicaWarning(o, master, this.knobs.replicaTimeoutMs));
        if (warnings.length > 0) this.log.warn('split.replicas_not_attached', { replicas: outcomes });
        return { outcomes, warnings };
      }
      await delay(Math.max(100, this.knobs.pollMs), undefined, { signal });
    }
  }

  /** The group's master and replicas in the model now, checked against it. */
  private async group(gid: number): Promise<{ master?: string; replicas: string[] }> {
    const snap = await this.deps.store.read();
    const known = knownServers(snap);
    const master = groupMaster(snap, gid);
    const replicas = replicasOf(snap, gid);
    for (const a of master !== undefined ? [master, ...replicas] : replicas) this.deps.assertAllowed(a, known);
    return { master, replicas };
  }
}
