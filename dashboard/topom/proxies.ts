/**
 * Proxies as the dashboard sees them: registrations (leased, so present = live), acknowledged revisions, and
 * stats fetched from each proxy's admin API (GET /api/v1/proxy) at the address the proxy registered.
 * Removing a proxy deletes its registration and ack (for a proxy that is really dead; a live one notices its
 * registration vanished and must fence itself).
 */
import type { Compare, Coordinator } from '../../shared/coordinator/types.js';
import { CommonErrors, RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { lastSegment, type ClusterPaths } from '../../shared/model/paths.js';
import type { ProxyAck, ProxyRecord } from '../../shared/model/types.js';
import { DashboardErrors } from '../errors.js';
import type { ProxyView } from '../schemas/index.js';
import type { Dialer } from './dialer.js';

export interface ProxyEntry {
  record: ProxyRecord;
  modRevision: number;
  ack: ProxyAck | null;
}

/** Numbers the dashboard reads from a proxy's admin JSON (the first matching field wins). */
export interface ProxyNumbers {
  opsTotal?: number;
  connections?: number;
}

function pick(obj: unknown, paths: string[][]): number | undefined {
  for (const p of paths) {
    let cur: unknown = obj;
    for (const k of p) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
    if (typeof cur === 'number' && Number.isFinite(cur)) return cur;
  }
  return undefined;
}

/** The proxy admin shape (proxy/admin/app.ts): stats.commands = commands served, stats.clients = connected. */
export function proxyNumbers(stats: unknown): ProxyNumbers {
  return {
    opsTotal: pick(stats, [['stats', 'commands'], ['stats', 'commands', 'total']]),
    connections: pick(stats, [['stats', 'clients'], ['stats', 'connections']]),
  };
}

export class ProxyService {
  constructor(
    private readonly coord: Coordinator,
    private readonly paths: ClusterPaths,
    private readonly dialer: Dialer,
    private readonly log: Logger,
  ) {}

  async entries(): Promise<ProxyEntry[]> {
    const [regs, acks] = await Promise.all([this.coord.getPrefix(this.paths.proxies), this.coord.getPrefix(this.paths.acks)]);
    const ackMap = new Map<string, ProxyAck>();
    for (const kv of acks.kvs) {
      try {
        ackMap.set(lastSegment(kv.key), JSON.parse(kv.value) as ProxyAck);
      } catch {
        this.log.warn('proxies.bad_ack', { key: kv.key });
      }
    }
    const out: ProxyEntry[] = [];
    for (const kv of regs.kvs) {
      const id = lastSegment(kv.key);
      try {
        const rec = JSON.parse(kv.value) as ProxyRecord;
        out.push({ record: { ...rec, id }, modRevision: kv.modRevision, ack: ackMap.get(id) ?? null });
      } catch {
        this.log.warn('proxies.bad_registration', { key: kv.key });
      }
    }
    return out;
  }

  /** The admin addresses proxies registered (the only proxy addresses the dashboard dials). */
  static adminAddrs(entries: ProxyEntry[]): Set<string> {
    return new Set(entries.map((e) => e.record.adminAddr).filter((a) => typeof a === 'string' && a !== ''));
  }

  async fetchStats(entry: ProxyEntry, known: ReadonlySet<string>): Promise<{ stats: unknown; error?: string }> {
    try {
      return { stats: await this.dialer.fetchProxyJson(entry.record.adminAddr, '/api/v1/proxy', known) };
    } catch (err) {
      return { stats: null, error: (err as Error).message };
    }
  }

  /** Every live proxy with its ack and (when `withStats`) its admin stats, fetched in parallel. */
  async list(topologyRevision: number, withStats = true): Promise<ProxyView[]> {
    const entries = await this.entries();
    const known = ProxyService.adminAddrs(entries);
    return Promise.all(
      entries.map(async (e) => {
        const s = withStats ? await this.fetchStats(e, known) : { stats: null };
        const acked = e.ack?.revision ?? null;
        const v: ProxyView = {
          id: e.record.id,
          addr: String(e.record.addr ?? ''),
          adminAddr: String(e.record.adminAddr ?? ''),
          version: String(e.record.version ?? ''),
          startedAt: String(e.record.startedAt ?? ''),
          pid: Number(e.record.pid ?? 0),
          hostname: String(e.record.hostname ?? ''),
          live: true,
          ackedRevision: acked,
          upToDate: acked !== null && acked >= topologyRevision,
          fenced: e.ack?.fenced === true,
          stats: s.stats,
        };
        if ('error' in s && s.error !== undefined) v.statsError = s.error;
        return v;
      }),
    );
  }

  /** Deletes a proxy's registration and ack (CAS on the registration it read). */
  async remove(id: string, fence: () => Compare | null): Promise<number> {
    const reg = await this.coord.get(this.paths.proxy(id));
    const ack = await this.coord.get(this.paths.ack(id));
    if (!reg && !ack) throw new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_FOUND, { what: `proxy ${id}` });
    const f = fence();
    if (!f) throw new RedslotError(DashboardErrors.REDSLOT_ERR_INTERNAL, { reason: 'not leader' });
    const res = await this.coord.txn(
      [
        { key: this.paths.proxy(id), target: 'mod', op: '==', value: reg?.modRevision ?? 0 },
        { key: this.paths.ack(id), target: 'mod', op: '==', value: ack?.modRevision ?? 0 },
        f,
      ],
      [
        { type: 'delete', key: this.paths.proxy(id) },
        { type: 'delete', key: this.paths.ack(id) },
      ],
    );
    if (!res.succeeded) {
      throw new RedslotError(CommonErrors.REDSLOT_ERR_CAS_CONFLICT, { what: `proxy ${id}`, revision: reg?.modRevision ?? 0 });
    }
    this.log.info('proxy.removed', { id, addr: reg ? (JSON.parse(reg.value) as ProxyRecord).addr : undefined, revision: res.revision });
    return res.revision;
  }
}
