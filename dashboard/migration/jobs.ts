/**
 * Job records in the coordinator: reading them, writing a new job with its slots' pending actions, marking jobs
 * aborting, and turning jobs whose slots no longer carry their action into done / aborted.
 */
import type { Compare, TxnOp } from '../../shared/coordinator/types.js';
import { CommonErrors, RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { CHUNK, type TopologySnapshot } from '../topom/store.js';
import type { MigrationEngineDeps } from './context.js';
import type { Plan } from './planner.js';
import type { MigrationProgress } from './progress.js';
import { parseJob, type JobRecord } from './state-machine.js';

export interface StoredJob {
  record: JobRecord;
  modRevision: number;
}

export function isActive(j: JobRecord): boolean {
  return j.state === 'running' || j.state === 'aborting';
}

export class JobRecords {
  constructor(
    private readonly deps: MigrationEngineDeps,
    private readonly log: Logger,
  ) {}

  /** Every job, oldest first. */
  async read(): Promise<StoredJob[]> {
    const res = await this.deps.coord.getPrefix(this.deps.paths.jobs);
    const out: StoredJob[] = [];
    for (const kv of res.kvs) {
      const j = parseJob(kv.value);
      if (j) out.push({ record: j, modRevision: kv.modRevision });
      else this.log.warn('migration.bad_job_record', { key: kv.key });
    }
    return out.sort((a, b) => (a.record.id < b.record.id ? -1 : 1));
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const kv = await this.deps.coord.get(this.deps.paths.job(id));
    return kv ? parseJob(kv.value) : undefined;
  }

  /**
   * Writes the job record, then the slots' pending actions in chunked CAS txns (slot modRevision compared; the
   * target group compared and re-put, see store.ts). A chunk that loses a race stops the creation: the slots
   * already written stay pending (valid on their own), the error says how many. Returns the last revision.
   */
  async create(snap: TopologySnapshot, plan: Plan, job: JobRecord): Promise<number> {
    const { store, paths } = this.deps;
    const id = job.id;
    let revision = await store.commit(`job ${id}`, snap.revision, [store.guard(paths.job(id), 0)], [{ type: 'put', key: paths.job(id), value: JSON.stringify(job) }]);
    let index = Math.max(0, ...snap.slots.map((s) => s.record.action?.index ?? 0));
    const targets = [...new Set(plan.moves.map((m) => m.to))];
    const per = Math.max(1, CHUNK - targets.length);
    let written = 0;
    try {
      for (let i = 0; i < plan.moves.length; i += per) {
        const chunk = plan.moves.slice(i, i + per);
        const gids = [...new Set(chunk.map((m) => m.to))];
        const compares: Compare[] = [];
        const ops: TxnOp[] = [];
        for (const gid of gids) {
          const g = snap.groups.get(gid)!;
          compares.push(store.guard(paths.group(gid), g.modRevision));
          ops.push(store.groupPut(g.record));
        }
        for (const m of chunk) {
          const cur = snap.slots[m.slot]!;
          compares.push(store.guard(paths.slot(m.slot), cur.modRevision));
          ops.push(store.slotPut({ id: m.slot, group: cur.record.group, action: { state: 'pending', target: m.to, index: ++index, job: id } }));
        }
        revision = await store.commit(`job ${id} slots ${chunk[0]!.slot}..${chunk[chunk.length - 1]!.slot}`, snap.revision, compares, ops);
        // Our own re-put moved the groups' modRevision: later chunks compare against it.
        for (const gid of gids) snap.groups.set(gid, { ...snap.groups.get(gid)!, modRevision: revision });
        written += chunk.length;
      }
    } catch (err) {
      this.log.error('migration.job_partial', { job: id, written, planned: plan.moves.length, err });
      if (err instanceof RedslotError && err.code === CommonErrors.REDSLOT_ERR_CAS_CONFLICT.code) {
        const what = `job ${id}: ${written} of ${plan.moves.length} slots queued before another change to the topology; the rest were not`;
        throw new RedslotError(CommonErrors.REDSLOT_ERR_CAS_CONFLICT, { what, revision: snap.revision });
      }
      throw err;
    }
    return revision;
  }

  /** Running jobs (all, or the one named) become aborting; finish() turns them into aborted. */
  async markAborting(jobs: StoredJob[], job: string | undefined, snap: TopologySnapshot): Promise<void> {
    const { store, paths } = this.deps;
    for (const j of jobs) {
      if (j.record.state !== 'running' || (job !== undefined && j.record.id !== job)) continue;
      const key = paths.job(j.record.id);
      const next: JobRecord = { ...j.record, state: 'aborting', abortedAt: new Date().toISOString() };
      await store.commit(`job ${j.record.id}`, snap.revision, [store.guard(key, j.modRevision)], [{ type: 'put', key, value: JSON.stringify(next) }]);
    }
  }

  /** Running / aborting jobs without any slot still carrying their action become done / aborted. */
  async finish(snap: TopologySnapshot, progress: MigrationProgress): Promise<void> {
    const busy = new Set<string>();
    for (const s of snap.slots) if (s.record.action?.job !== undefined) busy.add(s.record.action.job);
    const jobs = await this.read();
    const byState: Record<string, number> = { running: 0, aborting: 0, done: 0, aborted: 0 };
    for (const j of jobs) {
      byState[j.record.state] = (byState[j.record.state] ?? 0) + 1;
      if (!isActive(j.record) || busy.has(j.record.id)) continue;
      const c = progress.job(j.record.id);
      const next: JobRecord = {
        ...j.record,
        state: j.record.state === 'aborting' ? 'aborted' : 'done',
        finishedAt: new Date().toISOString(),
        keysMoved: (j.record.keysMoved ?? 0) + (c?.keys ?? 0),
        bytesMoved: (j.record.bytesMoved ?? 0) + (c?.bytes ?? 0),
      };
      const key = this.deps.paths.job(j.record.id);
      await this.deps.store.commit(`job ${j.record.id}`, snap.revision, [this.deps.store.guard(key, j.modRevision)], [
        { type: 'put', key, value: JSON.stringify(next) },
      ]);
      progress.forgetJob(j.record.id);
      this.log.info('migration.job_finished', { job: j.record.id, state: next.state, slots: j.record.moves.length, keysMoved: next.keysMoved, bytesMoved: next.bytesMoved });
    }
    for (const [state, n] of Object.entries(byState)) this.deps.metrics?.jobs.set({ state }, n);
  }
}
