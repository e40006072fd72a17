/** The split's pure parts: what proxies derive from the group markers, slot ranges, replication checks. */
import { describe, expect, it } from 'vitest';
import { hiddenBySplit, routeOf, slotsFromRanges } from '../../shared/model/topology.js';
import type { GroupRecord, Topology } from '../../shared/model/types.js';
import { countSlots, describeRanges, slotSet, toRanges } from '../../dashboard/migration/split/record.js';
import { caughtUp, promotedFrom, type ReplicationState } from '../../dashboard/migration/split/replication.js';

function topo(g1: Partial<GroupRecord>, g2: Partial<GroupRecord>): Topology {
  const groups = new Map<number, GroupRecord>([
    [1, { id: 1, weight: 1, servers: [{ addr: 'a:1', role: 'master' }], ...g1 }],
    [2, { id: 2, weight: 1, servers: [{ addr: 'b:1', role: 'master' }], ...g2 }],
  ]);
  return { revision: 1, groups, slots: slotsFromRanges([[0, 1023, 1]]) };
}

const repl = (o: Partial<ReplicationState>): ReplicationState => ({
  role: 'slave',
  master: 'a:1',
  linkUp: true,
  syncInProgress: false,
  syncTotalBytes: -1,
  syncReadBytes: 0,
  replicaOffset: 100,
  masterOffset: 0,
  replId: 'x',
  replId2: '',
  secondOffset: -1,
  ...o,
});

describe('split markers as proxies read them', () => {
  it('holds only the listed slots of a locked source; hides a target until it purges', () => {
    const locked = topo({ split: { id: 's', role: 'source', peer: 2, state: 'locked', slots: [[512, 1023]] } }, { split: { id: 's', role: 'target', peer: 1, state: 'locked', slots: [[512, 1023]] } });
    expect(routeOf(locked, 511).locked).toBe(false);
    expect(routeOf(locked, 512).locked).toBe(true);
    expect(routeOf(locked, 1023).locked).toBe(true);
    const syncing = topo({ split: { id: 's', role: 'source', peer: 2, state: 'syncing' } }, { split: { id: 's', role: 'target', peer: 1, state: 'syncing' } });
    expect(routeOf(syncing, 700).locked).toBe(false);
    expect(hiddenBySplit(syncing.groups.get(2)!)).toBe(true);
    expect(hiddenBySplit(syncing.groups.get(1)!)).toBe(false);
    expect(hiddenBySplit({ id: 2, weight: 1, servers: [], split: { id: 's', role: 'target', peer: 1, state: 'purging' } })).toBe(false);
  });

  it('routes the listed slots of a switched source to the target while their records still name the source', () => {
    const switched = topo({ split: { id: 's', role: 'source', peer: 2, state: 'switched', slots: [[512, 1023]] } }, { split: { id: 's', role: 'target', peer: 1, state: 'switched', slots: [[512, 1023]] } });
    expect(routeOf(switched, 511)).toEqual({ backend: 'a:1', locked: false, group: 1 });
    expect(routeOf(switched, 512)).toEqual({ backend: 'b:1', locked: false, group: 2 });
    expect(routeOf(switched, 1023)).toEqual({ backend: 'b:1', locked: false, group: 2 });
    // The switched target serves now (not hidden); a slot whose record already names it routes the same way.
    expect(hiddenBySplit(switched.groups.get(2)!)).toBe(false);
    switched.slots[600] = { id: 600, group: 2 };
    expect(routeOf(switched, 600)).toEqual({ backend: 'b:1', locked: false, group: 2 });
    // A target's marker never re-routes anything; a promotion of the target holds the switched slots.
    switched.groups.get(2)!.promoting = { state: 'prepared', newMaster: 'b:2' };
    expect(routeOf(switched, 700).locked).toBe(true);
  });

  it('slot ranges', () => {
    expect(toRanges([5, 1, 2, 3, 9, 10])).toEqual([[1, 3], [5, 5], [9, 10]]);
    expect(describeRanges([[1, 3], [5, 5]])).toBe('1-3,5');
    expect(countSlots([[0, 511], [600, 600]])).toBe(513);
    const set = slotSet([[10, 12]]);
    expect([set[9], set[10], set[12], set[13]]).toEqual([0, 1, 1, 0]);
  });

  it('caught up and promoted-from checks', () => {
    expect(caughtUp(repl({}), 'a:1', 100, 0)).toBe(true);
    expect(caughtUp(repl({}), 'a:1', 200, 50)).toBe(false);
    expect(caughtUp(repl({ syncInProgress: true }), 'a:1', 100, 1000)).toBe(false);
    expect(caughtUp(repl({ master: 'c:1' }), 'a:1', 100, 1000)).toBe(false);
    expect(caughtUp(repl({}), 'a:1', 100, -1)).toBe(false);
    expect(promotedFrom(repl({ role: 'master', replId2: 'src', secondOffset: 501 }), 'src', 500)).toBe(true);
    expect(promotedFrom(repl({ role: 'master', replId2: 'src', secondOffset: 500 }), 'src', 500)).toBe(false);
    expect(promotedFrom(repl({ role: 'master', replId2: 'other', secondOffset: 900 }), 'src', 500)).toBe(false);
  });
});
