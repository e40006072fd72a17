/**
 * The mover's load probe: every 250 ms, INFO stats + commandstats on the source, over the last second:
 * - client commands/s = all commands minus the mover's own (counted as sent, inner script calls included,
 *   so a batch in flight at a sample shifts at most one batch's worth between windows: busyClientOps must
 *   stay above 2 lanes x (2 x batchKeys) per second);
 * - the source's time spent in the mover's MIGRATE and EVAL calls per key moved (MIGRATE's includes the
 *   wait for the target, during which the source serves nobody).
 * While clients are active, the lanes are limited to loadedDuty x (1 s / that time per key) keys/s.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/log.js';
import type { MoverLinks } from './mover-links.js';
import type { MoverKnobs } from './mover-types.js';
import { Throttle } from './throttle.js';

/** One look at the source's counters. */
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

export class LoadPacer {
  /** Client commands/s on the source besides the mover's (last second). */
  clientOps = 0;
  /** True while pacing for client load. */
  pacing = false;
  /** Source time (µs) per key moved: MIGRATE alone, and everything the mover runs there (INFO commandstats). */
  migrateUsPerKey = 0;
  moverUsPerKey = 0;
  /** Last cmdstat usec totals seen on the source (logged at the end). */
  lastUsec: Record<string, number> = {};
  private readonly samples: LoadSample[] = [];
  private first: LoadSample | undefined;
  /** The rate limit applied while pacing (loadedDuty of what the source can do). */
  private readonly throttle = new Throttle();

  constructor(
    private readonly knobs: MoverKnobs,
    private readonly links: MoverLinks,
    private readonly keysMoved: () => number,
    private readonly log: Logger,
  ) {}

  /** Whether the knobs ask for pacing at all. */
  get enabled(): boolean {
    return this.knobs.busyClientOps > 0 && this.knobs.loadedDuty < 1;
  }

  /** Waits for room for `keys` while pacing; returns at once otherwise. */
  async take(keys: number, signal?: AbortSignal): Promise<void> {
    if (this.pacing) await this.throttle.take(keys, 0, signal);
  }

  /** Probes until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const conn = this.links.probe();
    const usec = (text: string, cmd: string): number => Number(new RegExp(`^cmdstat_${cmd}:calls=\\d+,usec=(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    while (!signal.aborted) {
      try {
        const r = await this.links.call(conn, ['INFO', 'stats', 'commandstats']);
        const text = Buffer.isBuffer(r) ? r.toString('latin1') : '';
        const m = /total_commands_processed:(\d+)/.exec(text);
        if (m) {
          const mig = usec(text, 'migrate');
          this.lastUsec = { migrate: mig, eval: usec(text, 'eval'), scan: usec(text, 'scan'), select: usec(text, 'select'), evalsha: usec(text, 'evalsha') };
          this.observe({ t: performance.now(), total: Number(m[1]), own: this.links.sourceCommands, migrateUs: mig, moverUs: mig + usec(text, 'eval') + usec(text, 'scan'), keys: this.keysMoved() });
        }
      } catch {
        // The source is slow or gone: the move loop finds out and reports; keep the last verdict.
      }
      await sleep(250, undefined, { signal }).catch(() => undefined);
    }
  }

  private observe(sample: LoadSample): void {
    const now = sample.t;
    this.samples.push(sample);
    while (this.samples.length > 2 && now - this.samples[0]!.t > 1000) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (now - first.t) / 1000;
    if (dt < 0.2) return;
    const ops = Math.max(0, (sample.total - first.total - (sample.own - first.own)) / dt);
    this.clientOps = Math.round(ops);
    // Source time per key since the mover started (steadier than the last second: a window can hold
    // the usec of a batch whose keys the next one counts, or a verifying pass that moves nothing).
    this.first ??= sample;
    const keys = sample.keys - this.first.keys;
    if (keys >= 1000) {
      this.migrateUsPerKey = (sample.migrateUs - this.first.migrateUs) / keys;
      this.moverUsPerKey = (sample.moverUs - this.first.moverUs) / keys;
    }
    const pacing = ops > this.knobs.busyClientOps;
    if (pacing) {
      // Until 1000 keys tell the source's time per key, assume 20 µs (measured: ~12 µs for small keys).
      const us = this.moverUsPerKey > 0 ? this.moverUsPerKey : 20;
      this.throttle.set({ keysPerSec: Math.max(100, Math.round((this.knobs.loadedDuty * 1e6) / us)) });
    }
    if (pacing !== this.pacing) {
      this.log.info(pacing ? 'mover.pacing_on' : 'mover.pacing_off', {
        clientOpsPerSec: this.clientOps,
        duty: this.knobs.loadedDuty,
        usPerKey: Math.round(this.moverUsPerKey * 10) / 10,
        keysPerSec: this.throttle.rates().keysPerSec,
      });
    }
    this.pacing = pacing;
  }
}
