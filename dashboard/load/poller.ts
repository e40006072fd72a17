/**
 * Cluster load: every `intervalMs` read each live proxy's `GET /api/v1/proxy/load` (per-slot request and
 * byte counters, sampled hot keys) and keep
 * - per slot: ops/s and bytes/s summed over the proxies (deltas of their cumulative counters between two
 *   polls; a restarted proxy's counters start again, its first poll only sets the baseline; a proxy that
 *   cannot be read keeps its last rates until its registration goes away);
 * - hot keys: each proxy's estimate (count over its span) as a rate, summed by key over the proxies.
 * Per-group figures are also exported to Prometheus (group labels only: no per-key or per-slot series).
 */
import type { Logger } from '../../shared/log.js';
import { PollLoop } from '../topom/poll-loop.js';
import type { ProxyLoadReport } from '../../shared/load-report.js';
import { OFFLINE_GROUP } from '../../shared/model/types.js';
import { SLOT_COUNT } from '../../shared/slot.js';
import type { DashboardMetrics } from '../metrics/dashboard.js';
import type { Dialer } from '../topom/dialer.js';
import { ProxyService } from '../topom/proxies.js';
import type { TopologySnapshot, TopologyStore } from '../topom/store.js';

export interface SlotLoadView {
  id: number;
  group: number;
  opsPerSec: number;
  bytesPerSec: number;
}

export interface ClusterLoad {
  at: number;
  intervalMs: number;
  opsPerSec: number;
  bytesPerSec: number;
  groups: Array<{ id: number; slots: number; opsPerSec: number; bytesPerSec: number }>;
  /** Slots with any load (the rest are 0), by id. */
  slots: SlotLoadView[];
  proxies: Array<{ id: string; ok: boolean; counting: boolean; error?: string }>;
}

export interface HotKeyView {
  /** Printable form: bytes outside 0x20..0x7e escaped as \xNN, like redis-cli. */
  key: string;
  /** Exact bytes (of the kept prefix), base64. */
  keyBase64: string;
  /** Bytes of the whole key (the kept prefix is load.maxKeyBytes at most). */
  length: number;
  truncated: boolean;
  slot: number;
  group: number;
  opsPerSec: number;
  /** Error bound of opsPerSec (Space-Saving): the true rate is within [opsPerSec - error, opsPerSec]. */
  errorPerSec: number;
  proxies: number;
}

/** The printable form of a key (bytes, not text: never decoded as UTF-8). */
export function printableKey(b: Buffer): string {
  let out = '';
  for (const c of b) {
    if (c === 0x5c) out += '\\\\';
    else if (c === 0x22) out += '\\"';
    else if (c >= 0x20 && c <= 0x7e) out += String.fromCharCode(c);
    else out += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return out;
}

interface Last {
  report: ProxyLoadReport;
  at: number;
  /** The rates computed from this report (kept for a poll that cannot read the proxy). */
  ops: Float64Array;
  bytes: Float64Array;
}

export class LoadPoller {
  private readonly loop: PollLoop;
  private readonly last = new Map<string, Last>();
  private latest: ClusterLoad | null = null;
  private hot: HotKeyView[] = [];
  private readonly slotOps = new Float64Array(SLOT_COUNT);
  private readonly slotBytes = new Float64Array(SLOT_COUNT);

  constructor(
    private readonly store: TopologyStore,
    private readonly proxies: ProxyService,
    private readonly dialer: Dialer,
    log: Logger,
    readonly intervalMs: number,
    private readonly metrics?: DashboardMetrics,
  ) {
    this.loop = new PollLoop(() => this.pollOnce(), intervalMs, log, 'load.poll_failed');
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** The latest aggregate (polls once if none yet). */
  async current(): Promise<ClusterLoad> {
    return this.latest ?? (await this.pollOnce());
  }

  async hotKeys(limit: number): Promise<{ at: number; keys: HotKeyView[] }> {
    const l = await this.current();
    return { at: l.at, keys: this.hot.slice(0, limit) };
  }

  /** Per-slot ops/s as of the latest poll (index = slot), for planning by load. */
  async slotRates(): Promise<Float64Array> {
    await this.current();
    return this.slotOps.slice();
  }

  async pollOnce(): Promise<ClusterLoad> {
    const [snap, entries] = await Promise.all([this.store.read(), this.proxies.entries()]);
    const known = ProxyService.adminAddrs(entries);
    const now = Date.now();
    this.slotOps.fill(0);
    this.slotBytes.fill(0);
    const keys = new Map<string, HotKeyView>();
    const proxies: ClusterLoad['proxies'] = [];
    await Promise.all(
      entries.map(async (e) => {
        const id = e.record.id;
        try {
          const r = (await this.dialer.fetchProxyJson(e.record.adminAddr, '/api/v1/proxy/load', known)) as ProxyLoadReport;
          if (!Array.isArray(r?.ops) || r.ops.length !== SLOT_COUNT) throw new Error('not a load report (proxy too old?)');
          proxies.push({ id, ok: true, counting: r.counting });
          this.addRates(id, r, now);
          this.addHotKeys(r, keys, snap);
        } catch (err) {
          proxies.push({ id, ok: false, counting: false, error: (err as Error).message });
          // A proxy that missed one poll (busy, slow network) still carries its load: keep its last rates
          // rather than showing the cluster lighter than it is. It stays listed as not ok.
          const last = this.last.get(id);
          if (last) this.addLast(last);
        }
      }),
    );
    for (const id of this.last.keys()) if (!entries.some((e) => e.record.id === id)) this.last.delete(id);
    const groups = new Map<number, { id: number; slots: number; opsPerSec: number; bytesPerSec: number }>();
    for (const g of snap.groups.keys()) groups.set(g, { id: g, slots: 0, opsPerSec: 0, bytesPerSec: 0 });
    const slots: SlotLoadView[] = [];
    let ops = 0;
    let bytes = 0;
    for (let sid = 0; sid < SLOT_COUNT; sid++) {
      const gid = snap.slots[sid]!.record.group;
      const g = groups.get(gid);
      if (g) g.slots++;
      const o = this.slotOps[sid]!;
      const b = this.slotBytes[sid]!;
      if (o === 0 && b === 0) continue;
      slots.push({ id: sid, group: gid, opsPerSec: round(o), bytesPerSec: round(b) });
      ops += o;
      bytes += b;
      if (g) {
        g.opsPerSec += o;
        g.bytesPerSec += b;
      }
    }
    const groupList = [...groups.values()].sort((a, b) => a.id - b.id).map((g) => ({ ...g, opsPerSec: round(g.opsPerSec), bytesPerSec: round(g.bytesPerSec) }));
    this.metrics?.groupOpsPerSec.reset();
    this.metrics?.groupBytesPerSec.reset();
    for (const g of groupList) {
      this.metrics?.groupOpsPerSec.set({ group: String(g.id) }, g.opsPerSec);
      this.metrics?.groupBytesPerSec.set({ group: String(g.id) }, g.bytesPerSec);
    }
    this.hot = [...keys.values()].sort((a, b) => b.opsPerSec - a.opsPerSec).map((k) => ({ ...k, opsPerSec: round(k.opsPerSec), errorPerSec: round(k.errorPerSec) }));
    proxies.sort((a, b) => a.id.localeCompare(b.id));
    this.latest = { at: now, intervalMs: this.intervalMs, opsPerSec: round(ops), bytesPerSec: round(bytes), groups: groupList, slots, proxies };
    return this.latest;
  }

  private addRates(id: string, r: ProxyLoadReport, now: number): void {
    const prev = this.last.get(id);
    const cur: Last = { report: r, at: now, ops: new Float64Array(SLOT_COUNT), bytes: new Float64Array(SLOT_COUNT) };
    this.last.set(id, cur);
    if (!prev || now <= prev.at) return;
    const dt = (r.at > prev.report.at ? r.at - prev.report.at : now - prev.at) / 1000;
    for (let sid = 0; sid < SLOT_COUNT; sid++) {
      const dOps = r.ops[sid]! - prev.report.ops[sid]!;
      const dBytes = r.bytes[sid]! - prev.report.bytes[sid]!;
      // A counter that went down belongs to a restarted proxy: this poll is its new baseline.
      if (dOps > 0) cur.ops[sid] = dOps / dt;
      if (dBytes > 0) cur.bytes[sid] = dBytes / dt;
    }
    this.addLast(cur);
  }

  private addLast(l: Last): void {
    for (let sid = 0; sid < SLOT_COUNT; sid++) {
      this.slotOps[sid]! += l.ops[sid]!;
      this.slotBytes[sid]! += l.bytes[sid]!;
    }
  }

  private addHotKeys(r: ProxyLoadReport, into: Map<string, HotKeyView>, snap: TopologySnapshot): void {
    const span = r.hotKeys.spanMs / 1000;
    if (!(span > 0)) return;
    for (const k of r.hotKeys.keys) {
      const cur = into.get(k.key);
      const rate = k.count / span;
      const err = k.error / span;
      if (cur) {
        cur.opsPerSec += rate;
        cur.errorPerSec += err;
        cur.proxies++;
        continue;
      }
      const bytes = Buffer.from(k.key, 'base64');
      into.set(k.key, {
        key: printableKey(bytes),
        keyBase64: k.key,
        length: k.length,
        truncated: k.length > bytes.length,
        slot: k.slot,
        group: snap.slots[k.slot]?.record.group ?? OFFLINE_GROUP,
        opsPerSec: rate,
        errorPerSec: err,
        proxies: 1,
      });
    }
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
