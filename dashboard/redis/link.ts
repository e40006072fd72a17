/**
 * The one pipelined RESP client redslot's control plane uses to talk to redis-servers: the dashboard's admin
 * calls (dashboard/redis/admin.ts wraps it with typed INFO/ROLE/SCAN helpers) and the migration mover's hot loop
 * (SCAN, EVAL, MIGRATE with hundreds of binary keys per call). Not for the data path (proxy/backend/).
 * - commands are encoded by shared/resp/encoder.ts, the proxy's RESP encoder (one protocol stack);
 * - no timer per command: one interval per connection checks the deadline of the oldest pending command
 *   (replies come back in order, so the head is the first to be late); a late head fails the connection
 *   and every pending command (a pipelined connection cannot skip a reply);
 * - each call may carry its own timeout (a big-key MIGRATE gets a long one);
 * - reconnects on the next call after a failure; AUTH (with an ACL user when given) on every connect;
 * - TLS (shared/tls/dial.ts) when `tls` is given: the same settings the proxies use toward the servers.
 * Replies are parsed by `redis-parser` with `returnBuffers: true`: bulk strings stay Buffers (binary keys).
 * Error replies resolve as Error values; transport failures reject.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import RedisParser from 'redis-parser';
import { parseHostPort } from '../../shared/config.js';
import { defineErrors, RedslotError } from '../../shared/errors.js';
import { encodeCommand } from '../../shared/resp/encoder.js';
import { dial } from '../../shared/tls/dial.js';

export const RedisAdminErrors = defineErrors({
  REDSLOT_ERR_REDIS_UNREACHABLE: {
    message: 'redis-server {addr} unreachable: {reason}',
    httpStatus: 502,
    description: 'The dashboard could not connect to (or lost the connection to) a redis-server.',
  },
  REDSLOT_ERR_REDIS_TIMEOUT: {
    message: 'redis-server {addr} did not answer {command} within {timeoutMs} ms',
    httpStatus: 504,
    description: 'A control-plane command to a redis-server timed out; the connection was closed.',
  },
  REDSLOT_ERR_REDIS_REPLY: {
    message: 'redis-server {addr} replied to {command} with an error: {reply}',
    httpStatus: 502,
    description: 'A redis-server answered a control-plane command with an error reply.',
  },
});

export type RedisReply = string | number | null | Buffer | Error | RedisReply[];

/** Splits host:port (IPv6 in brackets allowed; port 1-65535) with the config's parser. Throws on anything else. */
export function splitAddr(addr: string): { host: string; port: number } {
  let hp: { host: string; port: number } | undefined;
  try {
    hp = parseHostPort(addr, 'address');
  } catch {
    /* reported below, in this module's words */
  }
  if (hp === undefined || hp.port === 0) throw new Error(`invalid address ${JSON.stringify(addr)}`);
  return hp;
}

export type Arg = string | number | Buffer;

export interface RedisLinkOptions {
  addr: string;
  password?: string;
  username?: string;
  connectTimeoutMs?: number;
  /** Default per-command timeout (ms). */
  commandTimeoutMs?: number;
  /** TLS toward the server (the proxies' backend.tls settings, clientOptions()); null/absent = plain TCP. */
  tls?: tls.ConnectionOptions | null;
}

interface Pending {
  command: string;
  deadline: number;
  timeoutMs: number;
  resolve: (r: RedisReply) => void;
  reject: (e: Error) => void;
}

/** Encodes a command as a RESP array of bulk strings (the proxy's encoder; numbers as decimal text). */
export function encode(args: readonly Arg[]): Buffer {
  return encodeCommand(args.map((a) => (typeof a === 'number' ? String(a) : a)));
}

export class RedisLink {
  readonly addr: string;
  private readonly opts: RedisLinkOptions;
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private readonly queue: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: RedisLinkOptions) {
    splitAddr(opts.addr);
    this.opts = opts;
    this.addr = opts.addr;
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  /** Connects (and authenticates) if not connected yet; reconnects after a failure. */
  async connect(): Promise<void> {
    await this.ensure();
  }

  private unreachable(reason: string, cause?: unknown): RedslotError {
    return new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_UNREACHABLE, { addr: this.addr, reason }, { cause });
  }

  private ensure(): Promise<net.Socket> {
    if (this.closed) return Promise.reject(this.unreachable('client closed'));
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<net.Socket> {
    const { host, port } = splitAddr(this.addr);
    const timeoutMs = this.opts.connectTimeoutMs ?? 2000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const { socket: s, ready } = dial(host, port, this.opts.tls ?? null);
      const t = setTimeout(() => {
        s.destroy();
        reject(this.unreachable(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      s.once(ready, () => {
        clearTimeout(t);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(t);
        reject(this.unreachable(err.message, err));
      });
    });
    socket.setNoDelay(true);
    const parser = new RedisParser({
      returnBuffers: true,
      returnReply: (r: RedisReply) => this.settle(r),
      returnError: (e: Error) => this.settle(e),
      returnFatalError: (e: Error) => this.failSocket(socket, this.unreachable(`protocol error: ${e.message}`, e)),
    });
    socket.on('data', (d: Buffer) => parser.execute(d));
    socket.on('error', (err) => this.failSocket(socket, this.unreachable(err.message, err)));
    socket.on('close', () => this.failSocket(socket, this.unreachable('connection closed')));
    this.socket = socket;
    this.timer ??= setInterval(() => this.checkDeadline(), 100);
    this.timer.unref();
    if (this.opts.password !== undefined && this.opts.password !== '') {
      const auth = this.opts.username ? ['AUTH', this.opts.username, this.opts.password] : ['AUTH', this.opts.password];
      const r = await this.send(socket, auth, this.opts.commandTimeoutMs ?? 5000);
      if (r instanceof Error) {
        socket.destroy();
        throw new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_REPLY, { addr: this.addr, command: 'AUTH', reply: r.message });
      }
    }
    return socket;
  }

  private settle(r: RedisReply): void {
    const p = this.queue[this.head];
    if (!p) return;
    this.queue[this.head++] = undefined as unknown as Pending;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    p.resolve(r);
  }

  private checkDeadline(): void {
    const p = this.queue[this.head];
    if (p && performance.now() > p.deadline) {
      this.fail(new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_TIMEOUT, { addr: this.addr, command: p.command, timeoutMs: p.timeoutMs }));
    }
  }

  private failSocket(socket: net.Socket, err: Error): void {
    if (this.socket === socket) this.fail(err);
    else if (!socket.destroyed) socket.destroy();
  }

  private fail(err: Error): void {
    const s = this.socket;
    this.socket = undefined;
    if (s && !s.destroyed) s.destroy();
    const pending = this.queue.splice(0).slice(this.head);
    this.head = 0;
    for (const p of pending) p.reject(err);
  }

  private send(socket: net.Socket, args: readonly Arg[], timeoutMs: number): Promise<RedisReply> {
    return new Promise<RedisReply>((resolve, reject) => {
      this.queue.push({ command: String(args[0]).toUpperCase(), deadline: performance.now() + timeoutMs, timeoutMs, resolve, reject });
      socket.write(encode(args));
    });
  }

  /**
   * Sends one command (pipelined behind any pending ones). Error replies resolve as Error values; a timeout
   * or connection failure rejects (and fails every other pending command).
   */
  async call(args: readonly Arg[], timeoutMs?: number): Promise<RedisReply> {
    const socket = await this.ensure();
    return this.send(socket, args, timeoutMs ?? this.opts.commandTimeoutMs ?? 5000);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.fail(this.unreachable('client closed'));
  }
}
