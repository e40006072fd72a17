/**
 * Manual master promotion of a group, guarded by the barrier (the same one slot migration uses):
 *
 *  1. checks: the address is a replica of the group, the group is not promoting or migrating, the replica's
 *     link to the master is up (unless force);
 *  2. persist `promoting: { state: 'prepared', newMaster }` (CAS): proxies hold requests for the group's slots;
 *  3. barrier: every live proxy acknowledged that revision, so nothing is in flight to the old master;
 *  4. wait (up to 5 s) until the replica's offset reached the old master's (when the old master answers);
 *     if it does not catch up, roll back (clear `promoting`) unless force;
 *  5. REPLICAOF NO ONE on the new master;
 *  6. persist the new servers (new master, old master as replica) and clear `promoting` (CAS): proxies re-point;
 *  7. barrier again (a timeout here is a warning: the model already names the new master);
 *  8. every other server of the group, the old master included if reachable, REPLICAOF the new master.
 * Every step is logged with how far it got. A leader that dies between 2 and 6 leaves `promoting` in the
 * coordinator; the next leader resumes from step 3 (`resumeAll`, an onBecameLeader hook). Steps 5 and 8 are
 * idempotent.
 */
import { RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { masterOf } from '../../shared/model/topology.js';
import type { GroupRecord } from '../../shared/model/types.js';
import { DashboardErrors } from '../errors.js';
import type { PromoteResponseBody } from '../schemas/index.js';
import { knownServers, type Dialer } from './dialer.js';
import { sameAddr } from './groups.js';
import type { TopologyStore } from './store.js';
import { groupView } from './views.js';

export interface PromotionOptions {
  barrier: (revision: number, signal?: AbortSignal) => Promise<unknown>;
  /** Max wait for the replica to catch up with the old master (default 5 s). */
  catchUpMs?: number;
}

function failed(gid: number, addr: string, step: string, reason: string): RedslotError {
  return new RedslotError(DashboardErrors.REDSLOT_ERR_PROMOTION_FAILED, { gid, addr, step, reason });
}

export class PromotionService {
  constructor(
    private readonly store: TopologyStore,
    private readonly dialer: Dialer,
    private readonly log: Logger,
    private readonly opts: PromotionOptions,
  ) {}

  /**
   * `failover`: an automatic failover (dashboard/failover/): the old master was declared down, so the
   * promotion does not wait for it to catch up (force) and proxies fail what is pending on it (abandon).
   */
  async promote(gid: number, addr: string, opts: { force?: boolean; ifRevision?: number; failover?: boolean } = {}, signal?: AbortSignal): Promise<PromoteResponseBody> {
    const steps: string[] = [];
    const log = this.log.child({ op: 'group.promote', gid, addr });
    const snap = await this.store.read();
    const g = snap.groups.get(gid);
    if (!g) throw new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_FOUND, { what: `group ${gid}` });
    if (g.record.promoting) {
      throw new RedslotError(DashboardErrors.REDSLOT_ERR_GROUP_BUSY, { gid, reason: `promotion of ${g.record.promoting.newMaster} already in progress` });
    }
    const server = g.record.servers.find((s) => s.addr === addr);
    if (!server) throw new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_FOUND, { what: `server ${addr} in group ${gid}` });
    if (server.role === 'master') throw new RedslotError(DashboardErrors.REDSLOT_ERR_SERVER_ROLE, { addr, reason: `it already is group ${gid}'s master` });
    const migrating = snap.slots.filter((s) => s.record.action && (s.record.group === gid || s.record.action.target === gid)).length;
    if (migrating > 0) throw new RedslotError(DashboardErrors.REDSLOT_ERR_GROUP_BUSY, { gid, reason: `${migrating} slots are migrating from or to it` });
    this.store.checkIfRevision(opts.ifRevision, `group ${gid}`, [g]);
    const oldMaster = masterOf(g.record);
    const known = knownServers(snap);
    const role = await this.dialer.withServer(addr, known, (c) => c.role());
    if (role.role !== 'replica' || !oldMaster || !sameAddr(role.master, oldMaster) || role.state !== 'connected') {
      const what = role.role === 'replica' ? `it replicates ${role.master} (link ${role.state})` : `ROLE says ${role.role}`;
      if (!opts.force && !opts.failover) throw new RedslotError(DashboardErrors.REDSLOT_ERR_SERVER_ROLE, { addr, reason: `${what}, expected a connected replica of ${oldMaster ?? '(no master)'}; pass force to promote anyway` });
      steps.push(`${opts.failover ? 'failover' : 'force'}: ${what}`);
    }
    steps.push(`checked ${addr} (${role.role})`);
    const rec: GroupRecord = { ...g.record, promoting: { state: 'prepared', newMaster: addr, ...(opts.failover && oldMaster ? { abandon: oldMaster } : {}) } };
    const rev = await this.store.commit(`group ${gid}`, snap.revision, [this.store.guard(this.store.paths.group(gid), g.modRevision)], [this.store.groupPut(rec)]);
    steps.push(`persisted promoting=prepared at revision ${rev}`);
    log.info('promote.prepared', { revision: rev, oldMaster });
    return this.finish(gid, addr, rev, steps, opts.force === true || opts.failover === true, signal);
  }

  /** Steps 3..8; also the resume path of a new leader. */
  private async finish(gid: number, addr: string, preparedRevision: number, steps: string[], force: boolean, signal?: AbortSignal): Promise<PromoteResponseBody> {
    const log = this.log.child({ op: 'group.promote', gid, addr });
    const warnings: string[] = [];
    try {
      await this.opts.barrier(preparedRevision, signal);
    } catch (err) {
      log.warn('promote.barrier_failed', { err });
      await this.rollback(gid, addr, `barrier failed: ${(err as Error).message}`);
      throw err;
    }
    steps.push('every live proxy holds the group');
    let snap = await this.store.read();
    let g = snap.groups.get(gid);
    if (!g || g.record.promoting?.newMaster !== addr) throw failed(gid, addr, 'reread', 'the group changed while promoting');
    const oldMaster = masterOf(g.record);
    const known = knownServers(snap);
    // Step 4: catch up (not with a master declared down: it would only cost the dial timeout).
    if (g.record.promoting.abandon !== undefined) {
      warnings.push(`old master ${oldMaster ?? '?'} was declared down; promoting without an offset check`);
    } else if (oldMaster && !sameAddr(oldMaster, addr)) {
      const target = await this.dialer.withServer(oldMaster, known, async (c) => (await c.info('replication')).masterReplOffset).catch(() => undefined);
      if (target === undefined) {
        warnings.push(`old master ${oldMaster} did not answer; promoting without an offset check`);
      } else {
        const deadline = Date.now() + (this.opts.catchUpMs ?? 5000);
        for (;;) {
          const role = await this.dialer.withServer(addr, known, (c) => c.role());
          if (role.role === 'master') break; // already promoted by an earlier attempt
          const offset = role.role === 'replica' ? role.offset : -1;
          if (offset >= target) break;
          if (Date.now() > deadline) {
            if (force) {
              warnings.push(`replica offset ${offset} < master offset ${target}: up to ${target - offset} bytes of writes lost (force)`);
              break;
            }
            await this.rollback(gid, addr, 'replica did not catch up');
            throw failed(gid, addr, 'catch-up', `replica offset ${offset} did not reach the master's ${target} in time; rolled back (pass force to accept the loss)`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        steps.push(`replica caught up with ${oldMaster} (offset ${target})`);
      }
    }
    // Step 5.
    try {
      await this.dialer.withServer(addr, known, (c) => c.replicaOf(null));
    } catch (err) {
      await this.rollback(gid, addr, `REPLICAOF NO ONE failed: ${(err as Error).message}`);
      throw failed(gid, addr, 'replicaof-no-one', `${(err as Error).message}; rolled back`);
    }
    steps.push(`REPLICAOF NO ONE on ${addr}`);
    log.info('promote.new_master_ready', {});
    // Step 6.
    snap = await this.store.read();
    g = snap.groups.get(gid);
    if (!g || g.record.promoting?.newMaster !== addr) throw failed(gid, addr, 'model', 'the group changed while promoting');
    const servers = g.record.servers.map((s) => ({ addr: s.addr, role: s.addr === addr ? ('master' as const) : ('replica' as const) }));
    // New master first: Codis convention, and what `redslot status` shows first.
    servers.sort((a, b) => (a.role === b.role ? 0 : a.role === 'master' ? -1 : 1));
    const rec = withoutPromoting(g.record, servers);
    const rev = await this.store.commit(`group ${gid}`, snap.revision, [this.store.guard(this.store.paths.group(gid), g.modRevision)], [this.store.groupPut(rec)]);
    steps.push(`model: ${addr} is master at revision ${rev}`);
    log.info('promote.model_switched', { revision: rev, oldMaster });
    // Step 7.
    try {
      await this.opts.barrier(rev, signal);
      steps.push('every live proxy re-pointed');
    } catch (err) {
      warnings.push(`proxies did not all acknowledge the switch yet: ${(err as Error).message}`);
    }
    // Step 8.
    for (const s of servers) {
      if (s.addr === addr) continue;
      try {
        await this.dialer.withServer(s.addr, known, (c) => c.replicaOf(addr));
        steps.push(`REPLICAOF ${addr} on ${s.addr}`);
      } catch (err) {
        warnings.push(`could not re-point ${s.addr}${s.addr === oldMaster ? ' (old master)' : ''}: ${(err as Error).message}; run REPLICAOF ${addr.replace(/:(\d+)$/, ' $1')} on it when it is back`);
      }
    }
    log.info('promote.done', { revision: rev, steps: steps.length, warnings });
    return { revision: rev, group: groupView(snap, { record: rec, modRevision: rev }), steps, warnings };
  }

  /** Clears `promoting` (proxies resume on the old master). */
  private async rollback(gid: number, addr: string, reason: string): Promise<void> {
    try {
      const snap = await this.store.read();
      const g = snap.groups.get(gid);
      if (!g || g.record.promoting?.newMaster !== addr) return;
      const rec = withoutPromoting(g.record, g.record.servers);
      const rev = await this.store.commit(`group ${gid}`, snap.revision, [this.store.guard(this.store.paths.group(gid), g.modRevision)], [this.store.groupPut(rec)]);
      this.log.warn('promote.rolled_back', { gid, addr, reason, revision: rev });
    } catch (err) {
      this.log.error('promote.rollback_failed', { gid, addr, reason, err });
    }
  }

  /** onBecameLeader: finish every promotion a previous leader left half-way. */
  async resumeAll(signal?: AbortSignal): Promise<Array<{ gid: number; ok: boolean; detail: string }>> {
    const snap = await this.store.read();
    const out: Array<{ gid: number; ok: boolean; detail: string }> = [];
    for (const g of snap.groups.values()) {
      const p = g.record.promoting;
      if (!p) continue;
      this.log.info('promote.resume', { gid: g.record.id, newMaster: p.newMaster, state: p.state });
      try {
        const r = await this.finish(g.record.id, p.newMaster, g.modRevision, [`resumed (${p.state})`], false, signal);
        out.push({ gid: g.record.id, ok: true, detail: [...r.steps, ...r.warnings].join('; ') });
      } catch (err) {
        out.push({ gid: g.record.id, ok: false, detail: (err as Error).message });
      }
    }
    return out;
  }
}

/** The group with `servers` and no `promoting`; everything else (a split's marker) is kept. */
function withoutPromoting(g: GroupRecord, servers: GroupRecord['servers']): GroupRecord {
  const rec: GroupRecord = { ...g, servers };
  delete rec.promoting;
  return rec;
}
