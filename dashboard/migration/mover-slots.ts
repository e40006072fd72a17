/**
 * A source mover's state per slot: its progress (what the API shows) plus the target's endpoint and the count of
 * batches in flight, so that dropping a slot (abort) can wait until none of its batches still runs.
 */
import type { RedisEndpoint, SlotMoveState, SlotProgress } from './mover-types.js';

export interface SlotState extends SlotProgress {
  endpoint: RedisEndpoint;
  /** Batches of this slot being measured or moved. */
  inflight: number;
  idle?: () => void;
}

/** States after which nothing more is moved for the slot. */
export const TERMINAL: ReadonlySet<SlotMoveState> = new Set(['done', 'error', 'dropped', 'stopped']);

export function newSlotState(source: string, slot: number, target: RedisEndpoint): SlotState {
  return {
    slot,
    source,
    target: target.addr,
    endpoint: target,
    state: 'moving',
    keysMoved: 0,
    bytesMoved: 0,
    keysFound: 0,
    passes: 0,
    bigKeys: 0,
    inflight: 0,
  };
}

/** One batch of the slot ended; wakes a drop() waiting for the slot to be idle. */
export function batchFinished(s: SlotState): void {
  s.inflight--;
  if (s.inflight === 0 && s.idle) {
    const idle = s.idle;
    s.idle = undefined;
    idle();
  }
}

/** The slot as the API shows it (no endpoint: it carries the target's password). */
export function slotView(s: SlotState): SlotProgress {
  const { endpoint: _e, inflight: _i, idle: _d, ...view } = s;
  return { ...view, error: s.error ? { ...s.error } : undefined };
}
