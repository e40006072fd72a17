/**
 * One pipelined TCP connection to one Redis server and database, shared by many client sessions.
 *
 * Invariants:
 * - `waiting` holds, in write order, every request whose bytes were handed to the socket (or to `out`, the
 *   batch of this event-loop turn). Replies arrive in the same order; each reply completes `waiting`'s head.
 * - Nothing of a client reaches the socket before the handshake (AUTH, SELECT) has succeeded: if SELECT
 *   failed and we had pipelined anyway, commands would run in database 0.
 * - When the connection breaks, exactly the requests in `waiting` (and `queued`) fail, with
 *   `-ERR backend <addr> connection lost`; nobody else's requests are touched.
 * - After a failed dial the connection fails fast (`-ERR backend <addr> unavailable`) and redials in the
 *   background with exponential backoff, so clients never wait for a dial timeout per request.
 */
import { handshakeSteps, type HandshakeStep } from './handshake.js';
import type net from 'node:net';
import type tls from 'node:tls';
import { dial } from '../../shared/tls/dial.js';
import type { Logger } from '../../shared/log.js';
import { encodeCommand, encodeSelectedInto, selectedSize, writeSelected } from '../../shared/resp/encoder.js';
import { ReplyFramer, type FrameHandler } from '../../shared/resp/reply-framer.js';
import { errorText, isError, startsWith } from '../../shared/resp/reply-reader.js';
import { errorReply, ProxyErrors } from '../errors.js';
import { stamped1 } from '../util/clock.js';
import { Fifo } from '../util/fifo.js';
import { explainHandshakeFailure, VersionProbe, type VersionHolder } from './server-version.js';
import { scheduleFlush, writeBuffers, type Flushable } from '../util/flush.js';
import { sideCommand } from './side-command.js';
import type { WriteFence } from './write-fence.js';

/** What waits for a backend reply. Implemented by request objects: no per-request closures. */
export interface BackendRequest {
  /** The complete reply frame (a view; copy it to keep it past the reply queue), or a proxy-made error. */
  onReply(reply: Buffer): void;
}

/**
 * Backpressure toward a backend: once this many bytes sit in a connection's socket buffer (written, not yet
 * taken by the kernel: the backend or the network is slower than the clients) or wait for its handshake,
 * every session that sends to it holds its next requests and stops reading (backendHold) until the socket
 * drains, so the proxy's memory stays bounded however fast clients send. Big enough that normal pipelined
 * load never reaches it.
 */
export const MAX_BACKEND_BUFFERED_BYTES = 4 * 1024 * 1024;

/** A sender that can stop dispatching and reading until released (a client session). */
export interface Holdable {
  backendHold(): void;
  backendRelease(): void;
}

export interface BackendOptions {
  dialTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  replyTimeoutMs: number;
  keepAliveMs: number;
  user: string;
  password: string;
  /** TLS toward the servers (backend.tls, files already read); null = plain TCP. */
  tls?: tls.ConnectionOptions | null;
  /** No client byte is written past the serve deadline; connection names carry the proxy id (write-fence.ts). */
  fence?: WriteFence;
}

export interface ConnectionOwner extends VersionHolder {
  readonly addr: string;
  readonly host: string;
  readonly port: number;
  readonly log: Logger;
  /** Called when the connection becomes usable (true) or a dial/handshake fails (false). */
  onConnectionHealth(up: boolean): void;
  /** A request was answered BUSY at once (the server runs a script on this connection). */
  countBusy?(): void;
}

/**
 * A connection without a reply for this long is probed with a PING on a side connection: `-BUSY` means a
 * script runs on it (Redis reads nothing more from the connection running it): new requests then get that
 * BUSY reply at once instead of queueing behind the script, and the reply-timeout reset is held off (the
 * server is alive; resetting would fail every request queued behind the script and kill nothing).
 */
export const BUSY_PROBE_AFTER_MS = 1000;
const BUSY = Buffer.from('-BUSY');
const NO_ANSWER = Buffer.alloc(0);

const enum State {
  Idle,
  Connecting,
  Handshake,
  Ready,
  /** Waiting for the backoff timer after a failure. */
  Down,
  Closed,
}

/** A handshake command's reply handler. */
class HandshakeReply implements BackendRequest {
  constructor(
    private readonly conn: BackendConnection,
    private readonly step: HandshakeStep,
    private readonly last: boolean,
  ) {}

  onReply(reply: Buffer): void {
    if (isError(reply) && this.step.required) this.conn.handshakeFailed(this.conn.explain(this.step.what, errorText(reply)));
    else if (this.last) this.conn.handshakeDone();
  }
}

const INFO_SERVER = encodeCommand(['INFO', 'server']);
/** A reply nobody waits for (CLIENT SETNAME of rename()). */
const IGNORED: BackendRequest = { onReply: () => undefined };

/** Size of a slab that fan-out parts are encoded into (a bigger part gets a slab of its own size). */
const SLAB_SIZE = 64 * 1024;

/** Queued output past which a connection writes at once instead of at the end of the turn. */
const FLUSH_AT = 256 * 1024;

export class BackendConnection implements FrameHandler, Flushable {
  flushQueued = false;
  private state: State = State.Idle;
  private socket: net.Socket | null = null;
  private readonly framer = new ReplyFramer(this);
  private readonly waiting = new Fifo<BackendRequest>(64);
  /** Requests (and their bytes, same order) accepted while connecting, written once the handshake is done. */
  private queued: BackendRequest[] = [];
  private queuedBufs: Buffer[] = [];
  private queuedBytes = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  /**
   * Fan-out parts are encoded straight into this slab (sendSelected): no buffer per part, and parts sent in
   * the same turn are one contiguous segment, written without Buffer.concat. slab[slabStart, slabPos) is
   * output not yet moved to `out`; bytes before slabStart may still be owned by the socket and are never
   * rewritten (the slab is only ever appended to, then replaced).
   */
  private slab: Buffer | null = null;
  private slabStart = 0;
  private slabPos = 0;
  private failFast = false;
  private attempts = 0;
  private dialTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private closeResolve: (() => void) | null = null;
  /** Replies seen so far and at the last stall check (watchdog without hot-path timers). */
  private replies = 0;
  private repliesAtCheck = 0;
  private stalledSince = 0;
  /** Sessions held while the socket buffer is over MAX_BACKEND_BUFFERED_BYTES; null = not congested. */
  private held: Set<Holdable> | null = null;
  /** The server's BUSY reply while a script runs on this connection (side-PING probe), else null. */
  private busyReply: Buffer | null = null;
  private probe: { cancel(): void } | null = null;
  /** Closed by fenceWrite: redial on the next send, not at once (nothing may be written while fenced). */
  private fencedClose = false;
  /** Requests at the tail of `waiting` whose bytes are not handed to the socket yet (dropped by fenceWrite). */
  private unsent = 0;
  private fencedUnsent = 0;
  /** Times this connection became congested (stats). */
  congestions = 0;
  readonly unavailableReply: Buffer;
  readonly lostReply: Buffer;

  constructor(
    private readonly owner: ConnectionOwner,
    readonly db: number,
    private readonly opts: BackendOptions,
    /** RESP version spoken on this connection (HELLO 3 at dial): replies are forwarded as they come. */
    readonly proto: 2 | 3 = 2,
  ) {
    this.unavailableReply = errorReply(ProxyErrors.REDSLOT_ERR_BACKEND_UNAVAILABLE, { addr: owner.addr });
    this.lostReply = errorReply(ProxyErrors.REDSLOT_ERR_BACKEND_CONNECTION_LOST, { addr: owner.addr });
  }

  get ready(): boolean {
    return this.state === State.Ready;
  }

  /** The socket buffer is over MAX_BACKEND_BUFFERED_BYTES: senders should hold (holdUntilDrained). */
  get congested(): boolean {
    return this.held !== null;
  }

  /** Holds `s` (it dispatches nothing more) until this connection's socket drains or closes. */
  holdUntilDrained(s: Holdable): void {
    if (this.held === null || this.held.has(s)) return;
    this.held.add(s);
    s.backendHold();
  }

  private releaseHeld(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    for (const s of held) s.backendRelease();
  }

  /** Requests sent and not yet answered (plus those queued during connect). */
  get pending(): number {
    return this.waiting.length + this.queued.length;
  }

  /** Sends one request whose bytes are one buffer. The reply (or a proxy error) goes to `req.onReply`. */
  send(req: BackendRequest, payload: Buffer): void {
    if (this.busyReply !== null) return this.answerBusy(req);
    if (this.state === State.Ready) {
      this.sealSlab();
      this.waiting.push(req);
      this.unsent++;
      this.out.push(payload);
      this.outBytes += payload.length;
      this.flushSoon();
      return;
    }
    if (this.rejects()) {
      req.onReply(this.unavailableReply);
      return;
    }
    this.queued.push(req);
    this.queuedBufs.push(payload);
    this.queuedBytes += payload.length;
    this.congestWhileConnecting();
    if (this.state === State.Idle) this.dial();
  }

  /** Sends one request made of several buffers (big arguments are not copied). */
  sendParts(req: BackendRequest, parts: Buffer[], bytes: number): void {
    if (parts.length === 1) return this.send(req, parts[0]!);
    if (this.busyReply !== null) return this.answerBusy(req);
    if (this.state === State.Ready) {
      this.sealSlab();
      this.waiting.push(req);
      this.unsent++;
      for (const p of parts) this.out.push(p);
      this.outBytes += bytes;
      this.flushSoon();
      return;
    }
    if (this.rejects()) {
      req.onReply(this.unavailableReply);
      return;
    }
    this.queued.push(req);
    for (const p of parts) this.queuedBufs.push(p);
    this.queuedBytes += bytes;
    this.congestWhileConnecting();
    if (this.state === State.Idle) this.dial();
  }

  /**
   * Sends `argv[0]` followed, for each index k of `keys`, by the `stride` arguments from argv[k] (a fan-out
   * part, see encodeSelectedInto): same bytes as sendParts(encodeSelectedInto(...)), encoded into the slab.
   */
  sendSelected(req: BackendRequest, argv: readonly Buffer[], keys: readonly number[], stride: number): void {
    if (this.busyReply !== null) return this.answerBusy(req);
    const size = this.state === State.Ready ? selectedSize(argv, keys, stride) : -1;
    if (size < 0) {
      const out: Buffer[] = [];
      const bytes = encodeSelectedInto(argv, keys, stride, out);
      return this.sendParts(req, out, bytes);
    }
    let slab = this.slab;
    if (slab === null || slab.length - this.slabPos < size) {
      this.sealSlab();
      slab = this.slab = Buffer.allocUnsafeSlow(size > SLAB_SIZE ? size : SLAB_SIZE);
      this.slabStart = this.slabPos = 0;
    }
    this.slabPos = writeSelected(slab, this.slabPos, argv, keys, stride);
    this.waiting.push(req);
    this.unsent++;
    this.outBytes += size;
    this.flushSoon();
  }

  /** Redis's BUSY reply, as another connection to the server would get it right now. */
  private answerBusy(req: BackendRequest): void {
    this.owner.countBusy?.();
    req.onReply(this.busyReply!);
  }

  /** Moves the slab's unsent bytes, if any, to `out` (keeps the order with payloads sent after them). */
  private sealSlab(): void {
    if (this.slabPos === this.slabStart) return;
    this.out.push(this.slab!.subarray(this.slabStart, this.slabPos));
    this.slabStart = this.slabPos;
  }

  /** Output is written at the end of this turn, or at once past FLUSH_AT bytes (bounds what one turn buffers). */
  private flushSoon(): void {
    if (this.outBytes >= FLUSH_AT) this.flush();
    else scheduleFlush(this);
  }

  /** What waits for the handshake counts against the same bound (a backend slow to answer AUTH/SELECT). */
  private congestWhileConnecting(): void {
    if (this.held === null && this.queuedBytes > MAX_BACKEND_BUFFERED_BYTES) {
      this.held = new Set();
      this.congestions++;
    }
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
    if (this.outBytes === 0 && this.out.length === 0) return;
    this.sealSlab();
    const list = this.out;
    const total = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    if (this.socket === null || this.state !== State.Ready) return; // failed meanwhile: requests already failed
    if (this.opts.fence?.passed()) return this.fenceWrite(list.length);
    writeBuffers(this.socket, list, total);
    this.unsent = 0;
    if (this.held === null && this.socket.writableLength > MAX_BACKEND_BUFFERED_BYTES) {
      this.held = new Set();
      this.congestions++;
      this.owner.log.debug('backend.congested', { backend: this.owner.addr, db: this.db, buffered: this.socket.writableLength });
    }
  }

  /**
   * Past the serve deadline nothing more goes out (write-fence.ts): the bytes are dropped and the connection
   * destroyed, so everything pending on it fails (connection lost) instead of landing after the dashboard moved on.
   */
  private fenceWrite(buffers: number): void {
    this.owner.log.warn('backend.write_fenced', { backend: this.owner.addr, db: this.db, pending: this.waiting.length, buffers });
    this.fencedClose = true;
    this.fencedUnsent = this.unsent;
    this.socket?.destroy();
  }

  /** Bytes from the backend: replies go to their requests, under the request clock of this chunk. */
  receive(chunk: Buffer): void {
    try {
      stamped1(this.pushFrames, chunk);
    } catch (err) {
      // A bug in a reply handler: drop this connection (its requests fail), keep the process serving.
      this.owner.log.error('backend.internal_error', { backend: this.owner.addr, db: this.db, err, stack: (err as Error).stack });
      this.socket?.destroy();
    }
  }

  private readonly pushFrames = (chunk: Buffer): void => this.framer.push(chunk);

  // ---- FrameHandler

  onFrame(frame: Buffer): void {
    const req = this.waiting.shift();
    if (req === undefined) {
      this.owner.log.warn('backend.unexpected_reply', { backend: this.owner.addr, db: this.db, reply: frame.subarray(0, 64).toString('latin1') });
      this.socket?.destroy();
      return;
    }
    this.replies++;
    if (this.busyReply !== null || this.probe !== null) this.notBusy();
    req.onReply(frame);
    if (this.closing && this.waiting.length === 0) this.finishClose();
  }

  onFramingError(message: string): void {
    this.owner.log.error('backend.bad_reply', { backend: this.owner.addr, db: this.db, message });
    this.socket?.destroy();
  }

  // ---- lifecycle

  private dial(): void {
    this.state = State.Connecting;
    this.framer.reset();
    const { socket, ready } = dial(this.owner.host, this.owner.port, this.opts.tls ?? null);
    this.socket = socket;
    socket.setNoDelay(true);
    if (this.opts.keepAliveMs > 0) socket.setKeepAlive(true, this.opts.keepAliveMs);
    this.dialTimer = setTimeout(() => {
      this.owner.log.warn('backend.dial_timeout', { backend: this.owner.addr, db: this.db, timeoutMs: this.opts.dialTimeoutMs });
      socket.destroy();
    }, this.opts.dialTimeoutMs);
    socket.on(ready, () => this.onConnect(socket));
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.receive(chunk);
    });
    socket.on('error', (err: Error) => {
      if (this.state === State.Ready) this.owner.log.warn('backend.error', { backend: this.owner.addr, db: this.db, err });
      else this.owner.log.debug('backend.dial_error', { backend: this.owner.addr, db: this.db, err });
    });
    socket.on('close', () => this.onClose(socket));
    socket.on('drain', () => {
      if (this.socket === socket) this.releaseHeld();
    });
  }

  private onConnect(socket: net.Socket): void {
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
    const reqs = this.queued;
    const bufs = this.queuedBufs;
    this.queued = [];
    this.queuedBufs = [];
    this.queuedBytes = 0;
    for (const r of reqs) this.waiting.push(r);
    this.unsent += reqs.length;
    for (const b of bufs) {
      this.out.push(b);
      this.outBytes += b.length;
    }
    this.flush();
    // Held while connecting: go on once the socket took it (else its 'drain' releases them).
    if (this.held !== null && this.socket.writableLength <= MAX_BACKEND_BUFFERED_BYTES) this.releaseHeld();
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

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    if (this.dialTimer) clearTimeout(this.dialTimer);
    this.dialTimer = null;
    const wasReady = this.state === State.Ready;
    const reply = wasReady ? this.lostReply : this.unavailableReply;
    this.unsent = 0;
    this.out = [];
    this.outBytes = 0;
    this.slabStart = this.slabPos;
    this.notBusy();
    this.releaseHeld(); // their requests fail below; the sessions go on
    // Fail exactly what was pending on this connection, oldest first.
    const failed = this.waiting.drain();
    const queued = this.queued;
    this.queued = [];
    this.queuedBufs = [];
    this.queuedBytes = 0;
    if (this.closing) {
      this.state = State.Closed;
      for (const r of failed) if (!(r instanceof HandshakeReply)) r.onReply(reply);
      for (const r of queued) r.onReply(reply);
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
      for (const r of failed) if (!(r instanceof HandshakeReply)) r.onReply(reply);
      for (const r of queued) r.onReply(reply);
      if (this.state === State.Idle) this.dial();
      return;
    }
    // Dial or handshake failed: fail fast from now on and retry with backoff.
    this.failFast = true;
    this.attempts++;
    this.state = State.Down;
    if (this.attempts === 1) this.owner.log.warn('backend.down', { backend: this.owner.addr, db: this.db });
    this.owner.onConnectionHealth(false);
    for (const r of failed) if (!(r instanceof HandshakeReply)) r.onReply(reply);
    for (const r of queued) r.onReply(reply);
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
    if (this.state !== State.Ready || this.waiting.length === 0) {
      this.stalledSince = 0;
      this.repliesAtCheck = this.replies;
      return;
    }
    if (this.replies !== this.repliesAtCheck) {
      this.repliesAtCheck = this.replies;
      this.stalledSince = 0;
      return;
    }
    if (this.stalledSince === 0) {
      this.stalledSince = now;
      return;
    }
    const stalled = now - this.stalledSince;
    if (stalled >= BUSY_PROBE_AFTER_MS && this.probe === null && this.busyReply === null) this.probeBusy();
    if (this.opts.replyTimeoutMs > 0 && stalled >= this.opts.replyTimeoutMs) {
      if (this.busyReply !== null) return; // a long script: alive, and a reset would lose the replies queued behind it
      this.owner.log.warn('backend.reply_timeout', { backend: this.owner.addr, db: this.db, pending: this.waiting.length, timeoutMs: this.opts.replyTimeoutMs });
      this.stalledSince = 0;
      this.socket?.destroy();
    }
  }

  /** PING on a side connection: `-BUSY` = a script runs here (see BUSY_PROBE_AFTER_MS). */
  private probeBusy(): void {
    const { user, password, replyTimeoutMs, dialTimeoutMs } = this.opts;
    const p = sideCommand(this.owner, ['PING'], { user, password, timeoutMs: Math.max(replyTimeoutMs, dialTimeoutMs), unavailable: NO_ANSWER });
    this.probe = p;
    void p.reply.then((reply) => {
      if (this.probe !== p) return;
      this.probe = null;
      if (startsWith(reply, BUSY)) {
        this.busyReply = reply;
        this.owner.log.warn('backend.busy', { backend: this.owner.addr, db: this.db, pending: this.waiting.length, reply: errorText(reply) });
      }
    });
  }

  /** A reply came (or the connection closed): no script runs on it any more. */
  private notBusy(): void {
    if (this.busyReply !== null) this.owner.log.info('backend.not_busy', { backend: this.owner.addr, db: this.db });
    this.busyReply = null;
    this.probe?.cancel();
    this.probe = null;
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
