/**
 * One client connection: decode -> dispatch -> ordered reply queue -> coalesced writes.
 *
 * Invariants:
 * - Replies leave in request order. Every dispatched request is an entry of the reply queue (head..tail);
 *   a reply completes its entry, and the queue is flushed from the head while the head has its reply, so
 *   one arriving reply can release several queued ones.
 * - Requests are dispatched in arrival order. While the session is held (a request waits for a locked slot,
 *   or migrate-on-access is moving keys) later requests wait in `waiting`, undispatched, so one client's
 *   commands run in the order it sent them; other clients are not affected.
 * - Backpressure: reading pauses while queued + waiting requests reach limits.maxPipeline, while the
 *   socket needs draining, or while a backend it sent to is congested (backendHold,
 *   MAX_BACKEND_BUFFERED_BYTES); it resumes at half the limit / on 'drain' / when the backend drains.
 * - A protocol error, QUIT or a security warning (HTTP sent to the RESP port) stops decoding; the session
 *   closes once every earlier reply and the final one are written.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../shared/log.js';
import { encodeErrorBytes, encodeError } from '../shared/resp/encoder.js';
import { aclDenial } from './acl/check.js';
import type { AclUser } from './acl/user.js';
import { ProtocolErrors, RequestDecoder, type RequestHandler, type RequestLimits } from '../shared/resp/request-decoder.js';
import { checkArity, lookupCommand, resolveSubcommand, type CommandSpec } from './commands/lookup.js';
import type { ProxyConfig } from './config.js';
import { type Dedicated, type DedicatedSession, type SessionDedicated } from './dedicated/index.js';
import { errorReply, ProxyErrors, ReplyErrors } from './errors.js';
import type { ClientListExtras, LocalContext, LocalHandler, ProxyFacts } from './local/context.js';
import type { SlowLog } from './local/slowlog.js';
import { UNKNOWN_COMMAND, type ProxyMetrics } from './metrics.js';
import { ClientRequest, type Startable } from './router/requests/base.js';
import { DISPATCHED, isDispatched, isPass, isWaitIdle, slotToWait, type DispatchResult, type Held } from './router/dispatch-result.js';
import type { RoutedSession, Router } from './router/router.js';
import type { SlotRoute, SlotTable, SlotWaiter } from './router/slot-table.js';
import { now, stamped1 } from './util/clock.js';
import { lingeringClose } from './util/linger.js';
import { Fifo } from './util/fifo.js';
import { scheduleFlush, writeBuffers, type Flushable } from './util/flush.js';

/** What all sessions of a proxy share. */
export interface SessionEnv {
  readonly config: ProxyConfig;
  readonly limits: RequestLimits;
  readonly router: Router;
  readonly table: SlotTable;
  readonly metrics: ProxyMetrics;
  readonly facts: ProxyFacts;
  readonly log: Logger;
  /** By CommandSpec.id. */
  readonly localHandlers: ReadonlyArray<LocalHandler | undefined>;
  /** By CommandSpec.id: 1 when the command may run before AUTH (Redis flag no_auth). */
  readonly noAuth: Uint8Array;
  /** By CommandSpec.id: the refusal reply, built on first use. */
  readonly refusals: Array<Buffer | undefined>;
  /** Transactions, blocking commands, Pub/Sub: everything that needs a dedicated backend connection. */
  readonly dedicated: Dedicated;
  onSessionClosed(s: Session): void;
}

interface Waiting {
  argv: Buffer[];
  raw: Buffer | undefined;
  /** Its size, counted in the client's query buffer (guard.maxQueryBuffer) while it waits. */
  bytes: number;
}

function requestBytes(argv: Buffer[], raw: Buffer | undefined): number {
  if (raw !== undefined) return raw.length;
  let n = 0;
  for (const a of argv) n += a.length + 16;
  return n;
}

const HTTP_POST = Buffer.from('post');
const HTTP_HOST = Buffer.from('host:');

function equalsIgnoreCase(a: Buffer, lower: Buffer): boolean {
  if (a.length !== lower.length) return false;
  for (let i = 0; i < a.length; i++) if ((a[i]! | 0x20) !== lower[i]) return false;
  return true;
}

export class Session implements RoutedSession, RequestHandler, SlotWaiter, Flushable, LocalContext, DedicatedSession {
  flushQueued = false;
  db = 0;
  /** RESP version the client speaks (HELLO). */
  proto: 2 | 3 = 2;
  /** Non-zero while MULTI is open or a RESP2 client is subscribed: requests go through dedicated.intercept(). */
  mode = 0;
  /** Transaction / blocked command / subscriptions of this client (proxy/dedicated/), null until used. */
  dedicated: SessionDedicated | null = null;
  authenticated = false;
  user = 'default';
  /** The logged-in user's ACL restrictions (proxy/acl/check.ts); null = every command, key and channel. */
  private acl: AclUser | null = null;
  name: Buffer | null = null;
  libName: Buffer | null = null;
  libVer: Buffer | null = null;
  /** READONLY / READWRITE (default: the proxy's `reads` knob): reads may go to a replica. */
  readReplica: boolean;
  readonly createdAt = Date.now();
  // CLIENT REPLY / NO-EVICT / LIST state (proxy/local/client.ts).
  replyOff = false;
  replySkip = 0;
  noEvict = false;
  lastCmdId = -1;
  lastAt = performance.now();
  /** Requests whose replies CLIENT REPLY OFF / SKIP drops; null while none. */
  private muted: Set<ClientRequest> | null = null;
  readonly facts: ProxyFacts;

  private readonly decoder: RequestDecoder;
  private head: ClientRequest | null = null;
  private tail: ClientRequest | null = null;
  /** Entries in the reply queue (dispatched, reply not yet written out). */
  private queued = 0;
  private readonly waiting = new Fifo<Waiting>(4);
  private waitingBytes = 0;
  /** Slot this session waits for (-1 = none). */
  private heldSlot = -1;
  /** guard.holdTimeout for heldSlot. */
  private holdTimer: NodeJS.Timeout | null = null;
  /** The locked route this client's hold expired on: later requests for it get TRYAGAIN at once. */
  private expiredRoute: SlotRoute | null = null;
  /** Active migrate-on-access holds. */
  private holds = 0;
  /** Congested backends holding this session (backendHold); reading is paused while > 0. */
  private backendHolds = 0;
  /** A request waits until every earlier reply is in (it is about to use a dedicated connection). */
  private idleWait = false;
  private draining = false;
  /** Arguments of the request being dispatched (ClientRequest.clientArgv, SLOWLOG). */
  private currentArgv: Buffer[] | null = null;
  private readonly slowlog: SlowLog | undefined;
  /** Dispatch counter (ClientRequest.epoch). */
  private epoch = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  private pausedForPipeline = false;
  private pausedForDrain = false;
  /** When a subscriber's unread output went over guard.pubsubOutput's soft limit (0 = it is under). */
  private softSince = 0;
  /** Set while a subscriber's backend subscriber connections are not read (throttleSubscriber). */
  private throttleTimer: NodeJS.Timeout | null = null;
  /** Stop reading; close once everything queued has been written. */
  private closing = false;
  /** Our side of the socket is ended (lingering close started). */
  private ended = false;
  private closed = false;
  private readonly maxPipeline: number;
  private readonly resumeAt: number;

  constructor(
    private readonly socket: Socket,
    readonly id: number,
    private readonly env: SessionEnv,
  ) {
    this.facts = env.facts;
    this.slowlog = env.facts.slowlog !== undefined && env.facts.slowlog.slowerThanUs >= 0 ? env.facts.slowlog : undefined;
    this.readReplica = env.config.reads === 'replica-preferred';
    this.maxPipeline = env.config.limits.maxPipeline;
    this.resumeAt = Math.max(1, Math.floor(this.maxPipeline / 2));
    this.decoder = new RequestDecoder(this, env.limits);
    this.startUnauthenticated();
    socket.setNoDelay(true);
    const decoder = this.decoder;
    const push = (chunk: Buffer) => decoder.push(chunk);
    socket.on('data', (chunk: Buffer) => stamped1(push, chunk));
    socket.on('drain', () => {
      this.pausedForDrain = false;
      this.updateReading();
      if (this.throttleTimer !== null) {
        clearTimeout(this.throttleTimer);
        this.throttleTimer = null;
        env.dedicated.pubsub.throttle(this, false);
      }
    });
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
      this.decoder.stop();
      this.closing = true;
      scheduleFlush(this);
    });
    socket.on('close', () => this.onClose());
    if (env.config.limits.idleTimeoutMs > 0) {
      socket.setTimeout(env.config.limits.idleTimeoutMs, () => {
        // Idle = nothing pending; a client waiting for a reply (or a held slot) is not idle, and, like
        // Redis, a subscribed client never is.
        if (this.queued === 0 && this.waiting.length === 0 && !(this.dedicated?.pubsub && this.dedicated.pubsub.total > 0)) {
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
    return this.outBytes + this.socket.writableLength;
  }

  /** Requests accepted and not yet answered (queued + waiting). */
  get pendingRequests(): number {
    return this.queued + this.waiting.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get isHeld(): boolean {
    return this.heldSlot >= 0;
  }

  /** Dispatched requests whose reply is not written yet. */
  get inFlight(): number {
    return this.queued;
  }

  // ---- decoder callbacks

  onRequest(argv: Buffer[], raw: Buffer | undefined): void {
    if (this.heldSlot >= 0 || this.holds > 0 || this.waiting.length > 0 || this.idleWait) {
      const bytes = requestBytes(argv, raw);
      this.waiting.push({ argv, raw, bytes });
      this.waitingBytes += bytes;
      const limit = this.env.config.guard.maxQueryBufferBytes;
      if (limit > 0 && this.waitingBytes > limit) {
        // Held requests count in the query buffer, like Redis's unprocessed input.
        this.onProtocolError(ProtocolErrors.queryBufferLimit);
        return;
      }
    } else {
      const held = this.execute(argv, raw);
      if (!isDispatched(held)) this.holdFor(held, { argv, raw, bytes: 0 });
    }
    if (!this.pausedForPipeline && this.queued + this.waiting.length >= this.maxPipeline) {
      this.pausedForPipeline = true;
      this.updateReading();
    }
  }

  onProtocolError(message: string): void {
    this.env.metrics.cxProtocolErrors++;
    if (message === ProtocolErrors.queryBufferLimit) this.env.metrics.guards.query_buffer++;
    this.env.log.info('session.protocol_error', { id: this.id, client: this.remoteAddress, message });
    this.finalReply(encodeError(`ERR ${message}`));
  }

  // ---- dispatch

  /**
   * Runs one request; returns DISPATCHED, or the slot it must wait for. A bug must not take the process (and
   * every other client) down: an exception becomes this client's error reply.
   */
  private execute(argv: Buffer[], raw: Buffer | undefined): DispatchResult {
    if (this.replySkip === 1) this.replySkip = 2; // CLIENT REPLY SKIP: this command's reply is dropped
    let held: DispatchResult = DISPATCHED;
    const epoch = ++this.epoch;
    this.currentArgv = argv;
    try {
      held = this.dispatch(argv, raw);
    } catch (err) {
      this.env.log.error('session.internal_error', { id: this.id, err, stack: (err as Error).stack });
      const reply = encodeError(`ERR internal error in redslot: ${(err as Error).message}`);
      // Whatever this dispatch enqueued and left unanswered gets the error through its own fail(), which
      // releases its route's in-flight count: an exception never wedges the pipeline or a route's drain.
      if (!this.abortEpoch(epoch, reply)) this.reply(reply, UNKNOWN_COMMAND, performance.now());
    }
    if (this.replySkip === 2 && isDispatched(held)) this.replySkip = 0;
    return held;
  }

  private dispatch(argv: Buffer[], raw: Buffer | undefined): DispatchResult {
    const t0 = now();
    const env = this.env;
    const name = argv[0]!;
    const spec = lookupCommand(name);
    if (spec === undefined) {
      if (equalsIgnoreCase(name, HTTP_POST) || equalsIgnoreCase(name, HTTP_HOST)) {
        // Like Redis: someone is speaking HTTP to the RESP port (browser, SSRF). Close without a reply.
        env.log.warn('session.security_attack', { id: this.id, client: this.remoteAddress });
        this.decoder.stop();
        this.closing = true;
        this.socket.destroy();
        return DISPATCHED;
      }
      if (this.mode !== 0) env.dedicated.flagError(this); // inside MULTI: EXEC will answer EXECABORT
      this.reply(unknownCommandError(argv), UNKNOWN_COMMAND, t0);
      return DISPATCHED;
    }
    this.lastCmdId = spec.id;
    this.lastAt = t0;
    if (!checkArity(spec, argv.length)) {
      if (this.mode !== 0) env.dedicated.flagError(this);
      this.reply(errorReply(ProxyErrors.REDSLOT_ERR_WRONG_ARITY, { name: spec.name }), spec.id, t0);
      return DISPATCHED;
    }
    if (!this.authenticated && env.noAuth[spec.id] !== 1) {
      this.reply(ReplyErrors.noAuth, spec.id, t0);
      return DISPATCHED;
    }
    if (this.acl !== null && env.noAuth[spec.id] !== 1) {
      const denied = aclDenial(this.acl, spec, argv);
      if (denied !== null) {
        if (this.mode !== 0) env.dedicated.flagError(this); // like Redis: a refused command flags MULTI
        this.reply(denied, spec.id, t0);
        return DISPATCHED;
      }
    }
    if (this.mode !== 0) {
      const r = env.dedicated.intercept(this, spec, argv, raw, t0);
      if (!isPass(r)) return r;
    }
    if (spec.route === 'transaction' || spec.route === 'blocking' || spec.route === 'pubsub') {
      return env.dedicated.dispatch(this, spec, argv, raw, t0);
    }
    const local = env.localHandlers[spec.id];
    if (local !== undefined) {
      const r = local(this, argv);
      if (r !== undefined) {
        this.reply(r, spec.id, t0);
        return DISPATCHED;
      }
    }
    let routed = spec;
    if (spec.bySubcommand) {
      // CONFIG GET goes to one master, CONFIG SET to all, MEMORY STATS is refused: route by the subcommand.
      const sub = resolveSubcommand(spec, argv);
      if (sub === undefined) {
        this.reply(unknownSubcommandError(spec, argv[1]!), spec.id, t0);
        return DISPATCHED;
      }
      if (!checkArity(sub, argv.length)) {
        this.reply(errorReply(ProxyErrors.REDSLOT_ERR_WRONG_ARITY, { name: sub.name }), spec.id, t0);
        return DISPATCHED;
      }
      routed = sub;
    }
    if (routed.route === 'refused' || routed.route === 'local') {
      this.reply(this.refusal(routed), spec.id, t0);
      return DISPATCHED;
    }
    return env.router.route(this, routed, argv, raw, t0);
  }

  /** Fails the unanswered requests enqueued by dispatch number `epoch`; false when there were none. */
  private abortEpoch(epoch: number, reply: Buffer): boolean {
    const victims: ClientRequest[] = [];
    for (let r = this.head; r !== null; r = r.next) if (r.epoch === epoch && r.reply === null) victims.push(r);
    for (const r of victims) {
      const fail = (r as Partial<Startable>).fail;
      if (typeof fail === 'function') fail.call(r, reply);
      else this.complete(r, reply);
    }
    return victims.length > 0;
  }

  private refusal(spec: CommandSpec): Buffer {
    // Subcommands share their container's id: only containers' and plain commands' refusals are cached.
    let r = spec.parent === undefined ? this.env.refusals[spec.id] : undefined;
    if (r === undefined) {
      r = errorReply(ProxyErrors.REDSLOT_ERR_COMMAND_REFUSED, { refusal: spec.refusal ?? `command '${spec.name}' is not supported by redslot` });
      if (spec.parent === undefined) this.env.refusals[spec.id] = r;
    }
    return r;
  }

  private holdFor(held: Held, w: Waiting): void {
    if (isWaitIdle(held)) {
      this.requeueFirst(w);
      // Runs again once every earlier reply is in (settle() sees the queue empty).
      if (this.queued === 0) throw new Error('WAIT_IDLE with an empty reply queue');
      this.idleWait = true;
      return;
    }
    const slot = slotToWait(held);
    if (this.expiredRoute !== null) {
      // This client already waited holdTimeout for this slot and it is still locked: answer at once, so a
      // pipeline of N requests for it costs one holdTimeout, not N.
      if (this.env.table.routes[slot] === this.expiredRoute) return this.tryAgain(w);
      this.expiredRoute = null;
    }
    this.requeueFirst(w);
    this.heldSlot = slot;
    this.env.table.wait(slot, this);
    const ms = this.env.config.guard.holdTimeoutMs;
    if (ms > 0) this.holdTimer = setTimeout(() => this.holdExpired(slot), ms);
  }

  /** Puts a request that has to wait back in front of the later ones. */
  private requeueFirst(w: Waiting): void {
    if (w.bytes === 0) w.bytes = requestBytes(w.argv, w.raw);
    this.waiting.unshift(w);
    this.waitingBytes += w.bytes;
  }

  /** guard.holdTimeout passed and the slot is still locked: the held request gets TRYAGAIN, the rest go on. */
  private holdExpired(slot: number): void {
    this.holdTimer = null;
    if (this.closed || this.heldSlot !== slot) return;
    this.env.table.unwait(slot, this);
    this.heldSlot = -1;
    this.expiredRoute = this.env.table.routes[slot]!;
    this.env.log.info('session.hold_timeout', { id: this.id, client: this.remoteAddress, slot, timeoutMs: this.env.config.guard.holdTimeoutMs });
    this.tryAgain(this.shiftWaiting());
    this.drainWaiting();
  }

  /** Answers a held request TRYAGAIN (not run). An EXEC held this way ends its transaction, like EXECABORT. */
  private tryAgain(w: Waiting): void {
    this.env.metrics.guards.hold_timeout++;
    const spec = lookupCommand(w.argv[0]!);
    if (spec !== undefined && spec.name === 'exec') this.env.dedicated.tx.abandon(this);
    this.reply(ReplyErrors.holdTimeout, spec?.id ?? UNKNOWN_COMMAND, now());
  }

  private shiftWaiting(): Waiting {
    const w = this.waiting.shift()!;
    this.waitingBytes -= w.bytes;
    return w;
  }

  private clearWaiting(): void {
    this.waiting.drain();
    this.waitingBytes = 0;
  }

  /** Bytes of requests received and not dispatched yet: held ones and the one being decoded. */
  get queryBytes(): number {
    return this.waitingBytes + this.decoder.partialBytes;
  }

  /** Dispatches waiting requests in order until one has to wait again. */
  private drainWaiting(): void {
    if (this.draining) return; // re-entered from a synchronous completion: the outer loop continues
    this.draining = true;
    try {
      while (this.waiting.length > 0 && this.heldSlot < 0 && this.holds === 0 && !this.idleWait) {
        const w = this.shiftWaiting();
        const held = this.execute(w.argv, w.raw);
        if (!isDispatched(held)) this.holdFor(held, w);
      }
    } finally {
      this.draining = false;
    }
    this.updateReading();
  }

  // ---- SlotWaiter

  onSlotReady(): void {
    this.heldSlot = -1;
    if (this.holdTimer !== null) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    if (!this.closed) this.drainWaiting();
  }

  // ---- RoutedSession

  enqueue(req: ClientRequest): void {
    req.epoch = this.epoch;
    req.clientArgv = this.currentArgv;
    if ((this.replyOff || this.replySkip === 2) && !req.pushes) (this.muted ??= new Set()).add(req);
    if (this.tail === null) this.head = req;
    else this.tail.next = req;
    this.tail = req;
    this.queued++;
  }

  complete(req: ClientRequest, reply: Buffer): void {
    this.env.metrics.record(req.cmdId, req.t0, reply);
    if (this.slowlog !== undefined && req.t0 !== 0) this.logIfSlow(req.clientArgv, req.t0, backendOf(req));
    this.settle(req, reply);
  }

  /** SLOWLOG: the command took at least slowlog.slowerThan µs end to end. */
  private logIfSlow(argv: Buffer[] | null, t0: number, backend: string): void {
    const us = (now() - t0) * 1000;
    if (argv === null || !this.slowlog!.wants(us)) return;
    const name = this.name === null ? `backend=${backend}` : `${this.name.toString('latin1')} backend=${backend}`;
    this.slowlog!.add(argv, us, this.remoteAddress, name);
  }

  /** Sets a reply and writes out every reply now at the head of the queue. */
  private settle(req: ClientRequest, reply: Buffer): void {
    req.reply = reply;
    if (req !== this.head) return;
    let r: ClientRequest | null = req;
    let n = 0;
    const closed = this.closed; // a gone client's replies are dropped, not buffered
    while (r !== null && r.reply !== null) {
      if (!closed && !(this.muted !== null && this.muted.delete(r))) {
        this.out.push(r.reply);
        this.outBytes += r.reply.length;
      }
      r.reply = null;
      const next: ClientRequest | null = r.next;
      r.next = null;
      r = next;
      n++;
    }
    this.head = r;
    this.queued -= n;
    if (r === null) {
      this.tail = null;
      if (this.idleWait) {
        this.idleWait = false;
        if (!this.closed && this.holds === 0) queueMicrotask(() => this.drainWaiting());
      }
    }
    if (!this.closed) scheduleFlush(this);
    if (this.pausedForPipeline && this.queued + this.waiting.length <= this.resumeAt) {
      this.pausedForPipeline = false;
      this.updateReading();
    }
  }

  reply(reply: Buffer, cmdId: number, t0: number): void {
    if (this.head === null) {
      this.env.metrics.record(cmdId, t0, reply);
      if (this.slowlog !== undefined) this.logIfSlow(this.currentArgv, t0, 'proxy');
      if (this.replyOff || this.replySkip === 2) return; // CLIENT REPLY OFF / SKIP
      this.out.push(reply);
      this.outBytes += reply.length;
      if (!this.closed) scheduleFlush(this);
      return;
    }
    const r = new ClientRequest(this, cmdId, t0);
    this.enqueue(r);
    this.complete(r, reply);
  }

  hold(): void {
    this.holds++;
  }

  /**
   * A backend this session sent to is congested (proxy/backend/connection.ts): hold dispatch and stop
   * reading as well, so what the client keeps sending waits in the kernel, not in `waiting` (memory stays
   * bounded by about one chunk per client). Paired with backendRelease() when that backend drains.
   */
  backendHold(): void {
    this.hold();
    if (this.backendHolds++ === 0) this.updateReading();
  }

  backendRelease(): void {
    this.backendHolds--;
    this.resume();
    this.updateReading();
  }

  /** A Pub/Sub message: after every reply queued so far, not counted as a command. */
  push(frame: Buffer): void {
    if (this.closed) return;
    const r = new ClientRequest(this, UNKNOWN_COMMAND, 0);
    r.pushes = true;
    this.enqueue(r);
    this.settle(r, frame);
  }

  resume(): void {
    if (--this.holds === 0 && !this.closed) this.drainWaiting();
  }

  // ---- LocalContext

  quit(): void {
    this.decoder.stop();
    this.clearWaiting(); // Redis runs nothing after QUIT
    this.closing = true;
  }

  authenticate(user: AclUser): void {
    this.authenticated = true;
    this.user = user.name;
    this.acl = user.unrestricted ? null : user;
    this.decoder.unauthenticated = false;
    this.env.facts.access.guard.forget(this);
  }

  /** New connection or RESET: logged in as the default user when it is open, else waiting for AUTH. */
  private startUnauthenticated(): void {
    const access = this.env.facts.access;
    this.authenticated = false;
    this.acl = null;
    this.user = 'default';
    if (access.users.openByDefault) this.authenticate(access.users.defaultUser);
    else {
      this.decoder.unauthenticated = true;
      access.guard.unauthenticated(this);
    }
  }

  /** CLIENT LIST: protocol, subscriptions, queued transaction, flags x (MULTI), P (Pub/Sub), b (blocked). */
  clientListExtras(): ClientListExtras {
    const d = this.dedicated;
    const x: ClientListExtras = { resp: this.proto };
    if (d === null) return x;
    let flags = '';
    if (d.tx !== null && d.tx.multi) {
      x.multi = d.tx.count;
      flags += 'x';
    }
    if (d.pubsub !== null && d.pubsub.total > 0) {
      x.sub = d.pubsub.channels.size;
      x.psub = d.pubsub.patterns.size;
      x.ssub = d.pubsub.shards.size;
      flags += 'P';
    }
    if (d.blocked !== null) flags += 'b';
    if (flags !== '') x.flags = flags;
    return x;
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
    this.name = null;
    this.replyOff = false; // like Redis: RESET turns CLIENT REPLY back ON
    this.replySkip = 0;
    this.readReplica = this.env.config.reads === 'replica-preferred';
    this.startUnauthenticated();
  }

  // ---- output

  flush(): void {
    if (this.closed) return;
    if (this.out.length > 0) {
      const list = this.out;
      const total = this.outBytes;
      this.out = [];
      this.outBytes = 0;
      if (!writeBuffers(this.socket, list, total) && !this.pausedForDrain) {
        this.pausedForDrain = true;
        this.updateReading();
        // A subscriber that does not keep up: stop reading its backend subscriber sockets, so messages wait
        // in Redis (under Redis's own pubsub output limit), not in this process.
        if (this.isSubscriber) this.throttleSubscriber();
      }
      if (this.overOutputLimit()) {
        this.socket.destroy();
        return;
      }
    }
    if (this.closing && this.head === null && this.waiting.length === 0 && !this.ended) {
      this.ended = true;
      lingeringClose(this.socket);
    }
  }

  /**
   * Backpressure for a subscriber that does not keep up: its backend subscriber connections stop being read
   * until its socket drains. Not reading for the soft limit's seconds counts as being over the soft limit
   * (the messages wait in Redis, not here): the client is closed then, as Redis would close it.
   */
  private throttleSubscriber(): void {
    if (this.throttleTimer !== null) return;
    this.env.dedicated.pubsub.throttle(this, true);
    const { softBytes, softSeconds } = this.env.config.guard.pubsubOutput;
    if (softBytes <= 0) return;
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = null;
      if (this.closed || !this.pausedForDrain) return;
      this.env.log.warn('session.output_limit', { id: this.id, client: this.remoteAddress, class: 'pubsub', notReadingSeconds: softSeconds });
      this.env.metrics.guards.output_pubsub++;
      this.env.metrics.cxOutputLimit++;
      this.socket.destroy();
    }, softSeconds * 1000);
  }

  private get isSubscriber(): boolean {
    const ps = this.dedicated?.pubsub;
    return ps !== null && ps !== undefined && ps.total > 0;
  }

  /**
   * Redis's client-output-buffer-limit by class: a subscriber over guard.pubsubOutput's hard limit, or over
   * its soft limit for its seconds; any other client over limits.maxClientOutput (Redis's normal class).
   */
  private overOutputLimit(): boolean {
    const buffered = this.socket.writableLength;
    if (this.isSubscriber) {
      const { hardBytes, softBytes, softSeconds } = this.env.config.guard.pubsubOutput;
      let over = hardBytes > 0 && buffered > hardBytes;
      if (!over && softBytes > 0 && buffered > softBytes) {
        const now = Date.now();
        if (this.softSince === 0) this.softSince = now;
        else over = now - this.softSince >= softSeconds * 1000;
      } else if (buffered <= softBytes) this.softSince = 0;
      if (!over) return false;
      this.env.log.warn('session.output_limit', { id: this.id, client: this.remoteAddress, class: 'pubsub', buffered, hardBytes, softBytes, softSeconds });
      this.env.metrics.guards.output_pubsub++;
      this.env.metrics.cxOutputLimit++;
      return true;
    }
    const limit = this.env.config.limits.maxClientOutputBytes;
    if (limit <= 0 || buffered <= limit) return false;
    // A client that sends but does not read: like Redis's client-output-buffer-limit, drop it.
    this.env.log.warn('session.output_limit', { id: this.id, client: this.remoteAddress, class: 'normal', buffered, limit });
    this.env.metrics.cxOutputLimit++;
    return true;
  }

  /** Sends `reply` after everything already queued, then closes (protocol error, QUIT-like endings). */
  private finalReply(reply: Buffer): void {
    this.decoder.stop();
    this.clearWaiting(); // nothing after a protocol error is run
    this.closing = true;
    const r = new ClientRequest(this, UNKNOWN_COMMAND, 0);
    this.enqueue(r);
    this.settle(r, reply);
    scheduleFlush(this);
  }

  private updateReading(): void {
    if (this.closed) return;
    const pause = this.pausedForPipeline || this.pausedForDrain || this.backendHolds > 0;
    if (pause && !this.socket.isPaused()) this.socket.pause();
    else if (!pause && this.socket.isPaused()) this.socket.resume();
  }

  /** Server shutdown: stop reading new requests; close once in-flight ones are answered and written. */
  drainAndClose(): void {
    this.decoder.stop();
    this.clearWaiting();
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
    if (this.heldSlot >= 0) this.env.table.unwait(this.heldSlot, this);
    if (this.holdTimer !== null) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    if (this.throttleTimer !== null) clearTimeout(this.throttleTimer);
    this.throttleTimer = null;
    this.clearWaiting();
    this.out = [];
    this.outBytes = 0;
    if (this.dedicated !== null) this.env.dedicated.sessionClosed(this);
    // Requests in flight still get their backend replies; complete() on a closed session just drops them.
    this.env.onSessionClosed(this);
  }
}

/** Where a request went, for the slow log: its route's server, else the proxy or every group. */
function backendOf(req: ClientRequest): string {
  const route = (req as { route?: SlotRoute | null }).route;
  if (route !== undefined && route !== null && route.server !== null) return route.server.addr;
  return req instanceof ClientRequest && req.constructor === ClientRequest ? 'proxy' : 'all';
}

/** Redis 7: `unknown subcommand 'x'. Try CONFIG HELP.` (the subcommand cut at 128 bytes). */
function unknownSubcommandError(spec: CommandSpec, sub: Buffer): Buffer {
  return errorReply(ProxyErrors.REDSLOT_ERR_UNKNOWN_SUBCOMMAND, {
    sub: sub.toString('latin1').replace(/[\r\n]/g, ' ').slice(0, 128),
    name: spec.name.toUpperCase(),
  });
}

/** Redis 7: `unknown command 'x', with args beginning with: 'a' 'b' ` (args until 128 bytes, NUL-terminated like C). */
export function unknownCommandError(argv: Buffer[]): Buffer {
  const cstr = (b: Buffer, max: number): Buffer => {
    const nul = b.indexOf(0);
    const end = Math.min(nul < 0 ? b.length : nul, max);
    return b.subarray(0, end);
  };
  const parts: Buffer[] = [Buffer.from("ERR unknown command '"), cstr(argv[0]!, 128), Buffer.from("', with args beginning with: ")];
  let argsLen = 0;
  for (let i = 1; i < argv.length && argsLen < 128; i++) {
    const a = cstr(argv[i]!, 128 - argsLen);
    const piece = Buffer.concat([Buffer.from("'"), a, Buffer.from("' ")]);
    parts.push(piece);
    argsLen += piece.length;
  }
  return encodeErrorBytes(Buffer.concat(parts));
}
