import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SLOT_COUNT } from '../../shared/slot.js';
import { slotsFromRanges, emptySlots } from '../../shared/model/topology.js';
import type { SlotRecord } from '../../shared/model/types.js';
import {
  effectiveOwner,
  planMoveRange,
  planMoveSome,
  planRebalance,
  summarizeMoves,
  type Plan,
  type PlannerGroup,
} from '../../dashboard/migration/planner.js';
import { RedslotError } from '../../shared/errors.js';

/** Owner of every slot once the plan and all in-flight actions completed. */
function applyPlan(slots: SlotRecord[], plan: Plan): number[] {
  const owner = slots.map(effectiveOwner);
  for (const m of plan.moves) {
    expect(owner[m.slot], `move of slot ${m.slot} starts from its current owner`).toBe(m.from);
    owner[m.slot] = m.to;
  }
  return owner;
}

function countOf(owner: number[]): Map<number, number> {
  const c = new Map<number, number>();
  for (const o of owner) c.set(o, (c.get(o) ?? 0) + 1);
  return c;
}

/**
 * Independent lower bound on the number of moves: every idle slot of a non-member (offline, dropped group) must
 * move, and a member can keep at most ceil(quota) slots; when there are fewer "ceil" seats than members that
 * hold more than floor(quota), the rest of them can keep only floor(quota).
 */
function lowerBound(slots: SlotRecord[], groups: PlannerGroup[]): number {
  const members = groups.filter((g) => (g.weight ?? 1) > 0);
  const W = members.reduce((s, g) => s + (g.weight ?? 1), 0);
  const cur = countOf(slots.map(effectiveOwner));
  const memberIds = new Set(members.map((g) => g.id));
  let lb = slots.filter((s) => !s.action && !memberIds.has(s.group)).length;
  const rows = members.map((g) => {
    const q = (SLOT_COUNT * (g.weight ?? 1)) / W;
    const fl = Math.abs(q - Math.round(q)) < 1e-9 ? Math.round(q) : Math.floor(q);
    return { c: cur.get(g.id) ?? 0, fl, fractional: Math.abs(q - Math.round(q)) >= 1e-9 };
  });
  const seats = SLOT_COUNT - rows.reduce((s, r) => s + r.fl, 0);
  // Every member over floor saves one move per "+1" seat it gets; seats are limited.
  const overFloor = rows.filter((r) => r.fractional && r.c > r.fl).length;
  const saved = Math.min(seats, overFloor);
  lb += rows.reduce((s, r) => s + Math.max(0, r.c - r.fl), 0) - saved;
  return lb;
}

const arbGroups = fc
  .uniqueArray(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 6 })
  .chain((ids) =>
    fc.tuple(
      fc.constant(ids),
      fc.array(fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 8 })), { minLength: ids.length, maxLength: ids.length }),
    ),
  )
  .map(([ids, ws]) => ids.map((id, i) => ({ id, weight: ws[i]! })));

/** A random table: each slot owned by one of the groups, a dropped group (99) or offline (0); some with actions. */
function arbTable(groups: PlannerGroup[]): fc.Arbitrary<SlotRecord[]> {
  const ids = groups.map((g) => g.id);
  const owners = [...ids, 99, 0];
  return fc
    .tuple(
      fc.array(fc.constantFrom(...owners), { minLength: SLOT_COUNT, maxLength: SLOT_COUNT }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: SLOT_COUNT - 1 }), fc.constantFrom(...ids)), { maxLength: 30 }),
    )
    .map(([own, actions]) => {
      const slots: SlotRecord[] = own.map((g, id) => ({ id, group: g }));
      actions.forEach(([sid, target], i) => {
        const s = slots[sid]!;
        if (s.group !== 0 && s.group !== target) s.action = { state: 'pending', target, index: i + 1 };
      });
      return slots;
    });
}

const arbCase = arbGroups.chain((groups) => fc.tuple(fc.constant(groups), arbTable(groups)));

describe('planRebalance properties', () => {
  it('sums to 1024, every member within 1 of its weighted quota, non-members emptied', () => {
    fc.assert(
      fc.property(arbCase, ([groups, slots]) => {
        const plan = planRebalance(slots, groups);
        const owner = applyPlan(slots, plan);
        const c = countOf(owner);
        const W = groups.reduce((s, g) => s + (g.weight ?? 1), 0);
        let sum = 0;
        for (const g of groups) {
          const got = c.get(g.id) ?? 0;
          sum += got;
          const quota = (SLOT_COUNT * (g.weight ?? 1)) / W;
          expect(Math.abs(got - quota), `group ${g.id} got ${got}, quota ${quota}`).toBeLessThan(1);
          expect(plan.after[g.id] ?? 0).toBe(got);
        }
        expect(sum).toBe(SLOT_COUNT);
        expect(c.get(0) ?? 0).toBe(0);
        expect(c.get(99) ?? 0).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('moves exactly the lower bound, never an in-flight slot, never a slot twice', () => {
    fc.assert(
      fc.property(arbCase, ([groups, slots]) => {
        const plan = planRebalance(slots, groups);
        expect(plan.moves.length).toBe(lowerBound(slots, groups));
        const seen = new Set<number>();
        for (const m of plan.moves) {
          expect(seen.has(m.slot)).toBe(false);
          seen.add(m.slot);
          expect(slots[m.slot]!.action, `slot ${m.slot} has an action and must not move`).toBeUndefined();
          expect(m.from).not.toBe(m.to);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('is idempotent: planning again on the planned table moves nothing', () => {
    fc.assert(
      fc.property(arbCase, ([groups, slots]) => {
        const owner = applyPlan(slots, planRebalance(slots, groups));
        const next: SlotRecord[] = owner.map((g, id) => ({ id, group: g }));
        expect(planRebalance(next, groups).moves).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('pending actions count toward their target', () => {
    // 1024 on g1; 300 already pending toward g2: a 2-way rebalance moves only 212 more.
    const slots = slotsFromRanges([[0, 1023, 1]]);
    for (let s = 0; s < 300; s++) slots[s]!.action = { state: 'pending', target: 2, index: s + 1 };
    const plan = planRebalance(slots, [{ id: 1 }, { id: 2 }]);
    expect(plan.moves.length).toBe(212);
    expect(plan.before).toEqual({ 1: 724, 2: 300 });
    expect(plan.after).toEqual({ 1: 512, 2: 512 });
    expect(plan.inFlight).toBe(300);
  });
});

describe('planRebalance shapes (contiguity)', () => {
  it('1 -> 2 groups: g1 keeps 0-511, 512-1023 move as one range (Codis example)', () => {
    const plan = planRebalance(slotsFromRanges([[0, 1023, 1]]), [{ id: 1 }, { id: 2 }]);
    expect(plan.ranges).toEqual([{ from: 1, to: 2, first: 512, last: 1023 }]);
  });

  it('2 -> 3 -> 2 groups: two ranges out, and back to two contiguous halves', () => {
    const start = slotsFromRanges([[0, 511, 1], [512, 1023, 2]]);
    const plan3 = planRebalance(start, [{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(plan3.moves.length).toBe(341);
    expect(plan3.ranges.length).toBe(2);
    expect(plan3.after).toEqual({ 1: 342, 2: 341, 3: 341 });
    const mid = applyPlan(start, plan3).map((group, id) => ({ id, group }));
    const plan2 = planRebalance(mid, [{ id: 1 }, { id: 2 }]);
    expect(plan2.moves.length).toBe(341);
    const end = applyPlan(mid, plan2);
    expect(summarizeMoves(end.map((g, s) => ({ slot: s, from: 0, to: g })))).toEqual([
      { from: 0, to: 1, first: 0, last: 511 },
      { from: 0, to: 2, first: 512, last: 1023 },
    ]);
  });

  it('weights: 1:3 gives 256 and 768', () => {
    const plan = planRebalance(slotsFromRanges([[0, 1023, 1]]), [{ id: 1, weight: 1 }, { id: 2, weight: 3 }]);
    expect(plan.after).toEqual({ 1: 256, 2: 768 });
    expect(plan.targets).toEqual({ 1: 256, 2: 768 });
  });

  it('offline slots are placed (from group 0)', () => {
    const plan = planRebalance(emptySlots(), [{ id: 4 }, { id: 5 }]);
    expect(plan.moves.every((m) => m.from === 0)).toBe(true);
    expect(plan.after).toEqual({ 4: 512, 5: 512 });
  });

  it('refuses an empty or invalid group list', () => {
    expect(() => planRebalance(emptySlots(), [])).toThrow(RedslotError);
    expect(() => planRebalance(emptySlots(), [{ id: 1, weight: 0 }])).toThrow(/positive weight/);
    expect(() => planRebalance(emptySlots(), [{ id: 1 }, { id: 1 }])).toThrow(/twice/);
    expect(() => planRebalance(emptySlots(), [{ id: 1, weight: -1 }])).toThrow(/weight/);
  });
});

describe('planMoveRange / planMoveSome', () => {
  it('moves a range, skipping slots already there', () => {
    const slots = slotsFromRanges([[0, 511, 1], [512, 1023, 2]]);
    const plan = planMoveRange(slots, 500, 520, 2, new Set([1, 2]));
    expect(plan.moves.map((m) => m.slot)).toEqual([500, 501, 502, 503, 504, 505, 506, 507, 508, 509, 510, 511]);
    expect(plan.ranges).toEqual([{ from: 1, to: 2, first: 500, last: 511 }]);
  });

  it('refuses a range containing a slot in flight elsewhere, and bad input', () => {
    const slots = slotsFromRanges([[0, 1023, 1]]);
    slots[10]!.action = { state: 'migrating', target: 3, index: 1 };
    expect(() => planMoveRange(slots, 0, 20, 2)).toThrow(/REDSLOT_ERR_MIGRATION_SLOT_BUSY|in flight/);
    try {
      planMoveRange(slots, 0, 20, 2);
    } catch (e) {
      expect((e as RedslotError).code).toBe('REDSLOT_ERR_MIGRATION_SLOT_BUSY');
    }
    expect(() => planMoveRange(slots, 20, 10, 2)).toThrow(/range/);
    expect(() => planMoveRange(slots, 0, 1024, 2)).toThrow(/range/);
    expect(() => planMoveRange(slots, 0, 5, 7, new Set([1, 2]))).toThrow(/does not exist/);
    // A slot already heading to the target is simply skipped.
    expect(planMoveRange(slots, 10, 10, 3).moves).toEqual([]);
  });

  it('moves N highest idle slots from A to B', () => {
    const slots = slotsFromRanges([[0, 511, 1], [512, 1023, 2]]);
    slots[511]!.action = { state: 'pending', target: 2, index: 1 };
    const plan = planMoveSome(slots, 10, 1, 3);
    expect(plan.moves.map((m) => m.slot)).toEqual([501, 502, 503, 504, 505, 506, 507, 508, 509, 510]);
    expect(plan.moves.every((m) => m.from === 1 && m.to === 3)).toBe(true);
    expect(() => planMoveSome(slots, 600, 1, 3)).toThrow(/idle slot/);
    expect(() => planMoveSome(slots, 1, 1, 1)).toThrow(/both group/);
    expect(() => planMoveSome(slots, 0, 1, 2)).toThrow(/N = 0/);
  });
});
