/** Rebalance by observed load (dashboard/migration/load-planner.ts). */
import { describe, expect, it } from 'vitest';
import { planRebalanceByLoad } from '../../dashboard/migration/load-planner.js';
import type { SlotRecord } from '../../shared/model/types.js';

function table(owner: (sid: number) => number): SlotRecord[] {
  return Array.from({ length: 1024 }, (_, id) => ({ id, group: owner(id) }));
}

describe('planRebalanceByLoad', () => {
  it('moves loaded slots from the hot group to the cool one until the ops/s shares match the weights', () => {
    const slots = table((id) => (id < 512 ? 1 : 2));
    const ops = Array.from({ length: 1024 }, (_, id) => (id < 512 ? 100 : 20)); // g1 51,200 ops/s, g2 10,240
    const p = planRebalanceByLoad(slots, [{ id: 1 }, { id: 2 }], ops);
    expect(p.moves.length).toBeGreaterThan(0);
    expect(p.moves.every((m) => m.from === 1 && m.to === 2)).toBe(true);
    expect(p.load.before).toEqual({ 1: 51200, 2: 10240 });
    expect(p.load.target).toEqual({ 1: 30720, 2: 30720 });
    expect(Math.abs(p.load.after[1]! - 30720)).toBeLessThanOrEqual(0.05 * 61440 / 2); // default tolerance: 5 % of the mean
    expect(p.load.unsplittable).toEqual([]);
  });

  it('follows weights, never moves idle slots, and reports a slot too hot to balance by moving it', () => {
    const slots = table((id) => (id < 512 ? 1 : 2));
    const ops = new Array<number>(1024).fill(0);
    ops[7] = 100_000; // one hot slot on group 1
    ops[600] = 10;
    const p = planRebalanceByLoad(slots, [{ id: 1 }, { id: 2 }], ops);
    expect(p.moves).toEqual([]);
    expect(p.load.unsplittable).toEqual([7]);
    const weighted = planRebalanceByLoad(table((id) => (id < 512 ? 1 : 2)), [{ id: 1, weight: 1 }, { id: 2, weight: 3 }], Array.from({ length: 1024 }, () => 10));
    expect(weighted.load.target).toEqual({ 1: 2560, 2: 7680 });
    expect(Math.abs(weighted.load.after[2]! - 7680)).toBeLessThanOrEqual(10 + 0.05 * 10240);
  });

  it('leaves in-flight slots alone, gives a drained group\'s slots away, and refuses without any load', () => {
    const slots = table((id) => (id < 300 ? 1 : id < 600 ? 2 : 3));
    slots[5] = { id: 5, group: 1, action: { state: 'migrating', target: 2, index: 1 } };
    const ops = Array.from({ length: 1024 }, () => 1);
    const p = planRebalanceByLoad(slots, [{ id: 1 }, { id: 2 }, { id: 3, weight: 0 }], ops);
    expect(p.moves.some((m) => m.slot === 5)).toBe(false);
    expect(p.moves.filter((m) => m.from === 3).length).toBe(424);
    expect(p.load.after[3] ?? 0).toBe(0);
    expect(() => planRebalanceByLoad(slots, [{ id: 1 }], new Array<number>(1024).fill(0))).toThrow(/no load observed yet/);
  });
});
