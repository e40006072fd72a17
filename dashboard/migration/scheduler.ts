/**
 * The migration engine: turns plans into jobs and drives every slot action through the state machine
 * (state-machine.ts), only while this dashboard is the leader.
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
import type { Compare, Coordinator, TxnOp } from '../../shared/coordinator/types.js';
import { CommonErrors, RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import { masterOf } from '../../shared/model/topology.js';
import { OFFLINE_GROUP, type GroupRecord, type SlotActionState, type SlotRecord } from '../../shared/model/types.js';
import { CHUNK, type TopologySnapshot, type TopologyStore, type Versioned } from '../topom/store.js';
import { MigrationErrors } from './errors.js';
import type { MigrationMetrics } from './metrics.js';
import { DEFAULT_MOVER_KNOBS, SourceMover, type BigKeyReport, type MoverKnobs, type RedisEndpoint, type SlotProgress } from './mover.js';
import { planMoveRange, planMoveSome, planRebalance, type Plan, type PlannerGroup } from './planner.js';
import { planRebalanceByLoad } from './load-planner.js';
import {
  abortRecord,
  actionKey,
  advance,
  DEFAULT_SETTINGS,
  isStarted,
  newJobId,
  nextStateName,
  parseJob,
  parseSettings,
  type JobKind,
  type JobRecord,
  type MigrationSettings,
} from './state-machine.js';
import { PauseGate, Throttle } from './throttle.js';

export const SETTINGS_NAME = 'migration';

/** Slot errors not retried automatically (the operator fixes the cause, then `migration resume`). */
const STICKY_ERRORS: ReadonlySet<string> = new Set([
  MigrationErrors.REDSLOT_ERR_MIGRATION_BIGKEY_FAILED.code,
  MigrationErrors.REDSLOT_ERR_MIGRATION_BIGKEY_REFUSED.code,
]);

export type MoveRequest =
  | { mode: 'rebalance'; groups?: PlannerGroup[]; weights?: 'model' | 'maxmemory'; by?: 'slots' | 'load' }
  | { mode: 'range'; from: number; to: number; group: number }
  | { mode: 'some'; count: number; from: number; to: number };

export interface MigrationEngineDeps {
  coord: Coordinator;
  paths: ClusterPaths;
  /** Topology reads and fenced CAS commits (the leader fence is added there). */
  store: TopologyStore;
  /** Waits until every live proxy acknowledged `revision` (dashboard/topom/barrier.ts). */
  barrier: (revision: number, signal?: AbortSignal) => Promise<unknown>;
  isLeader: () => boolean;
  log: Logger;
  metrics?: MigrationMetrics;
  /** Credentials for redis-servers (the mover's own connections and MIGRATE's AUTH/AUTH2 to targets). */
  redisPassword?: string;
  redisUsername?: string;
  knobs?: Partial<MoverKnobs>;
  /** SSRF guard: throws unless `addr` is a server of the model. */
  assertAllowed?: (addr: string, known: ReadonlySet<string>) => void;
  /** Reads maxmemory of a master (rebalance weights from maxmemory). */
  maxmemoryOf?: (addr: string, known: ReadonlySet<string>) => Promise<number>;
  /** Observed ops/s per slot (dashboard/load/), for rebalance by load. */
  slotLoad?: () => Promise<ArrayLike<number>>;
  /** Idle poll interval of the scheduler loop (default 1000 ms; job creation, mover results and settings wake it at once). */
  pollMs?: number;
  /** Back-off before a failed slot's mover is retried (default 5 s). */
  retryMs?: number;
}

export interface SlotErrorView {
  slot: number;
  code: string;
  message: string;
  at: string;
}

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
    keysMoved: number;
    bytesMoved: number;
    keysPerSec: number;
    bytesPerSec: number;
    keysRemaining: number | null;
    etaSeconds: number | null;
  };
  slots: JobSlotView[];
  errors: SlotErrorView[];
}

export interface MigrationStatus {
  leader: boolean;
  revision: number;
  paused: boolean;
  throttle: { keysPerSec: number; bytesPerSec: number };
  parallelSlots: number;
  slots: Record<SlotActionState, number>;
  keysMoved: number;
  bytesMoved: number;
  keysPerSec: number;
  bytesPerSec: number;
  keysRemaining: number | null;
  etaSeconds: number | null;
  movers: Array<{ source: string; slots: number; pass: number; keysMoved: number; keysPerSec: number; keysRemaining: number | null; etaSeconds: number | null; clientOpsPerSec: number; pacing: boolean }>;
  errors: SlotErrorView[];
  /** Set while scheduler rounds fail (e.g. a barrier timeout naming the proxies that did not acknowledge). */
  schedulerError?: { code: string; message: string; at: string };
  bigKeys: BigKeyReport[];
  jobs: JobView[];
}

interface Run {
  mover: SourceMover;
  source: string;
  /** actionKey per slot of this run. */
  keys: Map<number, string>;
  done: Promise<void>;
}

interface Counter {
  keys: number;
  bytes: number;
  samples: Array<{ t: number; keys: number; bytes: number }>;
}

function conflict(what: string, revision: number): RedslotError {
  return new RedslotError(CommonErrors.REDSLOT_ERR_CAS_CONFLICT, { what, revision });
}

function rate(c: Counter): { keys: number; bytes: number } {
  const now = performance.now();
  const first = c.samples.find((s) => now - s.t <= 5000);
  if (!first || now - first.t < 200) return { keys: 0, bytes: 0 };
  const dt = (now - first.t) / 1000;
  return { keys: Math.round((c.keys - first.keys) / dt), bytes: Math.round((c.bytes - first.bytes) / dt) };
}

function bump(c: Counter, keys: number, bytes: number): void {
  c.keys += keys;
  c.bytes += bytes;
  const now = performance.now();
  const last = c.samples[c.samples.length - 1];
  if (!last || now - last.t >= 250) {
    c.samples.push({ t: now, keys: c.keys, bytes: c.bytes });
    if (c.samples.length > 40) c.samples.shift();
  }
}

function newCounter(): Counter {
  return { keys: 0, bytes: 0, samples: [{ t: performance.now(), keys: 0, bytes: 0 }] };
}

export class MigrationEngine {
  private readonly deps: MigrationEngineDeps;
  private readonly log: Logger;
  readonly throttle = new Throttle();
  readonly gate = new PauseGate();
  private settings: MigrationSettings = { ...DEFAULT_SETTINGS };
  private settingsMod = 0;
  private loopAbort: AbortController | undefined;
  private loopDone: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly runs = new Map<string, Run>();
  /** actionKeys whose mover verified the source is empty. */
  private readonly verified = new Set<string>();
  /** Last error per slot (shown until the slot's action changes or succeeds). */
  private readonly errors = new Map<number, SlotErrorView & { key: string; retryAt: number }>();
  private readonly bigKeys: BigKeyReport[] = [];
  /** Per-slot counters of the current action (actionKey -> counts). */
  private readonly slotCounters = new Map<string, { keys: number; bytes: number; found: number }>();
  private readonly jobCounters = new Map<string, Counter>();
  private readonly total: Counter = newCounter();
  /** Highest revision the barrier confirmed during this term. */
  private ackedRevision = 0;
  private lastSnapshot: TopologySnapshot | undefined;
  private readonly promotingLogged = new Set<string>();
  /** Jobs being written right now: their pending slots wait, so one job starts as one wave (one SCAN). */
  private creating = 0;
  /** Why the last scheduler round failed (barrier timeout naming laggards, coordinator down, ...). */
  private lastRoundError: { code: string; message: string; at: string } | undefined;
  /** Bumped when a job creation starts or ends: a round whose snapshot overlapped one does not pick. */
  private creationEpoch = 0;

  constructor(deps: MigrationEngineDeps) {
    this.deps = deps;
    this.log = deps.log.child({ component: 'migration' });
  }

  private get knobs(): MoverKnobs {
    return { ...DEFAULT_MOVER_KNOBS, ...this.deps.knobs };
  }

  // --- leadership ------------------------------------------------------------------------------------------

  /**
   * Starts the scheduler loop (the new leader's entry point): picks up every in-flight action from the
   * persisted state. Resolves once the loop runs; it stops when `signal` aborts or stop() is called.
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
      byState: this.countStates(snap),
      jobs: (await this.readJobs()).filter((j) => j.record.state === 'running' || j.record.state === 'aborting').map((j) => j.record.id),
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
    await Promise.all([...this.runs.values()].map((r) => r.done));
    this.loopDone = undefined;
  }

  get running(): boolean {
    return this.loopAbort !== undefined;
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let acted = false;
      try {
        acted = await this.round(signal);
        failures = 0;
        this.lastRoundError = undefined;
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        const casConflict = err instanceof RedslotError && err.code === CommonErrors.REDSLOT_ERR_CAS_CONFLICT.code;
        this.lastRoundError = {
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

  private async readSettings(): Promise<void> {
    const kv = await this.deps.coord.get(this.deps.paths.setting(SETTINGS_NAME));
    this.settingsMod = kv?.modRevision ?? 0;
    this.applySettings(parseSettings(kv?.value));
  }

  private applySettings(s: MigrationSettings): void {
    this.settings = s;
    const t = this.throttle.rates();
    if (t.keysPerSec !== s.keysPerSec || t.bytesPerSec !== s.bytesPerSec) this.throttle.set({ keysPerSec: s.keysPerSec, bytesPerSec: s.bytesPerSec });
    if (s.paused && !this.gate.isPaused()) this.gate.pause();
    if (!s.paused && this.gate.isPaused()) this.gate.resume();
    this.deps.metrics?.paused.set(s.paused ? 1 : 0);
    this.deps.metrics?.throttleKeys.set(s.keysPerSec);
    this.deps.metrics?.throttleBytes.set(s.bytesPerSec);
  }

  private countStates(snap: TopologySnapshot): Record<SlotActionState, number> {
    const out: Record<SlotActionState, number> = { pending: 0, preparing: 0, prepared: 0, migrating: 0, finished: 0 };
    for (const s of snap.slots) if (s.record.action) out[s.record.action.state]++;
    return out;
  }

  /** One scheduler round; true when it committed something (run again at once). */
  private async round(signal: AbortSignal): Promise<boolean> {
    const epoch = this.creationEpoch;
    await this.readSettings();
    const snap = await this.deps.store.read();
    this.lastSnapshot = snap;
    const counts = this.countStates(snap);
    for (const [state, n] of Object.entries(counts)) this.deps.metrics?.slots.set({ state }, n);
    const withAction = snap.slots.filter((s) => s.record.action);
    this.dropStale(snap);
    if (withAction.length === 0) {
      if (this.creating === 0 && this.creationEpoch === epoch) await this.finishJobs(snap);
      return false;
    }
    // The barrier: every live proxy has applied the current state of every slot with an action.
    const need = Math.max(...withAction.map((s) => s.modRevision));
    if (need > this.ackedRevision) {
      const t0 = performance.now();
      await this.deps.barrier(need, signal);
      this.ackedRevision = need;
      this.deps.metrics?.barrierRounds.inc();
      this.deps.metrics?.barrierWait.observe((performance.now() - t0) / 1000);
    }
    if (signal.aborted) return false;

    const steps: Array<{ cur: Versioned<SlotRecord>; next: SlotRecord }> = [];
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
          if (!this.settings.paused) steps.push({ cur: v, next: advance(s) });
          break;
        case 'prepared':
          // Never left paused: proxies hold the slot's requests in this state.
          steps.push({ cur: v, next: advance(s) });
          break;
        case 'migrating':
          if (this.verified.has(actionKey(s))) steps.push({ cur: v, next: advance(s) });
          else migrating.push(v);
          break;
        case 'finished':
          steps.push({ cur: v, next: advance(s) });
          break;
      }
    }
    if (!this.settings.paused && this.creating === 0 && this.creationEpoch === epoch) {
      let room = this.settings.parallelSlots - started;
      for (const v of pending.sort((x, y) => x.record.action!.index - y.record.action!.index)) {
        if (room <= 0) break;
        const problem = this.unusable(snap, v.record);
        if (problem) {
          this.noteError(v.record, problem);
          continue;
        }
        steps.push({ cur: v, next: advance(v.record) });
        room--;
      }
    }
    if (steps.length > 0) await this.commitSteps(snap, steps);
    this.startMovers(snap, migrating, signal);
    // A job whose slots are being written right now must not look finished on a snapshot from before.
    if (this.creating === 0 && this.creationEpoch === epoch) await this.finishJobs(snap);
    this.updateRateMetrics();
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
    if (busy) {
      // Its mover must not keep moving to or from a master being replaced.
      for (const r of this.runs.values()) if (r.keys.get(s.id) === k) void r.mover.drop(s.id);
    } else this.promotingLogged.delete(k);
    return busy;
  }

  /** Why a pending slot cannot start now (no master on one side), or undefined. */
  private unusable(snap: TopologySnapshot, s: SlotRecord): RedslotError | undefined {
    const target = s.action!.target;
    if (!masterOf(snap.groups.get(target)?.record)) {
      return new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_NO_MASTER, { gid: target, slot: s.id });
    }
    if (s.group !== OFFLINE_GROUP && !masterOf(snap.groups.get(s.group)?.record)) {
      return new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_NO_MASTER, { gid: s.group, slot: s.id });
    }
    return undefined;
  }

  private noteError(s: SlotRecord, err: RedslotError | { code: string; message: string }): void {
    const key = actionKey(s);
    const prev = this.errors.get(s.id);
    // A failed big key blocked its source for the whole attempt, a refused one would be refused again:
    // those wait for the operator (resume), everything else is retried after retryMs.
    const sticky = STICKY_ERRORS.has(err.code);
    const retryAt = sticky ? Number.POSITIVE_INFINITY : Date.now() + (this.deps.retryMs ?? 5000);
    const view = { slot: s.id, code: err.code, message: err.message, at: new Date().toISOString(), key, retryAt };
    this.errors.set(s.id, view);
    if (!prev || prev.code !== err.code || prev.key !== key) {
      this.deps.metrics?.slotErrors.inc({ code: err.code });
      this.log.error('migration.slot_error', { slot: s.id, code: err.code, message: err.message });
    }
  }

  /** Forgets verification, errors and counters of actions that no longer exist. */
  private dropStale(snap: TopologySnapshot): void {
    const live = new Set(snap.slots.filter((s) => s.record.action).map((s) => actionKey(s.record)));
    for (const k of this.verified) if (!live.has(k)) this.verified.delete(k);
    for (const [slot, e] of this.errors) if (!live.has(e.key)) this.errors.delete(slot);
  }

  /** Commits steps in chunks of CHUNK slots, each chunk one CAS txn on the slots' modRevisions. */
  private async commitSteps(snap: TopologySnapshot, steps: Array<{ cur: Versioned<SlotRecord>; next: SlotRecord }>): Promise<void> {
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

  // --- movers ----------------------------------------------------------------------------------------------

  private endpoint(addr: string): RedisEndpoint {
    return { addr, password: this.deps.redisPassword, username: this.deps.redisUsername };
  }

  private startMovers(snap: TopologySnapshot, migrating: Array<Versioned<SlotRecord>>, signal: AbortSignal): void {
    const known = new Set<string>();
    for (const g of snap.groups.values()) for (const sv of g.record.servers) known.add(sv.addr);
    const bySource = new Map<string, Array<{ slot: SlotRecord; target: string }>>();
    const now = Date.now();
    for (const v of migrating) {
      const s = v.record;
      const key = actionKey(s);
      if ([...this.runs.values()].some((r) => r.keys.get(s.id) === key)) continue;
      const err = this.errors.get(s.id);
      if (err && err.key === key && err.retryAt > now) continue;
      const target = masterOf(snap.groups.get(s.action!.target)?.record);
      const source = s.group === OFFLINE_GROUP ? undefined : masterOf(snap.groups.get(s.group)?.record);
      if (s.group === OFFLINE_GROUP) {
        // An offline slot has no data anywhere: nothing to move.
        this.verified.add(key);
        this.wake();
        continue;
      }
      if (!source || !target) {
        this.noteError(s, new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_NO_MASTER, { gid: source ? s.action!.target : s.group, slot: s.id }));
        continue;
      }
      const list = bySource.get(source) ?? [];
      list.push({ slot: s, target });
      bySource.set(source, list);
    }
    for (const [source, list] of bySource) {
      if (this.runs.has(source)) continue; // the next run picks them up
      try {
        this.deps.assertAllowed?.(source, known);
        for (const x of list) this.deps.assertAllowed?.(x.target, known);
      } catch (err) {
        for (const x of list) this.noteError(x.slot, err as RedslotError);
        continue;
      }
      this.startRun(source, list, signal);
    }
  }

  private startRun(source: string, list: Array<{ slot: SlotRecord; target: string }>, signal: AbortSignal): void {
    const keys = new Map(list.map((x) => [x.slot.id, actionKey(x.slot)] as [number, string]));
    const jobOf = new Map(list.map((x) => [x.slot.id, x.slot.action!.job] as [number, string | undefined]));
    const mover = new SourceMover({
      source: this.endpoint(source),
      slots: list.map((x) => ({ slot: x.slot.id, target: this.endpoint(x.target) })),
      knobs: this.knobs,
      throttle: this.throttle,
      gate: this.gate,
      signal,
      log: this.log,
      onMoved: (slot, k, b) => {
        this.deps.metrics?.keysMoved.inc(k);
        this.deps.metrics?.bytesMoved.inc(b);
        bump(this.total, k, b);
        const job = jobOf.get(slot);
        if (job !== undefined) {
          let c = this.jobCounters.get(job);
          if (!c) this.jobCounters.set(job, (c = newCounter()));
          bump(c, k, b);
        }
        const key = keys.get(slot)!;
        const sc = this.slotCounters.get(key) ?? { keys: 0, bytes: 0, found: 0 };
        sc.keys += k;
        sc.bytes += b;
        this.slotCounters.set(key, sc);
      },
      onBigKey: (r) => {
        this.bigKeys.push(r);
        if (this.bigKeys.length > 200) this.bigKeys.shift();
        this.deps.metrics?.bigKeys.inc({ action: r.action });
        if (r.blockedMs !== undefined) this.deps.metrics?.bigKeyBlocked.observe(r.blockedMs / 1000);
      },
      onSlots: (slots) => this.onMoverSlots(keys, slots),
    });
    this.deps.metrics?.moverRuns.inc();
    this.log.info('migration.mover_start', { source, slots: list.length, targets: [...new Set(list.map((x) => x.target))] });
    const run: Run = {
      mover,
      source,
      keys,
      done: mover
        .run()
        .then((res) => this.onMoverSlots(keys, res))
        .catch((err: unknown) => this.log.error('migration.mover_crashed', { source, err }))
        .finally(() => {
          if (this.runs.get(source) === run) this.runs.delete(source);
          this.wake();
        }),
    };
    this.runs.set(source, run);
  }

  private onMoverSlots(keys: Map<number, string>, slots: SlotProgress[]): void {
    let changed = false;
    for (const s of slots) {
      const key = keys.get(s.slot);
      if (!key) continue;
      const sc = this.slotCounters.get(key) ?? { keys: 0, bytes: 0, found: 0 };
      sc.found = s.keysFound;
      this.slotCounters.set(key, sc);
      if (s.state === 'done' && !this.verified.has(key)) {
        this.verified.add(key);
        const e = this.errors.get(s.slot);
        if (e && e.key === key) this.errors.delete(s.slot);
        changed = true;
      } else if (s.state === 'error' && s.error) {
        const snapSlot = this.lastSnapshot?.slots[s.slot]?.record;
        if (snapSlot && actionKey(snapSlot) === key) this.noteError(snapSlot, s.error);
      }
    }
    if (changed) this.wake();
  }

  private updateRateMetrics(): void {
    const m = this.deps.metrics;
    if (!m) return;
    const st = this.moverTotals();
    m.keysPerSecond.set(st.keysPerSec);
    m.bytesPerSecond.set(st.bytesPerSec);
    m.keysRemaining.set(st.keysRemaining ?? -1);
    m.etaSeconds.set(st.etaSeconds ?? -1);
  }

  private moverTotals(): { keysPerSec: number; bytesPerSec: number; keysRemaining: number | null; etaSeconds: number | null } {
    const r = rate(this.total);
    let remaining: number | null = this.runs.size === 0 ? 0 : null;
    for (const run of this.runs.values()) {
      const p = run.mover.summary();
      if (p.keysRemaining !== null) remaining = (remaining ?? 0) + p.keysRemaining;
    }
    const eta = remaining === null ? null : remaining === 0 ? 0 : r.keys > 0 ? Math.round((remaining / r.keys) * 10) / 10 : null;
    return { keysPerSec: r.keys, bytesPerSec: r.bytes, keysRemaining: remaining, etaSeconds: eta };
  }

  // --- jobs ------------------------------------------------------------------------------------------------

  private async readJobs(): Promise<Array<{ record: JobRecord; modRevision: number }>> {
    const res = await this.deps.coord.getPrefix(this.deps.paths.jobs);
    const out: Array<{ record: JobRecord; modRevision: number }> = [];
    for (const kv of res.kvs) {
      const j = parseJob(kv.value);
      if (j) out.push({ record: j, modRevision: kv.modRevision });
      else this.log.warn('migration.bad_job_record', { key: kv.key });
    }
    return out.sort((a, b) => (a.record.id < b.record.id ? -1 : 1));
  }

  /** Running / aborting jobs without any slot still carrying their action become done / aborted. */
  private async finishJobs(snap: TopologySnapshot): Promise<void> {
    const busy = new Set<string>();
    for (const s of snap.slots) if (s.record.action?.job !== undefined) busy.add(s.record.action.job);
    const jobs = await this.readJobs();
    const byState: Record<string, number> = { running: 0, aborting: 0, done: 0, aborted: 0 };
    for (const j of jobs) {
      byState[j.record.state] = (byState[j.record.state] ?? 0) + 1;
      if ((j.record.state !== 'running' && j.record.state !== 'aborting') || busy.has(j.record.id)) continue;
      const c = this.jobCounters.get(j.record.id);
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
      this.jobCounters.delete(j.record.id);
      this.log.info('migration.job_finished', { job: j.record.id, state: next.state, slots: j.record.moves.length, keysMoved: next.keysMoved, bytesMoved: next.bytesMoved });
    }
    for (const [state, n] of Object.entries(byState)) this.deps.metrics?.jobs.set({ state }, n);
  }

  // --- operator API ----------------------------------------------------------------------------------------

  private requireLeader(): void {
    if (!this.deps.isLeader()) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_NOT_LEADER);
  }

  /** Computes a plan on the current topology (nothing written). */
  async preview(req: MoveRequest): Promise<{ revision: number; plan: Plan }> {
    const snap = await this.deps.store.read();
    return { revision: snap.revision, plan: await this.plan(snap, req) };
  }

  private async plan(snap: TopologySnapshot, req: MoveRequest): Promise<Plan> {
    const slots = snap.slots.map((s) => s.record);
    const known = new Set([...snap.groups.keys()]);
    const withMaster = [...snap.groups.values()].filter((g) => masterOf(g.record)).map((g) => g.record);
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
      groups = withMaster.map((g: GroupRecord) => ({ id: g.id, weight: g.weight ?? 1 }));
    }
    if (req.weights === 'maxmemory') {
      const servers = new Set<string>();
      for (const g of snap.groups.values()) for (const sv of g.record.servers) servers.add(sv.addr);
      const fn = this.deps.maxmemoryOf;
      if (!fn) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason: 'maxmemory weights are not available on this dashboard' });
      groups = await Promise.all(
        groups.map(async (g) => {
          if ((g.weight ?? 1) <= 0) return { id: g.id, weight: 0 };
          const mm = await fn(masterOf(snap.groups.get(g.id)?.record)!, servers);
          if (!(mm > 0)) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason: `group ${g.id}'s master has no maxmemory set; give weights instead` });
          return { id: g.id, weight: mm };
        }),
      );
    }
    if (req.by === 'load') {
      if (!this.deps.slotLoad) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason: 'load figures are not available on this dashboard' });
      return planRebalanceByLoad(slots, groups, await this.deps.slotLoad());
    }
    return planRebalance(slots, groups);
  }

  private describe(req: MoveRequest, plan: Plan): string {
    if (req.mode === 'range') return `slots ${req.from}-${req.to} -> group ${req.group} (${plan.moves.length} to move)`;
    if (req.mode === 'some') return `${req.count} slots from group ${req.from} -> group ${req.to}`;
    return `rebalance over groups ${Object.keys(plan.targets).join(',')} (${plan.moves.length} slots to move)`;
  }

  /**
   * Creates a job: writes its record, then the slots' pending actions in chunked CAS txns (slot modRevision
   * compared; the target group compared and re-put, see store.ts). With `ifRevision`, refuses (409) when a
   * slot the plan touches changed after it. A chunk that loses a race stops the creation: the slots already
   * written stay pending (valid on their own), the error says how many.
   */
  async start(req: MoveRequest, who: string, ifRevision?: number): Promise<{ job: JobView; plan: Plan; revision: number }> {
    this.requireLeader();
    const snap = await this.deps.store.read();
    const plan = await this.plan(snap, req);
    const { store } = this.deps;
    store.checkIfRevision(ifRevision, 'slots of the plan', plan.moves.map((m) => snap.slots[m.slot]!));
    const id = newJobId();
    const job: JobRecord = {
      id,
      kind: req.mode,
      state: plan.moves.length === 0 ? 'done' : 'running',
      createdAt: new Date().toISOString(),
      createdBy: who,
      description: this.describe(req, plan),
      moves: plan.moves,
      params: req,
      ...(plan.moves.length === 0 ? { finishedAt: new Date().toISOString() } : {}),
    };
    this.creating++;
    this.creationEpoch++;
    try {
      return await this.createJob(snap, plan, job, req, who);
    } finally {
      this.creating--;
      this.creationEpoch++;
      this.wake();
    }
  }

  private async createJob(snap: TopologySnapshot, plan: Plan, job: JobRecord, req: MoveRequest, who: string): Promise<{ job: JobView; plan: Plan; revision: number }> {
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
        throw conflict(`job ${id}: ${written} of ${plan.moves.length} slots queued before another change to the topology; the rest were not`, snap.revision);
      }
      throw err;
    }
    this.log.info('migration.job_created', { job: id, kind: req.mode, slots: plan.moves.length, ranges: plan.ranges.length, revision, who });
    return { job: this.jobView(job, snap, undefined), plan, revision };
  }

  /** Pause (true) or resume (false) every migration: persisted, applied at once. */
  async setPaused(paused: boolean, who: string): Promise<MigrationSettings> {
    const s = await this.writeSettings({ paused }, who);
    if (!paused) {
      // Resume also retries slots that wait for the operator (big key failed or refused).
      const waiting = [...this.errors.values()].filter((e) => e.retryAt === Number.POSITIVE_INFINITY);
      for (const e of waiting) e.retryAt = 0;
      if (waiting.length > 0) this.log.info('migration.retry_sticky', { who, slots: waiting.map((e) => e.slot) });
    }
    this.log.info(paused ? 'migration.paused' : 'migration.resumed', { who, inFlight: this.lastSnapshot ? this.countStates(this.lastSnapshot) : undefined });
    return s;
  }

  /** Changes throttle and/or parallelism: persisted, applied to running movers at once. */
  async setThrottle(change: Partial<Pick<MigrationSettings, 'keysPerSec' | 'bytesPerSec' | 'parallelSlots'>>, who: string): Promise<MigrationSettings> {
    const s = await this.writeSettings(change, who);
    this.log.info('migration.throttle', { who, ...s });
    return s;
  }

  private async writeSettings(change: Partial<MigrationSettings>, who: string): Promise<MigrationSettings> {
    this.requireLeader();
    const key = this.deps.paths.setting(SETTINGS_NAME);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.deps.coord.get(key);
      const next = { ...parseSettings(kv?.value), ...change };
      try {
        await this.deps.store.commit(`migration settings (${who})`, kv?.modRevision ?? 0, [this.deps.store.guard(key, kv?.modRevision ?? 0)], [
          { type: 'put', key, value: JSON.stringify(next) },
        ]);
      } catch (err) {
        if (attempt < 3 && err instanceof RedslotError && err.code === CommonErrors.REDSLOT_ERR_CAS_CONFLICT.code && this.deps.isLeader()) continue;
        throw err;
      }
      this.applySettings(next);
      this.wake();
      return next;
    }
  }

  /**
   * Aborts every in-flight slot of a job (or of every job with `job === undefined`): pending..prepared slots
   * are cancelled, migrating/finished ones reversed (their mover stops first). Slots whose move already
   * completed stay where they are. Returns what was done per slot.
   */
  async abort(job: string | undefined, who: string): Promise<{ cancelled: number[]; reversed: number[]; refused: Array<{ slot: number; reason: string }>; revision: number }> {
    this.requireLeader();
    const { store, paths } = this.deps;
    const jobs = await this.readJobs();
    if (job !== undefined && !jobs.some((j) => j.record.id === job)) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_JOB_NOT_FOUND, { job });
    // Stop the movers of the affected slots before reading the state we will compare against.
    let snap = await store.read();
    const affected = (s: SlotRecord): boolean => Boolean(s.action && !s.action.aborted && (job === undefined || s.action.job === job));
    const drops: Array<Promise<void>> = [];
    for (const v of snap.slots) {
      if (!affected(v.record)) continue;
      const key = actionKey(v.record);
      for (const r of this.runs.values()) if (r.keys.get(v.record.id) === key) drops.push(r.mover.drop(v.record.id));
    }
    await Promise.all(drops);
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
    // Jobs: mark aborting (finishJobs turns them into aborted once no slot carries their action).
    for (const j of jobs) {
      if (j.record.state !== 'running' || (job !== undefined && j.record.id !== job)) continue;
      const key = paths.job(j.record.id);
      const next: JobRecord = { ...j.record, state: 'aborting', abortedAt: new Date().toISOString() };
      await store.commit(`job ${j.record.id}`, snap.revision, [store.guard(key, j.modRevision)], [{ type: 'put', key, value: JSON.stringify(next) }]);
    }
    this.log.warn('migration.aborted', { job: job ?? 'all', who, cancelled: cancelled.length, reversed: reversed.length, refused, revision });
    this.wake();
    return { cancelled, reversed, refused, revision };
  }

  // --- views -----------------------------------------------------------------------------------------------

  private jobView(j: JobRecord, snap: TopologySnapshot, runsBySlot: Map<number, Run> | undefined): JobView {
    const slots: JobSlotView[] = [];
    const summaries = new Map<Run, ReturnType<SourceMover['summary']>>();
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
      const sc = mine ? this.slotCounters.get(key) : undefined;
      const err = this.errors.get(m.slot);
      const view: JobSlotView = { slot: m.slot, from: m.from, to: m.to, state, keysMoved: sc?.keys ?? 0, bytesMoved: sc?.bytes ?? 0, keysFound: sc?.found ?? 0 };
      if (mine && err && err.key === key) {
        view.error = { code: err.code, message: err.message };
        errors.push({ slot: err.slot, code: err.code, message: err.message, at: err.at });
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
    const c = this.jobCounters.get(j.id);
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
      paused: this.settings.paused && !finished,
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
        etaSeconds: finished ? 0 : remaining === null ? null : remaining === 0 ? 0 : r.keys > 0 ? Math.round((remaining / r.keys) * 10) / 10 : null,
      },
      slots,
      errors,
    };
  }

  /** Everything the API, the CLI and the UI show. `limit` bounds the finished jobs listed (newest first). */
  async status(limit = 20): Promise<MigrationStatus> {
    const [snap, jobs, settingsKv] = await Promise.all([this.deps.store.read(), this.readJobs(), this.deps.coord.get(this.deps.paths.setting(SETTINGS_NAME))]);
    const settings = this.running ? this.settings : parseSettings(settingsKv?.value);
    const runsBySlot = new Map<number, Run>();
    for (const run of this.runs.values()) for (const slot of run.keys.keys()) runsBySlot.set(slot, run);
    const active = jobs.filter((j) => j.record.state === 'running' || j.record.state === 'aborting');
    const finished = jobs.filter((j) => !(j.record.state === 'running' || j.record.state === 'aborting')).reverse().slice(0, limit);
    const t = this.moverTotals();
    const errors = [...this.errors.values()].map(({ key: _k, retryAt: _r, ...e }) => e);
    return {
      leader: this.deps.isLeader(),
      revision: snap.revision,
      paused: settings.paused,
      throttle: { keysPerSec: settings.keysPerSec, bytesPerSec: settings.bytesPerSec },
      parallelSlots: settings.parallelSlots,
      slots: this.countStates(snap),
      keysMoved: this.total.keys,
      bytesMoved: this.total.bytes,
      keysPerSec: t.keysPerSec,
      bytesPerSec: t.bytesPerSec,
      keysRemaining: t.keysRemaining,
      etaSeconds: t.etaSeconds,
      movers: [...this.runs.values()].map((run) => {
        const p = run.mover.summary();
        return { source: run.source, slots: run.keys.size, pass: p.pass, keysMoved: p.keysMoved, keysPerSec: p.keysPerSec, keysRemaining: p.keysRemaining, etaSeconds: p.etaSeconds, clientOpsPerSec: p.clientOpsPerSec, pacing: p.pacing };
      }),
      errors,
      ...(this.lastRoundError ? { schedulerError: { ...this.lastRoundError } } : {}),
      bigKeys: this.bigKeys.slice(-50),
      jobs: [...active, ...finished].map((j) => this.jobView(j.record, snap, runsBySlot)),
    };
  }

  async job(id: string): Promise<JobView> {
    const kv = await this.deps.coord.get(this.deps.paths.job(id));
    const j = kv ? parseJob(kv.value) : undefined;
    if (!j) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_JOB_NOT_FOUND, { job: id });
    const snap = await this.deps.store.read();
    const runsBySlot = new Map<number, Run>();
    for (const run of this.runs.values()) for (const slot of run.keys.keys()) runsBySlot.set(slot, run);
    return this.jobView(j, snap, runsBySlot);
  }

  /** Settings as last read or written (for tests and the API). */
  currentSettings(): MigrationSettings {
    return { ...this.settings };
  }

  /** modRevision of the settings record as last read (0 = absent). */
  settingsRevision(): number {
    return this.settingsMod;
  }
}
