/**
 * Proxies as the dashboard sees them: registrations (leased, so present = live), acknowledged revisions, and
 * stats fetched from each proxy's admin API (GET /api/v1/proxy) at the address the proxy registered.
 * Removing a proxy revokes its lease (deleting its registration and ack with it). A live proxy notices at its
 * next keep-alive, fences itself and re-registers under a new identity; until it has fenced, the tombstone
 * removed/<id> (written first, under a lease nobody renews, TTL = the proxy's lease TTL + 1) keeps the barrier
 * waiting, so no slot step can pass while the removed proxy may still route the old way.
 */
import type { Compare, Coordinator } from '../../shared/coordinator/types.js';
import { CommonErrors, RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { lastSegment, type ClusterPaths } from '../../shared/model/paths.js';
import type { ProxyAck, ProxyRecord, RemovedProxyRecord } from '../../shared/model/types.js';
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

  /**
   * Removes a proxy: tombstone first (CAS on the registration and ack it read, leader-fenced), then the
   * proxy's lease is revoked, which deletes its registration and ack in one revision. If the revoke fails the
   * registration stays and the barrier keeps counting the proxy: never a window where it is skipped while
   * it may still route.
   */
  async remove(id: string, fence: () => Compare | null): Promise<number> {
    const reg = await this.coord.get(this.paths.proxy(id));
    const ack = await this.coord.get(this.paths.ack(id));
    if (!reg && !ack) throw new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_FOUND, { what: `proxy ${id}` });
    const f = fence();
    if (!f) throw new RedslotError(DashboardErrors.REDSLOT_ERR_INTERNAL, { reason: 'not leader' });
    let record: Partial<ProxyRecord> = {};
    try {
      record = reg ? (JSON.parse(reg.value) as ProxyRecord) : {};
    } catch {
      // unreadable registration: removed all the same
    }
    const leased = reg?.lease !== undefined;
    const compares: Compare[] = [
      { key: this.paths.proxy(id), target: 'mod', op: '==', value: reg?.modRevision ?? 0 },
      { key: this.paths.ack(id), target: 'mod', op: '==', value: ack?.modRevision ?? 0 },
      f,
    ];
    let res;
    if (leased) {
      // Registrations from before issue 15 carry no TTL: assume the longest sane one.
      const ttlSeconds = (typeof record.leaseTtlSeconds === 'number' && record.leaseTtlSeconds > 0 ? Math.ceil(record.leaseTtlSeconds) : 60) + 1;
      const tombLease = await this.coord.grantLease(ttlSeconds);
      tombLease.release(); // never renewed: the tombstone expires by itself if the proxy cannot delete it
      const tomb: RemovedProxyRecord = { id, at: new Date().toISOString(), ttlSeconds };
      res = await this.coord.txn(compares, [{ type: 'put', key: this.paths.removedProxy(id), value: JSON.stringify(tomb), lease: tombLease.id }]);
      if (res.succeeded) res = { ...res, revision: await this.revokeProxyLease(id, reg!.lease!) };
    } else {
      res = await this.coord.txn(compares, [
        { type: 'delete', key: this.paths.proxy(id) },
        { type: 'delete', key: this.paths.ack(id) },
      ]);
    }
    if (!res.succeeded) {
      throw new RedslotError(CommonErrors.REDSLOT_ERR_CAS_CONFLICT, { what: `proxy ${id}`, revision: reg?.modRevision ?? 0 });
    }
    this.log.info('proxy.removed', { id, addr: record.addr, revision: res.revision, leaseRevoked: leased });
    return res.revision;
  }

  /** Revokes the removed proxy's lease; its registration and ack go with it (returns the store revision). */
  private async revokeProxyLease(id: string, lease: string): Promise<number> {
    await this.coord.revokeLease(lease);
    // Whatever else the proxy had under that lease went too; make sure the ack did (it always shares it).
    const left = await this.coord.get(this.paths.ack(id));
    if (left !== undefined && left.lease === lease) await this.coord.delete(this.paths.ack(id));
    return (await this.coord.getPrefix(this.paths.proxy(id))).revision;
  }
}
