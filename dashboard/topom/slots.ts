/**
 * Slot assignment WITHOUT data movement (moving data is the migration engine's job):
 * - offline slots (no group) can be given to any group that has a master;
 * - a slot owned by group A can be given to group B only if A holds no key of it: the dashboard SCANs A's
 *   master (every database; refused above `assignScanMaxKeys` keys) before writing, and once every proxy has
 *   acknowledged the new owner it SCANs again and reports any key written in between (a warning naming the
 *   slots; run a migration for them);
 * - slots with a migration action are never touched here.
 * Even assignment spreads the offline slots over the chosen groups so every group ends with about the same
 * number of slots, in contiguous runs.
 * Writes are chunked (etcd's 128-operation txn limit); every chunk is a CAS on the slots it writes and on the
 * target group (re-put: see store.ts), so a lost race stops with 409 and the response says how far it got.
 */
import { RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { masterOf } from '../../shared/model/topology.js';
import { OFFLINE_GROUP, type GroupRecord, type SlotRecord } from '../../shared/model/types.js';
import { slotOf } from '../../shared/slot.js';
import type { RedisAdmin } from '../redis/admin.js';
import type { Compare, TxnOp } from '../../shared/coordinator/types.js';
import { DashboardErrors } from '../errors.js';
import type { AssignResponseBody, SlotRange } from '../schemas/index.js';
import { knownServers, type Dialer } from './dialer.js';
import { CHUNK, slotRanges, type TopologySnapshot, type TopologyStore, type Versioned } from './store.js';

export interface SlotServiceOptions {
  assignScanMaxKeys: number;
  /** Waits until every live proxy acknowledged a revision (the barrier). */
  barrier: (revision: number) => Promise<unknown>;
}

function refused(reason: string): RedslotError {
  return new RedslotError(DashboardErrors.REDSLOT_ERR_SLOTS_REFUSED, { reason });
}

function describeSlots(ids: number[]): string {
  const ranges = slotRanges(ids.map((id) => ({ id, group: 1 })));
  return ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(',');
}

/** Counts keys per slot (only slots in `wanted`) on one server, over every database. */
export async function countKeysInSlots(c: RedisAdmin, wanted: ReadonlySet<number>, maxKeys: number): Promise<Map<number, number>> {
  const info = await c.info('keyspace');
  const found = new Map<number, number>();
  if (info.keys === 0) return found;
  if (info.keys > maxKeys) {
    throw refused(`${c.addr} holds ${info.keys} keys, more than assignScanMaxKeys (${maxKeys}) to check for emptiness; use a migration`);
  }
  for (const db of Object.keys(info.keyspace).map(Number)) {
    let cursor = '0';
    do {
      const step = await c.scan(cursor, 1000, db);
      cursor = step.cursor;
      for (const k of step.keys) {
        const s = slotOf(k);
        if (wanted.has(s)) found.set(s, (found.get(s) ?? 0) + 1);
      }
    } while (cursor !== '0');
  }
  if (Object.keys(info.keyspace).length > 0) await c.call('SELECT', 0);
  return found;
}

export class SlotService {
  constructor(
    private readonly store: TopologyStore,
    private readonly dialer: Dialer,
    private readonly log: Logger,
    private readonly opts: SlotServiceOptions,
  ) {}

  private usableTarget(snap: TopologySnapshot, gid: number): Versioned<GroupRecord> {
    const g = snap.groups.get(gid);
    if (!g) throw new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_FOUND, { what: `group ${gid}` });
    if (!masterOf(g.record)) throw refused(`group ${gid} has no master; add a server to it first`);
    if (g.record.promoting) {
      throw new RedslotError(DashboardErrors.REDSLOT_ERR_GROUP_BUSY, { gid, reason: `promotion of ${g.record.promoting.newMaster} in progress` });
    }
    return g;
  }

  async assignRange(from: number, to: number, gid: number, ifRevision?: number): Promise<AssignResponseBody> {
    if (from > to) throw refused(`empty range ${from}-${to} (from must be <= to)`);
    const snap = await this.store.read();
    const target = this.usableTarget(snap, gid);
    const plan = new Map<number, number>();
    const bySource = new Map<number, number[]>();
    for (let sid = from; sid <= to; sid++) {
      const s = snap.slots[sid]!.record;
      if (s.action) throw refused(`slot ${sid} has a migration action (${s.action.state} -> group ${s.action.target}); wait for it or abort it`);
      if (s.group === gid) continue;
      if (s.group !== OFFLINE_GROUP) bySource.set(s.group, [...(bySource.get(s.group) ?? []), sid]);
      plan.set(sid, gid);
    }
    const warnings: string[] = [];
    if (plan.size === 0) return { revision: snap.revision, assigned: 0, ranges: [], warnings: [`slots ${from}-${to} already belong to group ${gid}`] };
    // The caller's revision first: a stale decision is refused before anything is dialled.
    this.store.checkIfRevision(ifRevision, `slots ${from}-${to}`, [target, ...[...plan.keys()].map((sid) => snap.slots[sid]!)]);
    for (const [src, sids] of bySource) await this.checkEmpty(snap, src, sids);
    const res = await this.write(snap, plan, `slots ${from}-${to} -> group ${gid}`);
    if (bySource.size > 0) warnings.push(...(await this.verifyEmptyAfter(snap, bySource, res.revision)));
    return { ...res, warnings };
  }

  async assignEven(groups?: number[], ifRevision?: number): Promise<AssignResponseBody> {
    const snap = await this.store.read();
    const gids = groups && groups.length > 0 ? [...new Set(groups)].sort((a, b) => a - b) : [...snap.groups.values()].filter((g) => masterOf(g.record) && !g.record.promoting).map((g) => g.record.id).sort((a, b) => a - b);
    if (gids.length === 0) throw refused('no group has a master: create a group and add a server first');
    for (const gid of gids) this.usableTarget(snap, gid);
    const offline = snap.slots.filter((s) => s.record.group === OFFLINE_GROUP && !s.record.action).map((s) => s.record.id);
    if (offline.length === 0) throw refused('there are no offline slots to assign (moving owned slots needs a migration or a range assignment)');
    const counts = new Map(gids.map((g) => [g, snap.slots.filter((s) => s.record.group === g).length]));
    const total = [...counts.values()].reduce((a, b) => a + b, 0) + offline.length;
    // Quotas: total split as evenly as possible, the extra slots going to the lowest ids.
    const base = Math.floor(total / gids.length);
    const extra = total % gids.length;
    const need = new Map(gids.map((g, i) => [g, Math.max(0, base + (i < extra ? 1 : 0) - counts.get(g)!)]));
    const plan = new Map<number, number>();
    let i = 0;
    for (const gid of gids) {
      for (let n = need.get(gid)!; n > 0 && i < offline.length; n--) plan.set(offline[i++]!, gid);
    }
    // Groups already above their share leave a remainder: deal it to the smallest groups.
    while (i < offline.length) {
      const smallest = gids.reduce((a, b) => ((counts.get(a)! + countPlanned(plan, a)) <= (counts.get(b)! + countPlanned(plan, b)) ? a : b));
      plan.set(offline[i++]!, smallest);
    }
    this.store.checkIfRevision(ifRevision, 'offline slots', [...gids.map((g) => snap.groups.get(g)!), ...offline.map((sid) => snap.slots[sid]!)]);
    const res = await this.write(snap, plan, `even over groups ${gids.join(',')}`);
    return { ...res, warnings: [] };
  }

  /** Refuses unless the source group's master holds no key of the given slots. */
  private async checkEmpty(snap: TopologySnapshot, src: number, sids: number[]): Promise<void> {
    const g = snap.groups.get(src);
    const master = g && masterOf(g.record);
    if (!master) throw refused(`slots ${describeSlots(sids)} belong to group ${src}, which has no master to check for keys`);
    const found = await this.dialer.withServer(master, knownServers(snap), (c) => countKeysInSlots(c, new Set(sids), this.opts.assignScanMaxKeys));
    if (found.size > 0) {
      const keys = [...found.values()].reduce((a, b) => a + b, 0);
      throw refused(`group ${src} holds ${keys} keys in slots ${describeSlots([...found.keys()].sort((a, b) => a - b))}; moving them needs a migration`);
    }
    this.log.info('slots.assign.source_empty', { group: src, master, slots: describeSlots(sids) });
  }

  /** After the new owner is acknowledged, keys written to the old owner in between would be stranded: report. */
  private async verifyEmptyAfter(snap: TopologySnapshot, bySource: Map<number, number[]>, revision: number): Promise<string[]> {
    const warnings: string[] = [];
    try {
      await this.opts.barrier(revision);
    } catch (err) {
      warnings.push(`could not confirm every proxy switched: ${(err as Error).message}`);
    }
    for (const [src, sids] of bySource) {
      const master = masterOf(snap.groups.get(src)?.record);
      if (!master) continue;
      try {
        const found = await this.dialer.withServer(master, knownServers(snap), (c) => countKeysInSlots(c, new Set(sids), Number.MAX_SAFE_INTEGER));
        if (found.size > 0) {
          const msg = `group ${src} (${master}) received keys in slots ${describeSlots([...found.keys()].sort((a, b) => a - b))} before every proxy switched; migrate them`;
          this.log.error('slots.assign.stranded_keys', { group: src, master, slots: [...found.entries()] });
          warnings.push(msg);
        }
      } catch (err) {
        warnings.push(`could not re-check group ${src} for stranded keys: ${(err as Error).message}`);
      }
    }
    return warnings;
  }

  /** Writes slot -> group in CAS chunks, grouped by target group (also the Codis import's slot writer). */
  async write(snap: TopologySnapshot, plan: Map<number, number>, what: string): Promise<Omit<AssignResponseBody, 'warnings'>> {
    const byTarget = new Map<number, number[]>();
    for (const [sid, gid] of [...plan.entries()].sort((a, b) => a[0] - b[0])) byTarget.set(gid, [...(byTarget.get(gid) ?? []), sid]);
    const groupMod = new Map([...snap.groups.values()].map((g) => [g.record.id, g.modRevision]));
    let assigned = 0;
    let revision = snap.revision;
    const written: Array<{ id: number; group: number }> = [];
    const log = this.log.child({ op: 'slots.assign', what });
    for (const [gid, sids] of byTarget) {
      const group = snap.groups.get(gid)!.record;
      for (let off = 0; off < sids.length; off += CHUNK) {
        const chunk = sids.slice(off, off + CHUNK);
        const compares: Compare[] = [this.store.guard(this.store.paths.group(gid), groupMod.get(gid)!)];
        const ops: TxnOp[] = [this.store.groupPut(group)];
        for (const sid of chunk) {
          compares.push(this.store.guard(this.store.paths.slot(sid), snap.slots[sid]!.modRevision));
          const rec: SlotRecord = { id: sid, group: gid };
          ops.push(this.store.slotPut(rec));
        }
        try {
          revision = await this.store.commit(`slots ${describeSlots(chunk)}`, snap.revision, compares, ops);
        } catch (err) {
          log.warn('slots.assign.stopped', { assigned, remaining: plan.size - assigned, err });
          if (assigned > 0 && err instanceof RedslotError) {
            throw new RedslotError(err.spec, { ...err.params, what: `${err.params['what']} (after ${assigned} of ${plan.size} slots were assigned)` });
          }
          throw err;
        }
        groupMod.set(gid, revision);
        assigned += chunk.length;
        written.push(...chunk.map((id) => ({ id, group: gid })));
        log.info('slots.assign.chunk', { group: gid, slots: describeSlots(chunk), revision, assigned, total: plan.size });
      }
    }
    written.sort((a, b) => a.id - b.id);
    const ranges: SlotRange[] = slotRanges(written);
    return { revision, assigned, ranges };
  }
}

function countPlanned(plan: Map<number, number>, gid: number): number {
  let n = 0;
  for (const g of plan.values()) if (g === gid) n++;
  return n;
}
