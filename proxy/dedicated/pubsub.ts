/**
 * Pub/Sub across groups and proxies.
 *
 * Where things live: a channel (SUBSCRIBE/PUBLISH) and a shard channel (SSUBSCRIBE/SPUBLISH) belong to the
 * group owning slotOf(channel); PUBLISH goes there over the shared connections and the client gets that
 * server's receiver count. A pattern (PSUBSCRIBE) is subscribed on EVERY master (a message is published on
 * exactly one of them, so each matching message arrives once). PUBSUB CHANNELS/SHARDCHANNELS/NUMPAT ask
 * every master, NUMSUB/SHARDNUMSUB each channel's owner, and the proxy merges the answers.
 *
 * A subscribed session holds one dedicated subscriber connection per master it needs (RESP2 on the
 * backend whatever the client speaks). The proxy answers (P|S)(UN)SUBSCRIBE itself with the SESSION's counts
 * (channels + patterns; shard channels apart), once every backend involved has confirmed, so a message
 * published after the client saw its confirmation is delivered. Messages are forwarded byte for byte; for
 * a RESP3 client the `*` of the array becomes `>` (push), in place. Messages that arrive while a
 * (un)subscribe of this client is pending are ordered around its confirmations: before an UNSUBSCRIBE's
 * (they were published before it took effect), after a SUBSCRIBE's.
 *
 * Topology changes (onRoutesChanged): a subscription follows its slot to the new owner. While the slot is
 * locked (migration `prepared`) the session is subscribed on both the old and the new owner; once unlocked,
 * only on the new one. The proxy acknowledges the locked step only after the new subscriptions are
 * confirmed, and no proxy publishes on the new owner before every proxy acknowledged it: a planned
 * migration loses and duplicates no message. A route change without the locked step (manual reassignment)
 * may lose messages published in the switch window. A SUBSCRIBE whose backend cannot be reached fails with
 * the backend's error and subscribes to nothing; a subscriber connection that breaks later closes the client
 * connection: client libraries reconnect and subscribe again.
 */
import { slotOf } from '../../shared/slot.js';
import { encodeArray, encodeCommandInto, encodeError, encodeInteger } from '../../shared/resp/encoder.js';
import { arrayElements, bulkValue, isError, readInteger } from '../../shared/resp/reply-reader.js';
import type { BackendRequest } from '../backend/connection.js';
import type { DedicatedConnection, PushSink } from '../backend/dedicated.js';
import type { BackendServer } from '../backend/pool.js';
import { commandKeys, type CommandSpec } from '../commands/lookup.js';
import { errorReply, ProxyErrors } from '../errors.js';
import { ClientRequest } from '../router/requests/base.js';
import { SingleRequest } from '../router/requests/single.js';
import type { SlotRoute } from '../router/slot-table.js';
import { Fifo } from '../util/fifo.js';
import { DISPATCHED, isWaitSlot, PASS, type DispatchResult, type InterceptResult } from '../router/dispatch-result.js';
import { fullName, MODE_PUBSUB_RESP2, stateOf, type DedicatedHost, type DedicatedSession } from './context.js';

const enum Kind {
  Channel,
  Pattern,
  Shard,
}

interface KindWords {
  sub: string;
  unsub: string;
}

const WORDS: KindWords[] = [
  { sub: 'subscribe', unsub: 'unsubscribe' },
  { sub: 'psubscribe', unsub: 'punsubscribe' },
  { sub: 'ssubscribe', unsub: 'sunsubscribe' },
];
const SUB_CMD = WORDS.map((w) => Buffer.from(w.sub.toUpperCase()));
const UNSUB_CMD = WORDS.map((w) => Buffer.from(w.unsub.toUpperCase()));

/** One subscription of a session and the servers it is subscribed on (or being subscribed on). */
class Sub {
  servers: BackendServer[] = [];

  constructor(
    readonly name: Buffer,
    readonly kind: Kind,
    /** The channel's slot; -1 for patterns. */
    readonly slot: number,
  ) {}
}

/** Confirmation frames still expected for one command sent on a subscriber connection. */
interface Expect {
  n: number;
  done: () => void;
}

const enum Push {
  Message,
  Confirm,
  Other,
}

/** What a frame on a subscriber connection (RESP2) is: a message to deliver, a confirmation, or else. */
function pushKind(frame: Buffer): Push {
  if (frame[0] !== 0x2a) return Push.Other;
  const h1 = frame.indexOf(10);
  if (h1 < 0 || frame[h1 + 1] !== 0x24) return Push.Other;
  let len = 0;
  let i = h1 + 2;
  for (; frame[i] !== 13 && i < frame.length; i++) len = len * 10 + frame[i]! - 48;
  const w = i + 2;
  if (len === 7) return Push.Message; // message
  if (len === 8) return frame[w] === 0x70 || frame[w] === 0x73 ? Push.Message : Push.Other; // pmessage, smessage
  if (len >= 9 && len <= 12) return Push.Confirm; // (p|s)(un)subscribe
  return Push.Other;
}

/** A session's dedicated connection to one master, carrying all its subscriptions there. */
class SubConn implements PushSink {
  readonly expects = new Fifo<Expect>(4);
  /** The backend confirmed something on this connection (it was up and subscribed). */
  confirmed = false;

  constructor(
    private readonly state: PubSubState,
    readonly server: BackendServer,
    readonly conn: DedicatedConnection,
  ) {
    conn.sink = this;
    conn.onClosed = () => state.connLost(this);
  }

  onPush(frame: Buffer): void {
    const k = pushKind(frame);
    if (k === Push.Message) {
      this.state.deliver(frame);
    } else if (k === Push.Confirm) {
      this.confirmed = true;
      const e = this.expects.peek();
      if (e !== undefined && --e.n === 0) {
        this.expects.shift();
        e.done();
      }
    }
  }

  /** Sends `CMD name...`; done() once the backend confirmed every name. */
  send(kind: Kind, unsubscribe: boolean, names: Buffer[], done: () => void): void {
    const parts: Buffer[] = [];
    const bytes = encodeCommandInto([unsubscribe ? UNSUB_CMD[kind]! : SUB_CMD[kind]!, ...names], parts);
    this.expects.push({ n: names.length, done });
    this.conn.sendParts(NO_REPLY, parts, bytes, 0);
  }

  /** Resolves every pending expectation (the connection is going away). */
  flushExpects(): void {
    for (let e = this.expects.shift(); e !== undefined; e = this.expects.shift()) e.done();
  }
}

const NO_REPLY: BackendRequest = { onReply: () => {} };

/** A client's (P|S)(UN)SUBSCRIBE waiting for the backends' confirmations. */
class PubSubOp extends ClientRequest {
  left = 1;
  readonly before: Buffer[] = [];
  readonly after: Buffer[] = [];
  /** Subscriptions this SUBSCRIBE added (undone if a backend could not be reached). */
  readonly added: Array<{ map: Map<string, Sub>; key: string; sub: Sub }> = [];
  /** Set when a subscriber connection of this operation failed before confirming anything. */
  error: Buffer | null = null;

  constructor(
    private readonly state: PubSubState,
    cmdId: number,
    t0: number,
    readonly unsubscribe: boolean,
    private readonly confirmations: Buffer[],
  ) {
    super(state.session, cmdId, t0);
    this.pushes = true; // confirmations are pushes: CLIENT REPLY OFF / SKIP do not drop them (Redis 7)
  }

  readonly partDone = (): void => {
    if (--this.left > 0) return;
    const s = this.state.session;
    this.state.op = null;
    if (this.error !== null) this.state.undo(this);
    const reply = this.error ?? Buffer.concat([...this.before, ...this.confirmations, ...this.after]);
    s.complete(this, reply);
    this.state.afterOp();
    s.resume();
  };

  /** A message while this operation is pending. */
  extra(frame: Buffer): void {
    (this.unsubscribe ? this.before : this.after).push(frame);
  }
}

export class PubSubState {
  readonly channels = new Map<string, Sub>();
  readonly patterns = new Map<string, Sub>();
  readonly shards = new Map<string, Sub>();
  readonly conns = new Map<BackendServer, SubConn>();
  op: PubSubOp | null = null;
  private gone = false;

  constructor(
    readonly session: DedicatedSession,
    private readonly mgr: PubSub,
  ) {}

  map(kind: Kind): Map<string, Sub> {
    return kind === Kind.Channel ? this.channels : kind === Kind.Pattern ? this.patterns : this.shards;
  }

  /** What Redis reports after a (un)subscribe of this kind: channels + patterns, or shard channels. */
  count(kind: Kind): number {
    return kind === Kind.Shard ? this.shards.size : this.channels.size + this.patterns.size;
  }

  get total(): number {
    return this.channels.size + this.patterns.size + this.shards.size;
  }

  deliver(frame: Buffer): void {
    if (this.gone) return;
    if (this.session.proto === 3) frame[0] = 0x3e; // `*N` -> `>N`: the same elements as a RESP3 push
    if (this.op !== null) this.op.extra(frame);
    else this.session.push(frame);
  }

  /** The subscriber connection for `server`, dialled if needed; null when the pool is exhausted. */
  conn(server: BackendServer): SubConn | null {
    let sc = this.conns.get(server);
    if (sc === undefined) {
      const c = this.mgr.d.pool.acquire(server, 0, 2, 'subscriber');
      if (c === null) return null;
      sc = new SubConn(this, server, c);
      this.conns.set(server, sc);
    }
    return sc;
  }

  connLost(sc: SubConn): void {
    if (this.conns.get(sc.server) !== sc) return;
    this.conns.delete(sc.server);
    const op = this.op;
    if (!sc.confirmed && op !== null && !op.unsubscribe && !this.gone) {
      // Never reached the backend (dial or handshake failed): this SUBSCRIBE fails, nothing else is lost.
      op.error ??= sc.conn.unavailableReply;
      sc.flushExpects();
      return;
    }
    sc.flushExpects();
    if (this.gone) return;
    this.mgr.d.log.warn('pubsub.subscriber_connection_lost', { session: this.session.id, backend: sc.server.addr });
    // The backend forgot this client's subscriptions there: drop the client, which resubscribes on reconnect.
    this.session.destroy();
  }

  /** Takes back what a failed SUBSCRIBE added (unsubscribing where the backend did subscribe). */
  undo(op: PubSubOp): void {
    for (const { map, key, sub } of op.added) {
      if (map.get(key) !== sub) continue;
      map.delete(key);
      for (const srv of sub.servers) this.conns.get(srv)?.send(sub.kind, true, [sub.name], () => this.releaseUnused());
      sub.servers = [];
    }
  }

  /** After a client operation: close connections no subscription uses; leave subscribed mode at zero. */
  afterOp(): void {
    this.releaseUnused();
    this.mgr.updateMode(this.session, this);
  }

  releaseUnused(): void {
    for (const [server, sc] of this.conns) {
      if (sc.expects.length > 0 || this.uses(server)) continue;
      this.conns.delete(server);
      sc.conn.onClosed = null;
      this.mgr.d.pool.release(sc.conn, false);
    }
  }

  private uses(server: BackendServer): boolean {
    for (const m of [this.channels, this.patterns, this.shards]) for (const sub of m.values()) if (sub.servers.includes(server)) return true;
    return false;
  }

  /** Drops every subscription at once (RESET, client gone): the connections are closed. */
  abandon(): void {
    this.gone = true;
    for (const sc of this.conns.values()) {
      sc.conn.onClosed = null;
      sc.flushExpects();
      this.mgr.d.pool.release(sc.conn, false);
    }
    this.conns.clear();
    this.channels.clear();
    this.patterns.clear();
    this.shards.clear();
  }

  /**
   * Moves subscriptions to the servers they belong on now; resolves once the new ones are confirmed.
   * `slotChanged` marks slots whose route changed; patterns move when `patternServers` is given.
   */
  reconcile(slotChanged: Uint8Array, patternServers: BackendServer[] | null, routes: readonly SlotRoute[]): Promise<void> | null {
    const adds = new Map<BackendServer, Array<{ kind: Kind; names: Buffer[] }>>();
    const removes = new Map<BackendServer, Array<{ kind: Kind; names: Buffer[] }>>();
    const plan = (sub: Sub, desired: BackendServer[]) => {
      for (const srv of desired) if (!sub.servers.includes(srv)) group(adds, srv, sub);
      for (const srv of sub.servers) if (!desired.includes(srv)) group(removes, srv, sub);
      sub.servers = desired.slice();
    };
    for (const m of [this.channels, this.shards]) {
      for (const sub of m.values()) if (slotChanged[sub.slot] === 1) plan(sub, desiredServers(routes[sub.slot]!));
    }
    if (patternServers !== null) for (const sub of this.patterns.values()) plan(sub, patternServers);
    if (adds.size === 0 && removes.size === 0) return null;
    const waits: Array<Promise<void>> = [];
    for (const [srv, list] of adds) {
      const sc = this.conn(srv);
      if (sc === null) {
        this.mgr.d.log.warn('pubsub.resubscribe_exhausted', { session: this.session.id, backend: srv.addr });
        this.session.destroy();
        return null;
      }
      for (const { kind, names } of list) waits.push(new Promise<void>((resolve) => sc.send(kind, false, names, resolve)));
    }
    for (const [srv, list] of removes) {
      const sc = this.conns.get(srv);
      if (sc === undefined) continue;
      for (const { kind, names } of list) sc.send(kind, true, names, () => this.releaseUnused());
    }
    return Promise.all(waits).then(() => undefined);
  }
}

function group(into: Map<BackendServer, Array<{ kind: Kind; names: Buffer[] }>>, srv: BackendServer, sub: Sub): void {
  let list = into.get(srv);
  if (list === undefined) into.set(srv, (list = []));
  let entry = list.find((e) => e.kind === sub.kind);
  if (entry === undefined) list.push((entry = { kind: sub.kind, names: [] }));
  entry.names.push(sub.name);
}

/** Where a channel of this route must be subscribed: the owner, plus the previous owner while locked. */
function desiredServers(route: SlotRoute): BackendServer[] {
  const out: BackendServer[] = [];
  if (route.server !== null) out.push(route.server);
  if (route.locked && route.migrateFrom !== null && route.migrateFrom !== route.server) out.push(route.migrateFrom);
  return out;
}

/** `*3 $9 subscribe $N name :count` (RESP2) or `>3 ...` (RESP3); name null = nil. */
function confirmation(proto: 2 | 3, word: string, name: Buffer | null, count: number): Buffer {
  const head = Buffer.from(`${proto === 3 ? '>' : '*'}3\r\n$${word.length}\r\n${word}\r\n`);
  const n = name === null ? Buffer.from(proto === 3 ? '_\r\n' : '$-1\r\n') : Buffer.concat([Buffer.from(`$${name.length}\r\n`), name, CRLF]);
  return Buffer.concat([head, n, encodeInteger(count)]);
}

const CRLF = Buffer.from('\r\n');
const RESP2_ALLOWED = new Set(['subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe', 'ssubscribe', 'sunsubscribe', 'ping', 'quit', 'reset']);
const KIND_OF: Record<string, { kind: Kind; unsubscribe: boolean }> = {
  subscribe: { kind: Kind.Channel, unsubscribe: false },
  psubscribe: { kind: Kind.Pattern, unsubscribe: false },
  ssubscribe: { kind: Kind.Shard, unsubscribe: false },
  unsubscribe: { kind: Kind.Channel, unsubscribe: true },
  punsubscribe: { kind: Kind.Pattern, unsubscribe: true },
  sunsubscribe: { kind: Kind.Shard, unsubscribe: true },
};

export class PubSub {
  private readonly states = new Set<PubSubState>();
  private patternCache: BackendServer[] | null = null;

  constructor(readonly d: DedicatedHost) {}

  /**
   * Backpressure: while a subscriber's socket needs draining (paused = true) its subscriber connections are
   * not read, so undelivered messages wait in Redis (bounded there by Redis's pubsub output limit).
   */
  throttle(s: DedicatedSession, paused: boolean): void {
    const st = s.dedicated?.pubsub;
    if (st === null || st === undefined) return;
    for (const sc of st.conns.values()) sc.conn.setReading(!paused);
  }

  /** Sessions with at least one subscription. */
  get count(): number {
    let n = 0;
    for (const st of this.states) if (st.total > 0) n++;
    return n;
  }

  dispatch(s: DedicatedSession, spec: CommandSpec, argv: Buffer[], raw: Buffer | undefined, t0: number): DispatchResult {
    const k = KIND_OF[spec.name];
    if (k !== undefined) return k.unsubscribe ? this.unsubscribe(s, spec, k.kind, argv, t0) : this.subscribe(s, spec, k.kind, argv, t0);
    if (spec.name === 'publish' || spec.name === 'spublish') return this.publish(s, spec, argv, raw, t0);
    if (spec.name === 'pubsub') return this.query(s, spec, argv, t0);
    return this.answer(s, encodeError(`ERR command '${spec.name}' cannot be routed`), spec, t0);
  }

  /** RESP2 subscribed mode: only (P|S)(UN)SUBSCRIBE, PING, QUIT, RESET, like Redis. */
  resp2Context(s: DedicatedSession, spec: CommandSpec, argv: Buffer[], t0: number): InterceptResult {
    if (!RESP2_ALLOWED.has(spec.name)) {
      const msg = errorReply(ProxyErrors.REDSLOT_ERR_PUBSUB_CONTEXT, { name: fullName(spec, argv) });
      if (spec.name === 'exec') {
        const reason = msg.toString('latin1', 5, msg.length - 2);
        return this.answer(s, errorReply(ProxyErrors.REDSLOT_ERR_EXECABORT_BECAUSE, { reason }), spec, t0);
      }
      return this.answer(s, msg, spec, t0);
    }
    if (spec.name === 'ping') {
      if (argv.length > 2) return this.answer(s, errorReply(ProxyErrors.REDSLOT_ERR_WRONG_ARITY, { name: 'ping' }), spec, t0);
      const arg = argv[1] ?? Buffer.alloc(0);
      return this.answer(s, Buffer.concat([Buffer.from(`*2\r\n$4\r\npong\r\n$${arg.length}\r\n`), arg, CRLF]), spec, t0);
    }
    return PASS;
  }

  private subscribe(s: DedicatedSession, spec: CommandSpec, kind: Kind, argv: Buffer[], t0: number): DispatchResult {
    const st0 = s.dedicated?.pubsub ?? null;
    const map = st0?.map(kind);
    // Where each new name goes, decided before anything is sent (a locked slot retries the whole command).
    const fresh = new Map<string, { name: Buffer; slot: number; servers: BackendServer[] }>();
    for (let i = 1; i < argv.length; i++) {
      const key = argv[i]!.toString('latin1');
      if (map?.has(key) || fresh.has(key)) continue;
      let slot = -1;
      let servers: BackendServer[];
      if (kind === Kind.Pattern) {
        const fenced = this.d.routeFor(0);
        if (Buffer.isBuffer(fenced)) return this.answer(s, fenced, spec, t0);
        servers = this.patternServers();
      } else {
        slot = slotOf(argv[i]!);
        const r = this.d.routeFor(slot);
        if (isWaitSlot(r)) return r;
        if (Buffer.isBuffer(r)) return this.answer(s, r, spec, t0);
        servers = desiredServers(r);
      }
      fresh.set(key, { name: Buffer.from(argv[i]!), slot, servers });
    }
    const st = st0 ?? this.newState(s);
    // Connections first: when the pool is exhausted nothing is subscribed.
    for (const f of fresh.values()) {
      for (const srv of f.servers) {
        if (st.conn(srv) === null) {
          st.afterOp();
          return this.answer(s, this.d.exhausted('a subscriber'), spec, t0);
        }
      }
    }
    const m = st.map(kind);
    const confirmations: Buffer[] = [];
    const word = WORDS[kind]!.sub;
    const seen = new Set<string>();
    let count = st.count(kind);
    for (let i = 1; i < argv.length; i++) {
      const key = argv[i]!.toString('latin1');
      if (!m.has(key) && !seen.has(key)) {
        seen.add(key);
        count++;
      }
      confirmations.push(confirmation(s.proto, word, argv[i]!, count));
    }
    const op = new PubSubOp(st, spec.id, t0, false, confirmations);
    s.enqueue(op);
    const bySrv = new Map<BackendServer, Buffer[]>();
    for (const [key, f] of fresh) {
      const sub = new Sub(f.name, kind, f.slot);
      sub.servers = f.servers.slice();
      m.set(key, sub);
      op.added.push({ map: m, key, sub });
      for (const srv of f.servers) {
        let list = bySrv.get(srv);
        if (list === undefined) bySrv.set(srv, (list = []));
        list.push(f.name);
      }
    }
    this.updateMode(s, st);
    if (bySrv.size > 0) {
      st.op = op;
      s.hold();
      for (const [srv, names] of bySrv) {
        op.left++;
        st.conns.get(srv)!.send(kind, false, names, op.partDone);
      }
      op.partDone(); // the initial 1
    } else {
      op.left = 0;
      s.complete(op, Buffer.concat(confirmations));
    }
    return DISPATCHED;
  }

  private unsubscribe(s: DedicatedSession, spec: CommandSpec, kind: Kind, argv: Buffer[], t0: number): DispatchResult {
    const st = s.dedicated?.pubsub ?? null;
    const word = WORDS[kind]!.unsub;
    const m = st?.map(kind);
    const names: Buffer[] = argv.length > 1 ? argv.slice(1) : m !== undefined ? [...m.values()].map((x) => x.name) : [];
    if (names.length === 0) {
      return this.answer(s, confirmation(s.proto, word, null, st?.count(kind) ?? 0), spec, t0);
    }
    const confirmations: Buffer[] = [];
    const bySrv = new Map<BackendServer, Buffer[]>();
    for (const name of names) {
      const key = name.toString('latin1');
      const sub = m?.get(key);
      if (sub !== undefined) {
        m!.delete(key);
        for (const srv of sub.servers) {
          let list = bySrv.get(srv);
          if (list === undefined) bySrv.set(srv, (list = []));
          list.push(sub.name);
        }
      }
      confirmations.push(confirmation(s.proto, word, name, st?.count(kind) ?? 0));
    }
    if (st === null || bySrv.size === 0) {
      if (st !== null) st.afterOp();
      return this.answer(s, Buffer.concat(confirmations), spec, t0);
    }
    const op = new PubSubOp(st, spec.id, t0, true, confirmations);
    s.enqueue(op);
    st.op = op;
    s.hold();
    for (const [srv, list] of bySrv) {
      const sc = st.conns.get(srv);
      if (sc === undefined) continue;
      op.left++;
      sc.send(kind, true, list, op.partDone);
    }
    op.partDone();
    return DISPATCHED;
  }

  private publish(s: DedicatedSession, spec: CommandSpec, argv: Buffer[], raw: Buffer | undefined, t0: number): DispatchResult {
    const route = this.d.routeFor(slotOf(argv[1]!));
    if (isWaitSlot(route)) return route;
    if (Buffer.isBuffer(route)) return this.answer(s, route, spec, t0);
    let req: SingleRequest;
    if (raw !== undefined) req = new SingleRequest(s, spec.id, t0, route, raw, raw.length);
    else {
      const parts: Buffer[] = [];
      const bytes = encodeCommandInto(argv, parts);
      req = new SingleRequest(s, spec.id, t0, route, parts, bytes);
    }
    s.enqueue(req);
    req.start();
    return DISPATCHED;
  }

  /** PUBSUB CHANNELS | SHARDCHANNELS | NUMSUB | SHARDNUMSUB | NUMPAT | HELP, merged over the groups. */
  private query(s: DedicatedSession, spec: CommandSpec, argv: Buffer[], t0: number): DispatchResult {
    const check = commandKeys(spec, argv);
    if (typeof check === 'string') return this.answer(s, this.d.argError(spec, check), spec, t0);
    const fenced = this.d.routeFor(0);
    if (Buffer.isBuffer(fenced)) return this.answer(s, fenced, spec, t0);
    const sub = argv[1]!.toString('latin1').toLowerCase();
    const masters = this.patternServers();
    if (masters.length === 0) return this.answer(s, errorReply(ProxyErrors.REDSLOT_ERR_SLOT_NOT_SERVED), spec, t0);
    const q = new PubSubQuery(s, spec.id, t0, sub, argv);
    if (sub === 'numsub' || sub === 'shardnumsub') {
      // Each channel is asked of its owner only.
      const byOwner = new Map<BackendServer, number[]>();
      for (let i = 2; i < argv.length; i++) {
        const server = this.d.table.routes[slotOf(argv[i]!)]!.server;
        if (server === null) continue;
        let list = byOwner.get(server);
        if (list === undefined) byOwner.set(server, (list = []));
        list.push(i);
      }
      for (const [server, idx] of byOwner) q.add(server, [argv[0]!, argv[1]!, ...idx.map((i) => argv[i]!)], idx);
    } else if (sub === 'help') {
      q.add(masters[0]!, argv, []);
    } else {
      for (const server of masters) q.add(server, argv, []);
    }
    s.enqueue(q);
    q.start();
    return DISPATCHED;
  }

  /** RESET / client gone. */
  abandon(s: DedicatedSession): void {
    const st = s.dedicated?.pubsub;
    if (st === undefined || st === null) return;
    st.abandon();
    this.states.delete(st);
    s.dedicated!.pubsub = null;
    s.mode &= ~MODE_PUBSUB_RESP2;
  }

  /** Keeps MODE_PUBSUB_RESP2 in line with the session's subscriptions and protocol. */
  updateMode(s: DedicatedSession, st: PubSubState): void {
    if (st.total > 0 && s.proto === 2) s.mode |= MODE_PUBSUB_RESP2;
    else s.mode &= ~MODE_PUBSUB_RESP2;
    if (st.total === 0 && st.conns.size === 0 && st.op === null) {
      this.states.delete(st);
      if (s.dedicated?.pubsub === st) s.dedicated.pubsub = null;
    }
  }

  onRoutesChanged(changed: readonly number[]): Promise<void> | undefined {
    const before = this.patternCache;
    this.patternCache = null;
    if (this.states.size === 0) return undefined;
    const after = this.patternServers();
    const patternsMoved = before === null || before.length !== after.length || before.some((x) => !after.includes(x));
    const marks = new Uint8Array(this.d.table.routes.length);
    for (const slot of changed) marks[slot] = 1;
    const waits: Array<Promise<void>> = [];
    for (const st of [...this.states]) {
      const p = st.reconcile(marks, patternsMoved ? after : null, this.d.table.routes);
      if (p !== null) waits.push(p);
    }
    if (waits.length === 0) return undefined;
    // Bounded: a backend that never confirms must not stop the proxy from acknowledging forever.
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.d.log.warn('pubsub.resubscribe_timeout', { sessions: waits.length });
        resolve();
      }, RESUBSCRIBE_TIMEOUT_MS);
    });
    return Promise.race([Promise.all(waits).then(() => undefined), limit]).finally(() => clearTimeout(timer));
  }

  /** Every master that serves a slot now (or still, for a locked slot's previous owner). */
  patternServers(): BackendServer[] {
    if (this.patternCache !== null) return this.patternCache;
    const out: BackendServer[] = [];
    for (const r of this.d.table.routes) for (const srv of desiredServers(r)) if (!out.includes(srv)) out.push(srv);
    this.patternCache = out;
    return out;
  }

  private newState(s: DedicatedSession): PubSubState {
    const st = new PubSubState(s, this);
    stateOf(s).pubsub = st;
    this.states.add(st);
    return st;
  }

  private answer(s: DedicatedSession, reply: Buffer, spec: CommandSpec, t0: number): DispatchResult {
    s.reply(reply, spec.id, t0);
    return DISPATCHED;
  }
}

const RESUBSCRIBE_TIMEOUT_MS = 5000;

/** One backend's share of a PUBSUB query. */
class QueryPart implements BackendRequest {
  reply: Buffer | null = null;

  constructor(
    private readonly q: PubSubQuery,
    /** For NUMSUB: indices into the client's argv of the channels asked here. */
    readonly argIdx: number[],
  ) {}

  onReply(reply: Buffer): void {
    this.reply = reply;
    this.q.partDone();
  }
}

/** PUBSUB over several masters, merged like one server would answer. */
class PubSubQuery extends ClientRequest {
  private readonly parts: QueryPart[] = [];
  private readonly sends: Array<{ server: BackendServer; args: Buffer[]; part: QueryPart }> = [];
  private left = 0;

  constructor(
    session: DedicatedSession,
    cmdId: number,
    t0: number,
    private readonly sub: string,
    private readonly argv: Buffer[],
  ) {
    super(session, cmdId, t0);
  }

  add(server: BackendServer, args: Buffer[], argIdx: number[]): void {
    const part = new QueryPart(this, argIdx);
    this.parts.push(part);
    this.sends.push({ server, args, part });
  }

  start(): void {
    this.left = this.sends.length;
    if (this.left === 0) {
      this.session.complete(this, this.merge());
      return;
    }
    for (const { server, args, part } of this.sends) {
      const out: Buffer[] = [];
      const bytes = encodeCommandInto(args, out);
      server.conn(this.session.db, this.session.id).sendParts(part, out, bytes);
    }
  }

  partDone(): void {
    if (--this.left > 0) return;
    for (const p of this.parts) if (isError(p.reply!)) return this.session.complete(this, p.reply!);
    this.session.complete(this, this.merge());
  }

  private merge(): Buffer {
    const sub = this.sub;
    if (sub === 'help') return this.parts[0]!.reply!;
    if (sub === 'numpat') {
      let max = 0;
      for (const p of this.parts) max = Math.max(max, readInteger(p.reply!) || 0);
      return encodeInteger(max);
    }
    if (sub === 'numsub' || sub === 'shardnumsub') {
      const counts = new Map<number, Buffer>();
      for (const p of this.parts) {
        const els = arrayElements(p.reply!) ?? [];
        p.argIdx.forEach((argI, j) => counts.set(argI, els[2 * j + 1] ?? encodeInteger(0)));
      }
      const out: Buffer[] = [];
      for (let i = 2; i < this.argv.length; i++) {
        out.push(encodeBulkOf(this.argv[i]!), counts.get(i) ?? encodeInteger(0));
      }
      return encodeArray(out);
    }
    // channels / shardchannels: the union.
    const seen = new Set<string>();
    const out: Buffer[] = [];
    for (const p of this.parts) {
      for (const el of arrayElements(p.reply!) ?? []) {
        const v = bulkValue(el);
        if (!v) continue;
        const key = v.toString('latin1');
        if (!seen.has(key)) {
          seen.add(key);
          out.push(el);
        }
      }
    }
    return encodeArray(out);
  }
}

function encodeBulkOf(b: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, CRLF]);
}
