/**
 * How much the movers moved: in total, per job and per slot action, with rates over the last ~5 s. In memory only
 * (a job's totals are folded into its record when it finishes; a new leader starts counting from zero).
 */

/** A running count with samples for a rate. */
export interface Counter {
  keys: number;
  bytes: number;
  samples: Array<{ t: number; keys: number; bytes: number }>;
}

export function newCounter(): Counter {
  return { keys: 0, bytes: 0, samples: [{ t: performance.now(), keys: 0, bytes: 0 }] };
}

/** Keys and bytes per second over the samples of the last 5 s (0 until 200 ms of history). */
export function rate(c: Counter): { keys: number; bytes: number } {
  const now = performance.now();
  const first = c.samples.find((s) => now - s.t <= 5000);
  if (!first || now - first.t < 200) return { keys: 0, bytes: 0 };
  const dt = (now - first.t) / 1000;
  return { keys: Math.round((c.keys - first.keys) / dt), bytes: Math.round((c.bytes - first.bytes) / dt) };
}

export function bump(c: Counter, keys: number, bytes: number): void {
  c.keys += keys;
  c.bytes += bytes;
  const now = performance.now();
  const last = c.samples[c.samples.length - 1];
  if (!last || now - last.t >= 250) {
    c.samples.push({ t: now, keys: c.keys, bytes: c.bytes });
    if (c.samples.length > 40) c.samples.shift();
  }
}

/** Seconds left at `keysPerSec` (null when unknown), one decimal. */
export function etaSeconds(remaining: number | null, keysPerSec: number): number | null {
  if (remaining === null) return null;
  if (remaining === 0) return 0;
  return keysPerSec > 0 ? Math.round((remaining / keysPerSec) * 10) / 10 : null;
}

export interface SlotCount {
  keys: number;
  bytes: number;
  /** Keys the mover's last pass found on the source. */
  found: number;
}

export class MigrationProgress {
  readonly total: Counter = newCounter();
  private readonly jobs = new Map<string, Counter>();
  /** Per slot action (actionKey -> counts). */
  private readonly slots = new Map<string, SlotCount>();

  /** A mover moved `keys`/`bytes` of the slot action `key` (of `job`, when it has one). */
  moved(key: string, job: string | undefined, keys: number, bytes: number): void {
    bump(this.total, keys, bytes);
    if (job !== undefined) {
      let c = this.jobs.get(job);
      if (!c) this.jobs.set(job, (c = newCounter()));
      bump(c, keys, bytes);
    }
    const sc = this.slotCount(key);
    sc.keys += keys;
    sc.bytes += bytes;
  }

  found(key: string, keysFound: number): void {
    this.slotCount(key).found = keysFound;
  }

  slot(key: string): SlotCount | undefined {
    return this.slots.get(key);
  }

  job(id: string): Counter | undefined {
    return this.jobs.get(id);
  }

  /** The job finished: its counts are now in its record. */
  forgetJob(id: string): void {
    this.jobs.delete(id);
  }

  private slotCount(key: string): SlotCount {
    let sc = this.slots.get(key);
    if (!sc) this.slots.set(key, (sc = { keys: 0, bytes: 0, found: 0 }));
    return sc;
  }
}
