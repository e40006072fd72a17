/**
 * Importing a Codis cluster's topology into redslot's coordinator without moving data.
 *
 * preview(): the Codis plan (codis-model.ts) checked against redslot's current topology — what will be
 * created, what already matches (an import can be repeated), and what conflicts (refusals).
 * apply(): the same checks on a fresh read, then a live check of every master (reachable, INFO says master,
 * `redis_version` recorded), then the writes: groups first (one CAS per chunk, each group key must be absent),
 * then the slots through SlotService.write (CAS per chunk on slot and group keys). A lost race is a 409 and
 * the response says how far it got; running the import again completes it (matching entries are skipped).
 */
import type { Logger } from '../../shared/log.js';
import { RedslotError } from '../../shared/errors.js';
import { OFFLINE_GROUP, type GroupRecord } from '../../shared/model/types.js';
import { parseRedisVersion, refusalsFor } from '../../shared/redis-version.js';
import { DashboardErrors } from '../errors.js';
import { sameAddr } from '../topom/groups.js';
import type { SlotService } from '../topom/slots.js';
import { CHUNK, slotRanges, type TopologySnapshot, type TopologyStore } from '../topom/store.js';
import type { Dialer } from '../topom/dialer.js';
import { planCodisImport, type CodisImportPlan } from './codis-model.js';

export interface CodisImportPreview extends CodisImportPlan {
  revision: number;
  /** Groups redslot will create (the others already exist with the same servers). */
  createGroups: number[];
  /** Slots redslot will assign (the others are offline in Codis or already match). */
  assignSlots: number;
  assignRanges: Array<{ from: number; to: number; group: number }>;
}

export interface CodisImportResult extends CodisImportPreview {
  applied: boolean;
  /** Per master: what INFO said at confirm time. */
  checked: Array<{ addr: string; group: number; redisVersion: string | null; role: string | null }>;
}

function refused(reason: string): RedslotError {
  return new RedslotError(DashboardErrors.REDSLOT_ERR_IMPORT_REFUSED, { reason });
}

/** Compares the Codis plan with redslot's topology: adds createGroups/assignSlots and conflict refusals. */
export function compareWithTopology(plan: CodisImportPlan, snap: TopologySnapshot): CodisImportPreview {
  const refusals = [...plan.refusals];
  const warnings = [...plan.warnings];
  const createGroups: number[] = [];
  for (const g of plan.groups) {
    const mine = snap.groups.get(g.id);
    for (const other of snap.groups.values()) {
      if (other.record.id === g.id) continue;
      for (const s of g.servers) {
        if (other.record.servers.some((x) => sameAddr(x.addr, s.addr))) refusals.push(`server ${s.addr} of Codis group ${g.id} is already in redslot group ${other.record.id}`);
      }
    }
    if (!mine) {
      createGroups.push(g.id);
      continue;
    }
    const same = mine.record.servers.length === g.servers.length && g.servers.every((s, i) => sameAddr(s.addr, mine.record.servers[i]!.addr) && s.role === mine.record.servers[i]!.role);
    if (!same) {
      refusals.push(`redslot group ${g.id} already exists with other servers (${mine.record.servers.map((s) => s.addr).join(', ') || 'none'}); import into a cluster without it`);
    }
  }
  const assign: Array<{ id: number; group: number }> = [];
  const conflicts: string[] = [];
  for (let sid = 0; sid < plan.slots.length; sid++) {
    const want = plan.slots[sid]!;
    const cur = snap.slots[sid]!.record;
    if (cur.action) conflicts.push(`${sid} (redslot migration ${cur.action.state})`);
    else if (want === OFFLINE_GROUP) {
      if (cur.group !== OFFLINE_GROUP) warnings.push(`slot ${sid} is offline in Codis but owned by redslot group ${cur.group}; left as it is`);
    } else if (cur.group === want) continue;
    else if (cur.group !== OFFLINE_GROUP) conflicts.push(`${sid} (redslot group ${cur.group}, Codis group ${want})`);
    else assign.push({ id: sid, group: want });
  }
  if (conflicts.length > 0) {
    refusals.push(`${conflicts.length} slot(s) are already assigned differently in redslot: ${conflicts.slice(0, 10).join(', ')}${conflicts.length > 10 ? ', ...' : ''}`);
  }
  return { ...plan, refusals, warnings, revision: snap.revision, createGroups, assignSlots: assign.length, assignRanges: slotRanges(assign) };
}

export class CodisImportService {
  constructor(
    private readonly store: TopologyStore,
    private readonly slots: SlotService,
    private readonly dialer: Dialer,
    private readonly log: Logger,
  ) {}

  async preview(input: unknown): Promise<CodisImportPreview> {
    return compareWithTopology(planCodisImport(input), await this.store.read());
  }

  async apply(input: unknown, ifRevision?: number): Promise<CodisImportResult> {
    const plan = planCodisImport(input);
    const snap = await this.store.read();
    const preview = compareWithTopology(plan, snap);
    if (preview.refusals.length > 0) throw refused(preview.refusals.join('; '));
    this.store.checkIfRevision(ifRevision, 'the import', [...snap.groups.values(), ...snap.slots]);
    const log = this.log.child({ op: 'import.codis', product: plan.product });
    const checked = await this.checkMasters(plan, preview);
    const groups: GroupRecord[] = plan.groups.filter((g) => preview.createGroups.includes(g.id)).map((g) => ({ id: g.id, weight: 1, servers: g.servers.map((s) => ({ addr: s.addr, role: s.role })) }));
    let revision = snap.revision;
    for (let off = 0; off < groups.length; off += CHUNK) {
      const chunk = groups.slice(off, off + CHUNK);
      revision = await this.store.commit(
        `import groups ${chunk.map((g) => g.id).join(',')}`,
        snap.revision,
        chunk.map((g) => this.store.guard(this.store.paths.group(g.id), 0)),
        chunk.map((g) => this.store.groupPut(g)),
      );
      log.info('import.codis.groups', { groups: chunk.map((g) => g.id), revision });
    }
    if (preview.assignSlots > 0) {
      // Re-read: the slot writer compares the groups' new modRevisions.
      const after = await this.store.read();
      const again = compareWithTopology(plan, after);
      if (again.refusals.length > 0) throw refused(`after creating groups: ${again.refusals.join('; ')}`);
      const assign = new Map<number, number>();
      for (let sid = 0; sid < plan.slots.length; sid++) {
        const g = plan.slots[sid]!;
        if (g !== OFFLINE_GROUP && after.slots[sid]!.record.group === OFFLINE_GROUP) assign.set(sid, g);
      }
      revision = (await this.slots.write(after, assign, `import of Codis ${plan.product ?? 'cluster'}`)).revision;
    }
    log.info('import.codis.done', { groups: groups.length, slots: preview.assignSlots, revision });
    return { ...preview, revision, applied: true, checked };
  }

  /** Every master must answer INFO as a master; versions are recorded and too-old ones reported. */
  private async checkMasters(plan: CodisImportPlan, preview: CodisImportPreview): Promise<CodisImportResult['checked']> {
    const out: CodisImportResult['checked'] = [];
    const problems: string[] = [];
    for (const g of plan.groups) {
      const master = g.servers[0];
      if (!master) continue;
      try {
        const info = await this.dialer.withServer(master.addr, new Set(), (c) => c.info(), master.addr);
        out.push({ addr: master.addr, group: g.id, redisVersion: info.redisVersion ?? null, role: info.role ?? null });
        if (info.role !== 'master') problems.push(`${master.addr} (servers[0] of Codis group ${g.id}) is not a master (INFO role: ${info.role ?? 'unknown'})`);
        const v = info.redisVersion ? parseRedisVersion(info.redisVersion) : null;
        const why = v ? refusalsFor(v, { migration: true }) : [];
        if (why.length > 0) preview.warnings.push(`${master.addr}: ${why.join('; ')}`);
      } catch (err) {
        problems.push(`${master.addr} (master of Codis group ${g.id}) did not answer: ${(err as Error).message}`);
      }
    }
    if (problems.length > 0) throw refused(problems.join('; '));
    return out;
  }
}
