/**
 * Rebalance by observed load (pure): move slots so that each group's share of the cluster's ops/s follows
 * its weight, using the per-slot ops/s the dashboard aggregates from the proxies (dashboard/load/).
 *
 * - Every group's target load is total * w_g / W. Slots with an action count toward their target group and
 *   never move; offline slots and slots of groups left out (or weight 0) are all given away, each to the
 *   group furthest below its target.
 * - Then, greedily: the group furthest above its target gives the slot whose load best fills the gap to the
 *   group furthest below (the largest slot not exceeding min(excess, deficit), so no move overshoots and the
 *   spread only shrinks). It stops when no such slot exists or the spread is within `tolerance` of the
 *   mean target. A single slot hotter than any gap cannot be split: it stays, and the plan says so
 *   (`unsplittable`), since moving it would only move the hot spot.
 * Slots without load never move here (they cost a migration and change nothing).
 */
import { RedslotError } from '../../shared/errors.js';
import { OFFLINE_GROUP, type SlotRecord } from '../../shared/model/types.js';
import { SLOT_COUNT } from '../../shared/slot.js';
import { MigrationErrors } from './errors.js';
import { effectiveOwner, finish, type Plan, type PlannerGroup, type SlotMove } from './planner.js';

export interface LoadPlan extends Plan {
  load: {
    /** ops/s per group before and after the moves, and the target. */
    before: Record<number, number>;
    after: Record<number, number>;
    target: Record<number, number>;
    /** Slots hotter than any group's gap (they cannot be balanced by moving whole slots). */
    unsplittable: number[];
  };
}

function invalid(reason: string): RedslotError {
  return new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason });
}

function rounded(m: Map<number, number>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const [k, v] of [...m.entries()].sort((a, b) => a[0] - b[0])) out[k] = Math.round(v * 10) / 10;
  return out;
}

export function planRebalanceByLoad(slots: readonly SlotRecord[], groups: readonly PlannerGroup[], slotOps: ArrayLike<number>, tolerance = 0.05): LoadPlan {
  if (slots.length !== SLOT_COUNT || slotOps.length !== SLOT_COUNT) throw invalid(`expected ${SLOT_COUNT} slots and ${SLOT_COUNT} load figures`);
  const weights = new Map(groups.map((g) => [g.id, g.weight ?? 1]));
  const eligible = groups.filter((g) => (g.weight ?? 1) > 0);
  if (eligible.length === 0) throw invalid('no group with a positive weight to place slots on');
  let total = 0;
  for (let i = 0; i < SLOT_COUNT; i++) total += Math.max(0, slotOps[i] ?? 0);
  if (!(total > 0)) throw invalid('no load observed yet (the dashboard reads the proxies\' per-slot counters every second); send traffic or rebalance by slot count');
  const W = eligible.reduce((a, g) => a + (g.weight ?? 1), 0);
  const target = new Map(eligible.map((g) => [g.id, (total * (g.weight ?? 1)) / W]));
  const load = new Map<number, number>();
  for (const g of eligible) load.set(g.id, 0);
  const owner = new Map<number, number>();
  const before = new Map<number, number>();
  for (const s of slots) {
    const o = effectiveOwner(s);
    const ops = Math.max(0, slotOps[s.id] ?? 0);
    before.set(o, (before.get(o) ?? 0) + ops);
    owner.set(s.id, o);
    if (load.has(o)) load.set(o, load.get(o)! + ops);
  }
  const moves: SlotMove[] = [];
  const gap = (g: number) => target.get(g)! - load.get(g)!;
  const neediest = () => eligible.reduce((a, b) => (gap(b.id) > gap(a.id) ? b : a)).id;
  const move = (slot: number, to: number) => {
    const from = owner.get(slot)!;
    const ops = Math.max(0, slotOps[slot] ?? 0);
    moves.push({ slot, from, to });
    owner.set(slot, to);
    if (load.has(from)) load.set(from, load.get(from)! - ops);
    load.set(to, load.get(to)! + ops);
  };
  // Offline slots and slots of excluded / drained groups: all of them go, hottest first, to the neediest.
  const leaving = slots.filter((s) => !s.action && (s.group === OFFLINE_GROUP || !((weights.get(s.group) ?? 0) > 0))).map((s) => s.id);
  leaving.sort((a, b) => (slotOps[b] ?? 0) - (slotOps[a] ?? 0));
  for (const sid of leaving) move(sid, neediest());
  // Idle slots with load, per group, hottest first.
  const idle = new Map<number, number[]>();
  for (const s of slots) {
    if (s.action || !load.has(owner.get(s.id)!) || !((slotOps[s.id] ?? 0) > 0) || moves.some((m) => m.slot === s.id)) continue;
    const g = owner.get(s.id)!;
    idle.set(g, [...(idle.get(g) ?? []), s.id]);
  }
  for (const list of idle.values()) list.sort((a, b) => (slotOps[b] ?? 0) - (slotOps[a] ?? 0));
  const unsplittable = new Set<number>();
  const tol = (tolerance * total) / eligible.length;
  for (let guard = 0; guard < SLOT_COUNT; guard++) {
    const giver = eligible.reduce((a, b) => (gap(b.id) < gap(a.id) ? b : a)).id;
    const taker = neediest();
    const excess = -gap(giver);
    const deficit = gap(taker);
    if (giver === taker || excess <= tol || deficit <= tol) break;
    const room = Math.min(excess, deficit);
    const list = idle.get(giver) ?? [];
    const i = list.findIndex((sid) => (slotOps[sid] ?? 0) <= room);
    if (i < 0) {
      if (list[0] !== undefined) unsplittable.add(list[0]);
      break;
    }
    const sid = list.splice(i, 1)[0]!;
    move(sid, taker);
    idle.set(taker, [...(idle.get(taker) ?? []), sid].sort((a, b) => (slotOps[b] ?? 0) - (slotOps[a] ?? 0)));
  }
  const plan = finish(slots, moves, new Map());
  const after = new Map<number, number>();
  for (let sid = 0; sid < SLOT_COUNT; sid++) {
    const o = owner.get(sid)!;
    after.set(o, (after.get(o) ?? 0) + Math.max(0, slotOps[sid] ?? 0));
  }
  return { ...plan, load: { before: rounded(before), after: rounded(after), target: rounded(target), unsplittable: [...unsplittable] } };
}
