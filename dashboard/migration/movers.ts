/**
 * The running movers: one SourceMover per source master, covering every migrating slot of that source that was
 * not verified yet (one SCAN pass series for all of them). Records which slot actions a mover verified (the
 * source holds none of their keys: the scheduler may finish them), feeds the progress counters and the slot errors,
 * and keeps the last big keys it met.
 */
import type { Logger } from '../../shared/log.js';
import { masterOf } from '../../shared/model/topology.js';
import { OFFLINE_GROUP, type SlotRecord } from '../../shared/model/types.js';
import { RedslotError } from '../../shared/errors.js';
import { clientOptions } from '../../shared/tls/config.js';
import type { TopologySnapshot, Versioned } from '../topom/store.js';
import type { MigrationEngineDeps } from './context.js';
import { MigrationErrors } from './errors.js';
import { DEFAULT_MOVER_KNOBS, SourceMover, type BigKeyReport, type RedisEndpoint, type SlotProgress } from './mover.js';
import { etaSeconds, rate, type MigrationProgress } from './progress.js';
import type { MigrationSettingsHolder } from './settings.js';
import type { SlotErrors } from './slot-errors.js';
import { actionKey } from './state-machine.js';

export interface MoverRun {
  mover: SourceMover;
  source: string;
  /** actionKey per slot of this run. */
  keys: Map<number, string>;
  done: Promise<void>;
}

export interface MoverTotals {
  keysPerSec: number;
  bytesPerSec: number;
  keysRemaining: number | null;
  etaSeconds: number | null;
}

export class MoverRuns {
  private readonly runs = new Map<string, MoverRun>();
  /** actionKeys whose mover verified the source is empty. */
  private readonly verified = new Set<string>();
  /** The last big keys met (newest last, at most 200). */
  readonly bigKeys: BigKeyReport[] = [];

  constructor(
    private readonly deps: MigrationEngineDeps,
    private readonly log: Logger,
    private readonly settings: MigrationSettingsHolder,
    private readonly progress: MigrationProgress,
    private readonly errors: SlotErrors,
    /** The slot's record in the scheduler's latest snapshot (a late mover error applies only to the same action). */
    private readonly currentRecord: (slot: number) => SlotRecord | undefined,
    /** Wakes the scheduler loop (a slot was verified, a run ended). */
    private readonly wake: () => void,
  ) {}

  isVerified(key: string): boolean {
    return this.verified.has(key);
  }

  /** Forgets verification of actions that no longer exist. */
  dropStale(live: ReadonlySet<string>): void {
    for (const k of this.verified) if (!live.has(k)) this.verified.delete(k);
  }

  /** Stops moving the slot's action `key` in every run that carries it (resolves when its batches are answered). */
  dropSlot(slot: number, key: string): Promise<void> {
    const drops: Array<Promise<void>> = [];
    for (const r of this.runs.values()) if (r.keys.get(slot) === key) drops.push(r.mover.drop(slot));
    return Promise.all(drops).then(() => undefined);
  }

  /** Resolves once every run ended (they stop on their own when the loop's signal aborts). */
  async settled(): Promise<void> {
    await Promise.all([...this.runs.values()].map((r) => r.done));
  }

  list(): MoverRun[] {
    return [...this.runs.values()];
  }

  /** The run moving each slot. */
  bySlot(): Map<number, MoverRun> {
    const out = new Map<number, MoverRun>();
    for (const run of this.runs.values()) for (const slot of run.keys.keys()) out.set(slot, run);
    return out;
  }

  totals(): MoverTotals {
    const r = rate(this.progress.total);
    let remaining: number | null = this.runs.size === 0 ? 0 : null;
    for (const run of this.runs.values()) {
      const p = run.mover.summary();
      if (p.keysRemaining !== null) remaining = (remaining ?? 0) + p.keysRemaining;
    }
    return { keysPerSec: r.keys, bytesPerSec: r.bytes, keysRemaining: remaining, etaSeconds: etaSeconds(remaining, r.keys) };
  }

  updateRateMetrics(): void {
    const m = this.deps.metrics;
    if (!m) return;
    const st = this.totals();
    m.keysPerSecond.set(st.keysPerSec);
    m.bytesPerSecond.set(st.bytesPerSec);
    m.keysRemaining.set(st.keysRemaining ?? -1);
    m.etaSeconds.set(st.etaSeconds ?? -1);
  }

  /** Starts a run per source for the migrating slots that have none (and are not waiting for a retry). */
  start(snap: TopologySnapshot, migrating: Array<Versioned<SlotRecord>>, signal: AbortSignal): void {
    const known = new Set<string>();
    for (const g of snap.groups.values()) for (const sv of g.record.servers) known.add(sv.addr);
    const bySource = new Map<string, Array<{ slot: SlotRecord; target: string }>>();
    const now = Date.now();
    for (const v of migrating) {
      const s = v.record;
      const key = actionKey(s);
      if ([...this.runs.values()].some((r) => r.keys.get(s.id) === key)) continue;
      if (this.errors.waiting(s.id, key, now)) continue;
      if (s.group === OFFLINE_GROUP) {
        // An offline slot has no data anywhere: nothing to move.
        this.verified.add(key);
        this.wake();
        continue;
      }
      const target = masterOf(snap.groups.get(s.action!.target)?.record);
      const source = masterOf(snap.groups.get(s.group)?.record);
      if (!source || !target) {
        this.errors.note(s, new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_NO_MASTER, { gid: source ? s.action!.target : s.group, slot: s.id }));
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
        for (const x of list) this.errors.note(x.slot, err as RedslotError);
        continue;
      }
      this.startRun(source, list, signal);
    }
  }

  private endpoint(addr: string): RedisEndpoint {
    return { addr, password: this.deps.redisPassword, username: this.deps.redisUsername, tls: this.deps.redisTls ? clientOptions(this.deps.redisTls, 'redisTls') : null };
  }

  private startRun(source: string, list: Array<{ slot: SlotRecord; target: string }>, signal: AbortSignal): void {
    const keys = new Map(list.map((x) => [x.slot.id, actionKey(x.slot)] as [number, string]));
    const jobOf = new Map(list.map((x) => [x.slot.id, x.slot.action!.job] as [number, string | undefined]));
    const metrics = this.deps.metrics;
    const mover = new SourceMover({
      source: this.endpoint(source),
      slots: list.map((x) => ({ slot: x.slot.id, target: this.endpoint(x.target) })),
      knobs: { ...DEFAULT_MOVER_KNOBS, ...this.deps.knobs },
      throttle: this.settings.throttle,
      gate: this.settings.gate,
      signal,
      log: this.log,
      onMoved: (slot, k, b) => {
        metrics?.keysMoved.inc(k);
        metrics?.bytesMoved.inc(b);
        this.progress.moved(keys.get(slot)!, jobOf.get(slot), k, b);
      },
      onBigKey: (r) => {
        this.bigKeys.push(r);
        if (this.bigKeys.length > 200) this.bigKeys.shift();
        metrics?.bigKeys.inc({ action: r.action });
        if (r.blockedMs !== undefined) metrics?.bigKeyBlocked.observe(r.blockedMs / 1000);
      },
      onSlots: (slots) => this.onMoverSlots(keys, slots),
    });
    metrics?.moverRuns.inc();
    this.log.info('migration.mover_start', { source, slots: list.length, targets: [...new Set(list.map((x) => x.target))] });
    const run: MoverRun = {
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
      this.progress.found(key, s.keysFound);
      if (s.state === 'done' && !this.verified.has(key)) {
        this.verified.add(key);
        this.errors.clear(s.slot, key);
        changed = true;
      } else if (s.state === 'error' && s.error) {
        const rec = this.currentRecord(s.slot);
        if (rec && actionKey(rec) === key) this.errors.note(rec, s.error);
      }
    }
    if (changed) this.wake();
  }
}
