/**
 * Reading the topology (groups + slots) out of the coordinator, and applying watch batches to it.
 * Pure functions over the model; both proxy and dashboard use them.
 */
import { SLOT_COUNT } from '../slot.js';
import type { Coordinator, WatchBatch } from '../coordinator/types.js';
import { lastSegment, type ClusterPaths } from './paths.js';
import { OFFLINE_GROUP, type GroupRecord, type SlotRecord, type Topology } from './types.js';

export function emptySlots(): SlotRecord[] {
  return Array.from({ length: SLOT_COUNT }, (_, id) => ({ id, group: OFFLINE_GROUP }));
}

/** Loads groups and slots in one range read (one revision). */
export async function loadTopology(coord: Coordinator, paths: ClusterPaths): Promise<Topology> {
  const res = await coord.getPrefix(paths.topology);
  const topo: Topology = { revision: res.revision, groups: new Map(), slots: emptySlots() };
  for (const kv of res.kvs) applyKey(topo, paths, kv.key, kv.value);
  return topo;
}

/** Returns a new topology with the batch applied (the input is not modified). */
export function applyBatch(prev: Topology, paths: ClusterPaths, batch: WatchBatch): Topology {
  const next: Topology = { revision: batch.revision, groups: new Map(prev.groups), slots: prev.slots.slice() };
  for (const ev of batch.events) applyKey(next, paths, ev.kv.key, ev.type === 'put' ? ev.kv.value : undefined);
  return next;
}

function applyKey(topo: Topology, paths: ClusterPaths, key: string, value: string | undefined): void {
  if (key.startsWith(paths.groups)) {
    const gid = Number(lastSegment(key));
    if (value === undefined) topo.groups.delete(gid);
    else topo.groups.set(gid, parseGroup(value));
  } else if (key.startsWith(paths.slots)) {
    const sid = Number(lastSegment(key));
    if (!Number.isInteger(sid) || sid < 0 || sid >= SLOT_COUNT) return;
    topo.slots[sid] = value === undefined ? { id: sid, group: OFFLINE_GROUP } : parseSlot(value, sid);
  }
}

export function parseGroup(value: string): GroupRecord {
  const g = JSON.parse(value) as GroupRecord;
  return { ...g, weight: g.weight ?? 1, servers: g.servers ?? [] };
}

export function parseSlot(value: string, sid: number): SlotRecord {
  const s = JSON.parse(value) as SlotRecord;
  return { ...s, id: sid };
}

/** The master address of a group, if it has one. */
export function masterOf(group: GroupRecord | undefined): string | undefined {
  return group?.servers.find((s) => s.role === 'master')?.addr;
}

/** What a proxy must do for one slot, derived from the model. */
export interface SlotRoute {
  /** Master to send commands to; undefined = slot offline. */
  backend?: string;
  /** Set while migrating: keys must first be moved from this master to `backend`. */
  migrateFrom?: string;
  /** True in the `prepared` step or while a group promotes: hold requests, do not send. */
  locked: boolean;
  /** Group id commands land on (target when migrating). */
  group: number;
}

export function routeOf(topo: Topology, sid: number): SlotRoute {
  const slot = topo.slots[sid] ?? { id: sid, group: OFFLINE_GROUP };
  const source = topo.groups.get(slot.group);
  const action = slot.action;
  const lockedByPromotion = (g: GroupRecord | undefined) => g?.promoting?.state === 'prepared';
  if (!action || action.state === 'pending' || action.state === 'preparing') {
    const peer = switchedBySplit(source, sid);
    if (peer !== undefined) {
      const target = topo.groups.get(peer);
      return { backend: masterOf(target), locked: lockedByPromotion(target), group: peer };
    }
    return { backend: masterOf(source), locked: lockedByPromotion(source) || lockedBySplit(source, sid), group: slot.group };
  }
  const target = topo.groups.get(action.target);
  switch (action.state) {
    case 'prepared':
      return { backend: masterOf(target), migrateFrom: masterOf(source), locked: true, group: action.target };
    case 'migrating':
      return {
        backend: masterOf(target),
        migrateFrom: masterOf(source),
        locked: lockedByPromotion(source) || lockedByPromotion(target),
        group: action.target,
      };
    case 'finished':
      return { backend: masterOf(target), locked: lockedByPromotion(target), group: action.target };
  }
}

function markerLists(slots: Array<[number, number]> | undefined, sid: number): boolean {
  if (slots === undefined) return false;
  for (const [from, to] of slots) if (sid >= from && sid <= to) return true;
  return false;
}

/** The slot is held by a split's switch (the owner group's marker is `locked` and lists it). */
export function lockedBySplit(g: GroupRecord | undefined, sid: number): boolean {
  return g?.split?.state === 'locked' && markerLists(g.split.slots, sid);
}

/**
 * The group a split switched the slot to while its record still names the source (the source's marker is
 * `switched` and lists it), else undefined.
 */
export function switchedBySplit(g: GroupRecord | undefined, sid: number): number | undefined {
  const m = g?.split;
  return m?.role === 'source' && m.state === 'switched' && markerLists(m.slots, sid) ? m.peer : undefined;
}

/** The split is past its switch: the groups hold keys of slots they do not own until the purge ends. */
export function purgingBySplit(g: GroupRecord): boolean {
  return g.split?.state === 'switched' || g.split?.state === 'purging';
}

/** The group is a split's target still replicating its source: cluster-wide commands leave it out. */
export function hiddenBySplit(g: GroupRecord): boolean {
  return g.split?.role === 'target' && !purgingBySplit(g);
}

/** Builds slot records for static topologies: `ranges` like [[0, 511, 1], [512, 1023, 2]]. */
export function slotsFromRanges(ranges: Array<[number, number, number]>): SlotRecord[] {
  const slots = emptySlots();
  for (const [from, to, group] of ranges) {
    for (let s = from; s <= to; s++) slots[s] = { id: s, group };
  }
  return slots;
}
