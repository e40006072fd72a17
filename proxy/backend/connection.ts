/**
 * One pipelined TCP connection to one Redis server and database, shared by many client sessions.
 *
 * Invariants:
 * - `waiting` holds, in write order, every request whose bytes were handed to the socket (or to `batch`, the
 *   batch of this event-loop turn). Replies arrive in the same order; each reply completes `waiting`'s head.
 * - Nothing of a client reaches the socket before the handshake (AUTH, SELECT) has succeeded: if SELECT
 *   failed and we had pipelined anyway, commands would run in database 0.
 * - When the connection breaks, exactly the requests in `waiting` (and `queued`) fail, with
 *   `-ERR backend <addr> connection lost`; nobody else's requests are touched.
 * - After a failed dial the connection fails fast (`-ERR backend <addr> unavailable`) and redials in the
 *   background with exponential backoff, so clients never wait for a dial timeout per request.
 */
import { HandshakeReply, handshakeSteps } from './handshake.js';
import type net from 'node:net';
import { encodeCommand, encodeSelectedInto } from '../../shared/resp/encoder.js';
import { argvOfSpans, type RequestSpans } from '../../shared/resp/request-spans.js';
import { ReplyFramer, type FrameHandler } from '../../shared/resp/reply-framer.js';
import { errorReply, ProxyErrors } from '../errors.js';
import { stamped1 } from '../util/clock.js';
import { Fifo } from '../util/fifo.js';
import { explainHandshakeFailure, VersionProbe } from './server-version.js';
import { scheduleFlush, type Flushable } from '../util/flush.js';
import type { BusyWatch } from './busy-watch.js';
import { StallWatch } from './stall-watch.js';
import { DialQueue } from './dial-queue.js';
import { HeldSessions } from './held-sessions.js';
import { lendFrame } from './read-slab.js';
import { dialBackend, type BackendSocketEvents } from './backend-socket.js';
import { lendSlab, type Slab } from '../util/lent-slabs.js';
import { MAX_BACKEND_BUFFERED_BYTES, type BackendOptions, type BackendRequest, type ConnectionOwner, type Holdable } from './connection-types.js';

export { MAX_BACKEND_BUFFERED_BYTES, type BackendOptions, type BackendRequest, type ConnectionOwner, type Holdable } from './connection-types.js';

import { OutputBatch } from './output-batch.js';
import type { DirectWriter } from '../util/direct-write.js';

const enum State {
  Idle,
  Connecting,
  Handshake,
  Ready,
  /** Waiting for the backoff timer after a failure. */
  Down,
  Closed,
}

const INFO_SERVER = encodeCommand(['INFO', 'server']);
/** A reply nobody waits for (CLIENT SETNAME of rename()). */
const IGNORED: BackendRequest = { onReply: () => undefined };

/** Queued output past which a connection writes at once instead of at the end of the turn. */
const FLUSH_AT = 256 * 1024;

export class BackendConnection implements FrameHandler, Flushable, BackendSocketEvents {
  flushQueued = false;
  private state: State = State.Idle;
  private socket: net.Socket | null = null;
  /** Writes the socket's batches straight through its handle when nothing is buffered (direct-write.ts). */
  private writer: DirectWriter | null = null;
  private readonly framer: ReplyFramer;
  private readonly waiting = new Fifo<BackendRequest>(64);
  /** Requests (and their bytes, same order) accepted while connecting, written once the handshake is done. */
  private readonly queued = new DialQueue();
  /** What this turn writes: short pieces packed into a slab, long ones referenced (output-batch.ts). */
  private readonly batch = new OutputBatch();
  private failFast = false;
  private attempts = 0;
  private dialTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private closeResolve: (() => void) | null = null;
  /** Sessions held while the socket buffer is over MAX_BACKEND_BUFFERED_BYTES (held-sessions.ts). */
  private readonly held = new HeldSessions();
  /** The reply watchdog, and whether a script runs on this connection (stall-watch.ts). */
  private readonly stall: StallWatch;
  private readonly busy: BusyWatch;
  /** Closed by fenceWrite: redial on the next send, not at once (nothing may be written while fenced). */
  private fencedClose = false;
  /** Requests at the tail of `waiting` whose bytes are not handed to the socket yet (dropped by fenceWrite). */
  private unsent = 0;
  private fencedUnsent = 0;
  readonly unavailableReply: Buffer;
  readonly lostReply: Buffer;

  constructor(
    private readonly owner: ConnectionOwner,
    readonly db: number,
    private readonly opts: BackendOptions,
    /** RESP version spoken on this connection (HELLO 3 at dial): replies are forwarded as they come. */
    readonly proto: 2 | 3 = 2,
  ) {
    this.stall = new StallWatch(owner, opts, db, () => this.waiting.length);
    this.busy = this.stall.busy;
    this.framer = new ReplyFramer(this, opts.streamReplyBytes ?? 0);
    this.unavailableReply = errorReply(ProxyErrors.REDSLOT_ERR_BACKEND_UNAVAILABLE, { addr: owner.addr });
    this.lostReply = errorReply(ProxyErrors.REDSLOT_ERR_BACKEND_CONNECTION_LOST, { addr: owner.addr });
  }

  get ready(): boolean {
    return this.state === State.Ready;
  }

  /** The socket buffer is over MAX_BACKEND_BUFFERED_BYTES: senders should hold (holdUntilDrained). */
  get congested(): boolean {
    return this.held.congested;
  }

  /** Holds `s` (it dispatches nothing more) until this connection's socket drains or closes. */
  holdUntilDrained(s: Holdable): void {
    this.held.hold(s);
  }

  /** Requests sent and not yet answered (plus those queued during connect). */
  get pending(): number {
    return this.waiting.length + this.queued.length;
  }

  /** Sends one request whose bytes are one buffer. The reply (or a proxy error) goes to `req.onReply`. */
  send(req: BackendRequest, payload: Buffer): void {
    if (this.busy.reply !== null) return this.answerBusy(req);
    if (this.state === State.Ready) {
      this.waiting.push(req);
      this.unsent++;
      this.batch.push(payload);
      this.flushSoon();
      return;
    }
    if (this.rejects()) {
      req.onReply(this.unavailableReply);
      return;
    }
    this.queued.push(req, payload, payload.length);
    this.held.over(this.queued.bytes); // what waits for the handshake counts against the same bound
    if (this.state === State.Idle) this.dial();
  }

  /** Sends one request made of several buffers (big arguments are not copied). */
  sendParts(req: BackendRequest, parts: Buffer[], bytes: number): void {
    if (parts.length === 1) return this.send(req, parts[0]!);
    if (this.busy.reply !== null) return this.answerBusy(req);
    if (this.state === State.Ready) {
      this.waiting.push(req);
      this.unsent++;
      this.batch.pushParts(parts, bytes);
      this.flushSoon();
      return;
    }
    if (this.rejects()) {
      req.onReply(this.unavailableReply);
      return;
    }
    this.queued.push(req, parts, bytes);
    this.held.over(this.queued.bytes);
    if (this.state === State.Idle) this.dial();
  }

  /**
   * Sends `argv[0]` followed, for each index k of `keys`, by the `stride` arguments from argv[k] (a fan-out
   * part, see encodeSelectedInto): same bytes as sendParts(encodeSelectedInto(...)), encoded into the batch's
   * slab, big arguments referenced where they lie (output-batch.ts: they must stay unchanged until written);
   * with `raw` (the client's request bytes, argv views of it), runs of adjacent keys as ranges of it.
   */
  sendSelected(req: BackendRequest, argv: readonly Buffer[], keys: readonly number[], stride: number, raw?: Buffer): void {
    if (this.busy.reply !== null) return this.answerBusy(req);
    if (this.state !== State.Ready) {
      const out: Buffer[] = [];
      const bytes = encodeSelectedInto(argv, keys, stride, out);
      return this.sendParts(req, out, bytes);
    }
    this.batch.pushSelected(argv, keys, stride, raw);
    this.waiting.push(req);
    this.unsent++;
    this.flushSoon();
  }

  /**
   * sendSelected for a request given as its raw bytes and argument offsets (`spans` read now only): the part's
   * runs of adjacent keys and their arguments are copied from `raw` as they are (OutputBatch.pushSpans).
   */
  sendSpans(req: BackendRequest, raw: Buffer, spans: RequestSpans, keys: readonly number[], stride: number): void {
    if (this.state !== State.Ready || this.busy.reply !== null) return this.sendSelected(req, argvOfSpans(raw, spans), keys, stride);
    this.batch.pushSpans(raw, spans, keys, stride);
    this.waiting.push(req);
    this.unsent++;
    this.flushSoon();
  }

  /** Redis's BUSY reply, as another connection to the server would get it right now. */
  private answerBusy(req: BackendRequest): void {
    this.owner.countBusy?.();
    req.onReply(this.busy.reply!);
  }

  /** Output is written at the end of this turn, or at once past FLUSH_AT bytes (bounds what one turn buffers). */
  private flushSoon(): void {
    if (this.batch.bytes >= FLUSH_AT) this.flush();
    else scheduleFlush(this);
  }

  /**
   * CLIENT SETNAME on this connection, in order with what was sent before it (a new registration id after a
   * lost lease: the dashboard kills connections named after ids no longer registered). Redis renames the
   * connection only after it ran every byte sent before, so the rename never hides a stale write
   * (dashboard/topom/stale-connections.ts). A connection not dialled yet takes the new name at its handshake.
   */
  rename(name: string): void {
    if (this.state === State.Ready || this.state === State.Handshake || this.state === State.Connecting) this.send(IGNORED, encodeCommand(['CLIENT', 'SETNAME', name]));
  }

  /** Dials now if never dialled (warm-up); no-op otherwise. */
  connect(): void {
    if (this.state === State.Idle) this.dial();
  }

  private rejects(): boolean {
    return this.closing || this.state === State.Closed || this.state === State.Down || this.failFast;
  }

  flush(): void {
    if (this.batch.empty) return;
    if (this.socket === null || this.state !== State.Ready) return this.batch.clear(); // failed meanwhile: requests already failed
    if (this.opts.fence?.passed()) return this.fenceWrite();
    const writer = this.writer!;
    this.batch.writeTo(writer);
    this.unsent = 0;
    if (this.held.over(writer.writableLength)) {
      this.owner.log.debug('backend.congested', { backend: this.owner.addr, db: this.db, buffered: writer.writableLength });
    }
  }

  /**
   * Past the serve deadline nothing more goes out (write-fence.ts): the bytes are dropped and the connection
   * destroyed, so everything pending on it fails (connection lost) instead of landing after the dashboard moved on.
   */
  private fenceWrite(): void {
    this.owner.log.warn('backend.write_fenced', { backend: this.owner.addr, db: this.db, pending: this.waiting.length, buffers: this.batch.slices });
    this.batch.clear();
    this.fencedClose = true;
    this.fencedUnsent = this.unsent;
    this.socket?.destroy();
  }

  /**
   * Bytes from the backend: replies go to their requests, under the request clock of this chunk. `slab`: the
   * read slab `chunk` lies in (null: a buffer of its own, as 'data' events give), so that reply views are lent
   * with the slab in hand (no `view.buffer` lookup, router/lending.ts).
   */
  received(socket: net.Socket, chunk: Buffer, slab: Slab | null): void {
    if (this.socket !== socket) return; // a socket this connection replaced
    this.chunkSlab = slab;
    try {
      stamped1(this.pushFrames, chunk);
    } catch (err) {
      // A bug in a reply handler: drop this connection (its requests fail), keep the process serving.
      this.owner.log.error('backend.internal_error', { backend: this.owner.addr, db: this.db, err, stack: (err as Error).stack });
      this.socket?.destroy();
    }
  }

  private readonly pushFrames = (chunk: Buffer): void => this.framer.push(chunk);
  /** The read slab of the chunk being framed (receive), null when it is no slab's. */
  private chunkSlab: Slab | null = null;

  // ---- FrameHandler

  onFrame(frame: Buffer, copied: boolean): void {
    const req = this.waiting.shift();
    if (req === undefined) {
      this.owner.log.warn('backend.unexpected_reply', { backend: this.owner.addr, db: this.db, reply: frame.subarray(0, 64).toString('latin1') });
      this.socket?.destroy();
      return;
    }
    this.stall.progress();
    // Lent, unless a copy of its own: its holder gives it back once done (read-slab.ts), else its slab is never rewritten.
    const slab = copied ? null : this.chunkSlab;
    if (slab !== null) lendSlab(slab);
    req.onReply(frame, slab);
    if (this.closing && this.waiting.length === 0) this.finishClose();
  }

  /** Big replies go on in parts when the request they answer takes them now (its client waits for nothing before it). */
  streamReply(): boolean {
    const req = this.waiting.peek();
    return req !== undefined && req.takesParts !== undefined && req.takesParts();
  }

  /** A part of a streamed reply (ReplyFramer.streamAt): lent like a whole frame, the last one completes the request. */
  onFramePart(part: Buffer, last: boolean): void {
    const req = last ? this.waiting.shift() : this.waiting.peek();
    this.stall.progress();
    if (req === undefined || req.onReplyPart === undefined) {
      // Only a request that said it takes parts gets them: anything else is a bug, not a backend's fault.
      this.owner.log.error('backend.unexpected_reply_part', { backend: this.owner.addr, db: this.db });
      this.socket?.destroy();
      return;
    }
    lendFrame(part);
    req.onReplyPart(part, last);
    if (last && this.closing && this.waiting.length === 0) this.finishClose();
  }

  onFramingError(message: string): void {
    this.owner.log.error('backend.bad_reply', { backend: this.owner.addr, db: this.db, message });
    this.socket?.destroy();
  }

  // ---- lifecycle

  private dial(): void {
    this.state = State.Connecting;
    this.framer.reset();
    const { socket, writer } = dialBackend(this.owner, this.opts, this.framer, this);
    this.socket = socket;
    this.writer = writer;
    // A batch left pending in libuv is written (the socket's 'drain' says so for what went through socket.write).
    writer.drained = () => {
      if (this.socket === socket && socket.writableLength <= MAX_BACKEND_BUFFERED_BYTES) this.held.release();
    };
    this.dialTimer = setTimeout(() => {
      this.owner.log.warn('backend.dial_timeout', { backend: this.owner.addr, db: this.db, timeoutMs: this.opts.dialTimeoutMs });
      socket.destroy();
    }, this.opts.dialTimeoutMs);
  }

  // ---- BackendSocketEvents (backend-socket.ts): events of a socket this connection replaced are ignored

  drained(socket: net.Socket): void {
    if (this.socket === socket) this.held.release();
  }

  errored(_socket: net.Socket, err: Error): void {
    if (this.state === State.Ready) this.owner.log.warn('backend.error', { backend: this.owner.addr, db: this.db, err });
    else this.owner.log.debug('backend.dial_error', { backend: this.owner.addr, db: this.db, err });
  }

  connected(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.state = State.Handshake;
    const { user, password } = this.opts;
    // RESP3 clients' commands go on proto 3 connections: replies come back in RESP3, still forwarded byte for byte.
    const steps = handshakeSteps({ proto: this.proto, user, password, db: this.db, name: this.opts.fence?.name('proxy') ?? 'redslot-proxy' });
    steps.forEach((s, i) => this.waiting.push(new HandshakeReply(this, s, i === steps.length - 1)));
    socket.write(Buffer.concat(steps.map((s) => s.command)));
  }

  /** Called by the last handshake step. */
  handshakeDone(): void {
    if (this.state !== State.Handshake || this.socket === null) return;
    if (this.dialTimer) clearTimeout(this.dialTimer);
    this.dialTimer = null;
    this.state = State.Ready;
    if (this.failFast || this.attempts > 0) this.owner.log.info('backend.up', { backend: this.owner.addr, db: this.db });
    this.failFast = false;
    this.attempts = 0;
    this.owner.onConnectionHealth(true);
    const { reqs, bufs } = this.queued.take();
    for (const r of reqs) this.waiting.push(r);
    this.unsent += reqs.length;
    for (const b of bufs) this.batch.push(b);
    this.flush();
    // Held while connecting: go on once the socket took it (else its 'drain' releases them).
    if (this.held.congested && this.writer!.writableLength <= MAX_BACKEND_BUFFERED_BYTES) this.held.release();
    if (this.closing && this.waiting.length === 0) this.finishClose();
    // Once per server: its Redis version (what old Codis-era servers cannot do: server-version.ts).
    else if (this.owner.version === null) this.send(new VersionProbe(this.owner), INFO_SERVER);
  }

  explain(what: string, error: string): string {
    return explainHandshakeFailure(what, error, this.owner, this.opts.user !== '');
  }

  /** Called by a handshake step whose reply was an error (wrong password, bad db): the connection is useless. */
  handshakeFailed(reason: string): void {
    this.owner.log.error('backend.handshake_failed', { backend: this.owner.addr, db: this.db, reason });
    // Replies to the rest of the handshake may still be in this chunk: never let them make us Ready.
    this.state = State.Down;
    this.socket?.destroy();
  }

  closed(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    if (this.dialTimer) clearTimeout(this.dialTimer);
    this.dialTimer = null;
    const wasReady = this.state === State.Ready;
    const reply = wasReady ? this.lostReply : this.unavailableReply;
    this.unsent = 0;
    this.batch.clear();
    this.busy.clear();
    this.held.release(); // their requests fail below; the sessions go on
    // Fail exactly what was pending on this connection, oldest first.
    const failed = this.waiting.drain();
    const queued = this.queued.take().reqs;
    if (this.closing) {
      this.state = State.Closed;
      failAll(failed, queued, reply);
      this.finishClose();
      return;
    }
    if (wasReady && this.fencedClose) {
      this.fencedClose = false;
      this.state = State.Idle;
      // Those never sent get the fence refusal (never executed); those sent before may have run.
      const sentUpTo = failed.length - this.fencedUnsent;
      for (let i = 0; i < failed.length; i++) {
        const r = failed[i]!;
        if (!(r instanceof HandshakeReply)) r.onReply(i >= sentUpTo ? this.opts.fence!.refusal : reply);
      }
      for (const r of queued) r.onReply(reply);
      return;
    }
    if (wasReady) {
      this.owner.log.warn('backend.connection_lost', { backend: this.owner.addr, db: this.db, failed: failed.length });
      // Redial at once: a dropped connection to a live server should not cost clients any errors.
      this.state = State.Idle;
      failAll(failed, queued, reply);
      if (this.state === State.Idle) this.dial();
      return;
    }
    // Dial or handshake failed: fail fast from now on and retry with backoff.
    this.failFast = true;
    this.attempts++;
    this.state = State.Down;
    if (this.attempts === 1) this.owner.log.warn('backend.down', { backend: this.owner.addr, db: this.db });
    this.owner.onConnectionHealth(false);
    failAll(failed, queued, reply);
    const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** Math.min(this.attempts - 1, 20));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state === State.Down && !this.closing) this.dial();
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * Watchdog, called periodically by the pool: a connection with requests pending and no reply for
   * replyTimeoutMs is reset (its pending requests fail as "connection lost").
   */
  checkStall(now: number): void {
    if (!this.stall.check(now, this.state === State.Ready ? this.waiting.length : 0)) return;
    this.owner.log.warn('backend.reply_timeout', { backend: this.owner.addr, db: this.db, pending: this.waiting.length, timeoutMs: this.opts.replyTimeoutMs });
    this.socket?.destroy();
  }

  /**
   * Fails every request pending on this connection now (as "connection lost") and redials: used when the
   * dashboard declared this server down and replaces it (a failover), so that a stalled server's unanswered
   * requests do not hold the barrier until replyTimeout.
   */
  abandon(): void {
    if (this.state === State.Ready) this.socket?.destroy();
  }

  /**
   * Closes the connection. Graceful: new requests are refused, pending ones are answered first. Forced:
   * pending requests fail now.
   */
  close(force = false): Promise<void> {
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    return new Promise<void>((resolve) => {
      this.closeResolve = resolve;
      if (this.socket === null || force) {
        if (this.socket) this.socket.destroy();
        else {
          this.state = State.Closed;
          this.finishClose();
        }
        return;
      }
      if (this.waiting.length === 0 && this.queued.length === 0) this.finishClose();
    });
  }

  private finishClose(): void {
    this.state = State.Closed;
    if (this.socket) {
      const s = this.socket;
      this.socket = null;
      s.end();
      s.destroySoon();
    }
    const r = this.closeResolve;
    this.closeResolve = null;
    r?.();
  }
}

/** Fails the requests pending on a broken connection (`failed`: those in `waiting`, `queued`: those never sent) with `reply`. */
function failAll(failed: readonly BackendRequest[], queued: readonly BackendRequest[], reply: Buffer): void {
  for (const r of failed) if (!(r instanceof HandshakeReply)) r.onReply(reply);
  for (const r of queued) r.onReply(reply);
}
