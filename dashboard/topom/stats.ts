/**
 * Cluster overview: every `intervalMs` (1 s) poll INFO of every server in the model (pooled connections) and
 * the admin API of every registered proxy, and keep the result:
 * - the latest full sample (per server: role, link, ops/s, keys, memory);
 * - a ring of `historySize` compact points (totals, per group, per proxy) the UI charts: a few minutes of
 *   history kept by the dashboard, so a browser that opens late still sees it.
 * Proxy ops/s is the delta of the proxy's op counter between two polls. Every dashboard polls (standbys
 * serve reads too). A server or proxy that fails is marked down in the sample, never throws.
 */
import type { Logger } from '../../shared/log.js';
import { PollLoop } from './poll-loop.js';
import { masterOf } from '../../shared/model/topology.js';
import type { DashboardMetrics } from '../metrics/dashboard.js';
import type { HistoryPoint, StatsSample } from '../schemas/index.js';
import { knownServers, type Dialer } from './dialer.js';
import { ProxyService, proxyNumbers } from './proxies.js';
import type { TopologyStore } from './store.js';

type ServerStats = StatsSample['groups'][number]['servers'][number];

export class StatsPoller {
  private readonly loop: PollLoop;
  private latest: StatsSample | null = null;
  private readonly ring: HistoryPoint[] = [];
  private readonly proxyCounters = new Map<string, { at: number; ops: number }>();

  constructor(
    private readonly store: TopologyStore,
    private readonly proxies: ProxyService,
    private readonly dialer: Dialer,
    private readonly log: Logger,
    readonly intervalMs: number,
    private readonly historySize: number,
    private readonly metrics?: DashboardMetrics,
  ) {
    this.loop = new PollLoop(() => this.pollOnce(), intervalMs, log, 'stats.poll_failed');
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  current(): StatsSample | null {
    return this.latest;
  }

  history(since?: number): HistoryPoint[] {
    return since === undefined ? this.ring.slice() : this.ring.filter((p) => p.at > since);
  }

  /** One full poll round; also usable directly (tests, first request before the timer fired). */
  async pollOnce(): Promise<StatsSample> {
    const started = Date.now();
    const snap = await this.store.read();
    const known = knownServers(snap);
    this.dialer.prune(known);
    const groups = await Promise.all(
      [...snap.groups.values()]
        .sort((a, b) => a.record.id - b.record.id)
        .map(async (g) => {
          const master = masterOf(g.record);
          const servers = await Promise.all(g.record.servers.map((s) => this.pollServer(s.addr, s.role, known)));
          const m = servers.find((s) => s.addr === master);
          return {
            id: g.record.id,
            opsPerSec: m?.opsPerSec ?? 0,
            keys: m?.keys ?? 0,
            usedMemory: servers.reduce((a, s) => a + s.usedMemory, 0),
            healthy: servers.length > 0 && servers.every((s) => s.up && (s.role !== 'replica' || s.masterLinkStatus === 'up')) && m?.actualRole === 'master',
            servers,
          };
        }),
    );
    const entries = await this.proxies.entries().catch((err: unknown) => {
      this.log.warn('stats.proxies_read_failed', { err });
      return [];
    });
    const adminAddrs = ProxyService.adminAddrs(entries);
    const now = Date.now();
    const proxies = await Promise.all(
      entries.map(async (e) => {
        const r = await this.proxies.fetchStats(e, adminAddrs);
        this.metrics?.statsPolls.inc({ kind: 'proxy', result: r.error ? 'error' : 'ok' });
        const n = proxyNumbers(r.stats);
        let opsPerSec = 0;
        const prev = this.proxyCounters.get(e.record.id);
        if (n.opsTotal !== undefined) {
          if (prev && now > prev.at && n.opsTotal >= prev.ops) opsPerSec = ((n.opsTotal - prev.ops) * 1000) / (now - prev.at);
          this.proxyCounters.set(e.record.id, { at: now, ops: n.opsTotal });
        }
        const p: StatsSample['proxies'][number] = { id: e.record.id, addr: e.record.addr, up: !r.error, opsPerSec: Math.round(opsPerSec), connections: n.connections ?? 0 };
        if (r.error) p.error = r.error;
        return p;
      }),
    );
    for (const id of this.proxyCounters.keys()) if (!entries.some((e) => e.record.id === id)) this.proxyCounters.delete(id);
    const sample: StatsSample = {
      at: now,
      opsPerSec: groups.reduce((a, g) => a + g.opsPerSec, 0),
      proxyOpsPerSec: proxies.reduce((a, p) => a + p.opsPerSec, 0),
      keys: groups.reduce((a, g) => a + g.keys, 0),
      usedMemory: groups.reduce((a, g) => a + g.usedMemory, 0),
      groups,
      proxies,
    };
    this.latest = sample;
    this.ring.push({
      at: sample.at,
      opsPerSec: sample.opsPerSec,
      proxyOpsPerSec: sample.proxyOpsPerSec,
      keys: sample.keys,
      usedMemory: sample.usedMemory,
      groups: Object.fromEntries(groups.map((g) => [String(g.id), { opsPerSec: g.opsPerSec, keys: g.keys, usedMemory: g.usedMemory }])),
      proxies: Object.fromEntries(proxies.map((p) => [p.id, { opsPerSec: p.opsPerSec, connections: p.connections }])),
    });
    while (this.ring.length > this.historySize) this.ring.shift();
    this.metrics?.clusterOpsPerSec.set(sample.opsPerSec);
    this.metrics?.groups.set(snap.groups.size);
    this.metrics?.slotsOffline.set(snap.slots.filter((s) => s.record.group === 0).length);
    this.metrics?.proxiesLive.set(entries.length);
    this.metrics?.statsPollDuration.observe((Date.now() - started) / 1000);
    return sample;
  }

  private async pollServer(addr: string, role: string, known: ReadonlySet<string>): Promise<ServerStats> {
    try {
      const info = await this.dialer.pooled(addr, known).info();
      this.metrics?.statsPolls.inc({ kind: 'server', result: 'ok' });
      const s: ServerStats = {
        addr,
        role,
        up: true,
        actualRole: info.role === 'slave' ? 'replica' : info.role,
        opsPerSec: info.opsPerSec ?? 0,
        keys: info.keys,
        usedMemory: info.usedMemory ?? 0,
        maxmemory: info.maxmemory ?? 0,
        connectedClients: info.connectedClients ?? 0,
      };
      if (info.masterLinkStatus) s.masterLinkStatus = info.masterLinkStatus;
      return s;
    } catch (err) {
      this.metrics?.statsPolls.inc({ kind: 'server', result: 'error' });
      this.log.debug('stats.server_failed', { addr, err });
      return { addr, role, up: false, opsPerSec: 0, keys: 0, usedMemory: 0, maxmemory: 0, connectedClients: 0, error: (err as Error).message };
    }
  }
}
