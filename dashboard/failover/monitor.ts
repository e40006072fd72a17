/**
 * Automatic failover, run by the dashboard leader only (started by an onBecameLeader hook, stopped when
 * leadership is lost). Every `checkIntervalMs`:
 *
 *  1. probes every group's master itself (INFO replication: reachability and the master's offset) and every
 *     replica (role, link, offset: lag for the status, stale servers for step 4);
 *  2. reads the live proxies' reachability reports (health/<proxyId>) and asks the DownDetector whether a
 *     master is down (the leader AND a majority of live proxies, for failover.downAfterMs);
 *  3. for a down master: refuses when failover is disabled for the group, in cool-down, the group is busy, or
 *     no replica is eligible (a loud alert: status, metric, log, audit); otherwise promotes the best replica
 *     through PromotionService (the barrier-guarded promotion, `failover` mode), which re-points the others;
 *  4. a server the model names as a replica but that is a master or replicates someone else (the old master
 *     back after a failover) is reported stale and told REPLICAOF the group's master.
 *
 * Every decision goes to the audit log with its evidence (the leader's view, every proxy's vote, the
 * replicas' offsets), before the promotion starts and again with its result.
 */
import { performance } from 'node:perf_hooks';
import type { Coordinator } from '../../shared/coordinator/types.js';
import type { Logger } from '../../shared/log.js';
import { lastSegment, type ClusterPaths } from '../../shared/model/paths.js';
import { parseReachabilityReport, type ReachabilityReport } from '../../shared/model/reachability.js';
import { masterOf } from '../../shared/model/topology.js';
import type { RedisInfo } from '../redis/admin.js';
import type { AuditLog } from '../topom/audit.js';
import { knownServers, type Dialer } from '../topom/dialer.js';
import { sameAddr } from '../topom/groups.js';
import type { PromotionService } from '../topom/promote.js';
import type { TopologySnapshot, TopologyStore } from '../topom/store.js';
import type { FailoverConfig } from './config.js';
import { DownDetector, type MasterAssessment } from './detector.js';
import { candidateFromInfo, pickReplica, unreachableCandidate } from './elect.js';
import type { FailoverMetrics } from './metrics.js';
import type { FailoverStateStore } from './state-store.js';
import { replicaStatus } from './replica-status.js';
import { sentinelMaster } from './sentinel.js';
import type { FailoverGroupState, GroupFailoverState, LastFailover, ReplicaCandidate, ReplicaStatus, SentinelConfig } from './types.js';

export type { ReplicaStatus };

export interface GroupFailoverStatus {
  gid: number;
  enabled: boolean;
  state: GroupFailoverState;
  master: string | null;
  masterReachable: boolean | null;
  masterFailingForMs: number;
  liveProxies: number;
  downVotes: number;
  quorum: number;
  replicas: ReplicaStatus[];
  alert?: string;
  lastFailover?: LastFailover;
  /** Set for a group that follows its Sentinel service: what the Sentinels name as master now. */
  sentinel?: { name: string; addrs: string[]; master: string | null };
}

export interface FailoverDeps {
  coord: Coordinator;
  paths: ClusterPaths;
  store: TopologyStore;
  dialer: Dialer;
  promotion: PromotionService;
  audit: AuditLog;
  states: FailoverStateStore;
  metrics: FailoverMetrics;
  log: Logger;
  /** Audit "who" of automatic decisions. */
  who: string;
  config: FailoverConfig;
}

const errMsg = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class FailoverMonitor {
  private readonly detector: DownDetector;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private signal: AbortSignal | undefined;
  private readonly status = new Map<number, GroupFailoverStatus>();
  /** Groups whose alert was already logged and audited (once per episode). */
  private readonly alerted = new Map<number, string>();
  private leading = false;

  constructor(private readonly deps: FailoverDeps) {
    this.detector = new DownDetector(deps.config.downAfterMs);
  }

  start(signal: AbortSignal): void {
    this.stop();
    this.leading = true;
    this.signal = signal;
    this.timer = setInterval(() => {
      this.running ??= this.tick()
        .catch((err: unknown) => this.deps.log.warn('failover.tick_failed', { err }))
        .finally(() => (this.running = undefined));
    }, this.deps.config.checkIntervalMs);
    this.timer.unref();
    signal.addEventListener('abort', () => this.stop(), { once: true });
  }

  stop(): void {
    this.leading = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** failover.enabled: the default of groups that did not set their own. */
  get defaultEnabled(): boolean {
    return this.deps.config.enabled;
  }

  /** Resolves when no round is running (after stop(): before the dialer closes). */
  async idle(): Promise<void> {
    await this.running;
  }

  /** Status of every group (the last tick's view, plus the persisted state). */
  async view(): Promise<{ leader: boolean; config: FailoverConfig; groups: GroupFailoverStatus[] }> {
    const [snap, states] = await Promise.all([this.deps.store.read(), this.deps.states.readAll()]);
    const groups: GroupFailoverStatus[] = [];
    for (const g of snap.groups.values()) {
      const gid = g.record.id;
      const st = states.get(gid);
      const enabled = st?.enabled ?? this.deps.config.enabled;
      const cur = this.status.get(gid);
      const base: GroupFailoverStatus = cur ?? {
        gid,
        enabled,
        state: this.leading ? 'ok' : 'not-leader',
        master: masterOf(g.record) ?? null,
        masterReachable: null,
        masterFailingForMs: 0,
        liveProxies: 0,
        downVotes: 0,
        quorum: 0,
        replicas: g.record.servers.filter((s) => s.role === 'replica').map((s) => ({ addr: s.addr, role: 'replica', linkUp: false, lagBytes: null, silentMs: null, stale: false })),
      };
      // The model's master now (the last round may predate a failover that just finished).
      const sentinel = st?.sentinel ? { name: st.sentinel.name, addrs: st.sentinel.addrs, master: base.sentinel?.master ?? null } : undefined;
      groups.push({ ...base, enabled, master: masterOf(g.record) ?? null, sentinel, ...(st?.lastFailover ? { lastFailover: st.lastFailover } : {}) });
    }
    return { leader: this.leading, config: this.deps.config, groups };
  }

  /** One round (exported for tests that drive it directly). */
  async tick(): Promise<void> {
    if (!this.leading) return;
    const { store, coord, paths } = this.deps;
    const snap = await store.read();
    const known = knownServers(snap);
    const [regs, health, states] = await Promise.all([coord.getPrefix(paths.proxies), coord.getPrefix(paths.health), this.deps.states.readAll()]);
    const live = regs.kvs.map((kv) => lastSegment(kv.key));
    const liveSet = new Set(live);
    const reports = new Map<string, ReachabilityReport>();
    for (const kv of health.kvs) {
      const r = parseReachabilityReport(kv.value);
      if (r && liveSet.has(lastSegment(kv.key))) reports.set(lastSegment(kv.key), r);
    }
    this.detector.proxyReports([...reports.values()]);
    const groups = [...snap.groups.values()].filter((g) => masterOf(g.record) !== undefined);
    // 1. Probe every server of every group at once.
    const infos = new Map<string, RedisInfo | Error>();
    await Promise.all(
      groups.flatMap((g) =>
        g.record.servers.map(async (s) => {
          const t0 = performance.now();
          try {
            const info = await this.deps.dialer.probe(s.addr, known, this.deps.config.probeTimeoutMs, (c) => c.info('replication'));
            infos.set(s.addr, info);
            if (s.role === 'master') this.detector.selfProbe(s.addr, true, t0);
          } catch (err) {
            infos.set(s.addr, err as Error);
            if (s.role === 'master') this.detector.selfProbe(s.addr, false, t0, errMsg(err));
          }
        }),
      ),
    );
    for (const g of groups) {
      if (this.signal?.aborted || !this.leading) return;
      const gid = g.record.id;
      const master = masterOf(g.record)!;
      const a = this.detector.assess(gid, master, live, reports);
      const masterInfo = infos.get(master);
      const masterOffset = masterInfo instanceof Error || masterInfo === undefined ? null : (masterInfo.masterReplOffset ?? null);
      const st = states.get(gid);
      const lastF = st?.lastFailover;
      const replicas = g.record.servers
        .filter((s) => s.role === 'replica')
        .map((s) => replicaStatus(s.addr, infos.get(s.addr), master, masterOffset));
      // A master, or a replica of someone else: told REPLICAOF below (step 4).
      const toRejoin = replicas.filter((r) => r.stale && r.role !== 'unreachable').map((r) => r.addr);
      // The old master of the last failover stays stale (even while down) until seen replicating the new one.
      const oldMaster = lastF && lastF.result === 'ok' && !lastF.rejoinedAt ? replicas.find((r) => r.addr === lastF.from) : undefined;
      if (oldMaster) {
        if (oldMaster.role === 'replica' && !oldMaster.stale && oldMaster.linkUp) {
          await this.deps.states.update(gid, (cur) => (cur.lastFailover ? { ...cur, lastFailover: { ...cur.lastFailover, rejoinedAt: new Date().toISOString() } } : cur)).catch((err: unknown) => this.deps.log.warn('failover.state_write_failed', { gid, err }));
        } else oldMaster.stale = true;
      }
      const enabled = st?.enabled ?? this.deps.config.enabled;
      const status: GroupFailoverStatus = {
        gid,
        enabled,
        state: a.selfOk && a.downVotes === 0 ? 'ok' : 'suspect',
        master,
        masterReachable: a.selfOk,
        masterFailingForMs: a.selfFailingForMs,
        liveProxies: a.liveProxies,
        downVotes: a.downVotes,
        quorum: a.quorum,
        replicas,
      };
      this.status.set(gid, status);
      this.deps.metrics.replicaLag(gid, replicas);
      if (g.record.promoting) continue;
      if (st?.sentinel) {
        await this.followSentinel(snap, gid, master, st.sentinel, status);
        continue;
      }
      if (a.down) {
        await this.onDown(snap, gid, a, status, st);
        continue;
      }
      this.clearAlert(gid);
      this.deps.metrics.state(gid, status.state);
      // 4. Rejoin stale servers (only while the master answers: they would replicate nothing otherwise).
      if (a.selfOk) for (const addr of toRejoin) await this.rejoin(gid, addr, master, known);
    }
    // Forget groups that are gone.
    for (const gid of this.status.keys()) if (!snap.groups.has(gid)) this.status.delete(gid);
  }

  private async onDown(snap: TopologySnapshot, gid: number, a: MasterAssessment, status: GroupFailoverStatus, st: FailoverGroupState | undefined): Promise<void> {
    const evidence = { leader: { reachable: a.selfOk, failingForMs: a.selfFailingForMs, error: a.selfError }, votes: a.votes, quorum: a.quorum, liveProxies: a.liveProxies };
    if (!status.enabled) return this.alert(gid, status, 'disabled', `master ${a.master} is down but automatic failover is disabled for group ${gid}`, evidence);
    const last = st?.lastFailover;
    if (last && Date.now() - Date.parse(last.at) < this.deps.config.cooldownMs) {
      return this.alert(gid, status, 'cooldown', `master ${a.master} is down but group ${gid} failed over at ${last.at} (cool-down ${this.deps.config.cooldownMs} ms)`, evidence);
    }
    const migrating = snap.slots.filter((s) => s.record.action && (s.record.group === gid || s.record.action.target === gid)).length;
    if (migrating > 0) return this.alert(gid, status, 'no-eligible-replica', `master ${a.master} is down but ${migrating} slots of group ${gid} are migrating`, evidence);
    // 2. Elect.
    const g = snap.groups.get(gid)!;
    const known = knownServers(snap);
    const candidates: ReplicaCandidate[] = await Promise.all(
      g.record.servers
        .filter((s) => s.role === 'replica')
        .map(async (s) => {
          try {
            const info = await this.deps.dialer.probe(s.addr, known, this.deps.config.probeTimeoutMs, (c) => c.info('replication'));
            return candidateFromInfo(s.addr, info, a.master, this.deps.config.maxLagMs);
          } catch (err) {
            return unreachableCandidate(s.addr, err);
          }
        }),
    );
    const best = pickReplica(candidates);
    const fullEvidence = { ...evidence, candidates: candidates.map((c) => ({ addr: c.addr, offset: c.offset, linkUp: c.linkUp, silentMs: Number.isFinite(c.silentMs) ? c.silentMs : null, eligible: c.eligible, why: c.why })) };
    if (!best) {
      return this.alert(gid, status, 'no-eligible-replica', `master ${a.master} of group ${gid} is down and no replica is eligible (${candidates.map((c) => `${c.addr}: ${c.why}`).join('; ') || 'the group has no replica'})`, fullEvidence);
    }
    await this.switchMaster(gid, a.master, best.addr, 'group.failover.decided', fullEvidence, status);
  }

  /**
   * Promotes `to` in place of `from` through the barrier-guarded promotion (failover mode), with the decision
   * audited before (with its evidence) and the result after; records lastFailover.
   */
  private async switchMaster(gid: number, from: string, to: string, decidedAction: string, evidence: unknown, status: GroupFailoverStatus): Promise<void> {
    status.state = 'failing-over';
    this.deps.metrics.state(gid, 'failing-over');
    const started = performance.now();
    const target = `group ${gid}`;
    this.deps.log.warn('failover.start', { gid, from, to, decidedBy: decidedAction, evidence });
    await this.deps.audit.record({ at: new Date().toISOString(), who: this.deps.who, action: decidedAction, target, params: { from, to }, result: 'ok', detail: JSON.stringify({ from, to, evidence }) });
    let last: LastFailover;
    try {
      const r = await this.deps.promotion.promote(gid, to, { failover: true }, this.signal);
      const durationMs = Math.round(performance.now() - started);
      last = { at: new Date().toISOString(), from, to, result: 'ok', durationMs, detail: [...r.steps, ...r.warnings].join('; ') };
      this.deps.log.warn('failover.done', { gid, from, to, durationMs, warnings: r.warnings });
      this.detector.forget(from);
      this.clearAlert(gid);
    } catch (err) {
      const durationMs = Math.round(performance.now() - started);
      last = { at: new Date().toISOString(), from, to, result: 'failed', durationMs, detail: errMsg(err) };
      this.deps.log.error('failover.failed', { gid, from, to, err });
    }
    this.deps.metrics.failovers.inc({ result: last.result });
    await this.deps.audit.record({ at: last.at, who: this.deps.who, action: 'group.failover', target, params: { from, to }, result: last.result, detail: `${last.durationMs} ms: ${last.detail}` });
    await this.deps.states.update(gid, (cur) => ({ ...cur, gid, lastFailover: last })).catch((err: unknown) => this.deps.log.warn('failover.state_write_failed', { gid, err }));
    status.state = last.result === 'ok' ? 'ok' : 'suspect';
  }

  /**
   * A group that names its Sentinel service: Sentinel decides, the dashboard follows the master it announces
   * (+switch-master) through the same barrier-guarded promotion. Neither the own decision nor the rejoin of
   * stale servers runs for such a group (Sentinel reconfigures replicas itself).
   */
  private async followSentinel(snap: TopologySnapshot, gid: number, master: string, cfg: SentinelConfig, status: GroupFailoverStatus): Promise<void> {
    const view = await sentinelMaster(this.deps.dialer, cfg, this.deps.config.probeTimeoutMs);
    status.sentinel = { name: cfg.name, addrs: cfg.addrs, master: view.master };
    if (view.master === null || sameAddr(view.master, master)) return;
    const g = snap.groups.get(gid)!;
    if (!g.record.servers.some((s) => sameAddr(s.addr, view.master!))) {
      return this.alert(gid, status, 'suspect', `Sentinel service ${cfg.name} names ${view.master} as master, which is not a server of group ${gid}: add it first`, view);
    }
    const to = g.record.servers.find((s) => sameAddr(s.addr, view.master!))!.addr;
    await this.switchMaster(gid, master, to, 'group.failover.sentinel', view, status);
  }

  /** A loud refusal: status, metric, one error log line and one audit entry per episode. */
  private async alert(gid: number, status: GroupFailoverStatus, state: GroupFailoverState, message: string, evidence: unknown): Promise<void> {
    status.state = state;
    status.alert = message;
    this.deps.metrics.state(gid, state);
    if (this.alerted.get(gid) === state) return;
    this.alerted.set(gid, state);
    this.deps.log.error('failover.refused', { gid, state, message, evidence });
    await this.deps.audit.record({ at: new Date().toISOString(), who: this.deps.who, action: 'group.failover', target: `group ${gid}`, result: 'refused', detail: `${message}; evidence ${JSON.stringify(evidence)}` });
  }

  private clearAlert(gid: number): void {
    this.alerted.delete(gid);
  }

  private async rejoin(gid: number, addr: string, master: string, known: ReadonlySet<string>): Promise<void> {
    try {
      await this.deps.dialer.withServer(addr, known, (c) => c.replicaOf(master));
      this.deps.log.warn('failover.rejoined', { gid, addr, master });
      await this.deps.audit.record({ at: new Date().toISOString(), who: this.deps.who, action: 'group.failover.rejoin', target: `group ${gid}`, params: { addr, master }, result: 'ok', detail: `${addr} was not a replica of ${master} (stale, e.g. the old master back after a failover): REPLICAOF ${master}` });
    } catch (err) {
      this.deps.log.warn('failover.rejoin_failed', { gid, addr, master, err });
    }
  }
}
