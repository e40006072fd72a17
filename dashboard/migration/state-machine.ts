/**
 * The slot-action state machine, as pure functions over persisted records (no I/O here).
 *
 *   pending -> preparing -> prepared -> migrating -> finished -> cleared ({ group: target }, no action)
 *
 * What each state tells proxies is `routeOf()` in shared/model/topology.ts. The scheduler (scheduler.ts) moves a
 * slot one step at a time, and only after every live proxy acknowledged the revision that carries the slot's
 * current state (the barrier); every step is a CAS txn on the slot's modRevision, persisted before it takes
 * effect. `migrating -> finished` additionally needs the mover's verification (a full SCAN pass found no key
 * of the slot on the source).
 *
 * Abort:
 * - pending / preparing / prepared: the action is removed (the slot stays with its source). Safe for prepared
 *   too: no proxy can be past `prepared` (migrating was never persisted), so nothing reached the target.
 * - migrating / finished: a reversed action { group: old target, action: { state: prepared, target: old
 *   source, aborted } }. Every proxy holds the slot in `prepared` (and drains its in-flight source->target
 *   MIGRATEs) before any proxy moves keys back, then the reversed action runs the normal protocol: keys already
 *   moved go back with migrate-on-access and the mover, and the slot ends at its source.
 * - an action that is itself an abort is not reversed again.
 */
import { randomBytes } from 'node:crypto';
import { RedslotError } from '../../shared/errors.js';
import type { SlotAction, SlotActionState, SlotRecord } from '../../shared/model/types.js';
import { MigrationErrors } from './errors.js';

export const STATES: readonly SlotActionState[] = ['pending', 'preparing', 'prepared', 'migrating', 'finished'];

/** States where the slot was picked (counts against parallelSlots). */
export function isStarted(a: SlotAction | undefined): boolean {
  return a !== undefined && a.state !== 'pending';
}

/** The record after one step forward. `finished` becomes the plain mapping { id, group: target }. */
export function advance(slot: SlotRecord): SlotRecord {
  const a = slot.action;
  if (!a) throw new Error(`slot ${slot.id} has no action to advance`);
  switch (a.state) {
    case 'pending':
      return { ...slot, action: { ...a, state: 'preparing' } };
    case 'preparing':
      return { ...slot, action: { ...a, state: 'prepared' } };
    case 'prepared':
      return { ...slot, action: { ...a, state: 'migrating' } };
    case 'migrating':
      return { ...slot, action: { ...a, state: 'finished' } };
    case 'finished':
      return { id: slot.id, group: a.target };
  }
}

/** The name of the state a slot enters with advance() (for logs and metrics). */
export function nextStateName(slot: SlotRecord): SlotActionState | 'cleared' {
  const a = slot.action!;
  const i = STATES.indexOf(a.state);
  return i === STATES.length - 1 ? 'cleared' : STATES[i + 1]!;
}

export type AbortKind = 'cancel' | 'reverse';

/** What aborting a slot writes, or throws ABORT_REFUSED. `index` orders a reversed action in the queue. */
export function abortRecord(slot: SlotRecord, index: number): { kind: AbortKind; record: SlotRecord } {
  const a = slot.action;
  if (!a) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_ABORT_REFUSED, { slot: slot.id, reason: 'it has no action' });
  if (a.aborted) {
    throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_ABORT_REFUSED, { slot: slot.id, reason: 'it is already going back to its source' });
  }
  if (a.state === 'pending' || a.state === 'preparing' || a.state === 'prepared') {
    return { kind: 'cancel', record: { id: slot.id, group: slot.group } };
  }
  const reversed: SlotAction = { state: 'prepared', target: slot.group, index, aborted: true };
  if (a.job !== undefined) reversed.job = a.job;
  return { kind: 'reverse', record: { id: slot.id, group: a.target, action: reversed } };
}

/** Identity of one action instance (a retried or reversed action is a different one). */
export function actionKey(slot: SlotRecord): string {
  const a = slot.action;
  return a ? `${slot.id}:${slot.group}>${a.target}#${a.index}${a.aborted ? 'r' : ''}` : `${slot.id}:idle`;
}

// --- persisted job and settings records -------------------------------------------------------------------

export type JobKind = 'rebalance' | 'range' | 'some';
export type JobState = 'running' | 'aborting' | 'done' | 'aborted';

export interface JobRecord {
  id: string;
  kind: JobKind;
  state: JobState;
  createdAt: string;
  createdBy: string;
  /** Human summary ("rebalance over groups 1,2,3", "slots 0-99 -> group 2"). */
  description: string;
  /** The planned moves (slot, from, to); the slots carry `action.job = id` while in flight. */
  moves: Array<{ slot: number; from: number; to: number }>;
  /** Request parameters, for the audit trail. */
  params?: unknown;
  abortedAt?: string;
  finishedAt?: string;
  /** Totals counted by the leader(s) that ran the mover for this job (best effort across leader changes). */
  keysMoved?: number;
  bytesMoved?: number;
}

export function newJobId(now = Date.now()): string {
  return `${String(now).padStart(13, '0')}-${randomBytes(3).toString('hex')}`;
}

export function parseJob(value: string): JobRecord | undefined {
  try {
    const j = JSON.parse(value) as JobRecord;
    if (typeof j.id !== 'string' || !Array.isArray(j.moves)) return undefined;
    return j;
  } catch {
    return undefined;
  }
}

/** Runtime knobs kept in the coordinator (`settings/migration`) so a new leader inherits them. */
export interface MigrationSettings {
  paused: boolean;
  /** 0 = unlimited. */
  keysPerSec: number;
  /** 0 = unlimited. */
  bytesPerSec: number;
  /** Slots in flight (preparing .. finished) at once. */
  parallelSlots: number;
}

export const DEFAULT_SETTINGS: MigrationSettings = { paused: false, keysPerSec: 0, bytesPerSec: 0, parallelSlots: 512 };

export function parseSettings(value: string | undefined): MigrationSettings {
  if (value === undefined) return { ...DEFAULT_SETTINGS };
  try {
    const raw = JSON.parse(value) as Partial<MigrationSettings>;
    const num = (v: unknown, d: number, min: number, max: number): number =>
      typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : d;
    return {
      paused: raw.paused === true,
      keysPerSec: num(raw.keysPerSec, 0, 0, 1e12),
      bytesPerSec: num(raw.bytesPerSec, 0, 0, 1e15),
      parallelSlots: Math.floor(num(raw.parallelSlots, DEFAULT_SETTINGS.parallelSlots, 1, 1024)),
    };
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
}
