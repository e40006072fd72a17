/**
 * Which replicas may serve reads (READONLY clients, `reads: replica-preferred`): every interval the proxy asks
 * each group's master and replicas for INFO replication and sets `BackendServer.readable` on each replica:
 *
 *   readable <=> link to the master up, same replication id as the group's master (really ITS replica), and
 *                lag <= replicaMaxLag.
 *
 * Lag is measured against the master's offsets sampled over time: the replica has everything the master had
 * at the newest sample whose offset it reached, so lag <= now - that sample's time (a bound, at the
 * granularity of the interval). A replica that cannot be asked, or any doubt, means "not readable": the
 * master serves.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../shared/log.js';
import { RedisAdmin, type RedisInfo } from '../../dashboard/redis/admin.js';
import type { BackendServer } from '../backend/pool.js';
import type { ProxyConfig } from '../config.js';
import type { SlotTable } from '../router/slot-table.js';

export interface ReplicaHealthOptions {
  table: SlotTable;
  intervalMs: number;
  timeoutMs: number;
  maxLagMs: number;
  user?: string;
  password?: string;
  log: Logger;
}

const MAX_SAMPLES = 64;

interface Sample {
  at: number;
  offset: number;
}

export class ReplicaHealth {
  private readonly admins = new Map<string, RedisAdmin>();
  private readonly samples = new Map<string, Sample[]>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;

  constructor(private readonly opts: ReplicaHealthOptions) {}

  /** The monitor of one proxy process (or worker) with the proxy's knobs, started. */
  static start(table: SlotTable, config: ProxyConfig, log: Logger): ReplicaHealth {
    const h = new ReplicaHealth({
      table,
      intervalMs: config.reachability.intervalMs,
      timeoutMs: config.reachability.timeoutMs,
      maxLagMs: config.replicaMaxLagMs,
      user: config.backend.user,
      password: config.backend.password,
      log: log.child({ component: 'replica-health' }),
    });
    h.start();
    return h;
  }

  start(): void {
    if (this.opts.intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.round ??= this.tick()
        .catch((err: unknown) => this.opts.log.warn('replica_health.tick_failed', { err }))
        .finally(() => (this.round = undefined));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  private admin(addr: string): RedisAdmin {
    let a = this.admins.get(addr);
    if (!a) {
      a = new RedisAdmin({ addr, username: this.opts.user || undefined, password: this.opts.password || undefined, connectTimeoutMs: this.opts.timeoutMs, commandTimeoutMs: this.opts.timeoutMs });
      this.admins.set(addr, a);
    }
    return a;
  }

  private async info(addr: string): Promise<RedisInfo | null> {
    try {
      const a = this.admin(addr);
      await a.connect();
      return await a.info('replication');
    } catch {
      return null;
    }
  }

  async tick(): Promise<void> {
    const { table } = this.opts;
    const inUse = new Set<string>();
    await Promise.all(
      [...table.replicas].map(async ([gid, replicas]) => {
        const master = table.masters.find((m) => m.group === gid)?.server;
        for (const r of replicas) inUse.add(r.addr);
        if (!master) return this.unreadable(replicas);
        inUse.add(master.addr);
        const m = await this.info(master.addr);
        if (!m || m.role !== 'master' || m.masterReplOffset === undefined) return this.unreadable(replicas);
        const samples = this.samples.get(master.addr) ?? [];
        samples.push({ at: performance.now(), offset: m.masterReplOffset });
        if (samples.length > MAX_SAMPLES) samples.shift();
        this.samples.set(master.addr, samples);
        const replid = m.sections['replication']?.['master_replid'];
        await Promise.all(replicas.map(async (r) => this.judge(r, await this.info(r.addr), replid, samples)));
      }),
    );
    for (const [addr, a] of this.admins) {
      if (inUse.has(addr)) continue;
      a.close();
      this.admins.delete(addr);
      this.samples.delete(addr);
    }
  }

  private unreadable(replicas: readonly BackendServer[]): void {
    for (const r of replicas) r.readable = false;
  }

  private judge(r: BackendServer, info: RedisInfo | null, masterReplid: string | undefined, samples: readonly Sample[]): void {
    const was = r.readable;
    let lag = Number.POSITIVE_INFINITY;
    if (info && info.role === 'slave' && info.masterLinkStatus === 'up' && masterReplid !== undefined && info.sections['replication']?.['master_replid'] === masterReplid) {
      const offset = info.slaveReplOffset ?? -1;
      const now = performance.now();
      for (let i = samples.length - 1; i >= 0; i--) {
        if (samples[i]!.offset <= offset) {
          lag = now - samples[i]!.at;
          break;
        }
      }
    }
    r.readable = lag <= this.opts.maxLagMs;
    if (was !== r.readable) this.opts.log.info('replica_health.changed', { replica: r.addr, readable: r.readable, lagMs: Number.isFinite(lag) ? Math.round(lag) : null });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.round;
    for (const a of this.admins.values()) a.close();
    this.admins.clear();
  }
}
