/**
 * Guard rails checked before a split starts (preview and start alike), on the topology and on the two masters:
 * - both groups exist with a master, neither promotes, migrates (a slot action touching it) or splits;
 * - the moving slots all belong to the source (default: the upper half of its slots);
 * - the new master is empty (every database) and a master (not replicating anything);
 * - it has room for the whole source dataset (maxmemory, when set, above the source's used_memory), refused;
 * - the new group's replicas (chained to its master during the sync, replicas.ts) are empty and have that room
 *   too, refused otherwise; one that cannot be reached is a warning (the split attaches it later if it can);
 * - the source's repl-backlog-size covers the writes expected during the full sync, else a warning.
 */
import { RedslotError } from '../../../shared/errors.js';
import { masterOf } from '../../../shared/model/topology.js';
import type { RedisAdmin, RedisInfo } from '../../redis/admin.js';
import type { TopologySnapshot } from '../../topom/store.js';
import { SplitErrors } from './errors.js';
import { replicasOf } from './replicas.js';
import { replicationOf } from './replication.js';
import { countSlots, isActive, toRanges, type SlotRanges, type SplitRecord } from './record.js';

export interface SplitRequest {
  source: number;
  target: number;
  /** Inclusive range; default the upper half of the source's slots. */
  slots?: { from: number; to: number };
}

export interface SplitPlan {
  source: number;
  target: number;
  sourceMaster: string;
  targetMaster: string;
  slots: SlotRanges;
  slotCount: number;
  /** Slots the source keeps. */
  keeps: number;
  sourceUsedMemory: number;
  sourceKeys: number;
  targetMaxmemory: number;
  /** The new group's replicas (chained to its master during the sync, attached after the purge). */
  targetReplicas: string[];
  replBacklogBytes: number;
  warnings: string[];
}

/** Assumed full-sync throughput for the backlog estimate (RDB dump, transfer and load on one host). */
const SYNC_BYTES_PER_SEC = 50 * 1024 * 1024;

function refused(req: SplitRequest, reason: string): RedslotError {
  return new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_REFUSED, { source: req.source, target: req.target, reason });
}

/** Topology-only checks; returns the moving slots and both masters. */
export function checkTopology(
  snap: TopologySnapshot,
  req: SplitRequest,
  records: readonly SplitRecord[],
): { slots: SlotRanges; count: number; keeps: number; sourceMaster: string; targetMaster: string; targetReplicas: string[] } {
  if (req.source === req.target) throw new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_INVALID, { reason: 'source and target are the same group' });
  const src = snap.groups.get(req.source)?.record;
  const dst = snap.groups.get(req.target)?.record;
  if (!src) throw new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_INVALID, { reason: `group ${req.source} does not exist` });
  if (!dst) throw new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_INVALID, { reason: `group ${req.target} does not exist (create it and add its master first)` });
  const sourceMaster = masterOf(src);
  const targetMaster = masterOf(dst);
  if (!sourceMaster) throw refused(req, `group ${req.source} has no master`);
  if (!targetMaster) throw refused(req, `group ${req.target} has no master; add one with server add`);
  for (const g of [src, dst]) {
    if (g.promoting) throw refused(req, `group ${g.id} is promoting ${g.promoting.newMaster}`);
    if (g.split) throw refused(req, `group ${g.id} is already in split ${g.split.id}`);
  }
  for (const r of records) {
    if (isActive(r) && [r.source, r.target].some((g) => g === req.source || g === req.target)) {
      throw refused(req, `split ${r.id} (group ${r.source} -> ${r.target}) is still at step ${r.step}`);
    }
  }
  const owned: number[] = [];
  for (const v of snap.slots) {
    const s = v.record;
    if (s.action && [s.group, s.action.target].some((g) => g === req.source || g === req.target)) {
      throw refused(req, `slot ${s.id} is migrating (group ${s.group} -> ${s.action.target}); wait for the migration or abort it`);
    }
    if (s.group === req.target) throw refused(req, `group ${req.target} already owns slots (slot ${s.id}); a split needs a new, empty group`);
    if (s.group === req.source) owned.push(s.id);
  }
  if (owned.length === 0) throw refused(req, `group ${req.source} owns no slots`);
  let moving: number[];
  if (req.slots) {
    const { from, to } = req.slots;
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= 1023 && from <= to)) {
      throw new RedslotError(SplitErrors.REDSLOT_ERR_SPLIT_INVALID, { reason: `bad slot range ${from}-${to}` });
    }
    moving = owned.filter((s) => s >= from && s <= to);
    const foreign = to - from + 1 - moving.length;
    if (foreign > 0) throw refused(req, `${foreign} slot(s) of ${from}-${to} do not belong to group ${req.source}`);
  } else {
    moving = owned.slice(Math.ceil(owned.length / 2));
  }
  if (moving.length === 0) throw refused(req, `group ${req.source} has only one slot; nothing to split`);
  return { slots: toRanges(moving), count: countSlots(toRanges(moving)), keeps: owned.length - moving.length, sourceMaster, targetMaster, targetReplicas: replicasOf(snap, req.target) };
}

/** Checks on the servers: the new master empty and a master, memory, backlog. */
export async function checkServers(
  req: SplitRequest,
  base: ReturnType<typeof checkTopology>,
  dial: <T>(addr: string, fn: (c: RedisAdmin) => Promise<T>) => Promise<T>,
): Promise<SplitPlan> {
  const warnings: string[] = [];
  const src = await dial(base.sourceMaster, async (c) => {
    const info = await c.info();
    const backlog = (await c.call('CONFIG', 'GET', 'repl-backlog-size')) as string[];
    return { info, backlog: Number(backlog[1] ?? 0) };
  });
  const dst = await dial(base.targetMaster, async (c) => ({ info: await c.info(), repl: await replicationOf(c) }));
  if (dst.repl.role !== 'master') throw refused(req, `${base.targetMaster} is a replica of ${dst.repl.master ?? 'another server'}; the new group's master must be a master`);
  if (dst.info.keys > 0) throw refused(req, `${base.targetMaster} holds ${dst.info.keys} key(s); the new group's master must be empty (REPLICAOF would discard them)`);
  const used = src.info.usedMemory ?? 0;
  const maxmemory = dst.info.maxmemory ?? 0;
  if (maxmemory > 0 && maxmemory < used) {
    throw refused(req, `${base.targetMaster} has maxmemory ${maxmemory} bytes, less than the source's used_memory ${used} bytes (it receives the whole dataset before the purge)`);
  }
  for (const addr of base.targetReplicas) {
    let info: RedisInfo;
    try {
      info = await dial(addr, (c) => c.info());
    } catch (err) {
      warnings.push(`replica ${addr} of group ${req.target} cannot be reached (${(err as Error).message}); the split attaches it to the new master if it is back by then`);
      continue;
    }
    if (info.keys > 0) throw refused(req, `replica ${addr} of group ${req.target} holds ${info.keys} key(s); the new group's servers must be empty (it is resynced from the new master)`);
    const replicaMax = info.maxmemory ?? 0;
    if (replicaMax > 0 && replicaMax < used) {
      throw refused(req, `replica ${addr} of group ${req.target} has maxmemory ${replicaMax} bytes, less than the source's used_memory ${used} bytes (it receives the whole dataset before the purge)`);
    }
  }
  const syncSeconds = Math.max(1, used / SYNC_BYTES_PER_SEC);
  const inputBytesPerSec = Number(src.info.sections['stats']?.['instantaneous_input_kbps'] ?? 0) * 1024;
  const expected = Math.ceil(inputBytesPerSec * syncSeconds * 2);
  if (src.backlog > 0 && expected > src.backlog) {
    warnings.push(
      `repl-backlog-size of ${base.sourceMaster} is ${src.backlog} bytes; about ${expected} bytes of writes are expected during the full sync (${syncSeconds.toFixed(0)} s at ${Math.round(inputBytesPerSec)} B/s): if the backlog overflows, the sync restarts. Raise it (CONFIG SET repl-backlog-size)`,
    );
  }
  return {
    source: req.source,
    target: req.target,
    sourceMaster: base.sourceMaster,
    targetMaster: base.targetMaster,
    slots: base.slots,
    slotCount: base.count,
    keeps: base.keeps,
    sourceUsedMemory: used,
    sourceKeys: src.info.keys,
    targetMaxmemory: maxmemory,
    targetReplicas: base.targetReplicas,
    replBacklogBytes: src.backlog,
    warnings,
  };
}
