/**
 * Flow control for the background mover: a two-dimension token bucket (keys/s and bytes/s, either may be
 * unlimited) whose rates can change while a move runs, and a pause gate.
 *
 * The bucket allows debt: `take(n)` always succeeds, then waits until the balance is back to >= 0, so a batch
 * larger than one second's worth (a big key) is admitted and paid for afterwards, and the long-run rate is
 * exact. The burst is capped at one second of tokens (or one batch, whichever is larger).
 */

export interface ThrottleRates {
  /** Keys per second; 0 = unlimited. */
  keysPerSec: number;
  /** Bytes per second; 0 = unlimited. */
  bytesPerSec: number;
}

class Bucket {
  private tokens = 0;
  private last = performance.now();

  constructor(public rate: number) {
    this.tokens = rate;
  }

  /** Deducts n and returns the ms to wait until the balance is non-negative again. */
  take(n: number): number {
    if (this.rate <= 0) return 0;
    const now = performance.now();
    this.tokens = Math.min(Math.max(this.rate, n), this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  setRate(rate: number): void {
    // Settle the tokens accrued at the old rate first.
    const now = performance.now();
    if (this.rate > 0) this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.rate = rate;
    if (rate > 0) this.tokens = Math.min(this.tokens, rate);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class Throttle {
  private readonly keys: Bucket;
  private readonly bytes: Bucket;
  private wake: AbortController = new AbortController();

  constructor(rates: ThrottleRates = { keysPerSec: 0, bytesPerSec: 0 }) {
    this.keys = new Bucket(Math.max(0, rates.keysPerSec));
    this.bytes = new Bucket(Math.max(0, rates.bytesPerSec));
  }

  rates(): ThrottleRates {
    return { keysPerSec: this.keys.rate, bytesPerSec: this.bytes.rate };
  }

  /** Changes the rates now; a waiting take() re-evaluates with the new rates. */
  set(rates: Partial<ThrottleRates>): void {
    if (rates.keysPerSec !== undefined) this.keys.setRate(Math.max(0, rates.keysPerSec));
    if (rates.bytesPerSec !== undefined) this.bytes.setRate(Math.max(0, rates.bytesPerSec));
    const w = this.wake;
    this.wake = new AbortController();
    w.abort();
  }

  /** Admits a batch of `keys` keys and `bytes` bytes, waiting as long as the rates demand. */
  async take(keys: number, bytes: number, signal?: AbortSignal): Promise<void> {
    let waitMs = Math.max(this.keys.take(keys), this.bytes.take(bytes));
    while (waitMs > 0 && !signal?.aborted) {
      const wake = this.wake.signal;
      await sleep(Math.min(waitMs, 1000), AbortSignal.any(signal ? [wake, signal] : [wake]));
      // After a rate change (or every second) re-check what is still owed, without charging twice.
      waitMs = Math.max(this.keys.take(0), this.bytes.take(0));
    }
  }
}

/** A pause gate: `wait()` resolves at once while running, or when resumed (or the signal aborts). */
export class PauseGate {
  private paused = false;
  private waiters: Array<() => void> = [];

  isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const w of this.waiters.splice(0)) w();
  }

  async wait(signal?: AbortSignal): Promise<void> {
    if (!this.paused || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
