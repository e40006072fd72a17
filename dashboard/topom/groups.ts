/**
 * Groups and their servers: create/remove a group, add/remove a server.
 *
 * Adding a server dials it (the SSRF guard allows exactly that address in that call), PINGs it and checks
 * ROLE:
 * - the first server of a group must be a master;
 * - a later server becomes a replica of the group's master. If it already replicates that master it is
 *   registered as is. If it is a stand-alone master without keys (and without replicas), the dashboard turns
 *   it into a replica with REPLICAOF <master> (and undoes that if the model write then loses a race). A
 *   master that holds keys is refused unless `force` (REPLICAOF discards its data); a replica of another
 *   master is always refused.
 * Removing a replica only drops it from the model (the server is not touched). A master can be removed only
 * when it is the group's last server and the group owns no slots.
 */
import { RedslotError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { masterOf } from '../../shared/model/topology.js';
import type { GroupRecord, ServerRecord } from '../../shared/model/types.js';
import { DashboardErrors } from '../errors.js';
import type { GroupMutationBody } from '../schemas/index.js';
import { knownServers, type Dialer } from './dialer.js';
import { slotsOfGroup, type TopologySnapshot, type TopologyStore, type Versioned } from './store.js';
import { groupView } from './views.js';

/** Loose host comparison for ROLE output (a replica reports the master host as it dialled it). */
export function sameAddr(a: string, b: string): boolean {
  const norm = (x: string) => x.replace(/^localhost:/i, '127.0.0.1:').replace(/^\[::1\]:/, '127.0.0.1:').toLowerCase();
  return norm(a) === norm(b);
}

export class GroupService {
  constructor(
    private readonly store: TopologyStore,
    private readonly dialer: Dialer,
    private readonly log: Logger,
  ) {}

  private requireGroup(snap: TopologySnapshot, gid: number): Versioned<GroupRecord> {
    const g = snap.groups.get(gid);
    if (!g) throw new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_FOUND, { what: `group ${gid}` });
    return g;
  }

  private requireIdle(g: Versioned<GroupRecord>): void {
    if (g.record.promoting) {
      throw new RedslotError(DashboardErrors.REDSLOT_ERR_GROUP_BUSY, {
        gid: g.record.id,
        reason: `promotion of ${g.record.promoting.newMaster} in progress (${g.record.promoting.state})`,
      });
    }
  }

  /** A split's groups serve (or are about to serve) slots their slot records do not name yet. */
  private requireNoSplit(g: Versioned<GroupRecord>, what: string): void {
    const m = g.record.split;
    if (m) throw new RedslotError(DashboardErrors.REDSLOT_ERR_GROUP_BUSY, { gid: g.record.id, reason: `it is in split ${m.id} (${m.role}, ${m.state}); ${what} after the split finished or was aborted` });
  }

  async createGroup(id: number, weight = 1, ifRevision?: number): Promise<GroupMutationBody> {
    const snap = await this.store.read();
    if (snap.groups.has(id)) throw new RedslotError(DashboardErrors.REDSLOT_ERR_GROUP_EXISTS, { gid: id });
    this.store.checkIfRevision(ifRevision, `group ${id}`, []);
    const rec: GroupRecord = { id, servers: [], weight };
    const revision = await this.store.commit(`group ${id}`, snap.revision, [this.store.guard(this.store.paths.group(id), 0)], [this.store.groupPut(rec)]);
    this.log.info('group.created', { gid: id, weight, revision });
    const after = { ...snap, groups: new Map(snap.groups).set(id, { record: rec, modRevision: revision }) };
    return { revision, group: groupView(after, { record: rec, modRevision: revision }) };
  }

  async removeGroup(id: number, ifRevision?: number): Promise<GroupMutationBody> {
    const snap = await this.store.read();
    const g = this.requireGroup(snap, id);
    this.requireIdle(g);
    this.requireNoSplit(g, 'remove it');
    const { owned, targeted } = slotsOfGroup(snap, id);
    if (owned > 0 || targeted > 0) {
      const reason = owned > 0 ? `it owns ${owned} slots; move them to another group first` : `${targeted} slots are migrating to it`;
      throw new RedslotError(DashboardErrors.REDSLOT_ERR_GROUP_NOT_EMPTY, { gid: id, reason });
    }
    this.store.checkIfRevision(ifRevision, `group ${id}`, [g]);
    // Comparing the group's modRevision is enough: any txn pointing a slot at this group re-puts it (store.ts).
    const revision = await this.store.commit(`group ${id}`, snap.revision, [this.store.guard(this.store.paths.group(id), g.modRevision)], [
      { type: 'delete', key: this.store.paths.group(id) },
    ]);
    this.log.info('group.removed', { gid: id, servers: g.record.servers.map((s) => s.addr), revision });
    return { revision, group: null, detail: g.record.servers.length > 0 ? `forgot ${g.record.servers.length} server(s); they were not touched` : undefined };
  }

  async addServer(gid: number, addr: string, opts: { force?: boolean; ifRevision?: number } = {}): Promise<GroupMutationBody> {
    const snap = await this.store.read();
    const g = this.requireGroup(snap, gid);
    this.requireIdle(g);
    for (const other of snap.groups.values()) {
      if (other.record.servers.some((s) => sameAddr(s.addr, addr))) {
        throw new RedslotError(DashboardErrors.REDSLOT_ERR_SERVER_EXISTS, { addr, gid: other.record.id });
      }
    }
    this.store.checkIfRevision(opts.ifRevision, `group ${gid}`, [g]);
    const master = masterOf(g.record);
    const log = this.log.child({ op: 'server.add', gid, addr });
    let detail = '';
    let madeReplica = false;
    await this.dialer.withServer(
      addr,
      knownServers(snap),
      async (c) => {
        await c.ping();
        const role = await c.role();
        log.info('server.add.checked', { role: role.role, master });
        if (role.role === 'sentinel') {
          throw new RedslotError(DashboardErrors.REDSLOT_ERR_SERVER_ROLE, { addr, reason: 'it is a sentinel, not a redis-server' });
        }
        if (master === undefined) {
          if (role.role !== 'master') {
            throw new RedslotError(DashboardErrors.REDSLOT_ERR_SERVER_ROLE, {
              addr,
              reason: `the first server of group ${gid} must be a master, but ROLE says it replicates ${role.master} (run REPLICAOF NO ONE on it first)`,
            });
          }
          detail = 'added as the group master';
          return;
        }
        if (role.role === 'replica') {
          if (!sameAddr(role.master, master)) {
            throw new RedslotError(DashboardErrors.REDSLOT_ERR_SERVER_ROLE, {
              addr,
              reason: `it replicates ${role.master}, not group ${gid}'s master ${master}`,
            });
          }
          detail = `added as a replica (already replicating ${master}, link ${role.state})`;
          return;
        }
        if (role.replicas.length > 0) {
          throw new RedslotError(DashboardErrors.REDSLOT_ERR_SERVER_ROLE, {
            addr,
            reason: `it is a master with ${role.replicas.length} replica(s) of its own; group ${gid} already has master ${master}`,
          });
        }
        const info = await c.info('keyspace');
        if (info.keys > 0 && !opts.force) {
          throw new RedslotError(DashboardErrors.REDSLOT_ERR_SERVER_ROLE, {
            addr,
            reason: `it is a master holding ${info.keys} keys; making it a replica of ${master} would discard them (pass force to do it anyway)`,
          });
        }
        await c.replicaOf(master);
        madeReplica = true;
        detail = `added as a replica: issued REPLICAOF ${master}${info.keys > 0 ? ` (force: discarded ${info.keys} keys)` : ''}`;
        log.info('server.add.replicaof', { master, discardedKeys: info.keys });
      },
      addr,
    );
    const server: ServerRecord = { addr, role: master === undefined ? 'master' : 'replica' };
    const rec: GroupRecord = { ...g.record, servers: [...g.record.servers, server] };
    // Compare every group (bounded by the txn limit): a concurrent add of the same address elsewhere loses.
    const others = [...snap.groups.values()].filter((x) => x.record.id !== gid).slice(0, 100);
    const compares = [this.store.guard(this.store.paths.group(gid), g.modRevision), ...others.map((o) => this.store.guard(this.store.paths.group(o.record.id), o.modRevision))];
    let revision: number;
    try {
      revision = await this.store.commit(`group ${gid}`, snap.revision, compares, [this.store.groupPut(rec)]);
    } catch (err) {
      if (madeReplica) {
        log.warn('server.add.undo_replicaof', { reason: (err as Error).message });
        await this.dialer.withServer(addr, knownServers(snap), (c) => c.replicaOf(null), addr).catch((e: unknown) => log.error('server.add.undo_failed', { err: e }));
      }
      throw err;
    }
    log.info('server.added', { role: server.role, revision, detail });
    return { revision, group: groupView(snap, { record: rec, modRevision: revision }), detail };
  }

  async removeServer(gid: number, addr: string, ifRevision?: number): Promise<GroupMutationBody> {
    const snap = await this.store.read();
    const g = this.requireGroup(snap, gid);
    this.requireIdle(g);
    const server = g.record.servers.find((s) => s.addr === addr);
    if (!server) throw new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_FOUND, { what: `server ${addr} in group ${gid}` });
    if (server.role === 'master') {
      this.requireNoSplit(g, 'remove its master');
      if (g.record.servers.length > 1) {
        throw new RedslotError(DashboardErrors.REDSLOT_ERR_SERVER_IN_USE, {
          addr,
          gid,
          reason: 'it is the master and the group has replicas; promote a replica first or remove the replicas',
        });
      }
      const { owned, targeted } = slotsOfGroup(snap, gid);
      if (owned + targeted > 0) {
        throw new RedslotError(DashboardErrors.REDSLOT_ERR_SERVER_IN_USE, {
          addr,
          gid,
          reason: `it is the master and the group owns ${owned + targeted} slots; they would go offline`,
        });
      }
    }
    this.store.checkIfRevision(ifRevision, `group ${gid}`, [g]);
    const rec: GroupRecord = { ...g.record, servers: g.record.servers.filter((s) => s.addr !== addr) };
    const revision = await this.store.commit(`group ${gid}`, snap.revision, [this.store.guard(this.store.paths.group(gid), g.modRevision)], [this.store.groupPut(rec)]);
    this.log.info('server.removed', { gid, addr, role: server.role, revision });
    return {
      revision,
      group: groupView(snap, { record: rec, modRevision: revision }),
      detail: `removed ${server.role} ${addr} from the model; the server itself was not touched`,
    };
  }
}
