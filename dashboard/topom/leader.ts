/**
 * Leader election among any number of dashboards, through a lease on `paths.leader`.
 *
 * - Each dashboard grants a lease (TTL knob), registers itself under `paths.member(id)` with it, and
 *   campaigns: a txn "create `leader` if absent" under its lease. The winner's term is the leader key's
 *   createRevision; every topology txn compares it (store.ts), so a deposed leader cannot write.
 * - Followers watch the leader key and campaign as soon as it is deleted (lease expired or revoked), so a
 *   standby takes over within the TTL of a crashed leader (etcd expires the lease, the watch reports the
 *   delete within a few hundred ms).
 * - Self-fencing: if the lease has not been renewed for a whole TTL (etcd unreachable), this dashboard stops
 *   acting as leader at once, before a new leader can be elected; on `lost` it re-grants and campaigns again.
 * - `onBecameLeader` hooks run, in order, each time leadership is won: services resume unfinished work there
 *   (promotion now, the migration engine later). `onLostLeadership` hooks stop background work.
 */
import type { Coordinator, Lease, Watch } from '../../shared/coordinator/types.js';
import type { Logger } from '../../shared/log.js';
import type { ClusterPaths } from '../../shared/model/paths.js';
import type { LeaderRecord } from '../../shared/model/types.js';
import type { Compare } from '../../shared/coordinator/types.js';
import type { DashboardMetrics } from '../metrics/dashboard.js';

export type LeaderHook = (signal: AbortSignal) => Promise<void> | void;

export interface LeaderElectionOptions {
  id: string;
  addr: string;
  ttlMs: number;
}

export class LeaderElection {
  private lease: Lease | undefined;
  private watch: Watch | undefined;
  private leaderRec: LeaderRecord | null = null;
  private term = 0;
  private leading = false;
  private stopped = true;
  private campaigning: Promise<void> | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private leaderAbort: AbortController | undefined;
  private readonly becameHooks: Array<{ name: string; fn: LeaderHook }> = [];
  private readonly lostHooks: Array<{ name: string; fn: () => void }> = [];
  private readonly since = new Date().toISOString();
  private opts: LeaderElectionOptions;

  constructor(
    private readonly coord: Coordinator,
    private readonly paths: ClusterPaths,
    opts: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly metrics?: DashboardMetrics,
  ) {
    this.opts = opts;
  }

  get id(): string {
    return this.opts.id;
  }

  get addr(): string {
    return this.opts.addr;
  }

  /** Registers work to (re)start whenever this dashboard becomes leader. */
  onBecameLeader(name: string, fn: LeaderHook): void {
    this.becameHooks.push({ name, fn });
  }

  onLostLeadership(name: string, fn: () => void): void {
    this.lostHooks.push({ name, fn });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The current leader as last seen (this dashboard or another), or null during an election. */
  leader(): LeaderRecord | null {
    return this.leaderRec;
  }

  /** The compare every topology txn carries while leading; null when not leading. */
  fence(): Compare | null {
    if (!this.leading) return null;
    return { key: this.paths.leader, target: 'create', op: '==', value: this.term };
  }

  /** AbortSignal of the current term (aborted when leadership is lost). */
  termSignal(): AbortSignal | undefined {
    return this.leaderAbort?.signal;
  }

  async start(addr?: string): Promise<void> {
    if (addr) this.opts = { ...this.opts, addr };
    this.stopped = false;
    await this.acquireLease();
    const cur = await this.coord.get(this.paths.leader);
    this.leaderRec = cur ? (JSON.parse(cur.value) as LeaderRecord) : null;
    const fromRevision = (await this.coord.getPrefix(this.paths.leader)).revision + 1;
    this.watch = await this.coord.watchPrefix(this.paths.leader, fromRevision, {
      onBatch: (batch) => {
        for (const ev of batch.events) {
          if (ev.kv.key !== this.paths.leader) continue;
          if (ev.type === 'put') {
            this.leaderRec = JSON.parse(ev.kv.value) as LeaderRecord;
          } else {
            this.leaderRec = null;
            if (this.leading) this.stepDown('leader key deleted');
            void this.campaign();
          }
        }
      },
      onReset: () => {
        void this.refreshLeader();
      },
    });
    this.fenceTimer = setInterval(() => this.checkLease(), Math.max(100, Math.floor(this.opts.ttlMs / 10)));
    this.fenceTimer.unref();
    await this.campaign();
  }

  private async refreshLeader(): Promise<void> {
    const cur = await this.coord.get(this.paths.leader).catch(() => undefined);
    this.leaderRec = cur ? (JSON.parse(cur.value) as LeaderRecord) : null;
    if (!cur) void this.campaign();
  }

  private async acquireLease(): Promise<void> {
    const lease = await this.coord.grantLease(Math.max(1, Math.ceil(this.opts.ttlMs / 1000)));
    this.lease = lease;
    lease.on('lost', () => {
      if (this.lease !== lease || this.stopped) return;
      this.log.warn('dashboard.lease_lost', { id: this.id, leading: this.leading });
      if (this.leading) this.stepDown('lease lost');
      void this.reacquire();
    });
    lease.on('keepaliveSucceeded', () => {
      // Renewals came back after a self-fence: the leader key (ours, same lease) may still be there.
      if (this.lease === lease && !this.leading && !this.stopped && this.leaderRec?.id === this.id) void this.campaign();
    });
    const member: LeaderRecord = { id: this.id, addr: this.addr, since: this.since };
    await this.coord.put(this.paths.member(this.id), JSON.stringify(member), { lease: lease.id });
  }

  private async reacquire(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.acquireLease();
        await this.campaign();
        return;
      } catch (err) {
        this.log.warn('dashboard.lease_regrant_failed', { attempt, err });
        await new Promise((r) => setTimeout(r, Math.min(1000, 100 * (attempt + 1))));
      }
    }
  }

  /** Self-fence: a lease not renewed for a whole TTL may already have expired at the coordinator. */
  private checkLease(): void {
    if (!this.leading || !this.lease) return;
    const age = Math.round(performance.now() - this.lease.renewedAtMonotonic());
    if (age > this.opts.ttlMs) this.stepDown(`lease not renewed for ${age} ms`);
  }

  /** One campaign at a time; loses quietly when someone else holds the key. */
  campaign(): Promise<void> {
    if (this.campaigning) return this.campaigning;
    this.campaigning = this.doCampaign().finally(() => {
      this.campaigning = undefined;
    });
    return this.campaigning;
  }

  private async doCampaign(): Promise<void> {
    if (this.stopped || this.leading || !this.lease) return;
    const rec: LeaderRecord = { id: this.id, addr: this.addr, since: new Date().toISOString() };
    try {
      const res = await this.coord.txn(
        [{ key: this.paths.leader, target: 'create', op: '==', value: 0 }],
        [{ type: 'put', key: this.paths.leader, value: JSON.stringify(rec), lease: this.lease.id }],
      );
      if (!res.succeeded) {
        const cur = await this.coord.get(this.paths.leader);
        if (cur) {
          this.leaderRec = JSON.parse(cur.value) as LeaderRecord;
          // Our own key from an earlier term (same lease) after a restart of the watch: adopt it.
          if (this.leaderRec.id === this.id && cur.lease === this.lease.id) this.becomeLeader(cur.createRevision, this.leaderRec);
        } else {
          // Deleted between the txn and the read: try again.
          queueMicrotask(() => void this.campaign());
        }
        return;
      }
      this.becomeLeader(res.revision, rec);
    } catch (err) {
      this.log.warn('dashboard.campaign_failed', { id: this.id, err });
      if (!this.stopped) setTimeout(() => void this.campaign(), 500).unref();
    }
  }

  private becomeLeader(term: number, rec: LeaderRecord): void {
    if (this.stopped) return;
    this.term = term;
    this.leading = true;
    this.leaderRec = rec;
    this.leaderAbort = new AbortController();
    this.metrics?.isLeader.set(1);
    this.metrics?.leaderChanges.inc({ to: 'leader' });
    this.log.info('dashboard.became_leader', { id: this.id, addr: this.addr, term });
    const signal = this.leaderAbort.signal;
    void (async () => {
      for (const h of this.becameHooks) {
        if (signal.aborted) return;
        try {
          this.log.info('dashboard.resume', { hook: h.name });
          await h.fn(signal);
        } catch (err) {
          this.log.error('dashboard.resume_failed', { hook: h.name, err });
        }
      }
    })();
  }

  private stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.term = 0;
    this.leaderAbort?.abort(new Error(reason));
    this.metrics?.isLeader.set(0);
    this.metrics?.leaderChanges.inc({ to: 'standby' });
    this.log.warn('dashboard.stepped_down', { id: this.id, reason });
    for (const h of this.lostHooks) {
      try {
        h.fn();
      } catch (err) {
        this.log.error('dashboard.lost_hook_failed', { hook: h.name, err });
      }
    }
  }

  /** Members currently registered (every running dashboard). */
  async members(): Promise<LeaderRecord[]> {
    const res = await this.coord.getPrefix(this.paths.members);
    return res.kvs.map((kv) => JSON.parse(kv.value) as LeaderRecord);
  }

  /** Steps down and revokes the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.fenceTimer) clearInterval(this.fenceTimer);
    this.stepDown('shutting down');
    await this.watch?.cancel().catch(() => undefined);
    const lease = this.lease;
    this.lease = undefined;
    await lease?.revoke().catch((err: unknown) => this.log.warn('dashboard.lease_revoke_failed', { err }));
  }
}
