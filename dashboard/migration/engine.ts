/**
 * The migration engine, wired from its parts: the scheduler loop (scheduler.ts) drives slot actions through the
 * state machine while this dashboard leads; movers (movers.ts, mover.ts) move the keys; jobs.ts persists jobs;
 * settings.ts the pause/throttle settings; operator.ts answers the operator; views.ts renders status. This class
 * only builds them and offers one surface to the routes, the dashboard's leadership hooks and the tests.
 */
import type { Plan } from './planner.js';
import type { MigrationEngineDeps, MoveRequest } from './context.js';
import { JobRecords } from './jobs.js';
import { MoverRuns } from './movers.js';
import { MigrationOperator, type AbortResult } from './operator.js';
import { MigrationProgress } from './progress.js';
import { MigrationScheduler } from './scheduler.js';
import { MigrationSettingsHolder } from './settings.js';
import { SlotErrors } from './slot-errors.js';
import type { MigrationSettings } from './state-machine.js';
import type { PauseGate, Throttle } from './throttle.js';
import { MigrationViews, type JobView, type MigrationStatus } from './views.js';

export type { MigrationEngineDeps, MoveRequest } from './context.js';

export class MigrationEngine {
  private readonly settings: MigrationSettingsHolder;
  private readonly scheduler: MigrationScheduler;
  private readonly operator: MigrationOperator;
  private readonly views: MigrationViews;

  constructor(deps: MigrationEngineDeps) {
    const log = deps.log.child({ component: 'migration' });
    const progress = new MigrationProgress();
    const errors = new SlotErrors(log, deps.metrics, deps.retryMs ?? 5000);
    const jobs = new JobRecords(deps, log);
    this.settings = new MigrationSettingsHolder(deps);
    // The movers and the loop know each other: a mover's result wakes the loop; the loop starts movers.
    let scheduler: MigrationScheduler | undefined;
    const movers = new MoverRuns(
      deps,
      log,
      this.settings,
      progress,
      errors,
      (slot) => scheduler?.lastSnapshot?.slots[slot]?.record,
      () => scheduler?.wake(),
    );
    this.scheduler = scheduler = new MigrationScheduler(deps, log, this.settings, progress, errors, jobs, movers);
    this.views = new MigrationViews(deps, this.settings, this.scheduler, movers, progress, errors, jobs);
    this.operator = new MigrationOperator(deps, log, this.settings, this.scheduler, movers, errors, jobs, this.views);
  }

  get throttle(): Throttle {
    return this.settings.throttle;
  }

  get gate(): PauseGate {
    return this.settings.gate;
  }

  get running(): boolean {
    return this.scheduler.running;
  }

  /** The new leader's entry point: starts the scheduler loop from the persisted state. */
  resume(signal?: AbortSignal): Promise<void> {
    return this.scheduler.resume(signal);
  }

  /** Stops the loop and every mover (batches in flight are answered first). Idempotent. */
  stop(): Promise<void> {
    return this.scheduler.stop();
  }

  preview(req: MoveRequest): Promise<{ revision: number; plan: Plan }> {
    return this.operator.preview(req);
  }

  start(req: MoveRequest, who: string, ifRevision?: number): Promise<{ job: JobView; plan: Plan; revision: number }> {
    return this.operator.start(req, who, ifRevision);
  }

  setPaused(paused: boolean, who: string): Promise<MigrationSettings> {
    return this.operator.setPaused(paused, who);
  }

  setThrottle(change: Partial<Pick<MigrationSettings, 'keysPerSec' | 'bytesPerSec' | 'parallelSlots'>>, who: string): Promise<MigrationSettings> {
    return this.operator.setThrottle(change, who);
  }

  abort(job: string | undefined, who: string): Promise<AbortResult> {
    return this.operator.abort(job, who);
  }

  status(limit?: number): Promise<MigrationStatus> {
    return this.views.status(limit);
  }

  job(id: string): Promise<JobView> {
    return this.views.job(id);
  }

  /** Settings as last read or written (for tests and the API). */
  currentSettings(): MigrationSettings {
    return { ...this.settings.current };
  }

  /** modRevision of the settings record as last read (0 = absent). */
  settingsRevision(): number {
    return this.settings.revision;
  }
}
