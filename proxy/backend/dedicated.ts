/**
 * Dedicated backend connections: one client session owns one for as long as it needs connection state on the
 * backend (a WATCHed transaction, a blocked command, Pub/Sub subscriptions). Never shared, never pipelined
 * with other clients' commands, so connection-state commands cannot leak into anyone else's traffic.
 *
 * Limits: at most `maxTotal` open dedicated connections per proxy and `maxPerServer` per backend server
 * (idle ones included). When both are reached and no idle connection can be closed to make room, acquire()
 * returns null and the caller answers the client with REDSLOT_ERR_DEDICATED_EXHAUSTED: the shared pipelined
 * connections are never used as a fallback.
 *
 * Reuse: a connection is returned with release(conn, clean). `clean` means its backend state is the one it
 * was dialled with (EXEC or UNWATCH answered, a blocked command answered): it may then wait idle, per
 * (server, db, protocol), for up to `idleMs`, and the next acquire() takes it instead of dialling. Anything
 * else (subscribers, a closed client's blocked command, a SELECT inside a transaction) is closed.
 *
 * Connection invariants (like BackendConnection): nothing of the owner reaches the socket before the
 * handshake (AUTH, SELECT, HELLO 3, CLIENT SETNAME, CLIENT ID) succeeded; replies complete `waiting` in
 * order; when the socket closes every pending request fails with `-ERR backend <addr> connection lost` (or
 * `unavailable` before the handshake finished). There is no redial: the owner is told (onClosed) and decides.
 * A subscriber connection hands every frame after the handshake to its sink instead of `waiting`.
 */
import { handshakeSteps, type HandshakeStep } from './handshake.js';
import type net from 'node:net';
import { dial } from '../../shared/tls/dial.js';
import type { Logger } from '../../shared/log.js';
import { ReplyFramer, type FrameHandler } from '../../shared/resp/reply-framer.js';
import { errorText, isError, readInteger } from '../../shared/resp/reply-reader.js';
import { errorReply, ProxyErrors } from '../errors.js';
import { Fifo } from '../util/fifo.js';
import { scheduleFlush, writeBuffers, type Flushable } from '../util/flush.js';
import type { BackendOptions, BackendRequest } from './connection.js';

export type DedicatedKind = 'transaction' | 'blocking' | 'subscriber';
export const DEDICATED_KINDS: readonly DedicatedKind[] = ['transaction', 'blocking', 'subscriber'];

/** The backend server as a dedicated connection needs it (BackendServer satisfies it). */
export interface DedicatedTarget {
  readonly addr: string;
  readonly host: string;
  readonly port: number;
}

/** Receives every frame of a subscriber connection (after its handshake). */
export interface PushSink {
  onPush(frame: Buffer): void;
}

export interface DedicatedLimits {
  /** Open dedicated connections per proxy (all servers, idle ones included). */
  maxTotal: number;
  /** Open dedicated connections per backend server. */
  maxPerServer: number;
  /** A clean connection is kept this long for reuse (0 = never kept). */
  idleMs: number;
}

const enum State {
  Connecting,
  Handshake,
  Ready,
  Closed,
}

export class DedicatedConnection implements FrameHandler, Flushable {
  flushQueued = false;
  kind: DedicatedKind | 'idle';
  /** The backend's CLIENT ID for this connection (CLIENT UNBLOCK), -1 until the handshake is done. */
  clientId = -1;
  /** Subscriber mode: frames go here instead of completing `waiting`. */
  sink: PushSink | null = null;
  /** Called once when the connection is gone (closed by us, by the server, or a failed dial/handshake). */
  onClosed: ((conn: DedicatedConnection) => void) | null = null;
  idleSince = 0;
  /** Still counted in the pool's books (false once the pool has written it off). */
  counted = true;
  private state: State = State.Connecting;
  private readonly socket: net.Socket;
  private readonly framer = new ReplyFramer(this);
  private readonly waiting = new Fifo<BackendRequest>(8);
  private steps: HandshakeStep[] = [];
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  private dialTimer: NodeJS.Timeout | null;
  /** Replies seen, and at the last stall check (backend.replyTimeout for transaction connections). */
  private replies = 0;
  private repliesAtCheck = 0;
  private stalledSince = 0;
  readonly lostReply: Buffer;
  readonly unavailableReply: Buffer;

  constructor(
    private readonly pool: DedicatedPool,
    readonly server: DedicatedTarget,
    readonly db: number,
    readonly proto: 2 | 3,
    kind: DedicatedKind,
    private readonly opts: BackendOptions,
    private readonly log: Logger,
  ) {
    this.kind = kind;
    this.lostReply = errorReply(ProxyErrors.REDSLOT_ERR_BACKEND_CONNECTION_LOST, { addr: server.addr });
    this.unavailableReply = errorReply(ProxyErrors.REDSLOT_ERR_BACKEND_UNAVAILABLE, { addr: server.addr });
    const { socket, ready } = dial(server.host, server.port, opts.tls ?? null);
    this.socket = socket;
    socket.setNoDelay(true);
    if (opts.keepAliveMs > 0) socket.setKeepAlive(true, opts.keepAliveMs);
    this.dialTimer = setTimeout(() => {
      log.warn('backend.dedicated_dial_timeout', { backend: server.addr, timeoutMs: opts.dialTimeoutMs });
      socket.destroy();
    }, opts.dialTimeoutMs);
    socket.on(ready, () => this.onConnect());
    socket.on('data', (chunk: Buffer) => {
      try {
        this.framer.push(chunk);
      } catch (err) {
        log.error('backend.dedicated_internal_error', { backend: server.addr, err, stack: (err as Error).stack });
        socket.destroy();
      }
    });
    socket.on('error', (err: Error) => log.debug('backend.dedicated_error', { backend: server.addr, err }));
    socket.on('close', () => this.onClose());
  }

  get ready(): boolean {
    return this.state === State.Ready;
  }

  /** Reads from the backend (true) or leaves its bytes in the kernel and in Redis (false): backpressure. */
  setReading(on: boolean): void {
    if (on) this.socket.resume();
    else this.socket.pause();
  }

  get closed(): boolean {
    return this.state === State.Closed;
  }

  /** Requests sent (or queued during the handshake) and not answered yet. */
  get pending(): number {
    return this.waiting.length - this.steps.length;
  }

  /** Sends one payload that produces `replies` replies; each one goes to req.onReply. */
  send(req: BackendRequest, payload: Buffer, replies = 1): void {
    this.sendParts(req, [payload], payload.length, replies);
  }

  sendParts(req: BackendRequest, parts: Buffer[], bytes: number, replies = 1): void {
    if (this.state === State.Closed) {
      for (let i = 0; i < replies; i++) req.onReply(this.lostReply);
      return;
    }
    for (let i = 0; i < replies; i++) this.waiting.push(req);
    if (this.state === State.Ready) {
      for (const p of parts) this.out.push(p);
      this.outBytes += bytes;
      scheduleFlush(this);
    } else {
      for (const p of parts) this.queued.push(p);
      this.queuedBytes += bytes;
    }
  }

  flush(): void {
    if (this.out.length === 0) return;
    const list = this.out;
    const total = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    if (this.state !== State.Ready) return;
    if (this.opts.fence?.passed()) {
      // Past the serve deadline (write-fence.ts): dropped, and what is pending here fails.
      this.log.warn('backend.write_fenced', { backend: this.server.addr, db: this.db, dedicated: this.kind });
      this.socket.destroy();
      return;
    }
    writeBuffers(this.socket, list, total);
  }

  /** Closes now: pending requests fail with "connection lost". Idempotent. */
  close(): void {
    if (this.state === State.Closed) return;
    this.socket.destroy();
  }

  // ---- FrameHandler

  onFrame(frame: Buffer): void {
    if (this.steps.length > 0) {
      this.waiting.shift();
      this.onStep(this.steps.shift()!, frame);
      return;
    }
    if (this.sink !== null) {
      this.sink.onPush(frame);
      return;
    }
    this.replies++;
    const req = this.waiting.shift();
    if (req === undefined) {
      this.log.warn('backend.dedicated_unexpected_reply', { backend: this.server.addr, reply: frame.subarray(0, 64).toString('latin1') });
      this.socket.destroy();
      return;
    }
    req.onReply(frame);
  }

  onFramingError(message: string): void {
    this.log.error('backend.dedicated_bad_reply', { backend: this.server.addr, message });
    this.socket.destroy();
  }

  /**
   * Watchdog (called by the pool for transaction connections only: a blocked command legitimately waits):
   * requests pending and no reply for replyTimeoutMs -> the connection is closed, its requests fail.
   */
  checkStall(now: number): void {
    if (this.state !== State.Ready || this.pending === 0 || this.opts.replyTimeoutMs <= 0 || this.replies !== this.repliesAtCheck) {
      this.repliesAtCheck = this.replies;
      this.stalledSince = 0;
      return;
    }
    if (this.stalledSince === 0) this.stalledSince = now;
    else if (now - this.stalledSince >= this.opts.replyTimeoutMs) {
      this.log.warn('backend.dedicated_reply_timeout', { backend: this.server.addr, pending: this.pending, timeoutMs: this.opts.replyTimeoutMs });
      this.socket.destroy();
    }
  }

  // ---- lifecycle

  private onConnect(): void {
    this.state = State.Handshake;
    const { user, password } = this.opts;
    const steps = handshakeSteps({ proto: this.proto, user, password, db: this.db, name: this.opts.fence?.name('dedicated') ?? 'redslot-dedicated', clientId: true });
    // Handshake replies come first: put their placeholders in front of anything queued meanwhile.
    const owners = this.waiting.drain();
    for (let i = 0; i < steps.length; i++) this.waiting.push(HANDSHAKE);
    for (const r of owners) this.waiting.push(r);
    this.steps = steps;
    this.socket.write(Buffer.concat(steps.map((s) => s.command)));
  }

  private onStep(step: HandshakeStep, frame: Buffer): void {
    if (isError(frame) && step.required) {
      this.log.error('backend.dedicated_handshake_failed', { backend: this.server.addr, db: this.db, reason: `${step.what}: ${errorText(frame)}` });
      this.socket.destroy();
      return;
    }
    if (step.clientId) this.clientId = readInteger(frame);
    if (this.steps.length > 0) return;
    if (this.dialTimer) clearTimeout(this.dialTimer);
    this.dialTimer = null;
    this.state = State.Ready;
    if (this.queued.length > 0) {
      this.out = this.queued;
      this.outBytes = this.queuedBytes;
      this.queued = [];
      this.queuedBytes = 0;
      this.flush();
    }
  }

  private onClose(): void {
    if (this.dialTimer) clearTimeout(this.dialTimer);
    this.dialTimer = null;
    const wasReady = this.state === State.Ready;
    this.state = State.Closed;
    this.steps = [];
    this.queued = [];
    this.out = [];
    const reply = wasReady ? this.lostReply : this.unavailableReply;
    const failed = this.waiting.drain();
    this.pool.connectionClosed(this);
    for (const r of failed) if (r !== HANDSHAKE) r.onReply(reply);
    const cb = this.onClosed;
    this.onClosed = null;
    cb?.(this);
  }
}

/** Placeholder in `waiting` for a handshake reply. */
const HANDSHAKE: BackendRequest = { onReply: () => {} };

export interface DedicatedStats {
  /** Open connections by what they are used for now. */
  transaction: number;
  blocking: number;
  subscriber: number;
  idle: number;
  /** acquire() calls refused at the limits since start. */
  exhausted: number;
  maxTotal: number;
}

export class DedicatedPool {
  private open = 0;
  private readonly perServer = new Map<string, number>();
  private readonly idle = new Map<string, DedicatedConnection[]>();
  private readonly byKind = { transaction: 0, blocking: 0, subscriber: 0, idle: 0 };
  private exhausted = 0;
  private closedAll = false;
  private readonly reaper: NodeJS.Timeout | null;
  private readonly watchdog: NodeJS.Timeout | null;
  /** Every open connection (for the watchdog). */
  private readonly live = new Set<DedicatedConnection>();

  constructor(
    readonly limits: DedicatedLimits,
    private readonly opts: BackendOptions,
    private readonly log: Logger,
  ) {
    this.reaper = limits.idleMs > 0 ? setInterval(() => this.reapIdle(Date.now()), Math.max(100, Math.floor(limits.idleMs / 2))) : null;
    this.reaper?.unref();
    const every = Math.max(100, Math.min(1000, Math.floor(opts.replyTimeoutMs / 4)));
    this.watchdog =
      opts.replyTimeoutMs > 0
        ? setInterval(() => {
            const now = Date.now();
            for (const c of this.live) if (c.kind === 'transaction') c.checkStall(now);
          }, every)
        : null;
    this.watchdog?.unref();
  }

  /**
   * A connection to `server` in `db` speaking `proto` (subscribers always use RESP2), or null when the limits
   * are reached. The connection may still be dialling: requests sent meanwhile go out after the handshake.
   */
  acquire(server: DedicatedTarget, db: number, proto: 2 | 3, kind: DedicatedKind): DedicatedConnection | null {
    if (this.closedAll) return null;
    const key = idleKey(server.addr, db, proto);
    const list = this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const c = list.pop()!;
      if (list.length === 0) this.idle.delete(key);
      if (c.closed) continue;
      this.setKind(c, kind);
      return c;
    }
    if (!this.makeRoom(server.addr)) {
      this.exhausted++;
      return null;
    }
    const c = new DedicatedConnection(this, server, db, proto, kind, this.opts, this.log);
    this.live.add(c);
    this.open++;
    this.perServer.set(server.addr, (this.perServer.get(server.addr) ?? 0) + 1);
    this.byKind[kind]++;
    return c;
  }

  /**
   * Gives a connection back. `clean`: its backend state is as dialled and nothing is pending, so it may be
   * reused; otherwise (or when it cannot be kept) it is closed.
   */
  release(c: DedicatedConnection, clean: boolean): void {
    if (c.closed || c.kind === 'idle') return;
    c.sink = null;
    c.onClosed = null;
    if (!clean || !c.ready || c.pending > 0 || this.limits.idleMs <= 0 || this.closedAll) {
      c.close();
      return;
    }
    this.setKind(c, 'idle');
    c.idleSince = Date.now();
    const key = idleKey(c.server.addr, c.db, c.proto);
    const list = this.idle.get(key);
    if (list === undefined) this.idle.set(key, [c]);
    else list.push(c);
  }

  /** Called by a connection when its socket is gone (and by makeRoom, before the socket is). */
  connectionClosed(c: DedicatedConnection): void {
    this.live.delete(c);
    if (!c.counted) return;
    c.counted = false;
    this.open--;
    const n = (this.perServer.get(c.server.addr) ?? 1) - 1;
    if (n <= 0) this.perServer.delete(c.server.addr);
    else this.perServer.set(c.server.addr, n);
    this.byKind[c.kind]--;
    if (c.kind === 'idle') {
      const key = idleKey(c.server.addr, c.db, c.proto);
      const list = this.idle.get(key);
      const i = list?.indexOf(c) ?? -1;
      if (i >= 0) list!.splice(i, 1);
      if (list !== undefined && list.length === 0) this.idle.delete(key);
    }
  }

  stats(): DedicatedStats {
    return { ...this.byKind, exhausted: this.exhausted, maxTotal: this.limits.maxTotal };
  }

  /** Open dedicated connections to `addr` (any use). */
  openTo(addr: string): number {
    return this.perServer.get(addr) ?? 0;
  }

  /** Closes idle connections to servers not in `keep` (they left the topology). */
  retain(keep: ReadonlySet<string>): void {
    for (const list of [...this.idle.values()]) for (const c of [...list]) if (!keep.has(c.server.addr)) c.close();
  }

  /** Refuses new connections and closes idle ones; owners close the rest (their sessions are gone). */
  close(): void {
    this.closedAll = true;
    if (this.reaper) clearInterval(this.reaper);
    if (this.watchdog) clearInterval(this.watchdog);
    for (const list of [...this.idle.values()]) for (const c of [...list]) c.close();
  }

  private setKind(c: DedicatedConnection, kind: DedicatedKind | 'idle'): void {
    this.byKind[c.kind]--;
    c.kind = kind;
    this.byKind[kind]++;
  }

  /** True when one more connection to addr fits, closing an idle one if that makes room. */
  private makeRoom(addr: string): boolean {
    const totalFull = this.open >= this.limits.maxTotal;
    const serverFull = (this.perServer.get(addr) ?? 0) >= this.limits.maxPerServer;
    if (!totalFull && !serverFull) return true;
    // Oldest idle connection that frees what is full (the server's own when the per-server cap is hit).
    let victim: DedicatedConnection | null = null;
    for (const list of this.idle.values()) {
      for (const c of list) {
        if (serverFull && c.server.addr !== addr) continue;
        if (victim === null || c.idleSince < victim.idleSince) victim = c;
      }
    }
    if (victim === null) return false;
    // Its socket closes asynchronously: write it off now so the new connection fits.
    this.connectionClosed(victim);
    victim.close();
    return true;
  }

  private reapIdle(now: number): void {
    for (const list of [...this.idle.values()]) {
      for (const c of [...list]) if (now - c.idleSince >= this.limits.idleMs) c.close();
    }
  }
}

function idleKey(addr: string, db: number, proto: number): string {
  return `${addr}/${db}/${proto}`;
}
