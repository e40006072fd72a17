/**
 * One SCAN over one database of the source, feeding buckets of one slot's keys to `pipeline` workers (lanes).
 * Keys are hashed client-side on their raw bytes; a bucket holds two batches' worth of a slot's keys (the wider
 * window keeps more {tag} families whole) and is handed over when full, or when too many keys are buffered in all.
 * Scanning waits while the queue is long, so SCAN never runs far ahead of the MIGRATEs.
 */
import { slotOf } from '../../shared/slot.js';

export interface BucketTask {
  slot: number;
  db: number;
  keys: Buffer[];
}

export interface PassHooks {
  /** One SCAN call: the next cursor and the keys. */
  scan(cursor: string): Promise<{ cursor: string; keys: Buffer[] }>;
  /** True when keys of this slot are being moved (the key is then counted as found). */
  wants(slot: number): boolean;
  /** Waits while migrations are paused. */
  gate(): Promise<void>;
  aborted(): boolean;
  /** Keys buffered before every bucket is handed over. */
  bufferLimit(): number;
  /** A bucket is queued (its slot counts a task in flight). */
  queued(task: BucketTask): void;
  /** Measures and moves a bucket on `lane`. */
  move(task: BucketTask, lane: number): Promise<void>;
  /** A queued bucket that never started (abort or a worker failure) releases its slot. */
  dropped(task: BucketTask): void;
}

export async function scanPass(db: number, hooks: PassHooks, opts: { batchKeys: number; pipeline: number }): Promise<void> {
  const buckets = new Map<number, Buffer[]>();
  let buffered = 0;
  const queue: BucketTask[] = [];
  const idleWorkers: Array<() => void> = [];
  const wakeWorkers = (all: boolean): void => {
    for (const w of idleWorkers.splice(0, all ? idleWorkers.length : 1)) w();
  };
  let wakeScanner: (() => void) | undefined;
  let scanDone = false;
  let workerError: unknown;
  const maxQueued = opts.pipeline * 4;

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
        await hooks.move(task, lane);
      } catch (err) {
        workerError ??= err;
        wakeScanner?.();
        return;
      }
    }
  };
  const push = (task: BucketTask): void => {
    hooks.queued(task);
    queue.push(task);
    wakeWorkers(false);
  };
  const workers = Array.from({ length: Math.max(1, opts.pipeline) }, (_, lane) => worker(lane));

  let cursor = '0';
  try {
    do {
      await hooks.gate();
      if (hooks.aborted() || workerError !== undefined) break;
      const r = await hooks.scan(cursor);
      cursor = r.cursor;
      for (const key of r.keys) {
        const slot = slotOf(key);
        if (!hooks.wants(slot)) continue;
        let b = buckets.get(slot);
        if (!b) buckets.set(slot, (b = []));
        b.push(key);
        buffered++;
        if (b.length >= opts.batchKeys * 2) {
          buckets.delete(slot);
          buffered -= b.length;
          push({ slot, db, keys: b });
        }
      }
      if (buffered > hooks.bufferLimit()) {
        for (const [slot, keys] of buckets) push({ slot, db, keys });
        buckets.clear();
        buffered = 0;
      }
      while (queue.length >= maxQueued && workerError === undefined && !hooks.aborted()) {
        await new Promise<void>((r) => (wakeScanner = r));
        wakeScanner = undefined;
      }
    } while (cursor !== '0');
    if (!hooks.aborted() && workerError === undefined) for (const [slot, keys] of buckets) push({ slot, db, keys });
  } finally {
    scanDone = true;
    wakeWorkers(true);
    await Promise.all(workers);
    for (const t of queue.splice(0)) hooks.dropped(t);
  }
  if (workerError !== undefined) throw workerError;
}
