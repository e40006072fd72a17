/**
 * The split as the operator sees it (API, CLI, UI): preview, start, abort, status; and the leader's side:
 * resume every unfinished split on election, stop the runners on loss. One runner per source group.
 */
import { RedslotError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/log.js';
import { RedisAdmin } from '../../redis/admin.js';
import { knownServers } from '../../topom/dialer.js';
import { adminOptions, type SplitDeps } from './context.js';
import { SplitErrors } from './errors.js';
import { checkServers, checkTopology, type SplitPlan, type SplitRequest } from './guards.js';
import { SplitPersistence } from './persist.js';
import type { SplitProgress } from './progress.js';
import { ABORTABLE_STEPS, ACTIVE_STEPS, isActive, newSplitId, type SplitRecord } from './record.js';
import { abortingRecord, abortMarkers, marker, SplitRunner } from './runner.js';

export interface SplitView extends SplitRecord {
  /** This dashboard runs it now. */
  running: boolean;
  progress?: SplitProgress;
}

export class SplitService {
  private readonly persist: SplitPersistence;
  private readonly log: Logger;
  private readonly runs = new Map<number, { runner: SplitRunner; ctl: AbortController; done: Promise<unknown> }>();
  private leading: AbortSignal | null = null;

  constructor(private readonly deps: SplitDeps) {
    this.persist = new SplitPersistence(deps.coord, deps.paths, deps.store);
    this.log = deps.log.child({ component: 'split' });
  }

  async preview(req: SplitRequest): Promise<{ revision: number; plan: SplitPlan }> {
    const snap = await this.deps.store.read();
    const base = checkTopology(snap, req, (await this.persist.list()).map((s) => s.record));
    const known = knownServers(snap);
    const plan = await checkServers(req, base, async (addr, fn) => {
      this.deps.assertAllowed(addr, known);
      const c = new RedisAdmin(adminOptions(this.deps, addr, 5000));
      try {
        await c.connect();
        return await fn(c);
      } finally {
        c.close();
      }
    });
    return { revision: snap.revision, plan };
  }

  /** Checks again, persists the split at `syncing` with both markers (one txn), and runs it. */
  async start(req: SplitRequest, who: string, ifRevision?: number): Promise<{ split: SplitView; plan: SplitPlan }> {
    this.requireLeader();
    const { revision, plan } = await this.preview(req);
    if (ifRevision !== undefined && ifRevision < revision) {
      const snap = await this.deps.store.read();
      this.deps.store.checkIfRevision(ifRevision, `groups ${req.source} and ${req.target}`, [snap.groups.get(req.source)!, snap.groups.get(req.target)!]);
    }
    const now = new Date().toISOString();
    const record: SplitRecord = {
      id: newSplitId(),
      source: plan.source,
      target: plan.target,
      sourceMaster: plan.sourceMaster,
      targetMaster: plan.targetMaster,
      slots: plan.slots,
      step: 'syncing',
      createdAt: now,
      createdBy: who,
      updatedAt: now,
      ...(plan.warnings.length > 0 ? { warnings: plan.warnings } : {}),
    };
    const mod = await this.persist.modOf(plan.source);
    await this.persist.write(record, mod, [
      { gid: plan.source, marker: marker(record, 'source', 'syncing') },
      { gid: plan.target, marker: marker(record, 'target', 'syncing') },
    ]);
    this.log.info('split.started', { id: record.id, source: record.source, target: record.target, slots: plan.slotCount, who });
    this.spawn(record.source);
    return { split: this.view(record), plan };
  }

  /** Before the switch: releases the hold and rolls the new group back (the runner finishes it). */
  async abort(source: number, who: string): Promise<SplitView> {
    this.requireLeader();
    const cur = await this.persist.read(source);
    const r = cur.record;
    if (!ABORTABLE_STEPS.includes(r.step)) {
      const reason = ['switching', 'purging', 'attaching'].includes(r.step) ? 'the slots already switched; move them back with a migration' : 'it is not running';
      throw new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_ABORT_REFUSED, { source, step: r.step, reason });
    }
    const next = abortingRecord(r, `aborted by ${who}`);
    await this.persist.write(next, cur.modRevision, abortMarkers(r));
    this.log.warn('split.abort_requested', { id: r.id, step: r.step, who });
    const run = this.runs.get(source);
    if (run) run.runner.interrupt();
    else this.spawn(source);
    return this.view(next);
  }

  async list(): Promise<SplitView[]> {
    return (await this.persist.list()).map((s) => this.view(s.record));
  }

  async get(source: number): Promise<SplitView> {
    return this.view((await this.persist.read(source)).record);
  }

  /** Waits until the split of `source` is no longer running here (tests, CLI waits go through the API). */
  async settled(source: number): Promise<void> {
    await this.runs.get(source)?.done;
  }

  /** The new leader's entry point: runs every unfinished split. */
  async resume(signal: AbortSignal): Promise<void> {
    this.leading = signal;
    for (const s of await this.persist.list()) if (isActive(s.record)) this.spawn(s.record.source);
    this.updateGauges();
  }

  async stop(): Promise<void> {
    this.leading = null;
    const runs = [...this.runs.values()];
    for (const r of runs) r.ctl.abort(new Error('leadership lost'));
    await Promise.allSettled(runs.map((r) => r.done));
  }

  private spawn(source: number): void {
    if (this.runs.has(source)) return;
    const ctl = new AbortController();
    const signal = this.leading ? AbortSignal.any([ctl.signal, this.leading]) : ctl.signal;
    const runner = new SplitRunner(this.deps, this.persist, source);
    const done = runner
      .run(signal)
      .catch((err: unknown) => {
        if (!signal.aborted) this.log.error('split.runner_stopped', { source, err });
      })
      .finally(() => {
        if (this.runs.get(source)?.runner === runner) this.runs.delete(source);
        this.updateGauges();
      });
    this.runs.set(source, { runner, ctl, done });
    this.updateGauges();
  }

  private view(r: SplitRecord): SplitView {
    const run = this.runs.get(r.source);
    return { ...r, running: run !== undefined, ...(run ? { progress: { ...run.runner.progress } } : {}) };
  }

  private updateGauges(): void {
    const m = this.deps.metrics;
    if (!m) return;
    void this.persist.list().then(
      (all) => {
        for (const step of ACTIVE_STEPS) m.active.set({ step }, all.filter((s) => s.record.step === step && this.runs.has(s.record.source)).length);
      },
      () => undefined,
    );
  }

  /** The live progress of running splits, summed (the metrics' scrape-time sample). */
  sample(): { lagBytes: number; syncBytes: number } {
    let lagBytes = 0;
    let syncBytes = 0;
    for (const r of this.runs.values()) {
      lagBytes += r.runner.progress.lagBytes;
      syncBytes += r.runner.progress.syncReadBytes;
    }
    return { lagBytes, syncBytes };
  }

  private requireLeader(): void {
    if (!this.deps.isLeader()) throw new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_REFUSED, { source: '-', target: '-', reason: 'this dashboard is not the leader' });
  }
}
