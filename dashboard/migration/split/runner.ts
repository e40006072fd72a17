/**
 * Drives one split from its persisted step to the end (record.ts has the steps). Every step first re-reads the
 * record, does idempotent work, then persists the next step with a CAS; a lost CAS (an abort, a new leader)
 * simply re-reads. Failures are retried after `retryMs`; a fatal one (a master changed, the new master is not
 * the source's promoted replica, the offset not reached while held) aborts the split while that is still
 * possible, else marks it failed.
 */
import { CommonErrors, RedslotError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/log.js';
import { masterOf, parseGroup } from '../../../shared/model/topology.js';
import type { GroupRecord, GroupSplitMarker, SlotRecord } from '../../../shared/model/types.js';
import type { Compare, TxnOp } from '../../../shared/coordinator/types.js';
import { splitAddr } from '../../redis/admin.js';
import { RedisAdmin } from '../../redis/admin.js';
import { knownServers } from '../../topom/dialer.js';
import { CHUNK, type Versioned } from '../../topom/store.js';
import { beforeDeadline } from './deadline.js';
import { adminOptions, DEFAULT_SPLIT_KNOBS, type SplitDeps, type SplitKnobs } from './context.js';
import { SplitErrors } from './errors.js';
import { groupsAfter, promotingError, type MarkerChange, type SplitPersistence, type StoredSplit } from './persist.js';
import { newProgress, type SplitProgress } from './progress.js';
import { purgeSlots } from './purge.js';
import { ReplicaSteps } from './replica-steps.js';
import { ABORTABLE_STEPS, isActive, slotSet, type HoldParts, type SplitRecord, type SplitStep } from './record.js';
import { caughtUp, promotedFrom, replicationOf, sameAddr } from './replication.js';

/** How often the sync step re-checks the groups' masters in the coordinator (ms). */
const MODEL_CHECK_MS = 250;

/** A condition that retrying cannot fix. */
class Fatal extends Error {}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => (clearTimeout(t), reject(signal!.reason as Error));
    const t = setTimeout(() => (signal?.removeEventListener('abort', onAbort), resolve()), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export function marker(r: SplitRecord, role: 'source' | 'target', state: GroupSplitMarker['state']): GroupSplitMarker {
  const m: GroupSplitMarker = { id: r.id, role, peer: role === 'source' ? r.target : r.source, state };
  if (state === 'locked' || state === 'switched') m.slots = r.slots;
  return m;
}

/** Both markers of a split in `state`. */
function markers(r: SplitRecord, state: GroupSplitMarker['state']): MarkerChange[] {
  return [
    { gid: r.source, marker: marker(r, 'source', state) },
    { gid: r.target, marker: marker(r, 'target', state) },
  ];
}

export class SplitRunner {
  readonly progress: SplitProgress = newProgress();
  private readonly knobs: SplitKnobs;
  private readonly log: Logger;
  private readonly clients = new Map<string, RedisAdmin>();
  /** Revision of the `locked` txn this runner committed (0 after a resume: then read). */
  private lockRevision = 0;
  /** Both groups as the `locked` txn left them: the switch compares them without a read while the slots are held. */
  private heldGroups: Map<number, Versioned<GroupRecord>> | undefined;
  /** Epoch ms each part of the hold ended, in this leader (a resumed hold has none): where the hold went. */
  private holdMarks: { locked?: number; barrier?: number; caughtUp?: number } = {};
  /** Aborted to interrupt the current step (an operator's abort was persisted). */
  private stepCtl = new AbortController();
  /** The new group's replicas: chained during the sync, attached after the purge (replica-steps.ts). */
  private readonly replicas: ReplicaSteps;

  constructor(
    private readonly deps: SplitDeps,
    private readonly persist: SplitPersistence,
    readonly source: number,
  ) {
    this.knobs = { ...DEFAULT_SPLIT_KNOBS, ...deps.knobs };
    this.log = deps.log.child({ component: 'split', source });
    this.replicas = new ReplicaSteps(deps, this.knobs, this.progress, (a) => this.client(a), this.log);
  }

  /** Stop waiting in the current step and re-read the record. */
  interrupt(): void {
    this.stepCtl.abort(new Error('split step interrupted'));
  }

  /** Runs until the split is done, aborted or failed, or `signal` stops it (leadership lost). */
  async run(signal: AbortSignal): Promise<SplitRecord | undefined> {
    try {
      for (;;) {
        signal.throwIfAborted();
        const cur = await this.persist.read(this.source);
        if (!isActive(cur.record)) return cur.record;
        this.stepCtl = new AbortController();
        const stepSignal = AbortSignal.any([signal, this.stepCtl.signal]);
        try {
          if (this.knobs.stepDelayMs > 0) await sleep(this.knobs.stepDelayMs, stepSignal);
          await this.step(cur, stepSignal);
        } catch (err) {
          if (signal.aborted) throw err;
          if (this.stepCtl.signal.aborted) continue;
          if (err instanceof RedslotError && err.spec.code === CommonErrors.REDSLOT_ERR_CAS_CONFLICT.code) continue;
          if (err instanceof Fatal) {
            await this.giveUp(cur, err.message);
            continue;
          }
          this.deps.metrics?.stepErrors.inc({ step: cur.record.step });
          this.progress.lastError = { message: (err as Error).message, at: new Date().toISOString(), step: cur.record.step };
          this.log.warn('split.step_failed', { step: cur.record.step, err });
          await sleep(this.knobs.retryMs, signal);
        }
      }
    } finally {
      for (const c of this.clients.values()) c.close();
      this.clients.clear();
    }
  }

  private async step(cur: StoredSplit, signal: AbortSignal): Promise<void> {
    const r = cur.record;
    switch (r.step) {
      case 'syncing':
        return this.sync(cur, signal);
      case 'locked':
        return this.awaitOffset(cur, signal);
      case 'promoting':
        return this.promote(cur, signal);
      case 'switching':
        return this.switchSlots(cur, signal);
      case 'purging':
        return this.purge(cur, signal);
      case 'attaching':
        return this.attach(cur, signal);
      case 'aborting':
        return this.finishAbort(cur);
      default:
        return;
    }
  }

  /** `attaching`: the new group's replicas follow its master with the purge's deletions (replica-steps.ts). */
  private async attach(cur: StoredSplit, signal: AbortSignal): Promise<void> {
    const r = cur.record;
    const { outcomes, warnings } = await this.replicas.attach(r, signal);
    const all = [...(r.warnings ?? []), ...warnings];
    await this.persist.write({ ...r, step: 'done', replicas: outcomes, ...(all.length > 0 ? { warnings: all } : {}), finishedAt: new Date().toISOString() }, cur.modRevision);
    this.deps.metrics?.finished.inc({ outcome: 'done' });
    this.log.info('split.done', { purge: r.purge, holdMs: r.holdMs, replicas: outcomes });
  }

  // --- steps ------------------------------------------------------------------------------------------------

  /** Attach the new master to the source, wait until it is close, then hold the moving slots. */
  private async sync(cur: StoredSplit, signal: AbortSignal): Promise<void> {
    const r = cur.record;
    const [src, dst] = await this.masters(r);
    let t = await replicationOf(dst);
    if (!(t.role === 'slave' && sameAddr(t.master, r.sourceMaster))) {
      if (t.role === 'master' && (await dst.info('keyspace')).keys > 0) throw new Fatal(`${r.targetMaster} is a master holding keys, not a replica of ${r.sourceMaster}`);
      if (this.deps.redisPassword !== undefined) {
        await dst.call('CONFIG', 'SET', 'masterauth', this.deps.redisPassword);
        if (this.deps.redisUsername !== undefined) await dst.call('CONFIG', 'SET', 'masteruser', this.deps.redisUsername);
      }
      await dst.replicaOf(r.sourceMaster);
      this.log.info('split.replicaof', { target: r.targetMaster, source: r.sourceMaster });
    }
    let checkedAt = Date.now();
    for (;;) {
      signal.throwIfAborted();
      if (Date.now() - checkedAt >= MODEL_CHECK_MS) {
        // A failover or promotion of either group stops the split (the new master follows the old source).
        await this.checkModel(r);
        checkedAt = Date.now();
      }
      const s = await replicationOf(src);
      if (s.role !== 'master') {
        // The model's account first (a promotion or failover names the new master), else what the server says.
        await this.checkModel(r);
        throw new Fatal(`master change: ${r.sourceMaster} is no longer a master (${s.role}${s.master ? ` of ${s.master}` : ''}) during the split`);
      }
      t = await replicationOf(dst);
      this.observe(t, s.masterOffset);
      if (await this.replicas.readyToLock(r, caughtUp(t, r.sourceMaster, s.masterOffset, this.knobs.lagBytes), t.replicaOffset)) break;
      await sleep(this.knobs.pollMs, signal);
    }
    // The groups the lock txn compares are the ones checked here: a master change after this fails its CAS.
    const snap = await this.deps.store.read();
    checkMasters(r, snap.groups);
    const next: SplitRecord = { ...r, step: 'locked', lockedAtMs: Date.now() };
    const locking = markers(r, 'locked');
    const rev = await this.persist.write(next, cur.modRevision, locking, snap.groups);
    this.lockRevision = rev;
    this.heldGroups = groupsAfter(snap.groups, locking, rev);
    this.holdMarks = { locked: Date.now() };
    this.log.info('split.locked', { revision: rev, lagBytes: this.progress.lagBytes });
  }

  /**
   * Every proxy holds the slots: read the source's offset, record it (`promoting`) while the new master
   * catches up to it, then promote. The barrier and every wait are bounded by lockTimeoutMs (then the split
   * aborts, which releases the hold).
   */
  private async awaitOffset(cur: StoredSplit, signal: AbortSignal): Promise<void> {
    const r = cur.record;
    const deadline = Date.now() + this.knobs.lockTimeoutMs;
    // While the slots are held: no topology read that this runner can do without (the masters were checked
    // when it locked them).
    const [src, dst] = await this.masters(r, this.lockRevision > 0);
    await this.heldBarrier(this.lockRevision || (await this.revision()), deadline, signal);
    this.holdMarks.barrier = Date.now();
    const s = await this.bounded(replicationOf(src), r.sourceMaster, deadline);
    if (s.role !== 'master') throw new Fatal(`master change: ${r.sourceMaster} is no longer a master (${s.role}) while the slots were held`);
    const promoting: SplitRecord = { ...r, step: 'promoting', switchOffset: s.masterOffset, sourceReplId: s.replId };
    // One etcd round trip fewer while held: the offset is persisted while the new master catches up to it.
    const [written, reached] = await Promise.allSettled([
      this.persist.write(promoting, cur.modRevision),
      this.reachOffset(r, dst, s.masterOffset, deadline, signal),
    ]);
    if (written.status === 'rejected') throw written.reason;
    this.holdMarks.caughtUp = Date.now();
    const next: StoredSplit = { record: promoting, modRevision: written.value };
    if (reached.status === 'rejected') {
      if (!(reached.reason instanceof Fatal)) throw reached.reason;
      return this.giveUp(next, reached.reason.message);
    }
    // Tests: a pause inside `promoting` (it otherwise follows at once).
    if (this.knobs.stepDelayMs > 0) await sleep(this.knobs.stepDelayMs, signal);
    await this.promote(next, signal, this.knobs.stepDelayMs > 0 ? undefined : deadline);
  }

  /** Until the new master (still replicating the source) has applied `offset`; Fatal at the deadline. */
  private async reachOffset(r: SplitRecord, dst: RedisAdmin, offset: number, deadline: number, signal: AbortSignal): Promise<void> {
    let seen = -1;
    // (The deadline may pass during an INFO call: the reason is still the offset, not the call.)
    const notReached = () => `${r.targetMaster} did not reach offset ${offset} of ${r.sourceMaster} (last seen ${seen})`;
    for (;;) {
      const t = await this.bounded(replicationOf(dst), r.targetMaster, deadline, notReached);
      seen = t.replicaOffset;
      this.observe(t, offset);
      if (t.role !== 'slave' || !sameAddr(t.master, r.sourceMaster)) {
        throw new Fatal(`${r.targetMaster} stopped replicating ${r.sourceMaster} (${t.role}${t.master ? ` of ${t.master}` : ''}) while the slots were held`);
      }
      if (t.replicaOffset >= offset) return;
      if (Date.now() > deadline) throw lockTimeout(r.source, notReached(), this.knobs.lockTimeoutMs);
      signal.throwIfAborted();
      await sleep(1, signal);
    }
  }

  /** REPLICAOF NO ONE, and proof that the new master is the source's promoted replica with every write. */
  private async promote(cur: StoredSplit, signal: AbortSignal, deadline = Date.now() + this.knobs.lockTimeoutMs): Promise<void> {
    const r = cur.record;
    const [, dst] = await this.masters(r, this.lockRevision > 0);
    let t = await this.bounded(replicationOf(dst), r.targetMaster, deadline);
    if (t.role === 'slave') {
      await this.reachOffset(r, dst, r.switchOffset ?? 0, deadline, signal);
      await this.bounded(dst.replicaOf(null), r.targetMaster, deadline);
      t = await this.bounded(replicationOf(dst), r.targetMaster, deadline);
    }
    if (!promotedFrom(t, r.sourceReplId ?? '', r.switchOffset ?? 0)) {
      throw new Fatal(`${r.targetMaster} is a master but not the promoted replica of ${r.sourceMaster} at offset ${r.switchOffset} (replid2 ${t.replId2 || 'none'})`);
    }
    await this.release(cur);
  }

  /**
   * The switch: ONE txn moves `switching` and both markers to `switched` (proxies route the moving slots to
   * the new group from this revision on) and so releases the hold; the slot records follow outside the hold.
   */
  private async release(cur: StoredSplit): Promise<void> {
    const r = cur.record;
    // The groups the lock txn left (its CAS proves them unchanged), or after a conflict or a resume, read.
    const groups = this.heldGroups ?? (await this.deps.store.read()).groups;
    this.heldGroups = undefined;
    checkMasters(r, groups);
    const now = Date.now();
    const holdMs = now - (r.lockedAtMs ?? now);
    const holdPartsMs = holdParts(r.lockedAtMs, this.holdMarks, now);
    this.holdMarks = {};
    const next: SplitRecord = { ...r, step: 'switching', holdMs, holdPartsMs, switchedAt: new Date().toISOString() };
    const rev = await this.persist.write(next, cur.modRevision, markers(r, 'switched'), groups);
    this.deps.metrics?.holdSeconds.observe(holdMs / 1000);
    this.log.info('split.switched', { revision: rev, holdMs, holdPartsMs });
  }

  /**
   * After the switch (the proxies already route the moving slots to the new group by the `switched` markers):
   * the slot records get the new owner in CAS chunks, then the markers move to `purging`.
   */
  private async switchSlots(cur: StoredSplit, signal: AbortSignal): Promise<void> {
    const r = cur.record;
    const { store, paths } = this.deps;
    const moving = slotSet(r.slots);
    const snap = await store.read();
    const source = snap.groups.get(r.source)!;
    const target = { ...snap.groups.get(r.target)! };
    // A promotion's CAS writes must not lose to these chunks (which rewrite the target's record too).
    for (const g of [source, target]) if (g.record.promoting) throw promotingError(r.source, g.record.id, g.record);
    const todo = snap.slots.filter((v) => moving[v.record.id] === 1 && v.record.group === r.source).map((v) => v.record.id);
    for (let off = 0; off < todo.length; off += CHUNK) {
      signal.throwIfAborted();
      const chunk = todo.slice(off, off + CHUNK);
      const compares: Compare[] = [store.guard(paths.group(r.target), target.modRevision), this.persist.recordGuard(r.source, cur.modRevision)];
      const ops: TxnOp[] = [store.groupPut(target.record)];
      for (const sid of chunk) {
        compares.push(store.guard(paths.slot(sid), snap.slots[sid]!.modRevision));
        const rec: SlotRecord = { id: sid, group: r.target };
        ops.push(store.slotPut(rec));
      }
      target.modRevision = await store.commit(`split of group ${r.source}: slots to group ${r.target}`, snap.revision, compares, ops);
    }
    const known = new Map([[r.source, source], [r.target, target]]);
    const rev = await this.persist.write({ ...r, step: 'purging' }, cur.modRevision, markers(r, 'purging'), known);
    this.log.info('split.slots_rewritten', { revision: rev, slots: todo.length });
  }

  /** Leftovers deleted on both sides, then the markers removed. */
  private async purge(cur: StoredSplit, signal: AbortSignal): Promise<void> {
    const r = cur.record;
    // After the switch a failover is ordinary: the purge follows the groups' current masters.
    const [src, dst] = await this.masters(r, false, true);
    // Nothing is deleted before every proxy routes the moved slots to the new master.
    await this.deps.barrier(await this.revision(), signal);
    const moving = slotSet(r.slots);
    const staying = moving.map((v) => 1 - v);
    const p = this.progress;
    [p.purgeSourceKeys, p.purgeTargetKeys] = [(await src.info('keyspace')).keys, (await dst.info('keyspace')).keys];
    const opts = { batchKeys: this.knobs.purgeBatchKeys, pauseMs: this.knobs.purgePauseMs, signal };
    const [fromSource, fromTarget] = await Promise.all([
      purgeSlots(src, moving, { ...opts, onDeleted: (n) => ((p.purgedSource += n), this.deps.metrics?.purged.inc({ side: 'source' }, n)) }),
      purgeSlots(dst, staying, { ...opts, onDeleted: (n) => ((p.purgedTarget += n), this.deps.metrics?.purged.inc({ side: 'target' }, n)) }),
    ]);
    const purge = { sourceDeleted: (r.purge?.sourceDeleted ?? 0) + fromSource, targetDeleted: (r.purge?.targetDeleted ?? 0) + fromTarget };
    await this.persist.write({ ...r, step: 'attaching', purge, attachingSinceMs: Date.now() }, cur.modRevision, [
      { gid: r.source, marker: undefined },
      { gid: r.target, marker: undefined },
    ]);
    this.log.info('split.purged', { purge, holdMs: r.holdMs });
  }

  /**
   * The hold is gone already (abort txn): detach and empty the new group's master, then drop its marker. Its
   * master as the model names it now: after a promotion in the new group that is no longer `targetMaster`
   * (the promoted replica holds the copy too; the old one replicates it and is emptied with it).
   */
  private async finishAbort(cur: StoredSplit): Promise<void> {
    const r = cur.record;
    const [, dst] = await this.masters(r, false, true);
    await dst.replicaOf(null);
    await dst.call('FLUSHALL', 'ASYNC');
    await this.persist.write({ ...r, step: 'aborted', finishedAt: new Date().toISOString() }, cur.modRevision, [
      { gid: r.source, marker: undefined },
      { gid: r.target, marker: undefined },
    ]);
    this.deps.metrics?.finished.inc({ outcome: 'aborted' });
    this.log.warn('split.aborted', { reason: r.reason });
  }

  /** A fatal condition: abort while no slot changed owner, else stop at `failed` for the operator. */
  private async giveUp(cur: StoredSplit, reason: string): Promise<void> {
    const r = cur.record;
    this.log.error('split.fatal', { step: r.step, reason });
    if (ABORTABLE_STEPS.includes(r.step)) {
      await this.persist.write(abortingRecord(r, reason), cur.modRevision, abortMarkers(r));
      return;
    }
    await this.persist.write({ ...r, step: 'failed', reason, finishedAt: new Date().toISOString() }, cur.modRevision);
    this.deps.metrics?.finished.inc({ outcome: 'failed' });
  }

  // --- helpers ----------------------------------------------------------------------------------------------

  /** The revision of the latest topology change (what proxies acknowledge; the store's own revision also counts acks). */
  private async revision(): Promise<number> {
    const snap = await this.deps.store.read();
    let rev = 0;
    for (const g of snap.groups.values()) rev = Math.max(rev, g.modRevision);
    for (const s of snap.slots) rev = Math.max(rev, s.modRevision);
    return rev;
  }

  /**
   * Connections to both masters, after checking the model still names them (`reuse`: this runner's open
   * connections without a new check, while the slots are held).
   */
  private async masters(r: SplitRecord, reuse = false, current = false): Promise<[RedisAdmin, RedisAdmin]> {
    const open = [this.clients.get(r.sourceMaster), this.clients.get(r.targetMaster)];
    if (reuse && open[0]?.connected && open[1]?.connected) return [open[0], open[1]];
    const snap = await this.deps.store.read();
    let addrs = [r.sourceMaster, r.targetMaster];
    if (current) {
      // `current`: whoever masters the groups now (after the switch, or to clean up an abort); a group
      // without one, or promoting, is retried later.
      for (const gid of [r.source, r.target]) {
        const g = snap.groups.get(gid)?.record;
        if (g?.promoting) throw promotingError(r.source, gid, g);
      }
      addrs = [r.source, r.target].map((gid) => masterOf(snap.groups.get(gid)?.record) ?? '');
      if (addrs.includes('')) throw new Error(`group ${r.source} or ${r.target} has no master now; retrying`);
    } else checkMasters(r, snap.groups);
    const known = knownServers(snap);
    for (const addr of addrs) this.deps.assertAllowed(addr, known);
    return [await this.client(addrs[0]!), await this.client(addrs[1]!)];
  }

  /** The two groups' records as stored now (two point reads) must still name the split's masters. */
  private async checkModel(r: SplitRecord): Promise<void> {
    const groups = new Map<number, Versioned<GroupRecord>>();
    for (const gid of [r.source, r.target]) {
      const kv = await this.deps.coord.get(this.deps.paths.group(gid));
      if (kv) groups.set(gid, { record: parseGroup(kv.value), modRevision: kv.modRevision });
    }
    checkMasters(r, groups);
  }

  /** The barrier on the lock, within the hold's deadline. */
  private async heldBarrier(revision: number, deadline: number, signal: AbortSignal): Promise<void> {
    const late = AbortSignal.timeout(Math.max(0, deadline - Date.now()));
    try {
      await this.deps.barrier(revision, AbortSignal.any([signal, late]));
    } catch (err) {
      if (late.aborted && !signal.aborted) throw lockTimeout(this.source, `the proxies did not all acknowledge the hold`, this.knobs.lockTimeoutMs);
      throw err;
    }
  }

  /** A Redis call while the slots are held: Fatal (so the split aborts) if `addr` does not answer by `deadline`. */
  private bounded<T>(p: Promise<T>, addr: string, deadline: number, what = () => `${addr} did not answer`): Promise<T> {
    return beforeDeadline(p, deadline, () => {
      // The connection has a request that may never be answered: later calls get a new one.
      this.clients.get(addr)?.close();
      this.clients.delete(addr);
      return lockTimeout(this.source, what(), this.knobs.lockTimeoutMs);
    });
  }

  private async client(addr: string): Promise<RedisAdmin> {
    splitAddr(addr);
    let c = this.clients.get(addr);
    if (!c) {
      c = new RedisAdmin(adminOptions(this.deps, addr, 30_000));
      this.clients.set(addr, c);
    }
    await c.connect();
    return c;
  }

  private observe(t: Awaited<ReturnType<typeof replicationOf>>, sourceOffset: number): void {
    const p = this.progress;
    p.syncReadBytes = t.syncInProgress ? t.syncReadBytes : Math.max(p.syncReadBytes, t.syncTotalBytes);
    p.syncTotalBytes = t.syncTotalBytes;
    p.lagBytes = t.role === 'slave' && t.linkUp && !t.syncInProgress ? Math.max(0, sourceOffset - t.replicaOffset) : -1;
  }
}

/**
 * Before the switch: the masters the split started with must still be the groups' masters (else Fatal: the new
 * master replicates a server that no longer masters the source, or the new group's data is not where the split
 * put it, so the split aborts). A promotion in progress is waited for (retried), not raced.
 */
function checkMasters(r: SplitRecord, groups: ReadonlyMap<number, Versioned<GroupRecord>>): void {
  for (const [gid, addr] of [[r.source, r.sourceMaster], [r.target, r.targetMaster]] as const) {
    const g = groups.get(gid)?.record;
    if (g?.promoting) throw promotingError(r.source, gid, g);
    const now = masterOf(g);
    if (now !== addr) throw new Fatal(`master change: the master of group ${gid} changed from ${addr} to ${now ?? 'none'} during the split`);
  }
}

function lockTimeout(source: number, what: string, ms: number): Fatal {
  return new Fatal(`lock timeout: ${what} within lockTimeoutMs (${ms} ms) while the slots of group ${source} were held`);
}

/** The hold cut at the marks this leader took (lock txn, barrier, catch-up); undefined after a resume. */
function holdParts(lockedAtMs: number | undefined, m: { locked?: number; barrier?: number; caughtUp?: number }, now: number): HoldParts | undefined {
  if (lockedAtMs === undefined || m.locked === undefined || m.barrier === undefined || m.caughtUp === undefined) return undefined;
  return { lockTxn: m.locked - lockedAtMs, barrier: m.barrier - m.locked, catchUp: m.caughtUp - m.barrier, promote: now - m.caughtUp };
}

/** The record an abort writes (with abortMarkers, in the same txn): the source's hold released at once. */
export function abortingRecord(r: SplitRecord, reason: string): SplitRecord {
  return { ...r, step: 'aborting' as SplitStep, reason };
}

export function abortMarkers(r: SplitRecord): Array<{ gid: number; marker: GroupSplitMarker | undefined }> {
  // The target stays hidden from cluster-wide commands until it is flushed.
  return [
    { gid: r.source, marker: undefined },
    { gid: r.target, marker: marker(r, 'target', 'syncing') },
  ];
}

export { SplitErrors };
