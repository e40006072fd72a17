/**
 * Blocking commands: BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP, XREAD and
 * XREADGROUP with BLOCK (without BLOCK they are ordinary single-slot reads), and WAIT.
 *
 * A blocked client gets a dedicated connection of its own to the master of its keys' slot (all keys in one
 * slot, else CROSSSLOT) for as long as it is blocked; the shared pipelined connections never carry a
 * blocking command. The backend applies the timeout. The client's later commands wait for the reply, as
 * with Redis. When the pool is exhausted the client gets REDSLOT_ERR_DEDICATED_EXHAUSTED at once.
 *
 * - Client gone: the dedicated connection is closed, so the backend forgets the blocked command.
 * - The slot's route changes (a migration's locked step, a failover): the blocked command is woken with
 *   `CLIENT UNBLOCK <id>` sent on a shared connection to the same server. CLIENT UNBLOCK answering 1 means
 *   the command was still blocked and now returned its timeout reply without having popped anything: it is
 *   issued again through the normal path (waiting while the slot is locked, moving its keys to the new owner
 *   while migrating) with the time left of its timeout, and blocks on the new owner. Answering 0 means the
 *   command had already been served: its reply is the client's. A command is counted in-flight on its route
 *   while blocked, so the locked step is acknowledged only after it was woken (or answered).
 * - XREAD/XREADGROUP BLOCK with `$` re-issued on the new owner only sees entries added after the re-issue.
 * - WAIT numreplicas timeout: the client's writes may have gone to every group over shared connections, so
 *   WAIT runs on every master, each on a dedicated connection that first makes a write of its own (PUBLISH
 *   on an internal channel, which Redis replicates) so that its replication offset covers every earlier
 *   write of that master; the reply is the smallest count, i.e. how many replicas have acknowledged in
 *   every group.
 */
import { slotOf } from '../../shared/slot.js';
import { encodeCommandInto, encodeInteger, Replies } from '../../shared/resp/encoder.js';
import { isError, readInteger } from '../../shared/resp/reply-reader.js';
import type { BackendRequest } from '../backend/connection.js';
import type { DedicatedConnection } from '../backend/dedicated.js';
import type { BackendServer } from '../backend/pool.js';
import { commandKeys, type CommandSpec } from '../commands/lookup.js';
import { ReplyErrors } from '../errors.js';
import { MigrateStep } from '../router/migrate-on-access.js';
import { ClientRequest, type Startable } from '../router/requests/base.js';
import type { SlotRoute, SlotWaiter } from '../router/slot-table.js';
import { DISPATCHED, isWaitSlot, slotToWait, WAIT_IDLE, type DispatchResult } from '../router/dispatch-result.js';
import { equalsIgnoreCase as is } from '../util/ascii.js';
import { stateOf, type DedicatedHost, type DedicatedSession } from './context.js';

/** Where a blocking command's timeout is: argv index, and whether it is in milliseconds (XREAD BLOCK). */
interface TimeoutArg {
  idx: number;
  ms: boolean;
}

const BLOCK = Buffer.from('block');
const STREAMS = Buffer.from('streams');

/** The timeout argument, or null when the command does not block (XREAD without BLOCK). */
function timeoutArg(name: string, argv: Buffer[]): TimeoutArg | null {
  switch (name) {
    case 'blmpop':
    case 'bzmpop':
      return { idx: 1, ms: false };
    case 'xread':
    case 'xreadgroup':
      for (let i = 1; i < argv.length - 1; i++) {
        if (is(argv[i]!, STREAMS)) return null;
        if (is(argv[i]!, BLOCK)) return { idx: i + 1, ms: true };
      }
      return null;
    default:
      return { idx: argv.length - 1, ms: false };
  }
}

const enum Unblock {
  None,
  /** CLIENT UNBLOCK sent; waiting for its answer and the command's reply. */
  Sent,
  /** The connection was closed before the command reached the backend. */
  Abandoned,
}

/** One blocked client command: finds its route, sends on a dedicated connection, re-issues when woken. */
const IGNORE_REPLY: BackendRequest = { onReply: () => {} };

export class BlockedRequest extends ClientRequest implements BackendRequest, Startable, SlotWaiter {
  private conn: DedicatedConnection | null = null;
  private server: BackendServer | null = null;
  private route: SlotRoute | null = null;
  private readonly startedAt = performance.now();
  /** Sent to the backend (not merely waiting for migrate-on-access). */
  private sent = false;
  /** The route changed before the command was sent: send it again on the new route instead. */
  private stale = false;
  private unblock = Unblock.None;
  private unblockResult: number | null = null;
  private pendingReply: Buffer | null = null;
  private waitingSlot = -1;
  private done = false;
  /** Attempts so far (a woken command is sent again with the time left of its timeout). */
  private tries = 0;
  private payload: Buffer[] = [];
  private bytes = 0;

  constructor(
    private readonly mgr: Blocking,
    session: DedicatedSession,
    cmdId: number,
    t0: number,
    private readonly argv: Buffer[],
    private readonly keys: number[],
    readonly slot: number,
    private readonly timeout: TimeoutArg,
    private readonly cmdName: string,
  ) {
    super(session, cmdId, t0);
  }

  private get s(): DedicatedSession {
    return this.session as DedicatedSession;
  }

  /**
   * Sends the command on the slot's current route (the session is held by this request throughout).
   * `timeoutReply`: the backend's timeout reply from the attempt that was woken, if any.
   */
  attempt(timeoutReply: Buffer | null): void {
    if (this.done) return;
    const d = this.mgr.d;
    const r = d.routeFor(this.slot);
    if (isWaitSlot(r)) {
      this.waitingSlot = slotToWait(r);
      d.table.wait(this.waitingSlot, this);
      return;
    }
    if (Buffer.isBuffer(r)) return this.finish(r);
    let argv = this.argv;
    if (this.tries++ > 0) {
      const left = this.timeLeft();
      if (left !== null && left < 1) return this.finish(timeoutReply ?? this.nullReply());
      if (left !== null) {
        argv = argv.slice();
        argv[this.timeout.idx] = Buffer.from(this.timeout.ms ? String(Math.floor(left)) : (left / 1000).toFixed(3));
      }
    }
    const conn = d.pool.acquire(r.server!, this.s.db, this.s.proto, 'blocking');
    if (conn === null) return this.finish(d.exhausted('a blocking command'));
    this.conn = conn;
    this.server = r.server;
    this.route = r;
    r.inflight++;
    this.sent = false;
    this.stale = false;
    this.unblock = Unblock.None;
    this.unblockResult = null;
    this.pendingReply = null;
    this.payload = [];
    this.bytes = encodeCommandInto(argv, this.payload);
    if (r.migrateFrom !== null && this.keys.length > 0) {
      const step = new MigrateStep(this.s, this, d.migrate);
      for (const k of this.keys) step.add(r, this.argv[k]!);
      step.start();
    } else {
      this.start();
    }
  }

  /** Startable: send now (or, if the route changed meanwhile, try again on the new one). */
  start(): void {
    if (this.done) return;
    if (this.stale) {
      this.retry(null, true);
      return;
    }
    this.sent = true;
    this.conn!.sendParts(this, this.payload, this.bytes);
  }

  /** Startable: migrate-on-access failed; nothing was sent. */
  fail(reply: Buffer): void {
    this.releaseRoute(true);
    this.finish(reply);
  }

  onSlotReady(): void {
    this.waitingSlot = -1;
    this.attempt(this.pendingReply);
  }

  onReply(reply: Buffer): void {
    if (this.done) return;
    if (this.unblock === Unblock.Abandoned) {
      this.retry(null, false);
      return;
    }
    if (this.unblock === Unblock.Sent) {
      this.pendingReply = reply;
      this.decide();
      return;
    }
    const lost = reply === this.conn?.lostReply || reply === this.conn?.unavailableReply;
    this.releaseRoute(!lost);
    this.finish(reply);
  }

  /**
   * CLIENT UNBLOCK of this client: `CLIENT UNBLOCK <backend id> [ERROR]` to the server it is blocked on,
   * whose reply to the blocked command (the timeout reply, or -UNBLOCKED) then reaches the client as usual.
   * False when it is not blocked on a backend right now (not sent yet, or being moved by a topology change).
   */
  unblockByClient(error: boolean): boolean {
    if (this.done || !this.sent || this.conn === null || this.conn.clientId < 0 || this.unblock !== Unblock.None) return false;
    const out: Buffer[] = [];
    const bytes = encodeCommandInto(error ? ['CLIENT', 'UNBLOCK', String(this.conn.clientId), 'ERROR'] : ['CLIENT', 'UNBLOCK', String(this.conn.clientId)], out);
    this.server!.conn(0, 0).sendParts(IGNORE_REPLY, out, bytes);
    return true;
  }

  /** The slot's route changed: wake the command so it blocks on the new owner. */
  wake(): void {
    if (this.done || this.route === null || !this.route.retired || this.unblock !== Unblock.None) return;
    if (!this.sent) {
      this.stale = true; // migrate-on-access still running: start() goes to the new route
      return;
    }
    const conn = this.conn!;
    if (conn.clientId < 0) {
      // Still in the handshake: the command has not reached the backend. Close and start again.
      this.unblock = Unblock.Abandoned;
      conn.close();
      return;
    }
    this.unblock = Unblock.Sent;
    const out: Buffer[] = [];
    const bytes = encodeCommandInto(['CLIENT', 'UNBLOCK', String(conn.clientId)], out);
    this.server!.conn(0, 0).sendParts(
      {
        onReply: (r: Buffer) => {
          this.unblockResult = isError(r) ? -1 : readInteger(r);
          this.decide();
        },
      },
      out,
      bytes,
    );
  }

  /** Both the command's reply and CLIENT UNBLOCK's answer are in. */
  private decide(): void {
    if (this.pendingReply === null || this.unblockResult === null) return;
    const reply = this.pendingReply;
    if (this.unblockResult === 1) {
      // We unblocked it: `reply` is its timeout reply, nothing was popped. Block again on the new owner.
      this.retry(reply, false);
      return;
    }
    // Answer 0: it had been served already (or the answer is unknown): the reply is the client's.
    const lost = reply === this.conn?.lostReply || reply === this.conn?.unavailableReply;
    this.releaseRoute(!lost);
    this.finish(reply);
  }

  private retry(timeoutReply: Buffer | null, clean: boolean): void {
    this.releaseRoute(clean);
    this.attempt(timeoutReply);
  }

  /** What the command answers on timeout, when no backend reply of that kind is at hand. */
  private nullReply(): Buffer {
    if (this.s.proto === 3) return NULL3;
    const name = this.cmdName;
    return name === 'brpoplpush' || name === 'blmove' ? Replies.nullBulk : Replies.nullArray;
  }

  /** Milliseconds left of the client's timeout, or null for "block forever" (or an unparsable timeout). */
  private timeLeft(): number | null {
    const v = Number(this.argv[this.timeout.idx]!.toString('latin1'));
    if (!Number.isFinite(v) || v <= 0) return null;
    const totalMs = this.timeout.ms ? v : v * 1000;
    return totalMs - (performance.now() - this.startedAt);
  }

  private releaseRoute(clean: boolean): void {
    if (this.route !== null) {
      this.route.done();
      this.route = null;
    }
    if (this.conn !== null) {
      this.mgr.d.pool.release(this.conn, clean && this.unblock !== Unblock.Abandoned);
      this.conn = null;
    }
  }

  private finish(reply: Buffer): void {
    if (this.done) return;
    this.done = true;
    this.mgr.forget(this);
    this.s.complete(this, reply);
    this.s.resume();
  }

  /** The client is gone: close the connection (the backend drops the blocked command). */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.mgr.forget(this);
    if (this.waitingSlot >= 0) this.mgr.d.table.unwait(this.waitingSlot, this);
    if (this.route !== null) {
      this.route.done();
      this.route = null;
    }
    if (this.conn !== null) {
      this.mgr.d.pool.release(this.conn, false);
      this.conn = null;
    }
  }
}

/** WAIT on every master: PUBLISH (a write of its own) then WAIT, on one dedicated connection each. */
class WaitRequest extends ClientRequest {
  private left = 0;
  private min = Infinity;
  private error: Buffer | null = null;

  constructor(
    private readonly mgr: Blocking,
    session: DedicatedSession,
    cmdId: number,
    t0: number,
  ) {
    super(session, cmdId, t0);
  }

  start(masters: BackendServer[], argv: Buffer[]): void {
    const s = this.session as DedicatedSession;
    const conns: DedicatedConnection[] = [];
    for (const m of masters) {
      const c = this.mgr.d.pool.acquire(m, s.db, 2, 'blocking');
      if (c === null) {
        for (const x of conns) this.mgr.d.pool.release(x, true);
        s.complete(this, this.mgr.d.exhausted('WAIT'));
        return;
      }
      conns.push(c);
    }
    s.hold();
    this.left = conns.length;
    const parts: Buffer[] = [];
    const bytes = encodeCommandInto(['PUBLISH', WAIT_CHANNEL, ''], parts) + encodeCommandInto(argv, parts);
    for (const c of conns) {
      let n = 2;
      c.sendParts(
        {
          onReply: (r: Buffer) => {
            if (isError(r) && this.error === null) this.error = r;
            if (--n > 0) return;
            if (!isError(r)) this.min = Math.min(this.min, readInteger(r));
            this.mgr.d.pool.release(c, !isError(r));
            if (--this.left === 0) this.finish();
          },
        },
        parts,
        bytes,
        2,
      );
    }
  }

  private finish(): void {
    const s = this.session as DedicatedSession;
    s.complete(this, this.error ?? encodeInteger(Number.isFinite(this.min) ? this.min : 0));
    s.resume();
  }
}

const NULL3 = Buffer.from('_\r\n');

/** PUBLISHed to before WAIT so the dedicated connection's replication offset covers earlier writes. */
const WAIT_CHANNEL = '__redslot__:wait';

export class Blocking {
  private readonly active = new Set<BlockedRequest>();

  constructor(readonly d: DedicatedHost) {}

  /** Clients blocked in a blocking command now. */
  get count(): number {
    return this.active.size;
  }

  dispatch(s: DedicatedSession, spec: CommandSpec, argv: Buffer[], raw: Buffer | undefined, t0: number): DispatchResult {
    if (spec.name === 'wait') return this.wait(s, spec, argv, t0);
    const timeout = timeoutArg(spec.name, argv);
    if (timeout === null) return this.d.router.routeSingle(s, spec, argv, raw, t0);
    const keys = commandKeys(spec, argv);
    if (typeof keys === 'string') return this.answer(s, this.d.argError(spec, keys), spec, t0);
    const slot = slotOf(argv[keys[0]!]!);
    for (let i = 1; i < keys.length; i++) if (slotOf(argv[keys[i]!]!) !== slot) return this.answer(s, ReplyErrors.crossSlot, spec, t0);
    const r = this.d.routeFor(slot);
    if (isWaitSlot(r)) return r;
    if (Buffer.isBuffer(r)) return this.answer(s, r, spec, t0);
    if (s.inFlight > 0) return WAIT_IDLE;
    // Keep the arguments past this event-loop turn (they are views of the socket chunk, which stays ours).
    // Copies: a blocked command may wait for hours, and views would keep a whole client read slab alive.
    const req = new BlockedRequest(this, s, spec.id, t0, argv.map((a) => Buffer.from(a)), keys, slot, timeout, spec.name);
    this.active.add(req);
    stateOf(s).blocked = req;
    s.enqueue(req);
    s.hold();
    req.attempt(null);
    return DISPATCHED;
  }

  private wait(s: DedicatedSession, spec: CommandSpec, argv: Buffer[], t0: number): DispatchResult {
    const fenced = this.d.routeFor(0);
    if (Buffer.isBuffer(fenced)) return this.answer(s, fenced, spec, t0);
    const masters = this.d.patternServers();
    if (masters.length === 0) return this.answer(s, ReplyErrors.slotNotServed, spec, t0);
    if (s.inFlight > 0) return WAIT_IDLE;
    const req = new WaitRequest(this, s, spec.id, t0);
    s.enqueue(req);
    req.start(masters, argv);
    return DISPATCHED;
  }

  forget(req: BlockedRequest): void {
    this.active.delete(req);
    const st = (req.session as DedicatedSession).dedicated;
    if (st !== null && st.blocked === req) st.blocked = null;
  }

  /** Client gone. */
  abandon(s: DedicatedSession): void {
    s.dedicated?.blocked?.cancel();
  }

  onRoutesChanged(changed: readonly number[]): void {
    if (this.active.size === 0) return;
    const marks = new Uint8Array(this.d.table.routes.length);
    for (const slot of changed) marks[slot] = 1;
    for (const req of [...this.active]) if (marks[req.slot] === 1) req.wake();
  }

  private answer(s: DedicatedSession, reply: Buffer, spec: CommandSpec, t0: number): DispatchResult {
    s.reply(reply, spec.id, t0);
    return DISPATCHED;
  }
}
