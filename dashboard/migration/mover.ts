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
 * counters per slot and overall (keys, bytes, rate over the last seconds, ETA).
 *
 * Client latency: a MIGRATE blocks the source while it runs, and on a small machine every core the mover
 * uses is taken from the clients. So batches are sized to ~targetBatchMs (3 ms) each, every worker (lane)
 * has its own connection (the source serves other clients between two lanes' calls instead of running a
 * pipelined series back to back), and while clients are active on the source (more than busyClientOps
 * commands/s besides the mover's, from INFO stats) the lanes are limited to the rate that keeps the source
 * busy with the mover at most loadedDuty of the time (its time per key from INFO commandstats). Unloaded,
 * nothing waits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RedslotError } from '../../shared/errors.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { parseInfo, splitAddr, type RedisReply } from '../../shared/redis-admin.js';
import { hashTag, slotOf } from '../../shared/slot.js';
import { MigrationErrors } from './errors.js';
import { displayKey } from './keys.js';
import { RedisLink, type Arg } from '../../shared/redis-link.js';
import { resolveBothSides } from '../../shared/both-sides.js';
import { PauseGate, Throttle } from './throttle.js';

export interface RedisEndpoint {
  /** host:port */
  addr: string;
  password?: string;
  /** ACL user for AUTH2 (default user when absent). */
  username?: string;
}

export interface MoverKnobs {
  /** SCAN COUNT hint. */
  scanCount: number;
  /** Max keys per MIGRATE. */
  batchKeys: number;
  /**
   * Target duration of one MIGRATE call (ms; 0 = off): batches shrink below batchKeys so that one call
   * blocks the source about this long (per-key cost measured as it goes). Bounds the wait of client
   * commands queued behind the mover on the source.
   */
  targetBatchMs: number;
  /** Max measured bytes per MIGRATE. */
  batchBytes: number;
  /** MIGRATE timeout argument for normal batches (ms). */
  migrateTimeoutMs: number;
  /** A key measured above this is a big key. */
  bigKeyBytes: number;
  /** MIGRATE timeout for a big key moved alone (ms). */
  bigKeyTimeoutMs: number;
  /** Refuse big keys instead of moving them (the slot stops with BIGKEY_REFUSED). */
  refuseBigKeys: boolean;
  /** Passes before a slot still holding keys is declared NOT_DRAINED. */
  maxPasses: number;
  /** Buckets measured + moved concurrently, each worker on its own connection to the source. */
  pipeline: number;
  /** Attempts for a batch failing with an I/O error or timeout. */
  retries: number;
  /**
   * Clients are "active" on the source when it runs more than this many commands/s besides the mover's own
   * (INFO stats total_commands_processed, sampled every 250 ms over the last second; 0 = never pace).
   */
  busyClientOps: number;
  /**
   * While clients are active: the share of the source's time the mover may use (its rate is limited to
   * loadedDuty / source time per key). 1 = no pacing.
   */
  loadedDuty: number;
}

export const DEFAULT_MOVER_KNOBS: MoverKnobs = {
  scanCount: 1000,
  batchKeys: 500,
  targetBatchMs: 3,
  batchBytes: 8 * 1024 * 1024,
  migrateTimeoutMs: 5000,
  bigKeyBytes: 32 * 1024 * 1024,
  bigKeyTimeoutMs: 120_000,
  refuseBigKeys: false,
  maxPasses: 5,
  pipeline: 2,
  retries: 3,
  busyClientOps: 3000,
  loadedDuty: 0.3,
};

export type SlotMoveState = 'moving' | 'done' | 'error' | 'dropped' | 'stopped';

export interface SlotMoveError {
  code: string;
  message: string;
}

export interface SlotProgress {
  slot: number;
  source: string;
  target: string;
  state: SlotMoveState;
  /** Keys of the slot the mover moved (keys a proxy moved on access are not counted). */
  keysMoved: number;
  bytesMoved: number;
  /** Keys of the slot seen by SCAN in the current/last pass. */
  keysFound: number;
  passes: number;
  bigKeys: number;
  error?: SlotMoveError;
}

export interface BigKeyReport {
  slot: number;
  db: number;
  key: string;
  bytes: number;
  type?: string;
  action: 'moved' | 'refused' | 'failed';
  /** Duration of the MIGRATE call that moved it (the source is blocked that long). */
  blockedMs?: number;
}

export interface MoverProgress {
  source: string;
  pass: number;
  db: number | null;
  /** Keys SCAN returned in the current pass (all slots). */
  scanned: number;
  /** Keys in the source when the pass started (sum over dbs). */
  sourceKeys: number;
  keysMoved: number;
  bytesMoved: number;
  keysPerSec: number;
  bytesPerSec: number;
  /** Estimated keys of the moving slots still on the source; null before anything is known. */
  keysRemaining: number | null;
  etaSeconds: number | null;
  paused: boolean;
  /** Client commands/s on the source besides the mover's (last second); the mover paces itself above busyClientOps. */
  clientOpsPerSec: number;
  /** True while pacing for client load. */
  pacing: boolean;
  startedAt: string;
  finishedAt?: string;
  slots: SlotProgress[];
  bigKeys: BigKeyReport[];
}

export interface MoverSlot {
  slot: number;
  target: RedisEndpoint;
}

export interface SourceMoverOptions {
  source: RedisEndpoint;
  slots: MoverSlot[];
  knobs?: Partial<MoverKnobs>;
  throttle?: Throttle;
  gate?: PauseGate;
  /** Aborting stops the run as soon as the batches in flight are answered (slots end `stopped`). */
  signal?: AbortSignal;
  log?: Logger;
  /** Called when slots become terminal (done / error), in groups, as soon as known. */
  onSlots?: (slots: SlotProgress[]) => void;
  /** Called after every moved batch (metrics). */
  onMoved?: (slot: number, keys: number, bytes: number) => void;
  /** Called for every big key met. */
  onBigKey?: (report: BigKeyReport) => void;
}

interface SlotState extends SlotProgress {
  endpoint: RedisEndpoint;
  /** Batches of this slot being measured or moved. */
  inflight: number;
  idle?: () => void;
}

/** One look at the source's counters (probeLoop). */
interface LoadSample {
  t: number;
  /** total_commands_processed */
  total: number;
  /** The mover's own commands sent so far. */
  own: number;
  /** cmdstat usec of MIGRATE, and of MIGRATE + EVAL + SCAN. */
  migrateUs: number;
  moverUs: number;
  /** Keys moved so far. */
  keys: number;
}

interface Task {
  slot: number;
  db: number;
  keys: Buffer[];
}

/** One EVAL returns MEMORY USAGE of each key (default SAMPLES: O(1) even for a huge collection); -1 = gone. */
const MEASURE_LUA = "local r={} for i,k in ipairs(KEYS) do r[i]=redis.call('MEMORY','USAGE',k) or -1 end return r";
const EXISTS_LUA = "local r={} for i,k in ipairs(KEYS) do r[i]=redis.call('EXISTS',k) end return r";

/** Keys held in buckets before every bucket is flushed (bounds memory when many slots fill slowly). */
const MAX_BUFFERED_KEYS = 200_000;
/**
 * The same while the mover is slowed down (pacing for clients, or a keys/s throttle): SCAN, hashing and the
 * measuring EVALs would otherwise run at full speed through up to MAX_BUFFERED_KEYS keys ahead of the paced
 * MIGRATEs, a burst of source and dashboard CPU that clients feel. Smaller tasks, paced scanning.
 */
const PACED_BUFFERED_KEYS = 32_000;

const TERMINAL: ReadonlySet<SlotMoveState> = new Set(['done', 'error', 'dropped', 'stopped']);

function replyError(r: RedisReply): string | undefined {
  return r instanceof Error ? r.message : undefined;
}

function asNumbers(r: RedisReply, n: number): number[] | undefined {
  if (!Array.isArray(r) || r.length !== n) return undefined;
  return r.map((x) => (typeof x === 'number' ? x : Number(x)));
}

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
  private scanConn: RedisLink | undefined;
  private probeConn: RedisLink | undefined;
  /** Commands the mover ran on the source (inner script calls included, as Redis counts them). */
  private ownCommands = 0;
  private readonly loadSamples: LoadSample[] = [];
  private firstSample: LoadSample | undefined;
  private clientOps = 0;
  private pacing = false;
  /** Source time (µs) per key moved: MIGRATE alone, and everything the mover runs there (INFO commandstats). */
  private migrateUsPerKey = 0;
  /** Last cmdstat usec totals seen on the source (logged at the end). */
  private lastUsec: Record<string, number> = {};
  private moverUsPerKey = 0;
  /** The rate limit applied while pacing (loadedDuty of what the source can do). */
  private readonly loadThrottle = new Throttle();
  /** One connection per worker (lane): the source serves other clients between two lanes' commands. */
  private readonly moveConns: RedisLink[] = [];
  private bigConn: RedisLink | undefined;
  private readonly targetConns = new Map<string, RedisLink>();
  private pass = 0;
  private db: number | null = null;
  private scanned = 0;
  private sourceKeys = 0;
  private foundThisPass = 0;
  private keysMoved = 0;
  private bytesMoved = 0;
  private readonly samples: Array<{ t: number; keys: number; bytes: number }> = [];
  private readonly startedAt = new Date();
  /** EWMA of MIGRATE milliseconds per key (small batches), for targetBatchMs. */
  private msPerKey = 0;
  private finishedAt: Date | undefined;

  constructor(opts: SourceMoverOptions) {
    this.opts = opts;
    this.source = opts.source;
    this.knobs = { ...DEFAULT_MOVER_KNOBS, ...opts.knobs };
    this.throttle = opts.throttle ?? new Throttle();
    this.gate = opts.gate ?? new PauseGate();
    this.signal = opts.signal;
    this.log = (opts.log ?? createLogger()).child({ component: 'migration.mover', source: opts.source.addr });
    for (const s of opts.slots) {
      this.slots.set(s.slot, {
        slot: s.slot,
        source: opts.source.addr,
        target: s.target.addr,
        endpoint: s.target,
        state: 'moving',
        keysMoved: 0,
        bytesMoved: 0,
        keysFound: 0,
        passes: 0,
        bigKeys: 0,
        inflight: 0,
      });
    }
  }

  /** Slot ids of this run. */
  slotIds(): number[] {
    return [...this.slots.keys()];
  }

  /** Liveness timeout for source commands: the source may be blocked that long by a big-key MIGRATE. */
  private commandTimeoutMs(): number {
    return Math.max(30_000, this.knobs.migrateTimeoutMs * 4, this.knobs.bigKeyTimeoutMs * 2 + 10_000);
  }

  private conn(kind: 'scan' | 'move' | 'big' | 'probe', lane = 0): RedisLink {
    const make = (): RedisLink =>
      new RedisLink({
        addr: this.source.addr,
        password: this.source.password,
        username: this.source.username,
        commandTimeoutMs: this.commandTimeoutMs(),
      });
    if (kind === 'scan') return (this.scanConn ??= make());
    if (kind === 'move') return (this.moveConns[lane] ??= make());
    if (kind === 'probe') return (this.probeConn ??= make());
    return (this.bigConn ??= make());
  }

  private targetConn(ep: RedisEndpoint): RedisLink {
    let c = this.targetConns.get(ep.addr);
    if (!c) {
      c = new RedisLink({ addr: ep.addr, password: ep.password, username: ep.username, commandTimeoutMs: this.commandTimeoutMs() });
      this.targetConns.set(ep.addr, c);
    }
    return c;
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
    const probe = this.knobs.busyClientOps > 0 && this.knobs.loadedDuty < 1 ? this.probeLoop(probeStop.signal) : Promise.resolve();
    try {
      for (this.pass = 1; this.pass <= this.knobs.maxPasses; this.pass++) {
        const active = this.active();
        if (active.length === 0 || this.aborted()) break;
        for (const s of active) {
          s.keysFound = 0;
          s.passes = this.pass;
        }
        this.scanned = 0;
        this.foundThisPass = 0;
        this.ownCommands++;
        const infoReply = await this.conn('scan').call(['INFO', 'keyspace']);
        if (!Buffer.isBuffer(infoReply)) throw new Error(`INFO keyspace on ${this.source.addr}: ${replyError(infoReply) ?? 'unexpected reply'}`);
        const info = parseInfo(infoReply.toString('utf8'));
        const dbs = Object.keys(info.keyspace).map(Number).sort((a, b) => a - b);
        this.sourceKeys = info.keys;
        for (const db of dbs) {
          if (this.aborted()) break;
          await this.passDb(db);
        }
        if (this.aborted()) break;
        // A full pass that found none of a slot's keys proves the slot is empty on the source.
        const verified = this.active().filter((s) => s.keysFound === 0);
        for (const s of verified) s.state = 'done';
        if (verified.length > 0) this.emitTerminal(verified);
        this.log.info('mover.pass_done', {
          pass: this.pass,
          dbs,
          scanned: this.scanned,
          found: this.foundThisPass,
          verified: verified.length,
          remaining: this.active().length,
          keysMoved: this.keysMoved,
        });
      }
      const left = this.active();
      if (this.aborted()) {
        for (const s of left) s.state = 'stopped';
        this.log.warn('mover.stopped', { slots: left.map((s) => s.slot), keysMoved: this.keysMoved });
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
      this.finishedAt = new Date();
      this.close();
    }
    const out = [...this.slots.values()].map((s) => this.slotView(s));
    this.log.info('mover.finish', {
      keysMoved: this.keysMoved,
      bytesMoved: this.bytesMoved,
      ms: this.finishedAt.getTime() - this.startedAt.getTime(),
      migrateUsPerKey: Math.round(this.migrateUsPerKey * 10) / 10,
      moverUsPerKey: Math.round(this.moverUsPerKey * 10) / 10,
      batchKeys: this.batchLimit(),
      sourceUsec: this.lastUsec,
      done: out.filter((s) => s.state === 'done').length,
      errors: out.filter((s) => s.state === 'error').map((s) => ({ slot: s.slot, error: s.error })),
    });
    return out;
  }

  private emitTerminal(slots: SlotState[]): void {
    try {
      this.opts.onSlots?.(slots.map((s) => this.slotView(s)));
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
    this.db = db;
    const scan = this.conn('scan');
    const buckets = new Map<number, Buffer[]>();
    let buffered = 0;
    const queue: Task[] = [];
    const idleWorkers: Array<() => void> = [];
    const wakeWorkers = (all: boolean): void => {
      for (const w of idleWorkers.splice(0, all ? idleWorkers.length : 1)) w();
    };
    let wakeScanner: (() => void) | undefined;
    let scanDone = false;
    let workerError: unknown;
    const maxQueued = this.knobs.pipeline * 4;

    const worker = async (lane: number): Promise<void> => {
      for (;;) {
        const task = queue.shift();
        wakeScanner?.();
        if (!task) {
          if (scanDone || workerError !== undefined) return;
          await new Promise<void>((r) => idleWorkers.push(r));
          continue;
        }
        try {
          await this.moveTask(task, lane);
        } catch (err) {
          workerError ??= err;
          wakeScanner?.();
          return;
        }
      }
    };
    const push = (task: Task): void => {
      const s = this.slots.get(task.slot);
      if (!s) return;
      s.inflight++;
      queue.push(task);
      wakeWorkers(false);
    };
    const workers = Array.from({ length: Math.max(1, this.knobs.pipeline) }, (_, lane) => worker(lane));

    let cursor = '0';
    try {
      do {
        await this.gate.wait(this.signal);
        if (this.aborted() || workerError !== undefined) break;
        const r = await this.dbCall(scan, db, ['SCAN', cursor, 'COUNT', this.knobs.scanCount]);
        const err = replyError(r);
        if (err !== undefined || !Array.isArray(r) || r.length !== 2 || !Buffer.isBuffer(r[0]) || !Array.isArray(r[1])) {
          throw new Error(`SCAN on ${this.source.addr} db ${db}: unexpected reply ${err ?? 'shape'}`);
        }
        cursor = r[0].toString('latin1');
        const keys = r[1];
        this.scanned += keys.length;
        for (const key of keys) {
          if (!Buffer.isBuffer(key)) continue;
          const slot = slotOf(key);
          const s = this.slots.get(slot);
          if (!s || TERMINAL.has(s.state)) continue;
          s.keysFound++;
          this.foundThisPass++;
          let b = buckets.get(slot);
          if (!b) buckets.set(slot, (b = []));
          b.push(key);
          buffered++;
          // A bucket holds two batches' worth: the wider window keeps more {tag} families whole.
          if (b.length >= this.knobs.batchKeys * 2) {
            buckets.delete(slot);
            buffered -= b.length;
            push({ slot, db, keys: b });
          }
        }
        if (buffered > (this.pacing || this.throttle.rates().keysPerSec > 0 ? PACED_BUFFERED_KEYS : MAX_BUFFERED_KEYS)) {
          for (const [slot, keys] of buckets) push({ slot, db, keys });
          buckets.clear();
          buffered = 0;
        }
        while (queue.length >= maxQueued && workerError === undefined && !this.aborted()) {
          await new Promise<void>((r) => (wakeScanner = r));
          wakeScanner = undefined;
        }
      } while (cursor !== '0');
      if (!this.aborted() && workerError === undefined) for (const [slot, keys] of buckets) push({ slot, db, keys });
    } finally {
      scanDone = true;
      wakeWorkers(true);
      await Promise.all(workers);
      // Tasks never started (abort or worker failure) release their slot.
      for (const t of queue.splice(0)) this.release(t.slot);
    }
    if (workerError !== undefined) throw workerError;
  }

  private release(slot: number): void {
    const s = this.slots.get(slot);
    if (!s) return;
    s.inflight--;
    if (s.inflight === 0 && s.idle) {
      const idle = s.idle;
      s.idle = undefined;
      idle();
    }
  }

  /**
   * Every 250 ms, INFO stats + commandstats on the source, over the last second:
   * - client commands/s = all commands minus the mover's own (counted as sent, inner script calls included,
   *   so a batch in flight at a sample shifts at most one batch's worth between windows: busyClientOps must
   *   stay above 2 lanes x (2 x batchKeys) per second);
   * - the source's time spent in the mover's MIGRATE and EVAL calls per key moved (MIGRATE's includes the
   *   wait for the target, during which the source serves nobody).
   * While clients are active, the lanes are limited to loadedDuty x (1 s / that time per key) keys/s.
   */
  private async probeLoop(signal: AbortSignal): Promise<void> {
    const conn = this.conn('probe');
    const usec = (text: string, cmd: string): number => Number(new RegExp(`^cmdstat_${cmd}:calls=\\d+,usec=(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    while (!signal.aborted) {
      try {
        this.ownCommands++;
        const r = await conn.call(['INFO', 'stats', 'commandstats']);
        const text = Buffer.isBuffer(r) ? r.toString('latin1') : '';
        const m = /total_commands_processed:(\d+)/.exec(text);
        if (m) {
          const now = performance.now();
          const mig = usec(text, 'migrate');
          const sample: LoadSample = { t: now, total: Number(m[1]), own: this.ownCommands, migrateUs: mig, moverUs: mig + usec(text, 'eval') + usec(text, 'scan'), keys: this.keysMoved };
          this.lastUsec = { migrate: mig, eval: usec(text, 'eval'), scan: usec(text, 'scan'), select: usec(text, 'select'), evalsha: usec(text, 'evalsha') };
          this.loadSamples.push(sample);
          while (this.loadSamples.length > 2 && now - this.loadSamples[0]!.t > 1000) this.loadSamples.shift();
          const first = this.loadSamples[0]!;
          const dt = (now - first.t) / 1000;
          if (dt >= 0.2) {
            const ops = Math.max(0, (sample.total - first.total - (sample.own - first.own)) / dt);
            this.clientOps = Math.round(ops);
            // Source time per key since the mover started (steadier than the last second: a window can hold
            // the usec of a batch whose keys the next one counts, or a verifying pass that moves nothing).
            this.firstSample ??= sample;
            const keys = sample.keys - this.firstSample.keys;
            if (keys >= 1000) {
              this.migrateUsPerKey = (sample.migrateUs - this.firstSample.migrateUs) / keys;
              this.moverUsPerKey = (sample.moverUs - this.firstSample.moverUs) / keys;
            }
            const pacing = ops > this.knobs.busyClientOps;
            if (pacing) {
              // Until 1000 keys tell the source's time per key, assume 20 µs (measured: ~12 µs for small keys).
              const us = this.moverUsPerKey > 0 ? this.moverUsPerKey : 20;
              this.loadThrottle.set({ keysPerSec: Math.max(100, Math.round((this.knobs.loadedDuty * 1e6) / us)) });
            }
            if (pacing !== this.pacing) {
              this.log.info(pacing ? 'mover.pacing_on' : 'mover.pacing_off', {
                clientOpsPerSec: this.clientOps,
                duty: this.knobs.loadedDuty,
                usPerKey: Math.round(this.moverUsPerKey * 10) / 10,
                keysPerSec: this.loadThrottle.rates().keysPerSec,
              });
            }
            this.pacing = pacing;
          }
        }
      } catch {
        // The source is slow or gone: the move loop finds out and reports; keep the last verdict.
      }
      await sleep(250, undefined, { signal }).catch(() => undefined);
    }
  }

  /**
   * SELECT db and the command, written back to back on the same socket: the pair cannot be split by a
   * reconnect (a fresh connection is on db 0), so a command never runs in the wrong database.
   */
  private async dbCall(conn: RedisLink, db: number, args: Arg[]): Promise<RedisReply> {
    if (conn.addr === this.source.addr) this.ownCommands += 2 + (args[0] === 'EVAL' ? Number(args[2]) : 0);
    const sel = conn.call(['SELECT', db]);
    const res = conn.call(args);
    res.catch(() => undefined);
    const r = await sel;
    if (r instanceof Error) throw new Error(`SELECT ${db} on ${conn.addr}: ${r.message}`);
    return await res;
  }

  /** Measures a bucket, then moves it in tag-preserving batches (big keys alone). */
  private async moveTask(task: Task, lane: number): Promise<void> {
    const s = this.slots.get(task.slot)!;
    try {
      if (TERMINAL.has(s.state) || this.aborted()) return;
      const sizes = await this.measure(task.db, task.keys, lane);
      const bigLimit = this.knobs.bigKeyBytes;
      const big: Array<{ key: Buffer; size: number }> = [];
      // Untagged keys are families of one; tagged ones are sorted so each family is one run.
      const plainKeys: Buffer[] = [];
      const plainSizes: number[] = [];
      const tagged: Array<{ key: Buffer; tag: Buffer; size: number }> = [];
      for (let i = 0; i < task.keys.length; i++) {
        const size = sizes[i]!;
        if (size < 0) continue; // gone: a proxy moved it on access
        const key = task.keys[i]!;
        if (size > bigLimit) big.push({ key, size });
        else if (key.indexOf(0x7b) < 0) {
          plainKeys.push(key);
          plainSizes.push(size);
        } else {
          const tag = hashTag(key);
          if (tag === key) {
            plainKeys.push(key);
            plainSizes.push(size);
          } else tagged.push({ key, tag, size });
        }
      }
      for (const b of big) {
        await this.moveBigKey(s, task.db, b.key, b.size, lane);
        if (TERMINAL.has(s.state)) return;
      }
      tagged.sort((a, b) => Buffer.compare(a.tag, b.tag));
      const maxKeys = this.batchLimit();
      const maxBytes = this.knobs.batchBytes;
      let batch: Buffer[] = [];
      let bytes = 0;
      const flush = async (): Promise<void> => {
        if (batch.length === 0 || TERMINAL.has(s.state)) return;
        const keys = batch;
        const n = bytes;
        batch = [];
        bytes = 0;
        await this.migrateBatch(s, task.db, keys, n, false, lane);
      };
      for (let i = 0; i < tagged.length && !TERMINAL.has(s.state); ) {
        let j = i + 1;
        let famBytes = tagged[i]!.size;
        while (j < tagged.length && tagged[j]!.tag.equals(tagged[i]!.tag)) famBytes += tagged[j++]!.size;
        // Start a new batch rather than split the family (a family larger than a batch goes on its own).
        if (batch.length > 0 && (batch.length + (j - i) > maxKeys || bytes + famBytes > maxBytes)) await flush();
        for (; i < j; i++) batch.push(tagged[i]!.key);
        bytes += famBytes;
      }
      for (let i = 0; i < plainKeys.length && !TERMINAL.has(s.state); i++) {
        const size = plainSizes[i]!;
        if (batch.length > 0 && (batch.length + 1 > maxKeys || bytes + size > maxBytes)) await flush();
        batch.push(plainKeys[i]!);
        bytes += size;
      }
      await flush();
    } finally {
      this.release(task.slot);
    }
  }

  /** Keys per MIGRATE now: batchKeys, or fewer so one call takes about targetBatchMs. */
  private batchLimit(): number {
    const { batchKeys, targetBatchMs } = this.knobs;
    // Prefer the source's own accounting (MIGRATE time per key, INFO commandstats): round trips also count
    // the time spent queued behind clients, which would shrink batches exactly when clients are busy.
    const perKey = this.migrateUsPerKey > 0 ? this.migrateUsPerKey / 1000 : this.msPerKey;
    if (!(targetBatchMs > 0) || perKey <= 0) return batchKeys;
    return Math.max(16, Math.min(batchKeys, Math.floor(targetBatchMs / perKey)));
  }

  private async measure(db: number, keys: Buffer[], lane: number): Promise<number[]> {
    const r = await this.dbCall(this.conn('move', lane), db, ['EVAL', MEASURE_LUA, keys.length, ...keys]);
    const sizes = asNumbers(r, keys.length);
    if (!sizes) throw new Error(`measuring ${keys.length} keys on ${this.source.addr}: ${replyError(r) ?? 'unexpected reply'}`);
    return sizes;
  }

  private migrateArgs(target: RedisEndpoint, db: number, timeoutMs: number, keys: Buffer[]): Arg[] {
    const { host, port } = splitAddr(target.addr);
    const args: Arg[] = ['MIGRATE', host, port, '', db, timeoutMs];
    if (target.password !== undefined && target.password !== '') {
      if (target.username) args.push('AUTH2', target.username, target.password);
      else args.push('AUTH', target.password);
    }
    args.push('KEYS', ...keys);
    return args;
  }

  private async moveBigKey(s: SlotState, db: number, key: Buffer, size: number, lane: number): Promise<void> {
    s.bigKeys++;
    const conn = this.knobs.refuseBigKeys ? this.conn('move', lane) : this.conn('big');
    let type: string | undefined;
    const t = await this.dbCall(conn, db, ['TYPE', key]).catch(() => undefined);
    if (Buffer.isBuffer(t)) type = t.toString();
    else if (typeof t === 'string') type = t;
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
      if (!big && this.pacing) await this.loadThrottle.take(pending.length, 0, this.signal);
      if (TERMINAL.has(s.state) || this.aborted()) return false;
      const conn = big ? this.conn('big') : this.conn('move', lane);
      const timeout = big ? this.knobs.bigKeyTimeoutMs : this.knobs.migrateTimeoutMs;
      let r: RedisReply;
      const t0 = performance.now();
      try {
        r = await this.dbCall(conn, db, this.migrateArgs(s.endpoint, db, timeout, pending));
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
      const left = await this.stillOnSource(this.conn('move', lane), db, pending);
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

  private async stillOnSource(conn: RedisLink, db: number, keys: Buffer[]): Promise<Buffer[]> {
    const r = await this.dbCall(conn, db, ['EVAL', EXISTS_LUA, keys.length, ...keys]);
    const flags = asNumbers(r, keys.length);
    if (!flags) throw new Error(`EXISTS check on ${this.source.addr}: ${replyError(r) ?? 'unexpected reply'}`);
    return keys.filter((_, i) => flags[i] === 1);
  }

  /**
   * After a failed (non-BUSYKEY) MIGRATE: keys on both sides whose source copy equals the target's in value
   * and expiry are deleted from the source in one script (our own half-done MIGRATE); a differing pair is
   * reported as BUSYKEY (null): the source copy was written since, nothing is deleted. Returns the keys still to move.
   */
  private async reconcile(s: SlotState, db: number, left: Buffer[], lane: number, migrateMs: number): Promise<Buffer[] | null> {
    const tc = this.targetConn(s.endpoint);
    const onTarget = await this.dbCall(tc, db, ['EVAL', EXISTS_LUA, left.length, ...left]);
    const flags = asNumbers(onTarget, left.length);
    if (!flags) throw new Error(`EXISTS check on ${s.target}: ${replyError(onTarget) ?? 'unexpected reply'}`);
    const todo: Buffer[] = [];
    const src = this.conn('move', lane);
    for (let i = 0; i < left.length; i++) {
      const key = left[i]!;
      if (flags[i] !== 1) {
        todo.push(key);
        continue;
      }
      const outcome = await resolveBothSides(key, (args) => this.dbCall(tc, db, args), (args) => this.dbCall(src, db, args), migrateMs);
      if (outcome === 'deleted-source' || outcome === 'source-gone') {
        this.count(s, 1, 0);
        this.log.warn('mover.duplicate_resolved', { slot: s.slot, db, key: displayKey(key), target: s.target, outcome });
      } else if (outcome === 'target-gone') {
        todo.push(key);
      } else {
        this.log.error('mover.duplicate_differs', { slot: s.slot, db, key: displayKey(key), target: s.target, outcome });
        this.busy(s, db, key, 1);
        return null;
      }
    }
    return todo;
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
    this.keysMoved += keys;
    this.bytesMoved += bytes;
    const now = performance.now();
    const last = this.samples[this.samples.length - 1];
    if (!last || now - last.t >= 250) {
      this.samples.push({ t: now, keys: this.keysMoved, bytes: this.bytesMoved });
      if (this.samples.length > 40) this.samples.shift();
    }
    this.opts.onMoved?.(s.slot, keys, bytes);
  }

  private slotView(s: SlotState): SlotProgress {
    const { endpoint: _e, inflight: _i, idle: _d, ...view } = s;
    return { ...view, error: s.error ? { ...s.error } : undefined };
  }

  /** Progress without the per-slot list and big-key reports (cheap: called per API request). */
  summary(): Omit<MoverProgress, 'slots' | 'bigKeys'> {
    const { slots: _s, bigKeys: _b, ...rest } = this.progress(false);
    return rest;
  }

  progress(withSlots = true): MoverProgress {
    const now = performance.now();
    // Rate over the last ~5 s of samples (or since the start).
    const recent = this.samples.filter((x) => now - x.t <= 5000);
    const first = recent[0] ?? this.samples[0];
    let keysPerSec = 0;
    let bytesPerSec = 0;
    if (first && now - first.t > 0 && !this.finishedAt) {
      const dt = (now - first.t) / 1000;
      keysPerSec = dt > 0.05 ? (this.keysMoved - first.keys) / dt : 0;
      bytesPerSec = dt > 0.05 ? (this.bytesMoved - first.bytes) / dt : 0;
    } else if (this.finishedAt) {
      const dt = (this.finishedAt.getTime() - this.startedAt.getTime()) / 1000;
      keysPerSec = dt > 0 ? this.keysMoved / dt : 0;
      bytesPerSec = dt > 0 ? this.bytesMoved / dt : 0;
    }
    // Remaining: in pass 1, extrapolate the share of scanned keys that belong to moving slots.
    let keysRemaining: number | null = null;
    if (this.finishedAt) keysRemaining = 0;
    else if (this.pass >= 1 && this.sourceKeys > 0 && this.scanned > 0) {
      const share = this.foundThisPass / this.scanned;
      const stillToScan = Math.max(0, this.sourceKeys - this.scanned);
      const queued = Math.max(0, this.foundThisPass - (this.pass === 1 ? this.keysMoved : 0));
      keysRemaining = Math.round(stillToScan * share + queued);
    }
    const etaSeconds = keysRemaining === null ? null : keysRemaining === 0 ? 0 : keysPerSec > 0 ? keysRemaining / keysPerSec : null;
    return {
      source: this.source.addr,
      pass: this.pass,
      db: this.db,
      scanned: this.scanned,
      sourceKeys: this.sourceKeys,
      keysMoved: this.keysMoved,
      bytesMoved: this.bytesMoved,
      keysPerSec: Math.round(keysPerSec),
      bytesPerSec: Math.round(bytesPerSec),
      keysRemaining,
      etaSeconds: etaSeconds === null ? null : Math.round(etaSeconds * 10) / 10,
      paused: this.gate.isPaused(),
      clientOpsPerSec: this.clientOps,
      pacing: this.pacing,
      startedAt: this.startedAt.toISOString(),
      finishedAt: this.finishedAt?.toISOString(),
      slots: withSlots ? [...this.slots.values()].map((s) => this.slotView(s)) : [],
      bigKeys: withSlots ? this.bigKeys.slice() : [],
    };
  }

  private close(): void {
    this.scanConn?.close();
    this.probeConn?.close();
    for (const c of this.moveConns) c.close();
    this.bigConn?.close();
    for (const c of this.targetConns.values()) c.close();
    this.targetConns.clear();
  }
}
