/**
 * One client's subscriptions (channels, patterns, shard channels), its subscriber connections (one per
 * master it needs, RESP2), and its (un)subscribe waiting for the backends' confirmations (pubsub.ts has the
 * feature's rules). Messages are delivered in order around the confirmations.
 */
import type { Logger } from '../../shared/log.js';
import { encodeCommandInto } from '../../shared/resp/encoder.js';
import type { BackendRequest } from '../backend/connection.js';
import type { DedicatedConnection, DedicatedPool, PushSink } from '../backend/dedicated.js';
import type { BackendServer } from '../backend/pool.js';
import { ClientRequest, type RouterSession } from '../router/requests/base.js';
import type { SlotRoute } from '../router/slot-table.js';
import { Fifo } from '../util/fifo.js';
import { Kind, Push, pushKind, SUB_CMD, UNSUB_CMD } from './pubsub-frames.js';

/** One subscription of a session and the servers it is subscribed on (or being subscribed on). */
export class Sub {
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

/** A session's dedicated connection to one master, carrying all its subscriptions there. */
export class SubConn implements PushSink {
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
export class PubSubOp extends ClientRequest {
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

/** What a subscriber's state needs of its client session. */
export interface SubscriberSession extends RouterSession {
  /** An unsolicited frame (Pub/Sub message) after everything queued. */
  push(frame: Buffer): void;
  /** Drops the client connection now. */
  destroy(): void;
}

/** What a subscriber's state needs of the Pub/Sub feature (PubSub in pubsub.ts). */
export interface SubscriberHost<S extends SubscriberSession> {
  readonly pool: DedicatedPool;
  readonly log: Logger;
  /** After a client operation: the subscribed-mode rules and the feature's bookkeeping. */
  updateMode(s: S, st: PubSubState<S>): void;
}

export class PubSubState<S extends SubscriberSession = SubscriberSession> {
  readonly channels = new Map<string, Sub>();
  readonly patterns = new Map<string, Sub>();
  readonly shards = new Map<string, Sub>();
  readonly conns = new Map<BackendServer, SubConn>();
  op: PubSubOp | null = null;
  private gone = false;

  constructor(
    readonly session: S,
    private readonly host: SubscriberHost<S>,
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
      const c = this.host.pool.acquire(server, 0, 2, 'subscriber');
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
    this.host.log.warn('pubsub.subscriber_connection_lost', { session: this.session.id, backend: sc.server.addr });
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
    this.host.updateMode(this.session, this);
  }

  releaseUnused(): void {
    for (const [server, sc] of this.conns) {
      if (sc.expects.length > 0 || this.uses(server)) continue;
      this.conns.delete(server);
      sc.conn.onClosed = null;
      this.host.pool.release(sc.conn, false);
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
      this.host.pool.release(sc.conn, false);
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
        this.host.log.warn('pubsub.resubscribe_exhausted', { session: this.session.id, backend: srv.addr });
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
export function desiredServers(route: SlotRoute): BackendServer[] {
  const out: BackendServer[] = [];
  if (route.server !== null) out.push(route.server);
  if (route.locked && route.migrateFrom !== null && route.migrateFrom !== route.server) out.push(route.migrateFrom);
  return out;
}

