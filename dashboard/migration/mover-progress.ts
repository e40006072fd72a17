/**
 * A source mover's counters: keys and bytes moved with samples for a rate over the last ~5 s, what the current pass
 * scanned and found, and the estimate of keys still to move (pass 1 extrapolates the share of scanned keys that belong
 * to moving slots).
 */
import { bump, newCounter, type Counter } from './progress.js';

export interface MoverRates {
  keysPerSec: number;
  bytesPerSec: number;
  keysRemaining: number | null;
  etaSeconds: number | null;
}

export class MoverCounters {
  /** Keys and bytes moved, with samples for the rate (the engine's counter: progress.ts). */
  private readonly counter: Counter = newCounter();
  pass = 0;
  db: number | null = null;
  /** Keys SCAN returned in the current pass (all slots). */
  scanned = 0;
  /** Keys in the source when the pass started (sum over dbs). */
  sourceKeys = 0;
  /** Keys of moving slots the current pass found. */
  foundThisPass = 0;
  readonly startedAt = new Date();
  finishedAt: Date | undefined;

  get keysMoved(): number {
    return this.counter.keys;
  }

  get bytesMoved(): number {
    return this.counter.bytes;
  }

  moved(keys: number, bytes: number): void {
    bump(this.counter, keys, bytes);
  }

  startPass(pass: number): void {
    this.pass = pass;
    this.scanned = 0;
    this.foundThisPass = 0;
  }

  rates(): MoverRates {
    const now = performance.now();
    // Rate over the last ~5 s of samples (or since the start).
    const samples = this.counter.samples;
    const recent = samples.filter((x) => now - x.t <= 5000);
    const first = recent[0] ?? samples[0];
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
    let keysRemaining: number | null = null;
    if (this.finishedAt) keysRemaining = 0;
    else if (this.pass >= 1 && this.sourceKeys > 0 && this.scanned > 0) {
      const share = this.foundThisPass / this.scanned;
      const stillToScan = Math.max(0, this.sourceKeys - this.scanned);
      const queued = Math.max(0, this.foundThisPass - (this.pass === 1 ? this.keysMoved : 0));
      keysRemaining = Math.round(stillToScan * share + queued);
    }
    const eta = keysRemaining === null ? null : keysRemaining === 0 ? 0 : keysPerSec > 0 ? keysRemaining / keysPerSec : null;
    return {
      keysPerSec: Math.round(keysPerSec),
      bytesPerSec: Math.round(bytesPerSec),
      keysRemaining,
      etaSeconds: eta === null ? null : Math.round(eta * 10) / 10,
    };
  }
}
