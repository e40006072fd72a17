/**
 * The proxy's routing table: 1024 immutable `SlotRoute` objects, derived from a Topology with routeOf().
 *
 * Invariants:
 * - A request takes the route object of each slot it touches at dispatch time, increments its `inflight`
 *   once per use, and calls `done()` exactly once per increment when its reply is in (or it failed).
 * - `apply()` replaces the route objects of changed slots in one synchronous loop (no request can see half
 *   of a topology), marks the old objects retired, and resolves once every retired object has inflight 0:
 *   from then on nothing sent under an old route is still running. That is the drain the barrier needs.
 * - A locked route (migration `prepared` step, group promotion) sends nothing: sessions that need it wait
 *   (`wait()`) and are woken when a later apply() changes that slot's route.
 * - Unchanged slots keep their route object, so their in-flight counts are not reset by unrelated changes.
 */
import { SLOT_COUNT } from '../../shared/slot.js';
import { hiddenBySplit, masterOf, purgingBySplit, routeOf } from '../../shared/model/topology.js';
import type { Topology } from '../../shared/model/types.js';
import type { BackendPool, BackendServer } from '../backend/pool.js';

export class SlotRoute {
  inflight = 0;
  retired = false;
  /** Date.now() when this route replaced an earlier one; 0 for the first topology's routes (SCAN's change log). */
  since = 0;

  constructor(
    readonly slot: number,
    /** Where commands go (target while migrating); null = slot offline. */
    readonly server: BackendServer | null,
    /** While migrating: the source master keys are first moved from. */
    readonly migrateFrom: BackendServer | null,
    /** Hold requests, send nothing. */
    readonly locked: boolean,
    readonly group: number,
    private readonly table: SlotTable,
    /** Replicas of the owning group (reads of READONLY clients; none while migrating or locked). */
    readonly replicas: readonly BackendServer[] = NO_REPLICAS,
  ) {}

  /** One use of this route finished. */
  done(): void {
    if (--this.inflight === 0 && this.retired) this.table.routeDrained(this);
  }

  sameAs(server: BackendServer | null, migrateFrom: BackendServer | null, locked: boolean, group: number, replicas: readonly BackendServer[]): boolean {
    return this.server === server && this.migrateFrom === migrateFrom && this.locked === locked && this.group === group && sameServers(this.replicas, replicas);
  }
}

/** Something waiting for a locked slot to change (a session holding its pipeline). */
export interface SlotWaiter {
  onSlotReady(): void;
}

export class SlotTable {
  readonly routes: SlotRoute[] = [];
  revision = 0;
  loaded = false;
  /** Slots of the applied topology with a migration action in any state (FLUSH* is refused while > 0). */
  slotsWithAction = 0;
  /**
   * Told (inside apply, after the swap) which slots got a new route: blocked commands and subscriptions on
   * them move to the new owner. apply() also waits for the promise it returns (new subscriptions confirmed).
   */
  onRoutesChanged: ((changed: readonly number[]) => Promise<void> | undefined) | null = null;
  /**
   * Every group with a master, by ascending id (cluster-wide commands, SCAN's group order). `since`: when
   * this master first appeared (0 = in the first topology), so FCALL can copy functions to newcomers.
   */
  masters: ReadonlyArray<GroupMaster> = [];
  /**
   * Some group still holds keys of slots it does not own (a split's purge): keyed cluster-wide replies
   * (RANDOMKEY) check each key's slot against the table.
   */
  purging = false;
  /** Replicas of every group (the same array object while unchanged). */
  replicas: ReadonlyMap<number, readonly BackendServer[]> = new Map();
  private readonly waiters: Array<SlotWaiter[] | undefined> = new Array<SlotWaiter[] | undefined>(SLOT_COUNT);
  private draining = new Set<SlotRoute>();
  private drained: (() => void) | null = null;
  /**
   * How long apply() waits for the drain (0 = forever). Past it, the drain is given up (onDrainTimeout is
   * told what was still in flight) and apply() resolves: one stuck request must not stop this proxy from
   * acknowledging every later revision (and stall every barrier).
   */
  drainTimeoutMs = 0;
  onDrainTimeout: ((stuck: Array<{ slot: number; inflight: number; server: string | null }>) => void) | null = null;
  private drainTimer: NodeJS.Timeout | null = null;

  constructor(private readonly pool: BackendPool) {
    for (let s = 0; s < SLOT_COUNT; s++) this.routes.push(new SlotRoute(s, null, null, false, 0, this));
  }

  /**
   * Swaps in the routes of `topo` atomically; resolves when every request sent under a replaced route has
   * been answered. Calls must not overlap (the caller serialises them).
   */
  apply(topo: Topology): Promise<void> {
    const changed: number[] = [];
    const now = this.loaded ? Date.now() : 0;
    const replicasOf = replicasByGroup(topo, this.pool, this.replicas);
    this.replicas = replicasOf;
    for (let s = 0; s < SLOT_COUNT; s++) {
      const r = routeOf(topo, s);
      const server = r.backend === undefined ? null : this.pool.server(r.backend);
      const from = r.migrateFrom === undefined ? null : this.pool.server(r.migrateFrom);
      const replicas = from === null && !r.locked ? (replicasOf.get(r.group) ?? NO_REPLICAS) : NO_REPLICAS;
      const cur = this.routes[s]!;
      if (cur.sameAs(server, from, r.locked, r.group, replicas)) continue;
      cur.retired = true;
      if (cur.inflight > 0) this.draining.add(cur);
      const route = new SlotRoute(s, server, from, r.locked, r.group, this, replicas);
      route.since = now;
      this.routes[s] = route;
      changed.push(s);
    }
    let withAction = 0;
    for (const rec of topo.slots) if (rec.action !== undefined) withAction++;
    this.slotsWithAction = withAction;
    this.masters = mastersOf(topo, this.pool, this.masters, now);
    this.purging = [...topo.groups.values()].some(purgingBySplit);
    this.revision = topo.revision;
    this.loaded = true;
    for (const s of changed) this.wake(s);
    const moved = this.onRoutesChanged === null ? undefined : this.onRoutesChanged(changed);
    const drained =
      this.draining.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.drained = resolve;
            if (this.drainTimeoutMs > 0) this.drainTimer = setTimeout(() => this.giveUpDrain(), this.drainTimeoutMs);
          });
    return moved === undefined ? drained : Promise.all([drained, moved]).then(() => undefined);
  }

  /** Addresses any route still uses (or a master of a group) (to close connections to servers that left the topology). */
  addressesInUse(): Set<string> {
    const out = new Set<string>();
    for (const r of this.routes) {
      if (r.server) out.add(r.server.addr);
      if (r.migrateFrom) out.add(r.migrateFrom.addr);
    }
    for (const m of this.masters) out.add(m.server.addr);
    for (const list of this.replicas.values()) for (const r of list) out.add(r.addr);
    return out;
  }

  /** Requests still running under replaced routes. */
  drainingRequests(): number {
    let n = 0;
    for (const r of this.draining) n += r.inflight;
    return n;
  }

  routeDrained(r: SlotRoute): void {
    if (!this.draining.delete(r)) return;
    if (this.draining.size === 0) this.finishDrain();
  }

  private finishDrain(): void {
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    const d = this.drained;
    this.drained = null;
    d?.();
  }

  /** The drain deadline passed: report what is still in flight, stop waiting for it. */
  private giveUpDrain(): void {
    this.drainTimer = null;
    const stuck = [...this.draining].map((r) => ({ slot: r.slot, inflight: r.inflight, server: r.server?.addr ?? null }));
    this.draining.clear();
    this.onDrainTimeout?.(stuck);
    this.finishDrain();
  }

  /** Registers `w` to be woken when slot's route changes. */
  wait(slot: number, w: SlotWaiter): void {
    const list = this.waiters[slot];
    if (list === undefined) this.waiters[slot] = [w];
    else if (!list.includes(w)) list.push(w);
  }

  unwait(slot: number, w: SlotWaiter): void {
    const list = this.waiters[slot];
    if (list === undefined) return;
    const i = list.indexOf(w);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.waiters[slot] = undefined;
  }

  /** Number of sessions waiting on locked slots. */
  waitingSessions(): number {
    let n = 0;
    for (const l of this.waiters) if (l) n += l.length;
    return n;
  }

  private wake(slot: number): void {
    const list = this.waiters[slot];
    if (list === undefined) return;
    this.waiters[slot] = undefined;
    for (const w of list) w.onSlotReady();
  }
}

export interface GroupMaster {
  readonly group: number;
  readonly server: BackendServer;
  readonly since: number;
}

function mastersOf(topo: Topology, pool: BackendPool, prev: ReadonlyArray<GroupMaster>, now: number): GroupMaster[] {
  const out: GroupMaster[] = [];
  for (const g of [...topo.groups.values()].sort((a, b) => a.id - b.id)) {
    const addr = masterOf(g);
    // A split's target replicating its source holds copies of keys it does not own: not a master to ask yet.
    if (addr === undefined || hiddenBySplit(g)) continue;
    const server = pool.server(addr);
    out.push({ group: g.id, server, since: prev.find((m) => m.server === server)?.since ?? now });
  }
  return out;
}

const NO_REPLICAS: readonly BackendServer[] = [];

function sameServers(a: readonly BackendServer[], b: readonly BackendServer[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

/** Each group's replicas; a group whose list did not change keeps its previous array (routes stay the same). */
function replicasByGroup(topo: Topology, pool: BackendPool, prev: ReadonlyMap<number, readonly BackendServer[]>): Map<number, readonly BackendServer[]> {
  const out = new Map<number, readonly BackendServer[]>();
  for (const g of topo.groups.values()) {
    const list = g.servers.filter((s) => s.role === 'replica').map((s) => pool.server(s.addr));
    if (list.length === 0) continue;
    const old = prev.get(g.id);
    out.set(g.id, old !== undefined && sameServers(old, list) ? old : list);
  }
  return out;
}
