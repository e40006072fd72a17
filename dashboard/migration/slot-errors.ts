/**
 * The last error of each slot's action, shown (API, CLI, UI) until the action changes or succeeds, and the
 * retry rule: a failed big key blocked its source for the whole attempt and a refused one would be refused again,
 * so those wait for the operator (`migration resume`); everything else is retried after `retryMs`.
 */
import type { Logger } from '../../shared/log.js';
import type { SlotRecord } from '../../shared/model/types.js';
import type { MigrationMetrics } from '../metrics/migration.js';
import { MigrationErrors } from './errors.js';
import { actionKey } from './state-machine.js';

export interface SlotErrorView {
  slot: number;
  code: string;
  message: string;
  at: string;
}

interface SlotError extends SlotErrorView {
  /** The action it belongs to (actionKey). */
  key: string;
  /** Not retried before this time (Infinity: waits for the operator). */
  retryAt: number;
}

/** Slot errors not retried automatically (the operator fixes the cause, then `migration resume`). */
const STICKY_ERRORS: ReadonlySet<string> = new Set([
  MigrationErrors.REDSLOT_ERR_MIGRATION_BIGKEY_FAILED.code,
  MigrationErrors.REDSLOT_ERR_MIGRATION_BIGKEY_REFUSED.code,
]);

export class SlotErrors {
  private readonly bySlot = new Map<number, SlotError>();

  constructor(
    private readonly log: Logger,
    private readonly metrics: MigrationMetrics | undefined,
    private readonly retryMs: number,
  ) {}

  note(s: SlotRecord, err: { code: string; message: string }): void {
    const key = actionKey(s);
    const prev = this.bySlot.get(s.id);
    const retryAt = STICKY_ERRORS.has(err.code) ? Number.POSITIVE_INFINITY : Date.now() + this.retryMs;
    this.bySlot.set(s.id, { slot: s.id, code: err.code, message: err.message, at: new Date().toISOString(), key, retryAt });
    if (!prev || prev.code !== err.code || prev.key !== key) {
      this.metrics?.slotErrors.inc({ code: err.code });
      this.log.error('migration.slot_error', { slot: s.id, code: err.code, message: err.message });
    }
  }

  /** The error of the slot's action `key`, if that action has one. */
  of(slot: number, key: string): SlotErrorView | undefined {
    const e = this.bySlot.get(slot);
    return e && e.key === key ? view(e) : undefined;
  }

  /** True while the action `key` of `slot` failed and must not be retried yet. */
  waiting(slot: number, key: string, now = Date.now()): boolean {
    const e = this.bySlot.get(slot);
    return e !== undefined && e.key === key && e.retryAt > now;
  }

  /** The action succeeded. */
  clear(slot: number, key: string): void {
    if (this.bySlot.get(slot)?.key === key) this.bySlot.delete(slot);
  }

  /** Forgets errors of actions that no longer exist. */
  dropStale(live: ReadonlySet<string>): void {
    for (const [slot, e] of this.bySlot) if (!live.has(e.key)) this.bySlot.delete(slot);
  }

  /** The operator resumed: slots waiting for it are retried now. Returns them. */
  retrySticky(): number[] {
    const waiting = [...this.bySlot.values()].filter((e) => e.retryAt === Number.POSITIVE_INFINITY);
    for (const e of waiting) e.retryAt = 0;
    return waiting.map((e) => e.slot);
  }

  list(): SlotErrorView[] {
    return [...this.bySlot.values()].map(view);
  }
}

function view(e: SlotError): SlotErrorView {
  return { slot: e.slot, code: e.code, message: e.message, at: e.at };
}
