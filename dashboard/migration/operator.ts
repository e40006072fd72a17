/**
 * What an operator can ask of the migration engine (API, CLI, UI): preview a plan, start a job, pause or resume,
 * throttle, abort. Every call that writes requires this dashboard to be the leader.
 */
import { RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { masterOf } from '../../shared/model/topology.js';
import type { GroupRecord, SlotRecord } from '../../shared/model/types.js';
import { CHUNK, type TopologySnapshot, type Versioned } from '../topom/store.js';
import type { MigrationEngineDeps, MoveRequest } from './context.js';
import { MigrationErrors } from './errors.js';
import type { JobRecords } from './jobs.js';
import type { MoverRuns } from './movers.js';
import { planRebalanceByLoad } from './load-planner.js';
import { planMoveRange, planMoveSome, planRebalance, type Plan, type PlannerGroup } from './planner.js';
import { countStates, type MigrationScheduler } from './scheduler.js';
import type { MigrationSettingsHolder } from './settings.js';
import type { SlotErrors } from './slot-errors.js';
import { abortRecord, actionKey, newJobId, type JobRecord, type MigrationSettings } from './state-machine.js';
import type { JobView, MigrationViews } from './views.js';

export interface AbortResult {
  cancelled: number[];
  reversed: number[];
  refused: Array<{ slot: number; reason: string }>;
  revision: number;
}

export class MigrationOperator {
  constructor(
    private readonly deps: MigrationEngineDeps,
    private readonly log: Logger,
    private readonly settings: MigrationSettingsHolder,
    private readonly scheduler: MigrationScheduler,
    private readonly movers: MoverRuns,
    private readonly errors: SlotErrors,
    private readonly jobs: JobRecords,
    private readonly views: MigrationViews,
  ) {}

  /** Computes a plan on the current topology (nothing written). */
  async preview(req: MoveRequest): Promise<{ revision: number; plan: Plan }> {
    const snap = await this.deps.store.read();
    return { revision: snap.revision, plan: await this.plan(snap, req) };
  }

  /**
   * Creates a job (jobs.ts writes it). With `ifRevision`, refuses (409) when a slot the plan touches changed
   * after it.
   */
  async start(req: MoveRequest, who: string, ifRevision?: number): Promise<{ job: JobView; plan: Plan; revision: number }> {
    this.requireLeader();
    const snap = await this.deps.store.read();
    const plan = await this.plan(snap, req);
    refuseSplitting(snap, plan);
    this.deps.store.checkIfRevision(ifRevision, 'slots of the plan', plan.moves.map((m) => snap.slots[m.slot]!));
    const now = new Date().toISOString();
    const job: JobRecord = {
      id: newJobId(),
      kind: req.mode,
      state: plan.moves.length === 0 ? 'done' : 'running',
      createdAt: now,
      createdBy: who,
      description: describe(req, plan),
      moves: plan.moves,
      params: req,
      ...(plan.moves.length === 0 ? { finishedAt: now } : {}),
    };
    const revision = await this.scheduler.creatingJob(() => this.jobs.create(snap, plan, job));
    this.log.info('migration.job_created', { job: job.id, kind: req.mode, slots: plan.moves.length, ranges: plan.ranges.length, revision, who });
    return { job: this.views.jobView(job, snap, undefined), plan, revision };
  }

  /** Pause (true) or resume (false) every migration: persisted, applied at once. */
  async setPaused(paused: boolean, who: string): Promise<MigrationSettings> {
    const s = await this.writeSettings({ paused }, who);
    if (!paused) {
      // Resume also retries slots that wait for the operator (big key failed or refused).
      const slots = this.errors.retrySticky();
      if (slots.length > 0) this.log.info('migration.retry_sticky', { who, slots });
    }
    const snap = this.scheduler.lastSnapshot;
    this.log.info(paused ? 'migration.paused' : 'migration.resumed', { who, inFlight: snap ? countStates(snap) : undefined });
    return s;
  }

  /** Changes throttle and/or parallelism: persisted, applied to running movers at once. */
  async setThrottle(change: Partial<Pick<MigrationSettings, 'keysPerSec' | 'bytesPerSec' | 'parallelSlots'>>, who: string): Promise<MigrationSettings> {
    const s = await this.writeSettings(change, who);
    this.log.info('migration.throttle', { who, ...s });
    return s;
  }

  /**
   * Aborts every in-flight slot of a job (or of every job with `job === undefined`): pending..prepared slots
   * are cancelled, migrating/finished ones reversed (their mover stops first). Slots whose move already
   * completed stay where they are. Returns what was done per slot.
   */
  async abort(job: string | undefined, who: string): Promise<AbortResult> {
    this.requireLeader();
    const { store, paths } = this.deps;
    const jobs = await this.jobs.read();
    if (job !== undefined && !jobs.some((j) => j.record.id === job)) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_JOB_NOT_FOUND, { job });
    // Stop the movers of the affected slots before reading the state we will compare against.
    let snap = await store.read();
    const affected = (s: SlotRecord): boolean => Boolean(s.action && !s.action.aborted && (job === undefined || s.action.job === job));
    await Promise.all(snap.slots.filter((v) => affected(v.record)).map((v) => this.movers.dropSlot(v.record.id, actionKey(v.record))));
    snap = await store.read();
    const cancelled: number[] = [];
    const reversed: number[] = [];
    const refused: Array<{ slot: number; reason: string }> = [];
    let index = Math.max(0, ...snap.slots.map((s) => s.record.action?.index ?? 0));
    const writes: Array<{ cur: Versioned<SlotRecord>; next: SlotRecord; kind: 'cancel' | 'reverse' }> = [];
    for (const v of snap.slots) {
      if (!affected(v.record)) continue;
      try {
        const r = abortRecord(v.record, index + 1);
        if (r.kind === 'reverse' && !masterOf(snap.groups.get(v.record.group)?.record)) {
          throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_ABORT_REFUSED, { slot: v.record.id, reason: `its source group ${v.record.group} has no master` });
        }
        if (r.kind === 'reverse') index++;
        writes.push({ cur: v, next: r.record, kind: r.kind });
      } catch (err) {
        refused.push({ slot: v.record.id, reason: (err as Error).message });
      }
    }
    let revision = snap.revision;
    for (let i = 0; i < writes.length; i += CHUNK) {
      const chunk = writes.slice(i, i + CHUNK);
      revision = await store.commit(
        `abort of ${chunk.length} slot(s)`,
        snap.revision,
        chunk.map((w) => store.guard(paths.slot(w.cur.record.id), w.cur.modRevision)),
        chunk.map((w) => store.slotPut(w.next)),
      );
      for (const w of chunk) (w.kind === 'cancel' ? cancelled : reversed).push(w.cur.record.id);
    }
    await this.jobs.markAborting(jobs, job, snap);
    this.log.warn('migration.aborted', { job: job ?? 'all', who, cancelled: cancelled.length, reversed: reversed.length, refused, revision });
    this.scheduler.wake();
    return { cancelled, reversed, refused, revision };
  }

  private requireLeader(): void {
    if (!this.deps.isLeader()) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_NOT_LEADER);
  }

  private async writeSettings(change: Partial<MigrationSettings>, who: string): Promise<MigrationSettings> {
    this.requireLeader();
    const next = await this.settings.write(change, who);
    this.scheduler.wake();
    return next;
  }

  private async plan(snap: TopologySnapshot, req: MoveRequest): Promise<Plan> {
    const slots = snap.slots.map((s) => s.record);
    const known = new Set([...snap.groups.keys()]);
    const requireMaster = (gid: number): void => {
      if (!masterOf(snap.groups.get(gid)?.record)) {
        throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason: `group ${gid} has no master server` });
      }
    };
    if (req.mode === 'range') {
      requireMaster(req.group);
      return planMoveRange(slots, req.from, req.to, req.group, known);
    }
    if (req.mode === 'some') {
      requireMaster(req.to);
      return planMoveSome(slots, req.count, req.from, req.to, known);
    }
    let groups: PlannerGroup[];
    if (req.groups && req.groups.length > 0) {
      for (const g of req.groups) {
        if (!known.has(g.id)) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason: `group ${g.id} does not exist` });
        if ((g.weight ?? 1) > 0) requireMaster(g.id);
      }
      groups = req.groups;
    } else {
      const withMaster = [...snap.groups.values()].filter((g) => masterOf(g.record)).map((g) => g.record);
      groups = withMaster.map((g: GroupRecord) => ({ id: g.id, weight: g.weight ?? 1 }));
    }
    if (req.weights === 'maxmemory') groups = await this.maxmemoryWeights(snap, groups);
    if (req.by === 'load') {
      if (!this.deps.slotLoad) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason: 'load figures are not available on this dashboard' });
      return planRebalanceByLoad(slots, groups, await this.deps.slotLoad());
    }
    return planRebalance(slots, groups);
  }

  private async maxmemoryWeights(snap: TopologySnapshot, groups: PlannerGroup[]): Promise<PlannerGroup[]> {
    const servers = new Set<string>();
    for (const g of snap.groups.values()) for (const sv of g.record.servers) servers.add(sv.addr);
    const fn = this.deps.maxmemoryOf;
    if (!fn) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason: 'maxmemory weights are not available on this dashboard' });
    return Promise.all(
      groups.map(async (g) => {
        if ((g.weight ?? 1) <= 0) return { id: g.id, weight: 0 };
        const mm = await fn(masterOf(snap.groups.get(g.id)?.record)!, servers);
        if (!(mm > 0)) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason: `group ${g.id}'s master has no maxmemory set; give weights instead` });
        return { id: g.id, weight: mm };
      }),
    );
  }
}

function describe(req: MoveRequest, plan: Plan): string {
  if (req.mode === 'range') return `slots ${req.from}-${req.to} -> group ${req.group} (${plan.moves.length} to move)`;
  if (req.mode === 'some') return `${req.count} slots from group ${req.from} -> group ${req.to}`;
  return `rebalance over groups ${Object.keys(plan.targets).join(',')} (${plan.moves.length} slots to move)`;
}

/** No migration moves slots of a group while a replication-based split involves it (docs/migration.md). */
function refuseSplitting(snap: TopologySnapshot, plan: Plan): void {
  for (const m of plan.moves) {
    for (const gid of [m.from, m.to]) {
      const split = snap.groups.get(gid)?.record.split;
      if (split) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason: `group ${gid} is in split ${split.id} (${split.state}); wait for it to finish or abort it` });
    }
  }
}
