/**
 * The scheduler loop: drives every slot action through the state machine (state-machine.ts), only while this
 * dashboard is the leader.
 *
 * One scheduler round:
 *   1. read the topology (every slot with its modRevision) and the runtime settings;
 *   2. wait once for the barrier on the highest modRevision of any slot carrying an action: after that every
 *      live proxy applied (and drained for) the current state of every such slot;
 *   3. advance every slot one step, all in chunked CAS txns (compare each slot's modRevision, plus the
 *      leader fence added by TopologyStore): finished -> cleared, migrating (verified by its mover) ->
 *      finished, prepared -> migrating, preparing -> prepared (not while paused), and pending -> preparing for
 *      up to `parallelSlots` slots in flight (lowest action index first, not while paused);
 *   4. start a mover per source master for migrating slots not verified yet (one SCAN pass series covers all
 *      of them; slots that turn migrating while a source's mover runs wait for the next run);
 *   5. mark jobs whose slots no longer carry their action as done (or aborted).
 * Rounds repeat while something moved; otherwise the loop sleeps until woken (new job, mover result,
 * setting change) or for `pollMs`. So one barrier wait serves every slot advanced in that round.
 *
 * Slots whose source or target group is promoting are left alone (their mover is dropped) until the promotion
 * ends. Crash safety: everything the rounds need is persisted (slot actions, jobs, settings); mover state is
 * not, and need not be: a new leader's mover re-scans the sources of migrating slots (MIGRATE is atomic per
 * call: every key is on exactly one side) and verifies before finishing. `resume()` is that new leader's entry.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Compare, TxnOp } from '../../shared/coordinator/types.js';
import { CommonErrors, RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { masterOf } from '../../shared/model/topology.js';
import { OFFLINE_GROUP, type SlotActionState, type SlotRecord } from '../../shared/model/types.js';
import { knownServers } from '../topom/dialer.js';
import { CHUNK, type TopologySnapshot, type Versioned } from '../topom/store.js';
import type { MigrationEngineDeps } from './context.js';
import { MigrationErrors } from './errors.js';
import { isActive, type JobRecords } from './jobs.js';
import type { MoverRuns } from './movers.js';
import type { MigrationProgress } from './progress.js';
import type { MigrationSettingsHolder } from './settings.js';
import type { SlotErrors } from './slot-errors.js';
import { actionKey, advance, isStarted, nextStateName } from './state-machine.js';

export function countStates(snap: TopologySnapshot): Record<SlotActionState, number> {
  const out: Record<SlotActionState, number> = { pending: 0, preparing: 0, prepared: 0, migrating: 0, finished: 0 };
  for (const s of snap.slots) if (s.record.action) out[s.record.action.state]++;
  return out;
}

interface Step {
  cur: Versioned<SlotRecord>;
  next: SlotRecord;
}

export class MigrationScheduler {
  private loopAbort: AbortController | undefined;
  private loopDone: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** Highest revision the barrier confirmed during this term. */
  private ackedRevision = 0;
  private snapshot: TopologySnapshot | undefined;
  private readonly promotingLogged = new Set<string>();
  /** Jobs being written right now: their pending slots wait, so one job starts as one wave (one SCAN). */
  private creating = 0;
  /** Bumped when a job creation starts or ends: a round whose snapshot overlapped one does not pick. */
  private creationEpoch = 0;
  /** Why the last round failed (barrier timeout naming laggards, coordinator down, ...). */
  private roundError: { code: string; message: string; at: string } | undefined;

  constructor(
    private readonly deps: MigrationEngineDeps,
    private readonly log: Logger,
    private readonly settings: MigrationSettingsHolder,
    private readonly progress: MigrationProgress,
    private readonly errors: SlotErrors,
    private readonly jobs: JobRecords,
    private readonly movers: MoverRuns,
  ) {}

  get running(): boolean {
    return this.loopAbort !== undefined;
  }

  /** The topology as the last round read it. */
  get lastSnapshot(): TopologySnapshot | undefined {
    return this.snapshot;
  }

  get lastRoundError(): { code: string; message: string; at: string } | undefined {
    return this.roundError;
  }

  /**
   * Starts the loop (the new leader's entry point): picks up every in-flight action from the persisted state.
   * Resolves once the loop runs; it stops when `signal` aborts or stop() is called.
   */
  async resume(signal?: AbortSignal): Promise<void> {
    await this.stop();
    const ctl = new AbortController();
    this.loopAbort = ctl;
    ctl.signal.addEventListener('abort', () => this.wake(), { once: true });
    if (signal) {
      if (signal.aborted) return;
      signal.addEventListener('abort', () => ctl.abort(signal.reason), { once: true });
    }
    this.ackedRevision = 0;
    const snap = await this.deps.store.read();
    const inFlight = snap.slots.filter((s) => s.record.action);
    this.log.info('migration.resume', {
      inFlight: inFlight.length,
      byState: countStates(snap),
      jobs: (await this.jobs.read()).filter((j) => isActive(j.record)).map((j) => j.record.id),
    });
    this.loopDone = this.loop(ctl.signal);
  }

  /** Stops the loop and every mover (batches in flight are answered first). Idempotent. */
  async stop(): Promise<void> {
    const ctl = this.loopAbort;
    this.loopAbort = undefined;
    if (!ctl) return;
    ctl.abort(new Error('migration engine stopped'));
    await this.loopDone?.catch(() => undefined);
    await this.movers.settled();
    this.loopDone = undefined;
  }

  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  /** Runs `create` (writing a job) with rounds kept from picking pending slots until it is done. */
  async creatingJob<T>(create: () => Promise<T>): Promise<T> {
    this.creating++;
    this.creationEpoch++;
    try {
      return await create();
    } finally {
      this.creating--;
      this.creationEpoch++;
      this.wake();
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let acted: boolean;
      try {
        acted = await this.round(signal);
        failures = 0;
        this.roundError = undefined;
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        const casConflict = err instanceof RedslotError && err.code === CommonErrors.REDSLOT_ERR_CAS_CONFLICT.code;
        this.roundError = {
          code: err instanceof RedslotError ? err.code : 'REDSLOT_ERR_INTERNAL',
          message: err instanceof Error ? err.message : String(err),
          at: new Date().toISOString(),
        };
        this.log.warn('migration.round_failed', { err, failures, retryInMs: casConflict ? 0 : Math.min(5000, 200 * failures) });
        if (!casConflict) await sleep(Math.min(5000, 200 * failures), undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (!acted && !signal.aborted) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.deps.pollMs ?? 1000);
          this.wakeUp = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
    this.log.info('migration.loop_stopped', { reason: String(signal.reason ?? '') });
  }

  /** One round; true when it committed something (run again at once). */
  private async round(signal: AbortSignal): Promise<boolean> {
    const epoch = this.creationEpoch;
    const noJobBeingWritten = () => this.creating === 0 && this.creationEpoch === epoch;
    await this.settings.refresh();
    const snap = await this.deps.store.read();
    this.snapshot = snap;
    for (const [state, n] of Object.entries(countStates(snap))) this.deps.metrics?.slots.set({ state }, n);
    const withAction = snap.slots.filter((s) => s.record.action);
    const live = new Set(withAction.map((s) => actionKey(s.record)));
    this.movers.dropStale(live);
    this.errors.dropStale(live);
    if (withAction.length === 0) {
      if (noJobBeingWritten()) await this.jobs.finish(snap, this.progress);
      return false;
    }
    // The barrier: every live proxy has applied the current state of every slot with an action.
    const need = Math.max(...withAction.map((s) => s.modRevision));
    if (need > this.ackedRevision) {
      const t0 = performance.now();
      await this.deps.barrier(need, signal);
      // Before anything moves on: a proxy the barrier skipped may still have writes on the way to these
      // masters; its connections are killed so they run before this step or never (issue 15, hole 5).
      await this.deps.killStaleProxyConnections?.(mastersOf(snap, withAction), knownServers(snap));
      this.ackedRevision = need;
      this.deps.metrics?.barrierRounds.inc();
      this.deps.metrics?.barrierWait.observe((performance.now() - t0) / 1000);
    }
    if (signal.aborted) return false;

    const paused = this.settings.current.paused;
    const steps: Step[] = [];
    const pending: Array<Versioned<SlotRecord>> = [];
    const migrating: Array<Versioned<SlotRecord>> = [];
    let started = 0;
    for (const v of withAction) {
      const s = v.record;
      const a = s.action!;
      if (isStarted(a)) started++;
      if (this.promoting(snap, s)) continue;
      switch (a.state) {
        case 'pending':
          pending.push(v);
          break;
        case 'preparing':
          if (!paused) steps.push({ cur: v, next: advance(s) });
          break;
        case 'prepared':
          // Never left paused: proxies hold the slot's requests in this state.
          steps.push({ cur: v, next: advance(s) });
          break;
        case 'migrating':
          if (this.movers.isVerified(actionKey(s))) steps.push({ cur: v, next: advance(s) });
          else migrating.push(v);
          break;
        case 'finished':
          steps.push({ cur: v, next: advance(s) });
          break;
      }
    }
    if (!paused && noJobBeingWritten()) {
      let room = this.settings.current.parallelSlots - started;
      for (const v of pending.sort((x, y) => x.record.action!.index - y.record.action!.index)) {
        if (room <= 0) break;
        const problem = unusable(snap, v.record);
        if (problem) {
          this.errors.note(v.record, problem);
          continue;
        }
        steps.push({ cur: v, next: advance(v.record) });
        room--;
      }
    }
    if (steps.length > 0) await this.commitSteps(snap, steps);
    this.movers.start(snap, migrating, signal);
    // A job whose slots are being written right now must not look finished on a snapshot from before.
    if (noJobBeingWritten()) await this.jobs.finish(snap, this.progress);
    this.movers.updateRateMetrics();
    return steps.length > 0;
  }

  private promoting(snap: TopologySnapshot, s: SlotRecord): boolean {
    const src = snap.groups.get(s.group)?.record;
    const dst = snap.groups.get(s.action!.target)?.record;
    const busy = Boolean(src?.promoting || dst?.promoting);
    const k = actionKey(s);
    if (busy && !this.promotingLogged.has(k)) {
      this.promotingLogged.add(k);
      this.log.info('migration.slot_waits_for_promotion', { slot: s.id, source: s.group, target: s.action!.target });
    }
    // Its mover must not keep moving to or from a master being replaced.
    if (busy) void this.movers.dropSlot(s.id, k);
    else this.promotingLogged.delete(k);
    return busy;
  }

  /** Commits steps in chunks of CHUNK slots, each chunk one CAS txn on the slots' modRevisions. */
  private async commitSteps(snap: TopologySnapshot, steps: Step[]): Promise<void> {
    const { store } = this.deps;
    for (let i = 0; i < steps.length; i += CHUNK) {
      const chunk = steps.slice(i, i + CHUNK);
      const compares: Compare[] = chunk.map((st) => store.guard(store.paths.slot(st.cur.record.id), st.cur.modRevision));
      const ops: TxnOp[] = chunk.map((st) => store.slotPut(st.next));
      const revision = await store.commit(`migration step of ${chunk.length} slot(s)`, snap.revision, compares, ops);
      const byTo = new Map<string, number[]>();
      for (const st of chunk) {
        const to = nextStateName(st.cur.record);
        byTo.set(to, [...(byTo.get(to) ?? []), st.cur.record.id]);
        this.deps.metrics?.transitions.inc({ to });
      }
      for (const [to, slots] of byTo) this.log.info('migration.step', { to, slots: slots.length, first: slots[0], last: slots[slots.length - 1], revision });
    }
  }
}

/**
 * The source and target masters of these slots' actions. A group being promoted is left out: its slots wait
 * anyway, its old master may be dead (the round must not fail on it), and proxies write to the new one only
 * with a table that names it.
 */
function mastersOf(snap: TopologySnapshot, slots: ReadonlyArray<Versioned<SlotRecord>>): string[] {
  const out = new Set<string>();
  for (const { record: s } of slots) {
    for (const gid of [s.group, s.action!.target]) {
      const g = snap.groups.get(gid)?.record;
      const m = g?.promoting ? undefined : masterOf(g);
      if (m !== undefined) out.add(m);
    }
  }
  return [...out];
}

/** Why a pending slot cannot start now (no master on one side), or undefined. */
function unusable(snap: TopologySnapshot, s: SlotRecord): RedslotError | undefined {
  const target = s.action!.target;
  if (!masterOf(snap.groups.get(target)?.record)) {
    return new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_NO_MASTER, { gid: target, slot: s.id });
  }
  if (s.group !== OFFLINE_GROUP && !masterOf(snap.groups.get(s.group)?.record)) {
    return new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_NO_MASTER, { gid: s.group, slot: s.id });
  }
  return undefined;
}
