/**
 * Drives one split from its persisted step to the end (record.ts has the steps). Every step first re-reads the
 * record, does idempotent work, then persists the next step with a CAS; a lost CAS (an abort, a new leader)
 * simply re-reads. Failures are retried after `retryMs`; a fatal one (a master changed, the new master is not
 * the source's promoted replica, the offset not reached while held) aborts the split while that is still
 * possible, else marks it failed.
 */
import { CommonErrors, RedslotError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/log.js';
import { masterOf } from '../../../shared/model/topology.js';
import type { GroupSplitMarker, SlotRecord } from '../../../shared/model/types.js';
import type { Compare, TxnOp } from '../../../shared/coordinator/types.js';
import { splitAddr } from '../../redis/admin.js';
import { RedisAdmin } from '../../redis/admin.js';
import { knownServers } from '../../topom/dialer.js';
import { CHUNK } from '../../topom/store.js';
import { adminOptions, DEFAULT_SPLIT_KNOBS, type SplitDeps, type SplitKnobs } from './context.js';
import { SplitErrors } from './errors.js';
import type { SplitPersistence, StoredSplit } from './persist.js';
import { newProgress, type SplitProgress } from './progress.js';
import { purgeSlots } from './purge.js';
import { ReplicaSteps } from './replica-steps.js';
import { ABORTABLE_STEPS, isActive, slotSet, type SplitRecord, type SplitStep } from './record.js';
import { caughtUp, promotedFrom, replicationOf, sameAddr } from './replication.js';

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
  if (state === 'locked') m.slots = r.slots;
  return m;
}

export class SplitRunner {
  readonly progress: SplitProgress = newProgress();
  private readonly knobs: SplitKnobs;
  private readonly log: Logger;
  private readonly clients = new Map<string, RedisAdmin>();
  /** Revision of the `locked` txn this runner committed (0 after a resume: then read). */
  private lockRevision = 0;
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
    for (;;) {
      signal.throwIfAborted();
      const s = await replicationOf(src);
      t = await replicationOf(dst);
      this.observe(t, s.masterOffset);
      if (await this.replicas.readyToLock(r, caughtUp(t, r.sourceMaster, s.masterOffset, this.knobs.lagBytes), t.replicaOffset)) break;
      await sleep(this.knobs.pollMs, signal);
    }
    const next: SplitRecord = { ...r, step: 'locked', lockedAtMs: Date.now() };
    const rev = await this.persist.write(next, cur.modRevision, [
      { gid: r.source, marker: marker(r, 'source', 'locked') },
      { gid: r.target, marker: marker(r, 'target', 'locked') },
    ]);
    this.lockRevision = rev;
    this.log.info('split.locked', { revision: rev, lagBytes: this.progress.lagBytes });
  }

  /** Every proxy holds the slots: wait until the new master has everything the source had then. */
  private async awaitOffset(cur: StoredSplit, signal: AbortSignal): Promise<void> {
    const r = cur.record;
    // While the slots are held: no topology read that this runner can do without (the masters were checked
    // when it locked them).
    const [src, dst] = await this.masters(r, this.lockRevision > 0);
    await this.deps.barrier(this.lockRevision || (await this.revision()), signal);
    const s = await replicationOf(src);
    const deadline = Date.now() + this.knobs.lockTimeoutMs;
    for (;;) {
      const t = await replicationOf(dst);
      this.observe(t, s.masterOffset);
      if (t.role === 'slave' && sameAddr(t.master, r.sourceMaster) && t.replicaOffset >= s.masterOffset) break;
      if (t.role !== 'slave') throw new Fatal(`${r.targetMaster} stopped replicating ${r.sourceMaster} while the slots were held`);
      if (Date.now() > deadline) throw new Fatal(`${r.targetMaster} did not reach offset ${s.masterOffset} of ${r.sourceMaster} within ${this.knobs.lockTimeoutMs} ms while the slots were held`);
      signal.throwIfAborted();
      await sleep(1, signal);
    }
    await this.persist.write({ ...r, step: 'promoting', switchOffset: s.masterOffset, sourceReplId: s.replId }, cur.modRevision);
  }

  /** REPLICAOF NO ONE, and proof that the new master is the source's promoted replica with every write. */
  private async promote(cur: StoredSplit, signal: AbortSignal): Promise<void> {
    const r = cur.record;
    const [, dst] = await this.masters(r, this.lockRevision > 0);
    let t = await replicationOf(dst);
    if (t.role === 'slave') {
      const deadline = Date.now() + this.knobs.lockTimeoutMs;
      while (t.replicaOffset < (r.switchOffset ?? 0)) {
        if (Date.now() > deadline) throw new Fatal(`${r.targetMaster} did not reach offset ${r.switchOffset} before its promotion`);
        await sleep(1, signal);
        t = await replicationOf(dst);
      }
      await dst.replicaOf(null);
      t = await replicationOf(dst);
    }
    if (!promotedFrom(t, r.sourceReplId ?? '', r.switchOffset ?? 0)) {
      throw new Fatal(`${r.targetMaster} is a master but not the promoted replica of ${r.sourceMaster} at offset ${r.switchOffset} (replid2 ${t.replId2 || 'none'})`);
    }
    // `switching` is written with the first slot chunk (one txn fewer while the slots are held).
    await this.switchSlots(cur, signal);
  }

  /** The moving slots get the new owner (CAS chunks, still held), then one txn releases the hold. */
  private async switchSlots(cur: StoredSplit, signal: AbortSignal): Promise<void> {
    let r = cur.record;
    let recordMod = cur.modRevision;
    const { store, paths } = this.deps;
    const moving = slotSet(r.slots);
    const snap = await store.read();
    const source = snap.groups.get(r.source)!;
    const target = { ...snap.groups.get(r.target)! };
    const todo = snap.slots.filter((v) => moving[v.record.id] === 1 && v.record.group === r.source).map((v) => v.record.id);
    for (let off = 0; off < todo.length; off += CHUNK) {
      signal.throwIfAborted();
      const chunk = todo.slice(off, off + CHUNK);
      const compares: Compare[] = [store.guard(paths.group(r.target), target.modRevision)];
      const ops: TxnOp[] = [store.groupPut(target.record)];
      for (const sid of chunk) {
        compares.push(store.guard(paths.slot(sid), snap.slots[sid]!.modRevision));
        const rec: SlotRecord = { id: sid, group: r.target };
        ops.push(store.slotPut(rec));
      }
      const entering = r.step !== 'switching';
      if (entering) {
        r = { ...r, step: 'switching' };
        compares.push(this.persist.recordGuard(r.source, recordMod));
        ops.push(this.persist.recordPut(r));
      }
      const rev = await store.commit(`split of group ${r.source}: slots to group ${r.target}`, snap.revision, compares, ops);
      target.modRevision = rev;
      if (entering) {
        recordMod = rev;
        // Tests: `switching` begins here (not at the loop's top), so its pause does too.
        if (this.knobs.stepDelayMs > 0) await sleep(this.knobs.stepDelayMs, signal);
      }
    }
    const holdMs = Date.now() - (r.lockedAtMs ?? Date.now());
    const next: SplitRecord = { ...r, step: 'purging', holdMs, switchedAt: new Date().toISOString() };
    const known = new Map([[r.source, source], [r.target, target]]);
    const rev = await this.persist.write(
      next,
      recordMod,
      [
        { gid: r.source, marker: marker(r, 'source', 'purging') },
        { gid: r.target, marker: marker(r, 'target', 'purging') },
      ],
      known,
    );
    this.deps.metrics?.holdSeconds.observe(holdMs / 1000);
    this.log.info('split.switched', { revision: rev, holdMs, slots: todo.length });
    await this.deps.barrier(rev, signal);
  }

  /** Leftovers deleted on both sides, then the markers removed. */
  private async purge(cur: StoredSplit, signal: AbortSignal): Promise<void> {
    const r = cur.record;
    const [src, dst] = await this.masters(r);
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

  /** The hold is gone already (abort txn): detach and empty the new master, then drop its marker. */
  private async finishAbort(cur: StoredSplit): Promise<void> {
    const r = cur.record;
    const dst = await this.client(r.targetMaster);
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
  private async masters(r: SplitRecord, reuse = false): Promise<[RedisAdmin, RedisAdmin]> {
    const open = [this.clients.get(r.sourceMaster), this.clients.get(r.targetMaster)];
    if (reuse && open[0]?.connected && open[1]?.connected) return [open[0], open[1]];
    const snap = await this.deps.store.read();
    for (const [gid, addr] of [[r.source, r.sourceMaster], [r.target, r.targetMaster]] as const) {
      const now = masterOf(snap.groups.get(gid)?.record);
      if (now !== addr) throw new Fatal(`the master of group ${gid} changed from ${addr} to ${now ?? 'none'} during the split`);
    }
    const known = knownServers(snap);
    this.deps.assertAllowed(r.sourceMaster, known);
    this.deps.assertAllowed(r.targetMaster, known);
    return [await this.client(r.sourceMaster), await this.client(r.targetMaster)];
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
