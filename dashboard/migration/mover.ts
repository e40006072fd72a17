/**
 * The background mover for ONE source master: drains every slot leaving it, whatever group each goes to.
 *
 * Stock Redis keeps no per-slot key list, so a pass is one SCAN of every database of the source (databases
 * found with INFO keyspace): each key is hashed client-side with slotOf() on its raw bytes, keys of the
 * slots being moved are bucketed per slot, and a full bucket is measured and moved with
 * `MIGRATE host port "" db timeout [AUTH pw | AUTH2 user pw] KEYS k1..kn` (atomic per call: the source
 * deletes what the target restored). One pass serves every slot of the run.
 *
 * Why a pass finds everything: SCAN returns every key present for the whole iteration, and while a slot is
 * `migrating` no client write reaches the source for it (proxies MIGRATE the keys a command touches first),
 * so keys of the slot can only leave the source. A slot is verified when a complete pass finds 0 of its keys;
 * a slot that had keys in pass k is verified by pass k+1 (up to maxPasses, then NOT_DRAINED).
 *
 * Batches: per slot and db, up to batchKeys keys / batchBytes bytes, keys of one {tag} kept together: a
 * bucket (two batches' worth of keys of one slot) is ordered by tag and a family is never split between two
 * MIGRATE calls of that bucket. Families whose members SCAN returns far apart can still land in two buckets;
 * that is safe (proxies MIGRATE every key a command names), only not atomic for the family.
 * Before moving, every key is measured (MEMORY USAGE, in one EVAL per bucket); a key over bigKeyBytes is
 * moved alone with bigKeyTimeoutMs (and its blocking time reported), or refused when refuseBigKeys is set.
 *
 * No REPLACE, ever. `NOKEY` is fine (a proxy moved the keys first). After an I/O error or timeout, MIGRATE may
 * have restored keys without deleting them on the source; `BUSYKEY` means a key is on both sides (such a
 * leftover of ours, or of a proxy's migrate-on-access MIGRATE that timed out). Either way, keys present on
 * both sides go through shared/both-sides.ts (value AND expiry compared and the source copy deleted in one
 * script on the source) and the rest is retried; a pair that differs is an invariant violation: the slot
 * stops with BUSYKEY, logged loudly and shown in progress, nothing overwritten.
 *
 * Flow control: a shared Throttle (keys/s, bytes/s; changeable while running) and PauseGate; progress
 * counters per slot and overall (keys, bytes, rate over the last seconds, ETA: mover-progress.ts).
 *
 * Client latency: a MIGRATE blocks the source while it runs, and on a small machine every core the mover
 * uses is taken from the clients. So batches are sized to ~targetBatchMs (3 ms) each, every worker (lane)
 * has its own connection (the source serves other clients between two lanes' calls instead of running a
 * pipelined series back to back), and while clients are active on the source (more than busyClientOps
 * commands/s besides the mover's, from INFO stats) the lanes are limited to the rate that keeps the source
 * busy with the mover at most loadedDuty of the time (its time per key from INFO commandstats). Unloaded,
 * nothing waits.
 *
 * The parts: mover-pass.ts (one SCAN pass feeding the lanes), mover-batches.ts (buckets into MIGRATE calls),
 * mover-keys.ts (measuring, MIGRATE arguments), mover-pacing.ts (the load probe), mover-reconcile.ts (after a failed
 * MIGRATE), mover-links.ts (connections), mover-slots.ts (per-slot state), mover-progress.ts (counters),
 * mover-types.ts (knobs and reports). This file runs the passes and the batches.
 */
import { RedslotError } from '../../shared/errors.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { parseInfo, type RedisReply } from '../redis/admin.js';
import { MigrationErrors } from './errors.js';
import { displayKey } from './keys.js';
import { batchLimit, planBucket } from './mover-batches.js';
import { MoverLinks, replyError } from './mover-links.js';
import { keyType, measureKeys, migrateArgs } from './mover-keys.js';
import { LoadPacer } from './mover-pacing.js';
import { scanPass, type BucketTask } from './mover-pass.js';
import { MoverCounters } from './mover-progress.js';
import { existing, reconcileBothSides, type DbCall } from './mover-reconcile.js';
import {
  DEFAULT_MOVER_KNOBS,
  type BigKeyReport,
  type MoverKnobs,
  type MoverProgress,
  type RedisEndpoint,
  type SlotProgress,
  type SourceMoverOptions,
} from './mover-types.js';
import { batchFinished, newSlotState, slotView, TERMINAL, type SlotState } from './mover-slots.js';
import { PauseGate, Throttle } from './throttle.js';

export * from './mover-types.js';

/** Keys held in buckets before every bucket is flushed (bounds memory when many slots fill slowly). */
const MAX_BUFFERED_KEYS = 200_000;
/**
 * The same while the mover is slowed down (pacing for clients, or a keys/s throttle): SCAN, hashing and the
 * measuring EVALs would otherwise run at full speed through up to MAX_BUFFERED_KEYS keys ahead of the paced
 * MIGRATEs, a burst of source and dashboard CPU that clients feel. Smaller tasks, paced scanning.
 */
const PACED_BUFFERED_KEYS = 32_000;


export class SourceMover {
  readonly source: RedisEndpoint;
  private readonly knobs: MoverKnobs;
  private readonly throttle: Throttle;
  private readonly gate: PauseGate;
  private readonly log: Logger;
  private readonly signal: AbortSignal | undefined;
  private readonly slots = new Map<number, SlotState>();
  private readonly bigKeys: BigKeyReport[] = [];
  private readonly opts: SourceMoverOptions;
  private readonly links: MoverLinks;
  private readonly pacer: LoadPacer;
  private readonly counters = new MoverCounters();
  /** EWMA of MIGRATE milliseconds per key (small batches), for targetBatchMs. */
  private msPerKey = 0;

  constructor(opts: SourceMoverOptions) {
    this.opts = opts;
    this.source = opts.source;
    this.knobs = { ...DEFAULT_MOVER_KNOBS, ...opts.knobs };
    this.throttle = opts.throttle ?? new Throttle();
    this.gate = opts.gate ?? new PauseGate();
    this.signal = opts.signal;
    this.log = (opts.log ?? createLogger()).child({ component: 'migration.mover', source: opts.source.addr });
    // Liveness timeout for source commands: the source may be blocked that long by a big-key MIGRATE.
    const timeoutMs = Math.max(30_000, this.knobs.migrateTimeoutMs * 4, this.knobs.bigKeyTimeoutMs * 2 + 10_000);
    this.links = new MoverLinks(opts.source, timeoutMs);
    this.pacer = new LoadPacer(this.knobs, this.links, () => this.counters.keysMoved, this.log);
    for (const s of opts.slots) {
      this.slots.set(s.slot, newSlotState(opts.source.addr, s.slot, s.target));
    }
  }

  /** Slot ids of this run. */
  slotIds(): number[] {
    return [...this.slots.keys()];
  }

  private active(): SlotState[] {
    return [...this.slots.values()].filter((s) => !TERMINAL.has(s.state));
  }

  private aborted(): boolean {
    return this.signal?.aborted === true;
  }

  /**
   * Runs passes until every slot is done, failed, dropped, or the run is aborted. Resolves with the final
   * state of every slot; never rejects for a slot-level problem (those end in `error`).
   */
  async run(): Promise<SlotProgress[]> {
    this.log.info('mover.start', { slots: this.slots.size, knobs: this.knobs });
    const probeStop = new AbortController();
    const probe = this.pacer.enabled ? this.pacer.run(probeStop.signal) : Promise.resolve();
    const c = this.counters;
    try {
      for (let pass = 1; pass <= this.knobs.maxPasses; pass++) {
        c.pass = pass;
        const active = this.active();
        if (active.length === 0 || this.aborted()) break;
        for (const s of active) {
          s.keysFound = 0;
          s.passes = pass;
        }
        c.startPass(pass);
        const infoReply = await this.links.call(this.links.scan(), ['INFO', 'keyspace']);
        if (!Buffer.isBuffer(infoReply)) throw new Error(`INFO keyspace on ${this.source.addr}: ${replyError(infoReply) ?? 'unexpected reply'}`);
        const info = parseInfo(infoReply.toString('utf8'));
        const dbs = Object.keys(info.keyspace).map(Number).sort((a, b) => a - b);
        c.sourceKeys = info.keys;
        for (const db of dbs) {
          if (this.aborted()) break;
          await this.passDb(db);
        }
        if (this.aborted()) break;
        // A full pass that found none of a slot's keys proves the slot is empty on the source.
        const verified = this.active().filter((s) => s.keysFound === 0);
        for (const s of verified) s.state = 'done';
        if (verified.length > 0) this.emitTerminal(verified);
        this.log.info('mover.pass_done', { pass, dbs, scanned: c.scanned, found: c.foundThisPass, verified: verified.length, remaining: this.active().length, keysMoved: c.keysMoved });
      }
      const left = this.active();
      if (this.aborted()) {
        for (const s of left) s.state = 'stopped';
        this.log.warn('mover.stopped', { slots: left.map((s) => s.slot), keysMoved: c.keysMoved });
      } else if (left.length > 0) {
        for (const s of left) {
          this.fail(s, new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_NOT_DRAINED, {
            slot: s.slot,
            keys: s.keysFound,
            source: this.source.addr,
            passes: this.knobs.maxPasses,
          }));
        }
      }
    } catch (err) {
      // Source unreachable or a protocol failure: every unfinished slot fails; the scheduler retries later.
      const left = this.active();
      this.log.error('mover.failed', { err, slots: left.map((s) => s.slot) });
      for (const s of left) {
        s.state = 'error';
        s.error = err instanceof RedslotError ? { code: err.code, message: err.message } : { code: 'REDSLOT_ERR_INTERNAL', message: String(err) };
      }
      if (left.length > 0) this.emitTerminal(left);
    } finally {
      probeStop.abort();
      await probe;
      c.finishedAt = new Date();
      this.links.close();
    }
    const out = [...this.slots.values()].map((s) => slotView(s));
    this.log.info('mover.finish', {
      keysMoved: c.keysMoved,
      bytesMoved: c.bytesMoved,
      ms: c.finishedAt.getTime() - c.startedAt.getTime(),
      migrateUsPerKey: Math.round(this.pacer.migrateUsPerKey * 10) / 10,
      moverUsPerKey: Math.round(this.pacer.moverUsPerKey * 10) / 10,
      batchKeys: this.batchLimit(),
      sourceUsec: this.pacer.lastUsec,
      done: out.filter((s) => s.state === 'done').length,
      errors: out.filter((s) => s.state === 'error').map((s) => ({ slot: s.slot, error: s.error })),
    });
    return out;
  }

  private emitTerminal(slots: SlotState[]): void {
    try {
      this.opts.onSlots?.(slots.map((s) => slotView(s)));
    } catch (err) {
      this.log.error('mover.callback_failed', { err });
    }
  }

  private fail(s: SlotState, err: RedslotError): void {
    if (TERMINAL.has(s.state)) return;
    s.state = 'error';
    s.error = { code: err.code, message: err.message };
    this.log.error('mover.slot_failed', { slot: s.slot, target: s.target, code: err.code, message: err.message });
    this.emitTerminal([s]);
  }

  /** Stops moving one slot (abort); resolves once no batch of it is in flight. */
  async drop(slot: number): Promise<void> {
    const s = this.slots.get(slot);
    if (!s) return;
    if (!TERMINAL.has(s.state)) {
      s.state = 'dropped';
      this.log.info('mover.slot_dropped', { slot, keysMoved: s.keysMoved });
    }
    if (s.inflight > 0) await new Promise<void>((resolve) => (s.idle = resolve));
  }

  /** One SCAN over one database, feeding buckets to `pipeline` workers. */
  private async passDb(db: number): Promise<void> {
    this.counters.db = db;
    const scan = this.links.scan();
    await scanPass(
      db,
      {
        scan: async (cursor) => {
          const r = await this.links.dbCall(scan, db, ['SCAN', cursor, 'COUNT', this.knobs.scanCount]);
          const err = replyError(r);
          if (err !== undefined || !Array.isArray(r) || r.length !== 2 || !Buffer.isBuffer(r[0]) || !Array.isArray(r[1])) {
            throw new Error(`SCAN on ${this.source.addr} db ${db}: unexpected reply ${err ?? 'shape'}`);
          }
          const keys = r[1].filter((k): k is Buffer => Buffer.isBuffer(k));
          this.counters.scanned += r[1].length;
          return { cursor: r[0].toString('latin1'), keys };
        },
        wants: (slot) => {
          const s = this.slots.get(slot);
          if (!s || TERMINAL.has(s.state)) return false;
          s.keysFound++;
          this.counters.foundThisPass++;
          return true;
        },
        gate: () => this.gate.wait(this.signal),
        aborted: () => this.aborted(),
        bufferLimit: () => (this.pacer.pacing || this.throttle.rates().keysPerSec > 0 ? PACED_BUFFERED_KEYS : MAX_BUFFERED_KEYS),
        queued: (task) => {
          const s = this.slots.get(task.slot);
          if (s) s.inflight++;
        },
        move: (task, lane) => this.moveTask(task, lane),
        dropped: (task) => this.release(task.slot),
      },
      { batchKeys: this.knobs.batchKeys, pipeline: this.knobs.pipeline },
    );
  }

  private release(slot: number): void {
    const s = this.slots.get(slot);
    if (s) batchFinished(s);
  }

  /** Measures a bucket, then moves it in tag-preserving batches (big keys alone). */
  private async moveTask(task: BucketTask, lane: number): Promise<void> {
    const s = this.slots.get(task.slot)!;
    try {
      if (TERMINAL.has(s.state) || this.aborted()) return;
      const sizes = await measureKeys(this.links, this.links.lane(lane), task.db, task.keys);
      const plan = planBucket(task.keys, sizes, this.knobs.bigKeyBytes, this.batchLimit(), this.knobs.batchBytes);
      for (const b of plan.big) {
        await this.moveBigKey(s, task.db, b.key, b.size, lane);
        if (TERMINAL.has(s.state)) return;
      }
      for (const b of plan.batches) {
        if (TERMINAL.has(s.state)) return;
        await this.migrateBatch(s, task.db, b.keys, b.bytes, false, lane);
      }
    } finally {
      this.release(task.slot);
    }
  }

  /** Keys per MIGRATE now (mover-batches.ts). */
  private batchLimit(): number {
    return batchLimit(this.knobs.batchKeys, this.knobs.targetBatchMs, this.pacer.migrateUsPerKey, this.msPerKey);
  }

  private async moveBigKey(s: SlotState, db: number, key: Buffer, size: number, lane: number): Promise<void> {
    s.bigKeys++;
    const conn = this.knobs.refuseBigKeys ? this.links.lane(lane) : this.links.big();
    const type = await keyType(this.links, conn, db, key);
    const report: BigKeyReport = { slot: s.slot, db, key: displayKey(key), bytes: size, type, action: 'refused' };
    if (this.knobs.refuseBigKeys) {
      this.recordBigKey(report);
      this.fail(s, new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_BIGKEY_REFUSED, {
        key: report.key,
        slot: s.slot,
        db,
        bytes: size,
        limit: this.knobs.bigKeyBytes,
      }));
      return;
    }
    this.log.warn('mover.big_key', { slot: s.slot, db, key: report.key, bytes: size, type, timeoutMs: this.knobs.bigKeyTimeoutMs });
    const t0 = performance.now();
    const ok = await this.migrateBatch(s, db, [key], size, true, lane);
    report.blockedMs = Math.round(performance.now() - t0);
    report.action = ok ? 'moved' : 'failed';
    this.recordBigKey(report);
    this.log.warn('mover.big_key_moved', { slot: s.slot, db, key: report.key, bytes: size, blockedMs: report.blockedMs, ok });
  }

  private recordBigKey(r: BigKeyReport): void {
    this.bigKeys.push(r);
    if (this.bigKeys.length > 1000) this.bigKeys.shift();
    this.opts.onBigKey?.(r);
  }

  /**
   * MIGRATE one batch. Returns true when the keys left the source. BUSYKEY stops the slot; I/O errors are
   * reconciled (see the file header) and retried up to `retries` times.
   */
  private async migrateBatch(s: SlotState, db: number, keys: Buffer[], bytes: number, big: boolean, lane: number): Promise<boolean> {
    let pending = keys;
    for (let attempt = 1; ; attempt++) {
      await this.gate.wait(this.signal);
      if (TERMINAL.has(s.state) || this.aborted()) return false;
      await this.throttle.take(pending.length, bytes, this.signal);
      if (!big) await this.pacer.take(pending.length, this.signal);
      if (TERMINAL.has(s.state) || this.aborted()) return false;
      const conn = big ? this.links.big() : this.links.lane(lane);
      const timeout = big ? this.knobs.bigKeyTimeoutMs : this.knobs.migrateTimeoutMs;
      let r: RedisReply;
      const t0 = performance.now();
      try {
        r = await this.links.dbCall(conn, db, migrateArgs(s.endpoint, db, timeout, pending));
        // Round trip includes queueing behind other pipelined commands: an upper bound, which errs small.
        if (!big && pending.length >= 8 && !(r instanceof Error)) {
          const perKey = (performance.now() - t0) / pending.length;
          this.msPerKey = this.msPerKey === 0 ? perKey : this.msPerKey * 0.8 + perKey * 0.2;
        }
      } catch (err) {
        // The connection failed (client-side timeout, reset): find out below what happened to the keys.
        r = err instanceof Error ? err : new Error(String(err));
      }
      const err = replyError(r);
      if (err === undefined) {
        this.count(s, pending.length, bytes);
        return true;
      }
      // Which keys are still on the source? MIGRATE deletes each key whose RESTORE succeeded.
      const left = await existing(this.onSource(lane, db), this.source.addr, pending);
      const movedNow = pending.length - left.length;
      if (movedNow > 0) this.count(s, movedNow, Math.round((bytes * movedNow) / pending.length));
      if (left.length === 0) return true;
      // I/O error / timeout, or BUSYKEY: a key may exist on both sides, restored by an interrupted MIGRATE (of
      // this batch, or a proxy's migrate-on-access that timed out) and never deleted on the source. The atomic
      // rule resolves our own leftovers; a copy that differs is reported as BUSYKEY by reconcile().
      let resolved: Buffer[] | null;
      try {
        // The interrupted MIGRATE's transfer lies within this call, or (BUSYKEY) within an earlier MIGRATE bounded
        // by a timeout no longer than ours (proxies' migrate.timeout is 3 s by default): that bounds the skew.
        resolved = await this.reconcile(s, db, left, lane, Math.max(performance.now() - t0, /BUSYKEY/.test(err) ? timeout : 0));
      } catch (checkErr) {
        // Cannot even look at the target (down, wrong credentials): stop the slot; the scheduler retries.
        this.fail(s, new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_MIGRATE_FAILED, {
          count: left.length,
          slot: s.slot,
          source: this.source.addr,
          target: s.target,
          db,
          reply: `${err}; checking the target failed too: ${checkErr instanceof Error ? checkErr.message : String(checkErr)}`,
        }));
        return false;
      }
      if (resolved === null) return false; // reported as BUSYKEY
      pending = resolved;
      if (pending.length === 0) return true;
      if (big) {
        // Every attempt blocks the source for the whole DUMP + transfer: never retried automatically.
        this.fail(s, new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_BIGKEY_FAILED, {
          key: displayKey(pending[0]!),
          slot: s.slot,
          db,
          bytes,
          ms: Math.round(performance.now() - t0),
          reply: err,
        }));
        return false;
      }
      if (attempt >= this.knobs.retries) {
        this.fail(s, new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_MIGRATE_FAILED, {
          count: pending.length,
          slot: s.slot,
          source: this.source.addr,
          target: s.target,
          db,
          reply: err,
        }));
        return false;
      }
      this.log.warn('mover.migrate_retry', { slot: s.slot, db, keys: pending.length, attempt, reply: err });
      await new Promise((res) => setTimeout(res, 100 * attempt));
    }
  }

  private onSource(lane: number, db: number): DbCall {
    const conn = this.links.lane(lane);
    return (args) => this.links.dbCall(conn, db, args);
  }

  /** mover-reconcile.ts, then counting and logging; null when a differing copy was reported as BUSYKEY. */
  private async reconcile(s: SlotState, db: number, left: Buffer[], lane: number, migrateMs: number): Promise<Buffer[] | null> {
    const tc = this.links.target(s.endpoint);
    const res = await reconcileBothSides(this.onSource(lane, db), (args) => this.links.dbCall(tc, db, args), s.target, left, migrateMs);
    if ('conflict' in res) {
      this.log.error('mover.duplicate_differs', { slot: s.slot, db, key: displayKey(res.conflict), target: s.target, outcome: res.outcome });
      this.busy(s, db, res.conflict, 1);
      return null;
    }
    for (const r of res.resolved) {
      this.count(s, 1, 0);
      this.log.warn('mover.duplicate_resolved', { slot: s.slot, db, key: displayKey(r.key), target: s.target, outcome: r.outcome });
    }
    return res.todo;
  }

  private busy(s: SlotState, db: number, key: Buffer, count: number): void {
    const err = new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_BUSYKEY, { key: displayKey(key), slot: s.slot, db, target: s.target });
    this.log.error('mover.busykey', {
      alarm: 'INVARIANT VIOLATION: key on source and target',
      slot: s.slot,
      db,
      key: displayKey(key),
      keys: count,
      source: this.source.addr,
      target: s.target,
    });
    this.fail(s, err);
  }

  private count(s: SlotState, keys: number, bytes: number): void {
    s.keysMoved += keys;
    s.bytesMoved += bytes;
    this.counters.moved(keys, bytes);
    this.opts.onMoved?.(s.slot, keys, bytes);
  }


  /** Progress without the per-slot list and big-key reports (cheap: called per API request). */
  summary(): Omit<MoverProgress, 'slots' | 'bigKeys'> {
    const { slots: _s, bigKeys: _b, ...rest } = this.progress(false);
    return rest;
  }

  progress(withSlots = true): MoverProgress {
    const c = this.counters;
    return {
      source: this.source.addr,
      pass: c.pass,
      db: c.db,
      scanned: c.scanned,
      sourceKeys: c.sourceKeys,
      keysMoved: c.keysMoved,
      bytesMoved: c.bytesMoved,
      ...c.rates(),
      paused: this.gate.isPaused(),
      clientOpsPerSec: this.pacer.clientOps,
      pacing: this.pacer.pacing,
      startedAt: c.startedAt.toISOString(),
      finishedAt: c.finishedAt?.toISOString(),
      slots: withSlots ? [...this.slots.values()].map((s) => slotView(s)) : [],
      bigKeys: withSlots ? this.bigKeys.slice() : [],
    };
  }
}
