/** Converting model records into the API's view shapes (dashboard/schemas). Pure functions. */
import type { GroupView, SlotView } from '../schemas/index.js';
import type { GroupRecord, SlotRecord } from '../../shared/model/types.js';
import { slotsOfGroup, type TopologySnapshot, type Versioned } from './store.js';

export function groupView(snap: TopologySnapshot, g: Versioned<GroupRecord>): GroupView {
  const v: GroupView = {
    id: g.record.id,
    weight: g.record.weight,
    servers: g.record.servers.map((s) => ({ addr: s.addr, role: s.role })),
    slotCount: slotsOfGroup(snap, g.record.id).owned,
    modRevision: g.modRevision,
  };
  if (g.record.promoting) v.promoting = { ...g.record.promoting };
  return v;
}

export function groupViews(snap: TopologySnapshot): GroupView[] {
  return [...snap.groups.values()].sort((a, b) => a.record.id - b.record.id).map((g) => groupView(snap, g));
}

export function slotView(s: SlotRecord): SlotView {
  return s.action ? { id: s.id, group: s.group, action: { ...s.action } } : { id: s.id, group: s.group };
}

/** Highest modRevision among topology keys: the revision proxies must have acknowledged to be current. */
export function topologyRevision(snap: TopologySnapshot): number {
  let max = 0;
  for (const g of snap.groups.values()) max = Math.max(max, g.modRevision);
  for (const s of snap.slots) max = Math.max(max, s.modRevision);
  return max;
}
