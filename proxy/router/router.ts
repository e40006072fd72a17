/**
 * The router: for a routed command, find its keys, their slots and routes, and start the request of the
 * command's routing shape (single / mget / mset / msetnx / sum; script like single with the script cache;
 * all / one / scan through requests/cluster-wide.ts). Answers routing errors itself (CROSSSLOT,
 * CLUSTERDOWN). Returns a DispatchResult: waitForSlot(slot) when a locked slot makes the request wait (the
 * session holds its pipeline and retries when that slot's route changes), else DISPATCHED.
 */
import { slotOf, slotOfRange } from '../../shared/slot.js';
import { argvOfSpans, type RequestSpans } from '../../shared/resp/request-spans.js';
import { encodeCommandInto, encodeError } from '../../shared/resp/encoder.js';
import { commandKeys, type CommandSpec } from '../commands/lookup.js';
import { keyErrorReply } from '../commands/numkeys-errors.js';
import { ReplyErrors, errorReply, ProxyErrors } from '../errors.js';
import { MigrateStep, SOURCE_FIRST_MAX_ARGS, SourceFirstStep, sourceFirstGuard, type MigrateOptions } from './migrate-on-access.js';
import type { RouterSession } from './requests/base.js';
import type { ClusterWide } from './requests/cluster-wide.js';
import type { FanoutRequest } from './requests/fanout.js';
import { MgetRequest } from './requests/mget.js';
import { MsetRequest } from './requests/mset.js';
import type { ScriptRequest } from './requests/script.js';
import { SingleRequest } from './requests/single.js';
import { SumRequest } from './requests/sum.js';
import type { SlotRoute, SlotTable } from './slot-table.js';
import type { BackendServer } from '../backend/pool.js';
import type { SlotLoad } from '../load/slot-load.js';
import { LEASE_DEADLINE_PASSED, ServeDeadline } from './serve-deadline.js';
import { DISPATCHED, waitForSlot, type DispatchResult } from './dispatch-result.js';
import { handOver, type LendingSession } from './lending.js';

/** The session API the router needs beyond the requests' view of it. */
export interface RoutedSession extends RouterSession, LendingSession {
  /** Replies `reply` in order (an error the router made). */
  reply(reply: Buffer, cmdId: number, t0: number): void;
}

export class Router {
  private fenceReply: Buffer | null = null;
  /** The lease-derived deadline (issue 15 hole 4/5): past it, commands are refused like a fence. */
  readonly deadline: ServeDeadline;
  private readonly deadlineReply = errorReply(ProxyErrors.REDSLOT_ERR_FENCED, {
    reason: LEASE_DEADLINE_PASSED,
  });

  constructor(
    private readonly table: SlotTable,
    /** Per-slot ops/bytes counters and the hot-key sampler (one call per routed key). */
    private readonly load: SlotLoad,
    private readonly migrate: MigrateOptions,
    /** Cluster-wide commands and scripts (route shapes all, one, scan, script). */
    private readonly wide: ClusterWide | null = null,
    /** The lease-derived deadline (shared with the backend connections' WriteFence). */
    deadline: ServeDeadline = new ServeDeadline(),
  ) {
    this.deadline = deadline;
  }

  setFenced(reason: string | null): void {
    this.fenceReply = reason === null ? null : errorReply(ProxyErrors.REDSLOT_ERR_FENCED, { reason });
  }

  /** The reply every routed command gets while fenced, else null (dedicated commands check it too). */
  get fencedReply(): Buffer | null {
    if (this.fenceReply !== null) return this.fenceReply;
    return this.deadline.expired() ? this.deadlineReply : null;
  }

  /** Routes a command as single-slot whatever its table shape (XREAD / XREADGROUP without BLOCK). */
  routeSingle(s: RoutedSession, spec: CommandSpec, argv: Buffer[], raw: Buffer | undefined, t0: number): DispatchResult {
    const fenced = this.fencedReply;
    if (fenced !== null) return this.answer(s, fenced, spec, t0);
    if (!this.table.loaded) return this.answer(s, ReplyErrors.noTopology, spec, t0);
    const keys = commandKeys(spec, argv);
    if (typeof keys === 'string') return this.answer(s, keyErrorReply(spec, keys), spec, t0);
    return this.single(s, spec, argv, raw, keys, t0);
  }

  route(s: RoutedSession, spec: CommandSpec, argv: Buffer[], raw: Buffer | undefined, t0: number): DispatchResult {
    const fenced = this.fencedReply;
    if (fenced !== null) return this.answer(s, fenced, spec, t0);
    if (!this.table.loaded) return this.answer(s, ReplyErrors.noTopology, spec, t0);
    let keys = commandKeys(spec, argv);
    if (typeof keys === 'string') {
      // FCALL checks the function before numkeys: let the keyless group answer (it refuses bad numkeys
      // before running anything), so the client gets Redis's own reply.
      if (spec.route !== 'script' || !spec.name.startsWith('fcall')) return this.answer(s, keyErrorReply(spec, keys), spec, t0);
      keys = [];
    }
    switch (spec.route) {
      case 'single':
        return this.single(s, spec, argv, raw, keys, t0);
      case 'msetnx':
        if (argv.length % 2 === 0) return this.answer(s, arityError(spec), spec, t0);
        return this.single(s, spec, argv, raw, keys, t0);
      case 'mget':
        return this.fanout(s, new MgetRequest(s, spec.id, t0, argv, raw), argv, keys, spec, t0, raw);
      case 'mset':
        if (argv.length % 2 === 0) return this.answer(s, arityError(spec), spec, t0);
        return this.fanout(s, new MsetRequest(s, spec.id, t0, argv, raw), argv, keys, spec, t0, raw);
      case 'sum':
        return this.fanout(s, new SumRequest(s, spec.id, t0, argv, raw), argv, keys, spec, t0, raw);
      case 'script':
        return this.single(s, spec, argv, raw, keys, t0);
      case 'all':
        if (this.wide === null) break;
        this.wide.all(s, spec, argv, t0);
        return DISPATCHED;
      case 'one':
        if (this.wide === null) break;
        this.wide.one(s, spec, argv, raw, t0);
        return DISPATCHED;
      case 'scan':
        if (this.wide === null) break;
        this.wide.scan(s, spec, argv, t0);
        return DISPATCHED;
      default:
        break;
    }
    return this.answer(s, encodeError(`ERR command '${spec.name}' cannot be routed`), spec, t0);
  }

  /**
   * route() for a request given as its raw bytes and argument offsets (Session.onRequestSpans): `spec` routed
   * single (not a script), mget, mset or sum, `keys` its key positions (at least one). The common path makes
   * no argument Buffer; a slot migrating takes route()'s path with argv made from the offsets. A
   * waitForSlot result leaves the request to the session (it makes argv to hold it).
   */
  routeSpans(s: RoutedSession, spec: CommandSpec, raw: Buffer, spans: RequestSpans, keys: number[], t0: number): DispatchResult {
    const fenced = this.fencedReply;
    if (fenced !== null) return this.answer(s, fenced, spec, t0);
    if (!this.table.loaded) return this.answer(s, ReplyErrors.noTopology, spec, t0);
    if (spec.route === 'single') return this.singleSpans(s, spec, raw, spans, keys, t0);
    if (spec.route === 'mset' && spans.count % 2 === 0) return this.answer(s, arityError(spec), spec, t0);
    return this.fanoutSpans(s, spec, raw, spans, keys, t0);
  }

  private singleSpans(s: RoutedSession, spec: CommandSpec, raw: Buffer, spans: RequestSpans, keys: number[], t0: number): DispatchResult {
    const { data, head } = spans;
    const k0 = keys[0]!;
    const keyEnd = head[k0 + 1]! - 2;
    const slot = slotOfRange(raw, data[k0]!, keyEnd);
    for (let i = 1; i < keys.length; i++) {
      const k = keys[i]!;
      if (slotOfRange(raw, data[k]!, head[k + 1]! - 2) !== slot) return this.answer(s, ReplyErrors.crossSlot, spec, t0);
    }
    const route = this.table.routes[slot]!;
    if (route.locked) return waitForSlot(slot);
    if (route.server === null) return this.answer(s, ReplyErrors.slotNotServed, spec, t0);
    if (route.migrateFrom !== null) return this.single(s, spec, argvOfSpans(raw, spans), raw, keys, t0);
    const replica = s.readReplica && !spec.write ? readableReplica(route, s.id) : null;
    const req = new SingleRequest(s, spec.id, t0, route, raw, raw.length, replica);
    this.load.countAt(slot, raw, data[k0]!, keyEnd, raw.length);
    s.enqueue(req);
    handOver(req, raw, s);
    req.start();
    return DISPATCHED;
  }

  private fanoutSpans(s: RoutedSession, spec: CommandSpec, raw: Buffer, spans: RequestSpans, keys: number[], t0: number): DispatchResult {
    const routes = this.table.routes;
    const { data, head } = spans;
    const nk = keys.length;
    if (slotScratch.length < nk) slotScratch = new Int32Array(nk);
    const slots = slotScratch;
    for (let i = 0; i < nk; i++) {
      const k = keys[i]!;
      const slot = slotOfRange(raw, data[k]!, head[k + 1]! - 2);
      const route = routes[slot]!;
      if (route.locked) return waitForSlot(slot);
      if (route.server === null) return this.answer(s, ReplyErrors.slotNotServed, spec, t0);
      if (route.migrateFrom !== null) {
        const argv = argvOfSpans(raw, spans);
        return this.fanout(s, fanoutRequest(s, spec, t0, argv, raw, argv.length), argv, keys, spec, t0, raw);
      }
      slots[i] = slot;
    }
    const req = fanoutRequest(s, spec, t0, NO_ARGV, raw, spans.count);
    const share = raw.length / nk;
    for (let i = 0; i < nk; i++) {
      const k = keys[i]!;
      this.load.countAt(slots[i]!, raw, data[k]!, head[k + 1]! - 2, share);
      req.addKey(routes[slots[i]!]!, k);
    }
    s.enqueue(req);
    handOver(req, raw, s);
    req.startSpans(raw, spans);
    return DISPATCHED;
  }

  private answer(s: RoutedSession, reply: Buffer, spec: CommandSpec, t0: number): DispatchResult {
    s.reply(reply, spec.id, t0);
    return DISPATCHED;
  }

  private single(s: RoutedSession, spec: CommandSpec, argv: Buffer[], raw: Buffer | undefined, keys: number[], t0: number): DispatchResult {
    let slot = 0; // keyless commands (EVAL with numkeys 0) go to slot 0's group
    const n = keys.length;
    if (n > 0) {
      slot = slotOf(argv[keys[0]!]!);
      for (let i = 1; i < n; i++) {
        if (slotOf(argv[keys[i]!]!) !== slot) return this.answer(s, ReplyErrors.crossSlot, spec, t0);
      }
    }
    const route = this.table.routes[slot]!;
    if (route.locked) return waitForSlot(slot);
    if (route.server === null) return this.answer(s, ReplyErrors.slotNotServed, spec, t0);
    let req: SingleRequest | ScriptRequest;
    let bytes: number;
    if (spec.route === 'script' && this.wide !== null) {
      if (raw !== undefined) req = this.wide.scriptRequest(s, spec, t0, route, argv, raw, (bytes = raw.length));
      else {
        const parts: Buffer[] = [];
        req = this.wide.scriptRequest(s, spec, t0, route, argv, parts, (bytes = encodeCommandInto(argv, parts)));
      }
    } else {
      const replica = s.readReplica && !spec.write && spec.route === 'single' ? readableReplica(route, s.id) : null;
      if (raw !== undefined) req = new SingleRequest(s, spec.id, t0, route, raw, (bytes = raw.length), replica);
      else {
        const parts: Buffer[] = [];
        bytes = encodeCommandInto(argv, parts);
        req = new SingleRequest(s, spec.id, t0, route, parts, bytes, replica);
      }
    }
    this.load.count(slot, n > 0 ? argv[keys[0]!]! : null, bytes);
    s.enqueue(req);
    if (route.migrateFrom !== null && n > 0) {
      // Source first when Lua can run the command with its reply intact (RESP2, not a script, short enough).
      const guard = s.proto === 2 && this.migrate.sourceFirst !== false && argv.length <= SOURCE_FIRST_MAX_ARGS ? sourceFirstGuard(spec) : null;
      if (guard !== null && req instanceof SingleRequest) {
        new SourceFirstStep(s, req, route, argv, keys, guard, this.migrate).start();
        return DISPATCHED;
      }
      const step = new MigrateStep(s, req, this.migrate);
      for (let i = 0; i < n; i++) step.add(route, argv[keys[i]!]!);
      step.start();
    } else {
      // Nothing but the request itself reads the client's bytes now.
      if (req instanceof SingleRequest) handOver(req, raw, s);
      req.start();
    }
    return DISPATCHED;
  }

  private fanout(s: RoutedSession, req: FanoutRequest, argv: Buffer[], keys: number[], spec: CommandSpec, t0: number, raw?: Buffer): DispatchResult {
    const routes = this.table.routes;
    const slots = new Array<number>(keys.length);
    let migrating = false;
    // Check every slot before touching any in-flight counter: a locked or offline slot stops the whole command.
    for (let i = 0; i < keys.length; i++) {
      const slot = slotOf(argv[keys[i]!]!);
      const route = routes[slot]!;
      if (route.locked) return waitForSlot(slot);
      if (route.server === null) return this.answer(s, ReplyErrors.slotNotServed, spec, t0);
      if (route.migrateFrom !== null) migrating = true;
      slots[i] = slot;
    }
    // Bytes of a fan-out are shared out over its keys (the client's command as a whole, not per part).
    const share = (raw !== undefined ? raw.length : argvBytes(argv)) / keys.length;
    for (let i = 0; i < keys.length; i++) {
      this.load.count(slots[i]!, argv[keys[i]!]!, share);
      req.addKey(routes[slots[i]!]!, keys[i]!);
    }
    s.enqueue(req);
    // Nothing but the request reads the client's bytes from now on (a migrate step is done with them before it starts it).
    handOver(req, raw, s);
    if (migrating) {
      const step = new MigrateStep(s, req, this.migrate);
      for (let i = 0; i < keys.length; i++) {
        const route = routes[slots[i]!]!;
        if (route.migrateFrom !== null) step.add(route, argv[keys[i]!]!);
      }
      step.start();
      return DISPATCHED;
    }
    req.start();
    return DISPATCHED;
  }
}

/** Slots of the keys of the fan-out being routed (fanoutSpans: read before it returns). */
let slotScratch = new Int32Array(64);

/** The arguments of a fan-out request that came as offsets (it reads only their count). */
const NO_ARGV: Buffer[] = [];

/** The fan-out request of `spec`'s route (mget, mset or sum). */
function fanoutRequest(s: RoutedSession, spec: CommandSpec, t0: number, argv: Buffer[], raw: Buffer, argc: number): FanoutRequest {
  if (spec.route === 'mget') return new MgetRequest(s, spec.id, t0, argv, raw, argc);
  if (spec.route === 'mset') return new MsetRequest(s, spec.id, t0, argv, raw, argc);
  return new SumRequest(s, spec.id, t0, argv, raw, argc);
}

/** Payload bytes of a command that did not arrive in one chunk (RESP framing not counted). */
function argvBytes(argv: Buffer[]): number {
  let n = 0;
  for (let i = 0; i < argv.length; i++) n += argv[i]!.length;
  return n;
}

function arityError(spec: CommandSpec): Buffer {
  return errorReply(ProxyErrors.REDSLOT_ERR_WRONG_ARITY, { name: spec.name });
}

/** A replica of the route's group fit for reads (spread over clients by session id), or null: the master. */
function readableReplica(route: SlotRoute, seed: number): BackendServer | null {
  const list = route.replicas;
  const n = list.length;
  for (let i = 0; i < n; i++) {
    const r = list[(seed + i) % n]!;
    if (r.readable) return r;
  }
  return null;
}
