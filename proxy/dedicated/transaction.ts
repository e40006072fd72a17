/**
 * MULTI / EXEC / DISCARD / WATCH / UNWATCH for transactions whose keys (queued commands' and WATCHed ones)
 * all hash to one slot.
 *
 * - MULTI only marks the session; queued commands are checked like Redis does at queuing time (unknown
 *   command, arity, keys findable) plus Redis Cluster's rule (every key in the transaction's slot, else
 *   CROSSSLOT), answered +QUEUED and kept (their bytes and keys) in the proxy. Any queuing error flags the
 *   transaction: EXEC then answers EXECABORT and runs nothing.
 * - EXEC takes the slot's CURRENT route (waiting while the slot is locked, moving the transaction's keys to
 *   the new owner first while it is migrating, like any command) and sends `MULTI, cmd..., EXEC` in one write
 *   on a dedicated connection to that master; the EXEC reply is forwarded byte for byte. The batch is counted
 *   in-flight on the route, so a topology change of the slot waits for it (the barrier's drain): the whole
 *   transaction ran on one server, atomically, before or after the step.
 * - WATCH pins a dedicated connection to the slot's master at WATCH time (the backend must see the WATCH
 *   before anyone's later writes) and EXEC runs on that same connection. If the slot's route changed since
 *   WATCH (a migration step, a failover), the watched keys may have moved: EXEC answers a null reply, as when
 *   another client touched a watched key, and runs nothing. Clients already retry on that.
 * - Nothing is sent on a dedicated connection before every earlier reply of the client is in (WAIT_IDLE),
 *   and the client's later commands wait for the dedicated command's reply: one client's commands keep
 *   their order across shared and dedicated connections.
 */
import { slotOf } from '../../shared/slot.js';
import { encodeCommand, encodeCommandInto, Replies } from '../../shared/resp/encoder.js';
import type { DedicatedConnection } from '../backend/dedicated.js';
import { commandKeys, type CommandSpec } from '../commands/lookup.js';
import { errorReply, ProxyErrors, ReplyErrors } from '../errors.js';
import { MigrateStep } from '../router/migrate-on-access.js';
import { ConnRequest } from './conn-request.js';
import { DISPATCHED, isWaitSlot, WAIT_IDLE, type DispatchResult } from '../router/dispatch-result.js';
import { MODE_MULTI, stateOf, type DedicatedHost, type DedicatedSession } from './context.js';
import { Transaction } from './transaction-state.js';

const MULTI = encodeCommand(['MULTI']);
const EXEC = encodeCommand(['EXEC']);
const UNWATCH = encodeCommand(['UNWATCH']);
const QUEUED = Buffer.from('+QUEUED\r\n');
const NULL2 = Replies.nullArray;
const NULL3 = Buffer.from('_\r\n');

const Err = {
  nested: errorReply(ProxyErrors.REDSLOT_ERR_MULTI_NESTED),
  execWithout: errorReply(ProxyErrors.REDSLOT_ERR_EXEC_WITHOUT_MULTI),
  discardWithout: errorReply(ProxyErrors.REDSLOT_ERR_DISCARD_WITHOUT_MULTI),
  watchInside: errorReply(ProxyErrors.REDSLOT_ERR_WATCH_INSIDE_MULTI),
  execAbort: errorReply(ProxyErrors.REDSLOT_ERR_EXECABORT),
  noMulti: errorReply(ProxyErrors.REDSLOT_ERR_NOT_ALLOWED_IN_TRANSACTION),
};

/** Commands queued as keyless although their table shape says otherwise. */
const KEYLESS_IN_MULTI = new Set(['ping', 'echo', 'unwatch']);
/** Pub/Sub commands whose channel counts as the key (the message must reach the channel's group). */
const CHANNEL_AS_KEY = new Set(['publish', 'spublish']);

export class Transactions {
  /** Transactions open (MULTI or WATCH), one per session at most. */
  private readonly active = new Set<Transaction>();

  constructor(private readonly d: DedicatedHost) {}

  get open(): number {
    return this.active.size;
  }

  multi(s: DedicatedSession, spec: CommandSpec, t0: number): DispatchResult {
    const st = stateOf(s);
    const tx = st.tx ?? (st.tx = new Transaction());
    if (tx.multi) return this.answer(s, Err.nested, spec, t0);
    tx.multi = true;
    this.active.add(tx);
    s.mode |= MODE_MULTI;
    return this.answer(s, Replies.ok, spec, t0);
  }

  exec(s: DedicatedSession, spec: CommandSpec, t0: number): DispatchResult {
    const tx = s.dedicated?.tx;
    if (tx === undefined || tx === null || !tx.multi) return this.answer(s, Err.execWithout, spec, t0);
    if (tx.aborted) return this.end(s, tx, Err.execAbort, spec, t0);
    if (tx.watchBroken) return this.end(s, tx, s.proto === 3 ? NULL3 : NULL2, spec, t0);
    if (tx.count === 0 && tx.watchConn === null) return this.end(s, tx, Replies.emptyArray, spec, t0);
    const slot = tx.slot >= 0 ? tx.slot : 0;
    const route = this.d.routeFor(slot);
    if (isWaitSlot(route)) return route; // locked: the session waits and runs EXEC again
    if (Buffer.isBuffer(route)) return this.end(s, tx, route, spec, t0);
    if (tx.watchConn !== null && route !== tx.watchRoute) return this.end(s, tx, s.proto === 3 ? NULL3 : NULL2, spec, t0);
    if (s.inFlight > 0) return WAIT_IDLE;
    let conn = tx.watchConn;
    if (conn === null) {
      conn = this.d.pool.acquire(route.server!, s.db, s.proto, 'transaction');
      if (conn === null) return this.end(s, tx, this.d.exhausted('a transaction'), spec, t0);
    }
    // The batch: [SELECT db] MULTI cmd... EXEC; only the last reply goes to the client.
    const parts: Buffer[] = [];
    let bytes = 0;
    let replies = tx.count + 2;
    const select = tx.watchConn !== null && tx.watchDb !== s.db;
    if (select) {
      bytes += encodeCommandInto(['SELECT', String(s.db)], parts);
      replies++;
    }
    parts.push(MULTI);
    for (const p of tx.parts) parts.push(p); // push(...parts) throws past V8's argument limit (~125,000)
    parts.push(EXEC);
    bytes += MULTI.length + tx.bytes + EXEC.length;
    const dirty = tx.dirty || select;
    const keys = tx.keys;
    // The session leaves the transaction now; the connection belongs to the request until its reply.
    tx.watchConn = null;
    conn.onClosed = null;
    this.clear(s, tx);
    const pinned = conn;
    const req = new ConnRequest(s, spec.id, t0, route, pinned, parts, bytes, replies, (_reply, sent, lost) => {
      if (lost) return;
      if (!sent) this.unwatchAndRelease(pinned, dirty);
      else this.d.pool.release(pinned, !dirty);
    });
    s.enqueue(req);
    if (route.migrateFrom !== null && keys.length > 0) {
      const step = new MigrateStep(s, req, this.d.migrate);
      for (const k of unique(keys)) step.add(route, k);
      step.start();
    } else {
      req.start();
    }
    return DISPATCHED;
  }

  discard(s: DedicatedSession, spec: CommandSpec, t0: number): DispatchResult {
    const tx = s.dedicated?.tx;
    if (tx === undefined || tx === null || !tx.multi) return this.answer(s, Err.discardWithout, spec, t0);
    return this.end(s, tx, Replies.ok, spec, t0);
  }

  watch(s: DedicatedSession, spec: CommandSpec, argv: Buffer[], t0: number): DispatchResult {
    const st = stateOf(s);
    const tx = st.tx ?? (st.tx = new Transaction());
    if (tx.multi) return this.answer(s, Err.watchInside, spec, t0);
    const keyIdx = commandKeys(spec, argv);
    if (typeof keyIdx === 'string') return this.answer(s, this.d.argError(spec, keyIdx), spec, t0);
    const slot = slotOf(argv[keyIdx[0]!]!);
    for (let i = 1; i < keyIdx.length; i++) if (slotOf(argv[keyIdx[i]!]!) !== slot) return this.answer(s, ReplyErrors.crossSlot, spec, t0);
    if (tx.slot >= 0 && slot !== tx.slot) return this.answer(s, ReplyErrors.crossSlot, spec, t0);
    const route = this.d.routeFor(slot);
    if (isWaitSlot(route)) return route;
    if (Buffer.isBuffer(route)) return this.answer(s, route, spec, t0);
    if (tx.watchConn !== null && route !== tx.watchRoute) {
      // The earlier WATCHes were placed under a route that is gone: EXEC will answer null whatever happens.
      tx.watchBroken = true;
      return this.answer(s, Replies.ok, spec, t0);
    }
    if (s.inFlight > 0) return WAIT_IDLE;
    let conn = tx.watchConn;
    if (conn === null) {
      conn = this.d.pool.acquire(route.server!, s.db, s.proto, 'transaction');
      if (conn === null) return this.answer(s, this.d.exhausted('WATCH'), spec, t0);
      tx.watchConn = conn;
      this.active.add(tx);
      tx.watchRoute = route;
      tx.watchDb = s.db;
      tx.slot = slot;
      conn.onClosed = () => {
        // The backend forgot the WATCHes: no EXEC may run as if they held.
        if (tx.watchConn === conn) {
          tx.watchConn = null;
          tx.watchBroken = true;
        }
      };
    }
    const parts: Buffer[] = [];
    let bytes = 0;
    let replies = 1;
    if (tx.watchDb !== s.db) {
      bytes += encodeCommandInto(['SELECT', String(s.db)], parts);
      replies++;
      tx.watchDb = s.db;
      tx.dirty = true;
    }
    bytes += encodeCommandInto(argv, parts);
    const req = new ConnRequest(s, spec.id, t0, route, conn, parts, bytes, replies, () => {});
    s.enqueue(req);
    if (route.migrateFrom !== null) {
      // Move the watched keys to the new owner first: moving them later would itself trip the WATCH.
      const step = new MigrateStep(s, req, this.d.migrate);
      for (const k of keyIdx) step.add(route, argv[k]!);
      step.start();
    } else {
      req.start();
    }
    return DISPATCHED;
  }

  /** UNWATCH outside MULTI (inside, it is queued like Redis does). */
  unwatch(s: DedicatedSession, spec: CommandSpec, t0: number): DispatchResult {
    const tx = s.dedicated?.tx;
    if (tx !== undefined && tx !== null && !tx.multi) this.clear(s, tx);
    return this.answer(s, Replies.ok, spec, t0);
  }

  /** A command while MULTI is open: queue it (+QUEUED) or refuse it (flagging the transaction). */
  queue(s: DedicatedSession, tx: Transaction, spec: CommandSpec, argv: Buffer[], raw: Buffer | undefined, t0: number): DispatchResult {
    const refuse = (reply: Buffer): DispatchResult => {
      tx.aborted = true;
      return this.answer(s, reply, spec, t0);
    };
    let keyIdx: number[] | string;
    const route = spec.route as string;
    if (KEYLESS_IN_MULTI.has(spec.name)) keyIdx = [];
    else if (CHANNEL_AS_KEY.has(spec.name)) keyIdx = [1];
    else if (route === 'single' || route === 'mget' || route === 'sum' || route === 'blocking' || route === 'script') keyIdx = commandKeys(spec, argv);
    else if (route === 'mset' || route === 'msetnx') {
      if (argv.length % 2 === 0) return refuse(errorReply(ProxyErrors.REDSLOT_ERR_WRONG_ARITY, { name: spec.name }));
      keyIdx = commandKeys(spec, argv);
    } else if (spec.flags.includes('no_multi')) return refuse(Err.noMulti);
    else if (route === 'refused' && spec.refusal !== undefined) return refuse(errorReply(ProxyErrors.REDSLOT_ERR_COMMAND_REFUSED, { refusal: spec.refusal }));
    else return refuse(errorReply(ProxyErrors.REDSLOT_ERR_NOT_IN_TRANSACTION, { name: spec.name, reason: notQueuable(spec) }));
    if (typeof keyIdx === 'string') return refuse(this.d.argError(spec, keyIdx));
    for (let i = 0; i < keyIdx.length; i++) {
      const slot = slotOf(argv[keyIdx[i]!]!);
      if (tx.slot < 0) tx.slot = slot;
      else if (slot !== tx.slot) return refuse(ReplyErrors.crossSlot);
    }
    // A flagged transaction will answer EXECABORT: keep nothing more of it (memory stays bounded).
    if (tx.aborted) return this.answer(s, QUEUED, spec, t0);
    if (raw !== undefined) {
      tx.parts.push(Buffer.from(raw)); // a copy: a view would keep a whole client read slab alive while MULTI is open
      tx.bytes += raw.length;
    } else {
      tx.bytes += encodeCommandInto(argv, tx.parts);
    }
    const limit = this.d.limits.maxMultiBytes;
    if (limit > 0 && tx.bytes > limit) {
      this.d.limits.onGuard?.('multi_queue');
      this.d.log.info('transaction.queue_limit', { client: s.id, bytes: tx.bytes, limit, count: tx.count });
      tx.parts = [];
      tx.keys = [];
      tx.bytes = 0;
      return refuse(errorReply(ProxyErrors.REDSLOT_ERR_MULTI_TOO_BIG, { limit }));
    }
    tx.count++;
    if (!KEYLESS_IN_MULTI.has(spec.name) && !CHANNEL_AS_KEY.has(spec.name)) for (const k of keyIdx) tx.keys.push(Buffer.from(argv[k]!));
    return this.answer(s, QUEUED, spec, t0);
  }

  /** RESET or a closed client: leave MULTI and drop the WATCHes. */
  abandon(s: DedicatedSession): void {
    const tx = s.dedicated?.tx;
    if (tx === undefined || tx === null) return;
    this.clear(s, tx);
  }

  /** Ends the transaction (EXEC answered locally, DISCARD, errors) and replies. */
  private end(s: DedicatedSession, tx: Transaction, reply: Buffer, spec: CommandSpec, t0: number): DispatchResult {
    this.clear(s, tx);
    return this.answer(s, reply, spec, t0);
  }

  private clear(s: DedicatedSession, tx: Transaction): void {
    this.active.delete(tx);
    this.releaseWatch(tx);
    tx.multi = false;
    s.mode &= ~MODE_MULTI;
    if (s.dedicated !== null && s.dedicated.tx === tx) s.dedicated.tx = null;
  }

  /** Drops the WATCH state: the pinned connection is UNWATCHed and reused, or closed. */
  private releaseWatch(tx: Transaction): void {
    const conn = tx.watchConn;
    tx.watchConn = null;
    tx.watchRoute = null;
    tx.watchBroken = false;
    tx.slot = -1;
    tx.parts = [];
    tx.bytes = 0;
    tx.count = 0;
    tx.keys = [];
    tx.aborted = false;
    if (conn !== null) {
      conn.onClosed = null;
      this.unwatchAndRelease(conn, tx.dirty);
    }
    tx.dirty = false;
  }

  private unwatchAndRelease(conn: DedicatedConnection, dirty: boolean): void {
    if (dirty || conn.closed || conn.pending > 0) {
      this.d.pool.release(conn, false);
      return;
    }
    const pool = this.d.pool;
    conn.send({ onReply: (r: Buffer) => pool.release(conn, r[0] === 0x2b) }, UNWATCH);
  }

  private answer(s: DedicatedSession, reply: Buffer, spec: CommandSpec, t0: number): DispatchResult {
    s.reply(reply, spec.id, t0);
    return DISPATCHED;
  }
}

function notQueuable(spec: CommandSpec): string {
  switch (spec.route as string) {
    case 'local':
      return 'it is answered by the proxy or changes the client connection, not run on the transaction\'s group';
    case 'pubsub':
      return 'subscriptions and PUBSUB span every group';
    case 'transaction':
      return 'transaction commands cannot be nested';
    default:
      return 'it runs on every group, and a transaction runs on the one group of its slot';
  }
}

function unique(keys: Buffer[]): Buffer[] {
  const seen = new Set<string>();
  const out: Buffer[] = [];
  for (const k of keys) {
    const s = k.toString('latin1');
    if (!seen.has(s)) {
      seen.add(s);
      out.push(k);
    }
  }
  return out;
}
