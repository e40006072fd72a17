/**
 * The persisted split record (coordinator key splits/<source gid>) and its steps, as pure functions.
 *
 *   syncing -> locked -> promoting -> switching -> purging -> attaching -> done
 *      \---------\----------\-> aborting -> aborted          (abort only before `switching`)
 *
 * - syncing:   the target's master replicates the source's (REPLICAOF); both groups carry a split marker
 *              (the target is hidden from cluster-wide commands).
 * - locked:    the moving slots are held at every proxy (marker `locked` on both groups, written with this
 *              step in one txn); the runner waits for the barrier, then for the target's replication offset.
 * - promoting: the offset to reach is recorded; the target is promoted (REPLICAOF NO ONE); then ONE txn writes
 *              `switching` with both markers `switched` (listing the moving slots): from that revision proxies
 *              route the moving slots to the target whatever their slot records say, and the hold is released.
 * - switching: outside the hold, the slot records are rewritten to the target (CAS chunks), then one txn sets
 *              both markers to `purging`.
 * - purging:   leftover keys are deleted in the background (moved slots on the source, the rest on the target).
 * - attaching: the markers are gone; the new group's replicas (chained to its master during the sync) are
 *              checked to follow it with every write of the purge, re-pointed if needed (replicas.ts).
 * - aborting:  the source's hold is gone (same txn); the target is detached and flushed, then its marker removed.
 * A new leader resumes from the persisted step: every step's actions are idempotent.
 */
import { randomBytes } from 'node:crypto';
import type { ReplicaOutcome } from './replicas.js';

export type SplitStep = 'syncing' | 'locked' | 'promoting' | 'switching' | 'purging' | 'attaching' | 'done' | 'aborting' | 'aborted' | 'failed';

export const ACTIVE_STEPS: readonly SplitStep[] = ['syncing', 'locked', 'promoting', 'switching', 'purging', 'attaching', 'aborting'];
/** Steps an operator may abort from (before any slot changed owner). */
export const ABORTABLE_STEPS: readonly SplitStep[] = ['syncing', 'locked', 'promoting'];

export type SlotRanges = Array<[number, number]>;

export interface HoldParts {
  lockTxn: number;
  barrier: number;
  catchUp: number;
  promote: number;
}

export interface SplitRecord {
  id: string;
  source: number;
  target: number;
  /** Masters when the split started; a change of either stops the split. */
  sourceMaster: string;
  targetMaster: string;
  /** The moving slots. */
  slots: SlotRanges;
  step: SplitStep;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  /** Epoch ms when the hold began (the `locked` txn). */
  lockedAtMs?: number;
  /** The source's master_repl_offset the target had reached when it was promoted, and the source's replid. */
  switchOffset?: number;
  sourceReplId?: string;
  /** From the `locked` txn to the txn releasing the hold (ms). */
  holdMs?: number;
  /** Where the hold went (ms): the lock txn, the proxies' barrier, the new master catching up (and the promoting write), REPLICAOF NO ONE and its proof. */
  holdPartsMs?: HoldParts;
  switchedAt?: string;
  purge?: { sourceDeleted: number; targetDeleted: number };
  /** Epoch ms when `attaching` began (its replicaTimeoutMs counts from there, across leaders). */
  attachingSinceMs?: number;
  /** The new group's replicas when the split ended: attached (following the new master, caught up) or not. */
  replicas?: ReplicaOutcome[];
  finishedAt?: string;
  /** Why it was aborted or failed. */
  reason?: string;
  warnings?: string[];
}

export function newSplitId(now = Date.now()): string {
  return `split-${String(now).padStart(13, '0')}-${randomBytes(3).toString('hex')}`;
}

export function parseSplit(value: string): SplitRecord | undefined {
  try {
    const r = JSON.parse(value) as SplitRecord;
    if (typeof r.id !== 'string' || typeof r.source !== 'number' || !Array.isArray(r.slots) || typeof r.step !== 'string') return undefined;
    return r;
  } catch {
    return undefined;
  }
}

export function isActive(r: SplitRecord): boolean {
  return ACTIVE_STEPS.includes(r.step);
}

/** Contiguous inclusive ranges of sorted slot ids. */
export function toRanges(ids: readonly number[]): SlotRanges {
  const out: SlotRanges = [];
  for (const id of [...ids].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && last[1] === id - 1) last[1] = id;
    else if (!last || last[1] !== id) out.push([id, id]);
  }
  return out;
}

/** A 1024-entry membership table of the ranges. */
export function slotSet(ranges: SlotRanges): Uint8Array {
  const set = new Uint8Array(1024);
  for (const [from, to] of ranges) for (let s = from; s <= to; s++) set[s] = 1;
  return set;
}

export function countSlots(ranges: SlotRanges): number {
  let n = 0;
  for (const [from, to] of ranges) n += to - from + 1;
  return n;
}

export function describeRanges(ranges: SlotRanges): string {
  return ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
}
