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
import { encodeCommandInto, encodeError } from '../../shared/resp/encoder.js';
import type { DedicatedPool } from '../backend/dedicated.js';
import type { BackendServer } from '../backend/pool.js';
import { commandKeys, type CommandSpec } from '../commands/lookup.js';
import { errorReply, ProxyErrors } from '../errors.js';
import { SingleRequest } from '../router/requests/single.js';
import { DISPATCHED, isWaitSlot, PASS, type DispatchResult, type InterceptResult } from '../router/dispatch-result.js';
import type { Logger } from '../../shared/log.js';
import { fullName, MODE_PUBSUB_RESP2, stateOf, type DedicatedHost, type DedicatedSession } from './context.js';
import { confirmation, CRLF, Kind, KIND_OF, RESP2_ALLOWED, WORDS } from './pubsub-frames.js';
import { PubSubQuery } from './pubsub-query.js';
import { desiredServers, PubSubOp, PubSubState, Sub, type SubscriberHost } from './pubsub-state.js';

export class PubSub implements SubscriberHost<DedicatedSession> {
  private readonly states = new Set<PubSubState<DedicatedSession>>();
  private patternCache: BackendServer[] | null = null;

  constructor(readonly d: DedicatedHost) {}

  get pool(): DedicatedPool {
    return this.d.pool;
  }

  get log(): Logger {
    return this.d.log;
  }

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
  updateMode(s: DedicatedSession, st: PubSubState<DedicatedSession>): void {
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

  private newState(s: DedicatedSession): PubSubState<DedicatedSession> {
    const st = new PubSubState<DedicatedSession>(s, this);
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
