/**
 * What the API, the CLI and the UI show of migrations: the engine's status and each job's progress, computed
 * from the persisted records (jobs, settings, slot actions) and the leader's in-memory movers and counters.
 */
import type { SlotActionState } from '../../shared/model/types.js';
import type { TopologySnapshot } from '../topom/store.js';
import type { MigrationEngineDeps } from './context.js';
import { MigrationErrors } from './errors.js';
import { isActive, type JobRecords } from './jobs.js';
import type { BigKeyReport, MoveRates, SourceMover } from './mover.js';
import type { MoverRun, MoverRuns } from './movers.js';
import { etaSeconds, rate, type MigrationProgress } from './progress.js';
import type { MigrationScheduler } from './scheduler.js';
import { countStates } from './scheduler.js';
import type { MigrationSettingsHolder } from './settings.js';
import type { SlotErrors, SlotErrorView } from './slot-errors.js';
import { actionKey, type JobKind, type JobRecord } from './state-machine.js';
import { RedslotError } from '../../shared/errors.js';

export type { SlotErrorView } from './slot-errors.js';

export interface JobSlotView {
  slot: number;
  from: number;
  to: number;
  /** Action state, `done` when the move completed, `returned` when aborted back, `pending` etc. */
  state: string;
  keysMoved: number;
  bytesMoved: number;
  keysFound: number;
  error?: { code: string; message: string };
}

export interface JobView {
  id: string;
  kind: JobKind;
  state: string;
  description: string;
  createdAt: string;
  createdBy: string;
  finishedAt?: string;
  paused: boolean;
  progress: {
    slotsTotal: number;
    slotsDone: number;
    slotsInFlight: number;
    fraction: number;
  } & MoveRates;
  slots: JobSlotView[];
  errors: SlotErrorView[];
}

export interface MigrationStatus extends MoveRates {
  leader: boolean;
  revision: number;
  paused: boolean;
  throttle: { keysPerSec: number; bytesPerSec: number };
  parallelSlots: number;
  slots: Record<SlotActionState, number>;
  movers: Array<{ source: string; slots: number; pass: number; keysMoved: number; keysPerSec: number; keysRemaining: number | null; etaSeconds: number | null; clientOpsPerSec: number; pacing: boolean }>;
  errors: SlotErrorView[];
  /** Set while scheduler rounds fail (e.g. a barrier timeout naming the proxies that did not acknowledge). */
  schedulerError?: { code: string; message: string; at: string };
  bigKeys: BigKeyReport[];
  jobs: JobView[];
}

export class MigrationViews {
  constructor(
    private readonly deps: MigrationEngineDeps,
    private readonly settings: MigrationSettingsHolder,
    private readonly scheduler: MigrationScheduler,
    private readonly movers: MoverRuns,
    private readonly progress: MigrationProgress,
    private readonly errors: SlotErrors,
    private readonly jobs: JobRecords,
  ) {}

  /** Everything the API, the CLI and the UI show. `limit` bounds the finished jobs listed (newest first). */
  async status(limit = 20): Promise<MigrationStatus> {
    const [snap, jobs, persisted] = await Promise.all([this.deps.store.read(), this.jobs.read(), this.settings.read()]);
    const settings = this.scheduler.running ? this.settings.current : persisted;
    const runsBySlot = this.movers.bySlot();
    const active = jobs.filter((j) => isActive(j.record));
    const finished = jobs.filter((j) => !isActive(j.record)).reverse().slice(0, limit);
    const t = this.movers.totals();
    const roundError = this.scheduler.lastRoundError;
    return {
      leader: this.deps.isLeader(),
      revision: snap.revision,
      paused: settings.paused,
      throttle: { keysPerSec: settings.keysPerSec, bytesPerSec: settings.bytesPerSec },
      parallelSlots: settings.parallelSlots,
      slots: countStates(snap),
      keysMoved: this.progress.total.keys,
      bytesMoved: this.progress.total.bytes,
      keysPerSec: t.keysPerSec,
      bytesPerSec: t.bytesPerSec,
      keysRemaining: t.keysRemaining,
      etaSeconds: t.etaSeconds,
      movers: this.movers.list().map((run) => {
        const p = run.mover.summary();
        return { source: run.source, slots: run.keys.size, pass: p.pass, keysMoved: p.keysMoved, keysPerSec: p.keysPerSec, keysRemaining: p.keysRemaining, etaSeconds: p.etaSeconds, clientOpsPerSec: p.clientOpsPerSec, pacing: p.pacing };
      }),
      errors: this.errors.list(),
      ...(roundError ? { schedulerError: { ...roundError } } : {}),
      bigKeys: this.movers.bigKeys.slice(-50),
      jobs: [...active, ...finished].map((j) => this.jobView(j.record, snap, runsBySlot)),
    };
  }

  async job(id: string): Promise<JobView> {
    const j = await this.jobs.get(id);
    if (!j) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_JOB_NOT_FOUND, { job: id });
    const snap = await this.deps.store.read();
    return this.jobView(j, snap, this.movers.bySlot());
  }

  jobView(j: JobRecord, snap: TopologySnapshot, runsBySlot: Map<number, MoverRun> | undefined): JobView {
    const slots: JobSlotView[] = [];
    const summaries = new Map<MoverRun, ReturnType<SourceMover['summary']>>();
    let inFlight = 0;
    let remaining: number | null = 0;
    const errors: SlotErrorView[] = [];
    for (const m of j.moves) {
      const rec = snap.slots[m.slot]?.record;
      const mine = rec?.action?.job === j.id ? rec.action : undefined;
      let state: string;
      if (mine) {
        inFlight++;
        state = mine.aborted ? `returning:${mine.state}` : mine.state;
      } else if (rec && rec.group === m.to) state = 'done';
      else if (rec && rec.group === m.from) state = j.state === 'running' || j.state === 'done' ? 'not-started' : 'returned';
      else state = 'moved-elsewhere';
      const key = rec ? actionKey(rec) : '';
      const sc = mine ? this.progress.slot(key) : undefined;
      const view: JobSlotView = { slot: m.slot, from: m.from, to: m.to, state, keysMoved: sc?.keys ?? 0, bytesMoved: sc?.bytes ?? 0, keysFound: sc?.found ?? 0 };
      const err = mine ? this.errors.of(m.slot, key) : undefined;
      if (err) {
        view.error = { code: err.code, message: err.message };
        errors.push(err);
      }
      slots.push(view);
      const run = runsBySlot?.get(m.slot);
      if (mine && run) {
        let p = summaries.get(run);
        if (!p) summaries.set(run, (p = run.mover.summary()));
        if (p.keysRemaining === null) remaining = null;
        else if (remaining !== null) remaining += p.keysRemaining / Math.max(1, run.keys.size);
      }
    }
    const c = this.progress.job(j.id);
    const r = c ? rate(c) : { keys: 0, bytes: 0 };
    const total = j.moves.length;
    const done = total - inFlight;
    const finished = j.state === 'done' || j.state === 'aborted';
    if (remaining !== null) remaining = Math.round(remaining);
    return {
      id: j.id,
      kind: j.kind,
      state: j.state,
      description: j.description,
      createdAt: j.createdAt,
      createdBy: j.createdBy,
      ...(j.finishedAt ? { finishedAt: j.finishedAt } : {}),
      paused: this.settings.current.paused && !finished,
      progress: {
        slotsTotal: total,
        slotsDone: done,
        slotsInFlight: inFlight,
        fraction: total === 0 ? 1 : done / total,
        keysMoved: (j.keysMoved ?? 0) + (c?.keys ?? 0),
        bytesMoved: (j.bytesMoved ?? 0) + (c?.bytes ?? 0),
        keysPerSec: r.keys,
        bytesPerSec: r.bytes,
        keysRemaining: finished ? 0 : remaining,
        etaSeconds: finished ? 0 : etaSeconds(remaining, r.keys),
      },
      slots,
      errors,
    };
  }
}
