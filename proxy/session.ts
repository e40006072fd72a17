/**
 * One client connection: decode -> dispatch -> ordered reply queue -> coalesced writes. The session is the
 * coordinator of its parts (proxy/session/):
 * - ClientInfo (client-info.ts): name, library, user, activity, as CLIENT LIST and the slow log show them;
 * - ReplyQueue (reply-queue.ts): replies leave in request order, CLIENT REPLY OFF / SKIP mutes them;
 * - HeldRequests (held-requests.ts): requests wait undispatched, in order, while the session is held (a
 *   locked slot, migrate-on-access, WAIT_IDLE);
 * - Backpressure (backpressure.ts): when reading pauses, and when unread output closes the client.
 *
 * Invariants:
 * - Requests are dispatched in arrival order, replies leave in request order.
 * - A protocol error, QUIT or a security warning (HTTP sent to the RESP port) stops decoding; the session
 *   closes once every earlier reply and the final one are written.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../shared/log.js';
import { encodeError } from '../shared/resp/encoder.js';
import type { AclUser } from './acl/user.js';
import { ProtocolErrors, RequestDecoder, type RequestHandler, type RequestLimits } from '../shared/resp/request-decoder.js';
import { lookupCommand } from './commands/lookup.js';
import type { RequestSpans } from '../shared/resp/request-spans.js';
import { decodeArgv } from '../shared/resp/decode-argv.js';
import type { ProxyConfig } from './config.js';
import { dedicatedListExtras } from './dedicated/context.js';
import type { SessionDedicated } from './dedicated/index.js';
import { ReplyErrors } from './errors.js';
import type { ClientListExtras, ProxyFacts } from './local/context.js';
import type { SlowLog } from './local/slowlog.js';
import { UNKNOWN_COMMAND, type ProxyMetrics } from './metrics.js';
import { DISPATCHED, isDispatched, type DispatchResult } from './router/dispatch-result.js';
import { ClientRequest, type Startable } from './router/requests/base.js';
import type { SlotTable } from './router/slot-table.js';
import { Backpressure, type PressuredClient } from './session/backpressure.js';
import { ClientInfo } from './session/client-info.js';
import { HeldRequests, type HoldingSession } from './session/held-requests.js';
import { ReplyQueue } from './session/reply-queue.js';
import { dispatchCommand, type DispatchEnv } from './session/dispatch.js';
import { rawBeingDispatched, takeRequest, takeSpans, type IntakeSession } from './session/intake.js';
import { backendOf } from './session/replies.js';
import { now } from './util/clock.js';
import { lingeringClose } from './util/linger.js';
import { scheduleFlush, type Flushable } from './util/flush.js';
import { writeReplies } from './session/reply-writer.js';
import { feedRequests, ReadOrigin, type ReadSink } from './session/client-reads.js';
import { giveBackReply } from './router/lending.js';
import type { Slab } from './util/lent-slabs.js';

export { unknownCommandError } from './session/replies.js';

/** An empty write: its callback runs once every write before it is done. */
const EMPTY = Buffer.alloc(0);
/** What metrics see of a streamed reply (the type byte of a bulk: not an error). */
const STREAMED = Buffer.from('$');

/** What all sessions of a proxy share. */
export interface SessionEnv extends DispatchEnv {
  readonly config: ProxyConfig;
  readonly limits: RequestLimits;
  readonly table: SlotTable;
  readonly metrics: ProxyMetrics;
  readonly facts: ProxyFacts;
  readonly log: Logger;
  onSessionClosed(s: Session): void;
}

export class Session implements RequestHandler, Flushable, IntakeSession, HoldingSession, PressuredClient, ReadSink {
  flushQueued = false;
  db = 0;
  /** RESP version the client speaks (HELLO). */
  proto: 2 | 3 = 2;
  /** READONLY / READWRITE (default: the proxy's `reads` knob): reads may go to a replica. */
  readReplica: boolean;
  /** Non-zero while MULTI is open or a RESP2 client is subscribed: requests go through dedicated.intercept(). */
  mode = 0;
  /** Transaction / blocked command / subscriptions of this client (proxy/dedicated/), null until used. */
  dedicated: SessionDedicated | null = null;
  readonly client = new ClientInfo();
  readonly replies = new ReplyQueue();
  readonly facts: ProxyFacts;

  readonly held: HeldRequests;
  readonly pressure: Backpressure;
  /** ReadSink: the decoder this client's reads go to. */
  readonly decoder: RequestDecoder;
  /** ReadSink: where the read being decoded landed (set by client-reads.ts, for intake.ts's lending). */
  origin = ReadOrigin.None;
  /** LendingSession: the arena bytes lent for the request being dispatched now, and their slab. */
  lentRaw: Buffer | undefined = undefined;
  lentSlab: Slab | null = null;
  /** Arguments of the request being dispatched (ClientRequest.clientArgv, SLOWLOG). */
  currentArgv: Buffer[] | null = null;
  private readonly slowlog: SlowLog | undefined;
  /** Dispatch counter (ClientRequest.epoch). */
  epoch = 0;
  /** Stop reading; close once everything queued has been written. */
  private closing = false;
  /** Our side of the socket is ended (lingering close started). */
  private ended = false;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    readonly id: number,
    readonly env: SessionEnv,
  ) {
    this.facts = env.facts;
    this.slowlog = env.facts.slowlog !== undefined && env.facts.slowlog.slowerThanUs >= 0 ? env.facts.slowlog : undefined;
    this.readReplica = env.config.reads === 'replica-preferred';
    this.held = new HeldRequests(this, env);
    this.pressure = new Backpressure(socket, this, env);
    this.decoder = new RequestDecoder(this, env.limits);
    this.startUnauthenticated();
    socket.setNoDelay(true);
    feedRequests(socket, this);
    socket.on('drain', () => this.pressure.drained());
    socket.on('error', (err: Error) => env.log.debug('session.error', { id, err }));
    // The server allows half-open sockets: a client that sends its commands and shuts down its side
    // (`redis-cli < file`, `nc -N`) still gets every reply before we close.
    socket.on('end', () => {
      // A blocked command may never answer: like Redis, a blocked client that hangs up is gone at once
      // (its dedicated connection closes, so the backend forgets the command too).
      if (this.dedicated !== null && this.dedicated.blocked !== null) {
        socket.destroy();
        return;
      }
      this.endAfterReplies(false);
    });
    socket.on('close', () => this.onClose());
    if (env.config.limits.idleTimeoutMs > 0) {
      socket.setTimeout(env.config.limits.idleTimeoutMs, () => {
        // Idle = nothing pending; a client waiting for a reply (or a held slot) is not idle, and, like
        // Redis, a subscribed client never is.
        if (this.replies.queued === 0 && this.held.length === 0 && !this.isSubscriber) {
          env.metrics.cxIdleTimeouts++;
          socket.destroy();
        }
      });
    }
  }

  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}`;
  }

  get localAddress(): string {
    return `${this.socket.localAddress ?? '?'}:${this.socket.localPort ?? 0}`;
  }

  get outputBytes(): number {
    return this.replies.outBytes + this.pressure.writableLength;
  }

  /** Bytes of requests received and not dispatched yet: held ones and the one being decoded. */
  get queryBytes(): number {
    return this.held.bytes + this.decoder.partialBytes;
  }

  /** Requests accepted and not yet answered (queued + waiting). */
  get pendingRequests(): number {
    return this.replies.queued + this.held.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Waiting for a locked slot (INFO blocked_clients). */
  get isHeld(): boolean {
    return this.held.onSlot;
  }

  /** Dispatched requests whose reply is not written yet. */
  get inFlight(): number {
    return this.replies.queued;
  }

  get isSubscriber(): boolean {
    const ps = this.dedicated?.pubsub;
    return ps !== null && ps !== undefined && ps.total > 0;
  }

  // ---- decoder callbacks

  onRequest(argv: Buffer[], raw: Buffer | undefined): void {
    takeRequest(this, argv, raw);
  }

  onRequestSpans(raw: Buffer, spans: RequestSpans): boolean {
    return takeSpans(this, raw, spans);
  }

  onProtocolError(message: string): void {
    this.env.metrics.cxProtocolErrors++;
    if (message === ProtocolErrors.queryBufferLimit) this.env.metrics.guards.query_buffer++;
    this.env.log.info('session.protocol_error', { id: this.id, client: this.remoteAddress, message });
    this.finalReply(encodeError(`ERR ${message}`));
  }

  // ---- dispatch

  /**
   * Runs one request now (HoldingSession: also the held ones, in order; `spec` as onRequest looked it up);
   * returns DISPATCHED or why it must wait. A bug must not take the process (and every other client) down:
   * an exception becomes this client's error reply.
   */
  execute(argv: Buffer[], raw: Buffer | undefined, spec = lookupCommand(argv[0]!)): DispatchResult {
    const replies = this.replies;
    if (replies.skip === 1) replies.skip = 2; // CLIENT REPLY SKIP: this command's reply is dropped
    let result: DispatchResult = DISPATCHED;
    const epoch = ++this.epoch;
    this.currentArgv = argv;
    try {
      result = dispatchCommand(this, this.env, spec, argv, raw);
    } catch (err) {
      this.internalError(epoch, err);
    }
    if (replies.skip === 2 && isDispatched(result)) replies.skip = 0;
    return result;
  }

  /** Dispatch number `epoch` threw: a bug must not take the process (and every other client) down. */
  internalError(epoch: number, err: unknown): void {
    this.env.log.error('session.internal_error', { id: this.id, err, stack: (err as Error).stack });
    const reply = encodeError(`ERR internal error in redslot: ${(err as Error).message}`);
    // Whatever this dispatch enqueued and left unanswered gets the error through its own fail(), which
    // releases its route's in-flight count: an exception never wedges the pipeline or a route's drain.
    if (!this.abortEpoch(epoch, reply)) this.reply(reply, UNKNOWN_COMMAND, performance.now());
  }

  /** Someone speaks HTTP to the RESP port (browser, SSRF): like Redis, close without a reply. */
  securityClose(): void {
    this.env.log.warn('session.security_attack', { id: this.id, client: this.remoteAddress });
    this.decoder.stop();
    this.closing = true;
    this.socket.destroy();
  }

  /** Fails the unanswered requests enqueued by dispatch number `epoch`; false when there were none. */
  private abortEpoch(epoch: number, reply: Buffer): boolean {
    const victims = this.replies.unanswered(epoch);
    for (const r of victims) {
      const fail = (r as Partial<Startable>).fail;
      if (typeof fail === 'function') fail.call(r, reply);
      else this.complete(r, reply);
    }
    return victims.length > 0;
  }

  /** HoldingSession: a held request's guard.holdTimeout passed. An EXEC held this way ends its transaction, like EXECABORT. */
  refuseHeld(argv: Buffer[]): void {
    const spec = lookupCommand(argv[0]!);
    if (spec !== undefined && spec.name === 'exec') this.env.dedicated.tx.abandon(this);
    this.reply(ReplyErrors.holdTimeout, spec?.id ?? UNKNOWN_COMMAND, now());
  }

  // ---- RoutedSession

  enqueue(req: ClientRequest): void {
    req.epoch = this.epoch;
    req.clientArgv = this.currentArgv;
    req.clientRaw = rawBeingDispatched(this);
    this.replies.enqueue(req);
  }

  complete(req: ClientRequest, reply: Buffer): void {
    this.env.metrics.record(req.cmdId, req.t0, this.replies.inParts(req) ? STREAMED : reply); // a last part's first byte is data
    if (this.slowlog !== undefined && req.t0 !== 0) this.logIfSlow(req.clientArgv, req.clientRaw, req.t0, backendOf(req));
    this.settle(req, reply);
  }

  // Big replies in parts (backend.streamRepliesFrom; their order: reply-queue.ts part()).
  takesParts(): boolean {
    return !this.closed;
  }

  replyPart(req: ClientRequest, part: Buffer): void {
    if (this.closed) return giveBackReply(part);
    this.replies.part(req, part);
    scheduleFlush(this);
  }

  replyBroken(req: ClientRequest): void {
    if (!this.replies.abandonParts(req)) return; // nothing of it went out: the error replaces it
    this.env.log.warn('session.reply_broken', { id: this.id, client: this.remoteAddress, backend: backendOf(req) });
    this.socket.destroy();
    this.onClose();
  }

  /** SLOWLOG: the command took at least slowlog.slowerThan µs end to end. */
  private logIfSlow(argv: Buffer[] | null, raw: Buffer | null, t0: number, backend: string): void {
    const us = (now() - t0) * 1000;
    if ((argv === null && raw === null) || !this.slowlog!.wants(us)) return;
    const name = this.client.name;
    // A request that came as offsets: its arguments are made now, from its bytes (still lent to it).
    this.slowlog!.add(argv ?? decodeArgv(raw!), us, this.remoteAddress, name === null ? `backend=${backend}` : `${name.toString('latin1')} backend=${backend}`);
  }

  /** Sets a reply; whatever is now at the head of the queue goes out. */
  private settle(req: ClientRequest, reply: Buffer): void {
    const replies = this.replies;
    if (replies.settle(req, reply, this.closed) === 0) return;
    if (replies.head === null) this.held.replyQueueEmpty();
    if (!this.closed) scheduleFlush(this);
    this.pressure.relieved(replies.queued + this.held.length);
  }

  reply(reply: Buffer, cmdId: number, t0: number): void {
    if (this.replies.head === null) {
      this.env.metrics.record(cmdId, t0, reply);
      if (this.slowlog !== undefined) this.logIfSlow(this.currentArgv, rawBeingDispatched(this), t0, 'proxy');
      this.replies.direct(reply);
      if (!this.closed) scheduleFlush(this);
      return;
    }
    const r = new ClientRequest(this, cmdId, t0);
    this.enqueue(r);
    this.complete(r, reply);
  }

  hold(): void {
    this.held.hold();
  }

  resume(): void {
    this.held.resume();
  }

  /**
   * A backend this session sent to is congested (proxy/backend/connection.ts): hold dispatch and stop
   * reading as well, so what the client keeps sending waits in the kernel, not in the held requests
   * (memory stays bounded by about one chunk per client). Paired with backendRelease() when that backend drains.
   */
  backendHold(): void {
    this.held.hold();
    this.pressure.backendHold();
  }

  backendRelease(): void {
    this.pressure.backendRelease();
    this.held.resume();
    this.pressure.update();
  }

  /** A Pub/Sub message: after every reply queued so far, not counted as a command. */
  push(frame: Buffer): void {
    if (this.closed) return;
    const r = new ClientRequest(this, UNKNOWN_COMMAND, 0);
    r.pushes = true;
    this.enqueue(r);
    this.settle(r, frame);
  }

  updateReading(): void {
    this.pressure.update();
  }

  throttleSubscriptions(on: boolean): void {
    this.env.dedicated.pubsub.throttle(this, on);
  }

  // ---- LocalContext

  quit(): void {
    this.endAfterReplies(true); // Redis runs nothing after QUIT
  }

  authenticate(user: AclUser): void {
    this.client.loggedIn(user);
    this.decoder.unauthenticated = false;
    this.env.facts.access.guard.forget(this);
  }

  /** New connection or RESET: logged in as the default user when it is open, else waiting for AUTH. */
  private startUnauthenticated(): void {
    const access = this.env.facts.access;
    this.client.loggedOut();
    if (access.users.openByDefault) this.authenticate(access.users.defaultUser);
    else {
      this.decoder.unauthenticated = true;
      access.guard.unauthenticated(this);
    }
  }

  clientListExtras(): ClientListExtras {
    const x: ClientListExtras = { resp: this.proto };
    return this.dedicated === null ? x : dedicatedListExtras(this.dedicated, x);
  }

  setProto(proto: 2 | 3): void {
    this.proto = proto;
    const st = this.dedicated?.pubsub;
    if (st) this.env.dedicated.pubsub.updateMode(this, st); // RESP2 subscribed-mode rules on or off
  }

  reset(): void {
    this.env.dedicated.reset(this);
    this.mode = 0;
    this.db = 0;
    this.proto = 2;
    this.client.name = null;
    this.replies.off = false; // like Redis: RESET turns CLIENT REPLY back ON
    this.replies.skip = 0;
    this.readReplica = this.env.config.reads === 'replica-preferred';
    this.startUnauthenticated();
  }

  // ---- output

  flush(): void {
    if (this.closed) return;
    const replies = this.replies;
    if (replies.out.length > 0) {
      const total = replies.outBytes;
      // Replies go through the backpressure, the client's writer (straight to the handle when nothing is buffered).
      const pressure = this.pressure;
      pressure.written(writeReplies(pressure, replies.takeOutput(), total));
      // The kernel took every byte: the backend reply views written are free; else once the write is done
      // (an empty write's callback runs after every write before it, direct ones included: libuv keeps order).
      if (pressure.writableLength === 0) replies.giveBack();
      else if (replies.lent.length > 0) this.socket.write(EMPTY, replies.giveBackLater());
      if (this.pressure.overOutputLimit()) {
        this.socket.destroy();
        return;
      }
    }
    if (this.closing && replies.head === null && this.held.length === 0 && !this.ended) {
      this.ended = true;
      lingeringClose(this.socket);
    }
  }

  /** Sends `reply` after everything already queued, then closes (protocol error, QUIT-like endings). */
  private finalReply(reply: Buffer): void {
    this.endAfterReplies(true); // nothing after a protocol error is run
    const r = new ClientRequest(this, UNKNOWN_COMMAND, 0);
    this.enqueue(r);
    this.settle(r, reply);
  }

  /** Server shutdown: stop reading new requests; close once in-flight ones are answered and written. */
  drainAndClose(): void {
    this.endAfterReplies(true);
  }

  /** Stops decoding; closes once everything queued is written (`dropHeld`: held requests never run). */
  private endAfterReplies(dropHeld: boolean): void {
    this.decoder.stop();
    if (dropHeld) this.held.clear();
    this.closing = true;
    scheduleFlush(this);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** CLIENT UNBLOCK: wakes this client's blocked command (proxy/dedicated/blocking.ts). */
  unblock(error: boolean): boolean {
    const b = this.dedicated?.blocked;
    return b !== null && b !== undefined && b.unblockByClient(error);
  }

  /** CLIENT KILL: another client's connection closes now. */
  kill(): void {
    this.socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.decoder.stop();
    this.env.facts.access.guard.forget(this);
    this.held.close();
    this.pressure.stop();
    this.replies.takeOutput();
    this.replies.giveBack(); // the views of the output dropped: never written
    if (this.dedicated !== null) this.env.dedicated.sessionClosed(this);
    // Requests in flight still get their backend replies; complete() on a closed session just drops them.
    this.env.onSessionClosed(this);
  }
}
