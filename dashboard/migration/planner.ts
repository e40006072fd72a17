/**
 * Migration planner (pure): which slots move where.
 *
 * - rebalance: each group gets slots in proportion to its weight (default 1), moving as few slots as possible;
 * - move range a-b to group g;
 * - move N slots from group A to group B.
 *
 * Rules shared by all three:
 * - a slot with an action (pending or started) counts toward its TARGET and is never moved again by a plan;
 * - a giver gives its highest-numbered idle slots (a group owning one range keeps a contiguous head), and the
 *   given slots, in id order, fill receivers one after the other, so each receiver gets contiguous runs;
 * - offline slots (group 0) and slots of groups left out of a rebalance (or weight 0) are all given away.
 *
 * Minimality: with quota q_g = 1024 * w_g / W, every target is floor(q_g) or ceil(q_g) and the targets sum to
 * 1024. The extra "+1"s go first to groups that already hold more than floor(q_g) (each saves one move), so the
 * number of moves equals the lower bound: offline/excluded idle slots + sum over groups of max(0, c_g - t_g).
 */
import { SLOT_COUNT } from '../../shared/slot.js';
import { OFFLINE_GROUP, type SlotRecord } from '../../shared/model/types.js';
import { RedslotError } from '../../shared/errors.js';
import { MigrationErrors } from './errors.js';

export interface PlannerGroup {
  id: number;
  /** Relative share (default 1). 0 = drain this group. */
  weight?: number;
}

export interface SlotMove {
  slot: number;
  from: number;
  to: number;
}

export interface MoveRange {
  from: number;
  to: number;
  /** Inclusive slot range [first, last]. */
  first: number;
  last: number;
}

export interface Plan {
  moves: SlotMove[];
  /** Slot count per group before (effective owners: in-flight actions count toward their target). */
  before: Record<number, number>;
  /** Slot count per group after the plan (and every in-flight action) completes. */
  after: Record<number, number>;
  /** Target count per group (rebalance only; empty otherwise). */
  targets: Record<number, number>;
  /** The moves summarised as contiguous ranges per (from, to), for previews. */
  ranges: MoveRange[];
  /** Slots with an action in flight (they count toward their target, the plan leaves them alone). */
  inFlight: number;
}

/** Where a slot's keys will live once its action (if any) completes. */
export function effectiveOwner(slot: SlotRecord): number {
  return slot.action ? slot.action.target : slot.group;
}

function invalid(reason: string): RedslotError {
  return new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason });
}

function checkSlots(slots: readonly SlotRecord[]): void {
  if (slots.length !== SLOT_COUNT) throw invalid(`expected ${SLOT_COUNT} slot records, got ${slots.length}`);
}

function counts(slots: readonly SlotRecord[]): Map<number, number> {
  const c = new Map<number, number>();
  for (const s of slots) {
    const o = effectiveOwner(s);
    c.set(o, (c.get(o) ?? 0) + 1);
  }
  return c;
}

function toRecord(m: Map<number, number>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [k, v] of [...m.entries()].sort((a, b) => a[0] - b[0])) if (v > 0) out[k] = v;
  return out;
}

/** Contiguous runs of moves with the same (from, to), in slot order. */
export function summarizeMoves(moves: readonly SlotMove[]): MoveRange[] {
  const sorted = [...moves].sort((a, b) => a.slot - b.slot);
  const out: MoveRange[] = [];
  for (const m of sorted) {
    const last = out[out.length - 1];
    if (last && last.from === m.from && last.to === m.to && last.last === m.slot - 1) last.last = m.slot;
    else out.push({ from: m.from, to: m.to, first: m.slot, last: m.slot });
  }
  return out;
}

/** A plan from its moves: before/after slot counts, ranges, in-flight count (also the load planner's). */
export function finish(slots: readonly SlotRecord[], moves: SlotMove[], targets: Map<number, number>): Plan {
  const before = counts(slots);
  const after = new Map(before);
  for (const m of moves) {
    after.set(m.from, (after.get(m.from) ?? 0) - 1);
    after.set(m.to, (after.get(m.to) ?? 0) + 1);
  }
  moves.sort((a, b) => a.slot - b.slot);
  return {
    moves,
    before: toRecord(before),
    after: toRecord(after),
    targets: toRecord(targets),
    ranges: summarizeMoves(moves),
    inFlight: slots.filter((s) => s.action !== undefined).length,
  };
}

/**
 * Target slot count per group: floor or ceil of its weighted quota, summing to SLOT_COUNT, the ceils given to
 * the groups that would otherwise have to give a slot away (then larger remainder, then lower id).
 */
export function weightedTargets(groups: readonly PlannerGroup[], current: ReadonlyMap<number, number>): Map<number, number> {
  const eligible = groups.filter((g) => (g.weight ?? 1) > 0);
  if (eligible.length === 0) throw invalid('no group with a positive weight to place slots on');
  const ids = new Set<number>();
  for (const g of groups) {
    if (!Number.isInteger(g.id) || g.id <= 0) throw invalid(`group id ${g.id} is not a positive integer`);
    if (ids.has(g.id)) throw invalid(`group ${g.id} listed twice`);
    ids.add(g.id);
    const w = g.weight ?? 1;
    if (!Number.isFinite(w) || w < 0) throw invalid(`group ${g.id} has weight ${w}; weights must be finite and >= 0`);
  }
  const total = eligible.reduce((s, g) => s + (g.weight ?? 1), 0);
  const rows = eligible.map((g) => {
    const q = (SLOT_COUNT * (g.weight ?? 1)) / total;
    // Guard against 341.99999999 style float noise: snap to an integer when within 1e-9.
    const snapped = Math.abs(q - Math.round(q)) < 1e-9 ? Math.round(q) : q;
    const floor = Math.floor(snapped);
    return { id: g.id, floor, frac: snapped - floor, cur: current.get(g.id) ?? 0 };
  });
  let extra = SLOT_COUNT - rows.reduce((s, r) => s + r.floor, 0);
  const targets = new Map(rows.map((r) => [r.id, r.floor] as [number, number]));
  const order = [...rows].sort((a, b) => {
    const aFrac = a.frac > 0 ? 1 : 0;
    const bFrac = b.frac > 0 ? 1 : 0;
    if (aFrac !== bFrac) return bFrac - aFrac; // only fractional quotas may round up
    const aSaves = a.cur > a.floor ? 1 : 0;
    const bSaves = b.cur > b.floor ? 1 : 0;
    if (aSaves !== bSaves) return bSaves - aSaves;
    if (a.frac !== b.frac) return b.frac - a.frac;
    return a.id - b.id;
  });
  for (const r of order) {
    if (extra <= 0) break;
    targets.set(r.id, r.floor + 1);
    extra--;
  }
  return targets;
}

/** Moves `given` slots (ascending) into receivers in order, each up to its deficit. */
function fill(given: number[], receivers: Array<{ id: number; need: number }>, ownerOf: (s: number) => number): SlotMove[] {
  const moves: SlotMove[] = [];
  let r = 0;
  for (const slot of given.sort((a, b) => a - b)) {
    while (r < receivers.length && receivers[r]!.need <= 0) r++;
    const recv = receivers[r];
    if (!recv) break;
    moves.push({ slot, from: ownerOf(slot), to: recv.id });
    recv.need--;
  }
  return moves;
}

/**
 * Rebalance over `groups` (the groups that should hold slots, with their weights). Slots of any other group,
 * of weight-0 groups and offline slots are given away. Idempotent: a table already within 1 of every quota
 * gives no moves.
 */
export function planRebalance(slots: readonly SlotRecord[], groups: readonly PlannerGroup[]): Plan {
  checkSlots(slots);
  const current = counts(slots);
  const targets = weightedTargets(groups, current);
  const idleByOwner = new Map<number, number[]>();
  for (const s of slots) {
    if (s.action) continue;
    const list = idleByOwner.get(s.group) ?? [];
    list.push(s.id);
    idleByOwner.set(s.group, list);
  }
  const given: number[] = [];
  for (const [owner, idle] of idleByOwner) {
    const target = targets.get(owner);
    // Not a rebalance member (or offline): everything idle goes.
    const surplus = target === undefined ? idle.length : Math.min(idle.length, (current.get(owner) ?? 0) - target);
    if (surplus <= 0) continue;
    idle.sort((a, b) => a - b);
    given.push(...idle.slice(idle.length - surplus));
  }
  const receivers = [...targets.entries()]
    .map(([id, t]) => ({ id, need: t - (current.get(id) ?? 0) }))
    .filter((r) => r.need > 0)
    .sort((a, b) => a.id - b.id);
  const moves = fill(given, receivers, (s) => slots[s]!.group);
  return finish(slots, moves, targets);
}

function checkGroup(gid: number, known: ReadonlySet<number> | undefined, what: string): void {
  if (!Number.isInteger(gid) || gid <= 0) throw invalid(`${what} group ${gid} is not a positive integer`);
  if (known && !known.has(gid)) throw invalid(`${what} group ${gid} does not exist`);
}

function busy(slotIds: number[]): RedslotError {
  const shown = slotIds.slice(0, 20).join(',') + (slotIds.length > 20 ? `,... (${slotIds.length} in all)` : '');
  return new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_SLOT_BUSY, { slots: shown });
}

/**
 * Moves every slot in [first, last] to group `to`. Slots already owned by `to` (or already on their way there)
 * are skipped; a slot with an action toward another group refuses the whole plan.
 */
export function planMoveRange(
  slots: readonly SlotRecord[],
  first: number,
  last: number,
  to: number,
  knownGroups?: ReadonlySet<number>,
): Plan {
  checkSlots(slots);
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last >= SLOT_COUNT || first > last) {
    throw invalid(`range ${first}-${last} is not within 0-${SLOT_COUNT - 1} with first <= last`);
  }
  checkGroup(to, knownGroups, 'target');
  const moves: SlotMove[] = [];
  const conflicts: number[] = [];
  for (let s = first; s <= last; s++) {
    const rec = slots[s]!;
    if (effectiveOwner(rec) === to) continue;
    if (rec.action) conflicts.push(s);
    else moves.push({ slot: s, from: rec.group, to });
  }
  if (conflicts.length > 0) throw busy(conflicts);
  return finish(slots, moves, new Map());
}

/** Moves `n` idle slots of group `from` to group `to`: the highest-numbered ones (a contiguous tail if possible). */
export function planMoveSome(
  slots: readonly SlotRecord[],
  n: number,
  from: number,
  to: number,
  knownGroups?: ReadonlySet<number>,
): Plan {
  checkSlots(slots);
  if (!Number.isInteger(n) || n <= 0 || n > SLOT_COUNT) throw invalid(`N = ${n} must be an integer in 1..${SLOT_COUNT}`);
  checkGroup(from, knownGroups, 'source');
  checkGroup(to, knownGroups, 'target');
  if (from === to) throw invalid(`source and target are both group ${from}`);
  const idle = slots.filter((s) => !s.action && s.group === from).map((s) => s.id);
  if (idle.length < n) throw invalid(`group ${from} has ${idle.length} idle slot(s), fewer than ${n}`);
  const moves = idle.slice(idle.length - n).map((slot) => ({ slot, from, to }));
  return finish(slots, moves, new Map());
}

/** True when group id 0 (offline) appears as a source: those moves carry no data. */
export function isOfflineMove(m: SlotMove): boolean {
  return m.from === OFFLINE_GROUP;
}
