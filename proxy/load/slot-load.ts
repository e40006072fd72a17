/**
 * The proxy's load counters: requests and request bytes per slot (two fixed Float64Arrays, bumped by the
 * router with one call per routed key), and a sampled hot-key top-K (./hot-keys.ts).
 *
 * Sampling: a countdown picks about one request in `sampleEvery`; the countdown restarts at a pseudo-random
 * value in 1..2*sampleEvery-1 (mean sampleEvery), so a client cycling through a fixed set of keys cannot
 * alias with the sampler and hide one of them. Nothing is allocated on the hot path: a sampled key is copied
 * into the top-K's slab only when it enters the table.
 */
import { SLOT_COUNT } from '../../shared/slot.js';
import type { ProxyLoadReport } from '../../shared/load-report.js';
import type { ProxyConfig } from '../config.js';
import { HotKeys } from './hot-keys.js';

export class SlotLoad {
  private readonly enabled: boolean;
  private readonly hot: HotKeys | null;
  private readonly sampleEvery: number;
  private countdown: number;
  private rnd = 0x9e3779b9;

  constructor(
    knobs: ProxyConfig['load'],
    /** Requests per slot (shared with the metrics' redslot_proxy_slot_rq_total). */
    readonly ops: Float64Array = new Float64Array(SLOT_COUNT),
    readonly bytes: Float64Array = new Float64Array(SLOT_COUNT),
  ) {
    this.enabled = knobs.count;
    this.hot = knobs.count && knobs.hotKeys > 0 ? new HotKeys(knobs.hotKeys, knobs.maxKeyBytes, knobs.windowMs) : null;
    this.sampleEvery = knobs.sampleEvery;
    this.countdown = knobs.sampleEvery;
  }

  /** One routed request (or one key of a fan-out) for `slot`; `key` null for keyless commands. */
  count(slot: number, key: Buffer | null, bytes: number): void {
    if (!this.enabled) return;
    this.ops[slot]!++;
    this.bytes[slot]! += bytes;
    if (--this.countdown <= 0 && key !== null) this.sample(key, 0, key.length, slot);
  }

  /** count() of the key at buf[start, end): no view of the key is made, sampled or not. */
  countAt(slot: number, buf: Buffer, start: number, end: number, bytes: number): void {
    if (!this.enabled) return;
    this.ops[slot]!++;
    this.bytes[slot]! += bytes;
    if (--this.countdown <= 0) this.sample(buf, start, end, slot);
  }

  /** Offers the key at buf[start, end) to the top-K, and restarts the countdown. */
  private sample(buf: Buffer, start: number, end: number, slot: number): void {
    // xorshift32: a cheap, allocation-free jitter for the next countdown.
    let x = this.rnd;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rnd = x >>> 0;
    this.countdown = 1 + (this.rnd % (2 * this.sampleEvery - 1));
    this.hot?.offerAt(buf, start, end, slot);
  }

  report(limit?: number): ProxyLoadReport {
    const hk = this.hot?.report(limit);
    return {
      at: Date.now(),
      counting: this.enabled,
      ops: Array.from(this.ops),
      bytes: Array.from(this.bytes),
      hotKeys: {
        sampleEvery: this.sampleEvery,
        spanMs: hk?.spanMs ?? 0,
        keys: (hk?.keys ?? []).map((k) => ({
          key: k.key.toString('base64'),
          length: k.length,
          count: k.count * this.sampleEvery,
          error: k.error * this.sampleEvery,
          slot: k.slot,
        })),
      },
    };
  }
}
