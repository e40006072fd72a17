/**
 * Reading a Codis 3.x dashboard's model (`GET /topom/stats`, or `GET /topom` which wraps the same under
 * `stats`) and turning it into what redslot would create: one group per Codis group (same id, `servers[0]`
 * the master, the others replicas), every slot to the same group id. Codis and redslot place keys with the
 * same slot function, so nothing moves. Slots of Codis group 0 (offline) stay offline.
 *
 * Refused (the cluster is in the middle of a change Codis owns):
 * - a slot with an action (pending, preparing, prepared, migrating, finished): its keys may be on two groups;
 * - a group with `promoting` set: its master is changing.
 * Shapes: pkg/models/{slots,group}.go of CodisLabs/codis 3.2; captured responses in the reference fixtures.
 */
import { parseRedisVersion, refusalsFor } from '../../shared/redis-version.js';
import { SLOT_COUNT } from '../../shared/slot.js';
import type { ServerRole } from '../../shared/model/types.js';
import { slotRanges } from '../topom/store.js';

export interface CodisServerPlan {
  addr: string;
  role: ServerRole;
  /** `redis_version` from the Codis dashboard's INFO of this server, when it had one. */
  redisVersion?: string;
}

export interface CodisGroupPlan {
  id: number;
  servers: CodisServerPlan[];
  slots: number;
}

export interface CodisImportPlan {
  product: string | null;
  /** Codis build, when the input was `GET /topom`. */
  codisVersion: string | null;
  groups: CodisGroupPlan[];
  /** Every slot, offline ranges included (group 0). */
  ranges: Array<{ from: number; to: number; group: number }>;
  /** slot id -> group id (0 = offline). */
  slots: number[];
  offlineSlots: number;
  /** Proxies Codis had registered (they keep serving until the operator stops them). */
  codisProxies: string[];
  /** Why the import cannot run now; empty when it can. */
  refusals: string[];
  /** What the operator should know but does not block the import. */
  warnings: string[];
}

/** The input is not a Codis model at all (malformed, wrong shape): a 400, not a refusal. */
export class CodisModelError extends Error {}

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function int(x: unknown, what: string, min: number, max: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) throw new CodisModelError(`${what}: expected an integer ${min}..${max}, got ${JSON.stringify(x)}`);
  return x;
}

const ADDR = /^[A-Za-z0-9_.\-[\]:]+:[0-9]{1,5}$/;

/** A non-empty Codis action object ({} = none; Go's omitempty leaves `{}` or omits fields). */
function actionState(a: unknown): string | null {
  if (!isObj(a)) return null;
  const st = a['state'];
  return typeof st === 'string' && st !== '' ? st : null;
}

/** The `/topom/stats` object of either response. */
function statsOf(input: unknown): { stats: Obj; product: string | null; codisVersion: string | null } {
  if (!isObj(input)) throw new CodisModelError('expected a JSON object (Codis GET /topom/stats or GET /topom)');
  if (Array.isArray(input['slots'])) return { stats: input, product: null, codisVersion: null };
  const inner = input['stats'];
  if (isObj(inner) && Array.isArray(inner['slots'])) {
    const model = isObj(input['model']) ? input['model'] : {};
    const config = isObj(input['config']) ? input['config'] : {};
    const product = typeof model['product_name'] === 'string' ? model['product_name'] : typeof config['product_name'] === 'string' ? config['product_name'] : null;
    const version = typeof input['version'] === 'string' ? input['version'] : null;
    return { stats: inner, product, codisVersion: version };
  }
  throw new CodisModelError('no "slots" array: expected the body of Codis GET /topom/stats or GET /topom');
}

export function planCodisImport(input: unknown): CodisImportPlan {
  const { stats, product, codisVersion } = statsOf(input);
  const refusals: string[] = [];
  const warnings: string[] = [];
  const rawSlots = stats['slots'] as unknown[];
  if (rawSlots.length !== SLOT_COUNT) throw new CodisModelError(`expected ${SLOT_COUNT} slots, got ${rawSlots.length}`);
  const slots = new Array<number>(SLOT_COUNT).fill(-1);
  const acting: string[] = [];
  for (const raw of rawSlots) {
    if (!isObj(raw)) throw new CodisModelError('a slot entry is not an object');
    const id = int(raw['id'], 'slot id', 0, SLOT_COUNT - 1);
    if (slots[id] !== -1) throw new CodisModelError(`slot ${id} is listed twice`);
    slots[id] = int(raw['group_id'] ?? 0, `slot ${id} group_id`, 0, 9999);
    const st = actionState(raw['action']);
    if (st !== null) {
      const a = raw['action'] as Obj;
      acting.push(`slot ${id} (${st}${typeof a['target_id'] === 'number' ? ` -> group ${a['target_id']}` : ''})`);
    }
  }
  if (acting.length > 0) {
    const shown = acting.slice(0, 10).join(', ') + (acting.length > 10 ? ` and ${acting.length - 10} more` : '');
    refusals.push(`Codis has ${acting.length} slot action(s) in progress: ${shown}; their keys may be split between two groups. Let Codis finish them (or cancel the pending ones: codis-admin --slot-action --remove) and import again`);
  }

  const group = isObj(stats['group']) ? stats['group'] : {};
  const models = Array.isArray(group['models']) ? group['models'] : [];
  const serverStats = isObj(group['stats']) ? group['stats'] : {};
  const groups: CodisGroupPlan[] = [];
  const seenAddr = new Map<string, number>();
  for (const m of models) {
    if (!isObj(m)) throw new CodisModelError('a group model is not an object');
    const gid = int(m['id'], 'group id', 1, 9999);
    if (groups.some((g) => g.id === gid)) throw new CodisModelError(`group ${gid} is listed twice`);
    const promoting = actionState(m['promoting']);
    if (promoting !== null) refusals.push(`Codis group ${gid} is promoting a new master (${promoting}); wait until it finished and import again`);
    if (m['out_of_sync'] === true) warnings.push(`Codis marks group ${gid} OUT OF SYNC (its master changed without a sync); check servers[0] really is the master`);
    const servers: CodisServerPlan[] = [];
    const list = Array.isArray(m['servers']) ? m['servers'] : [];
    for (const s of list) {
      if (!isObj(s) || typeof s['server'] !== 'string' || !ADDR.test(s['server'])) throw new CodisModelError(`group ${gid}: a server entry has no valid "server" host:port`);
      const addr = s['server'];
      const other = seenAddr.get(addr);
      if (other !== undefined) throw new CodisModelError(`server ${addr} is listed in groups ${other} and ${gid}`);
      seenAddr.set(addr, gid);
      const plan: CodisServerPlan = { addr, role: servers.length === 0 ? 'master' : 'replica' };
      const info = isObj(serverStats[addr]) ? (serverStats[addr] as Obj)['stats'] : undefined;
      const version = isObj(info) && typeof info['redis_version'] === 'string' ? info['redis_version'] : undefined;
      if (version !== undefined) plan.redisVersion = version;
      if (actionState(s['action']) !== null) warnings.push(`server ${addr} has a Codis sync action (${actionState(s['action'])}); its replication may still be changing`);
      if (s['replica_group'] === true && plan.role === 'replica') warnings.push(`server ${addr} served Codis replica reads; redslot sends every command to the master`);
      servers.push(plan);
    }
    groups.push({ id: gid, servers, slots: 0 });
  }
  groups.sort((a, b) => a.id - b.id);

  for (let sid = 0; sid < SLOT_COUNT; sid++) {
    const gid = slots[sid]!;
    if (gid === -1) throw new CodisModelError(`slot ${sid} is missing`);
    if (gid === 0) continue;
    const g = groups.find((x) => x.id === gid);
    if (!g) throw new CodisModelError(`slot ${sid} belongs to group ${gid}, which the model does not list`);
    g.slots++;
  }
  for (const g of groups) {
    if (g.servers.length === 0 && g.slots > 0) refusals.push(`Codis group ${g.id} owns ${g.slots} slots but has no server`);
    else if (g.servers.length === 0) warnings.push(`Codis group ${g.id} has no server; it is created empty`);
  }
  for (const g of groups) {
    for (const s of g.servers) {
      const v = s.redisVersion === undefined ? null : parseRedisVersion(s.redisVersion);
      if (v === null) continue;
      const why = refusalsFor(v, { migration: true, resp3: true, replicaOf: true });
      if (why.length > 0) warnings.push(`${s.addr} (group ${g.id}): ${why.join('; ')}`);
    }
  }
  const offlineSlots = slots.filter((g) => g === 0).length;
  if (offlineSlots > 0) warnings.push(`${offlineSlots} slots are offline in Codis (group 0) and stay offline: commands for their keys get CLUSTERDOWN until you assign them`);
  if (stats['closed'] === true) warnings.push('the Codis dashboard reported itself closed (shutting down); the model may be stale');

  const proxyObj = isObj(stats['proxy']) ? stats['proxy'] : {};
  const proxyModels = Array.isArray(proxyObj['models']) ? proxyObj['models'] : [];
  const codisProxies = proxyModels.filter(isObj).map((p) => String(p['proxy_addr'] ?? p['token'] ?? '?'));

  return {
    product,
    codisVersion,
    groups,
    ranges: slotRanges(slots.map((group, id) => ({ id, group })), true),
    slots,
    offlineSlots,
    codisProxies,
    refusals,
    warnings,
  };
}
