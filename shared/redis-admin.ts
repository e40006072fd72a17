/**
 * A small promise-based RESP client for control-plane talk to redis-servers (INFO, ROLE, PING, REPLICAOF,
 * DBSIZE, SCAN, MIGRATE): one TCP connection, commands pipelined in order, replies decoded by `redis-parser`.
 *
 * Not for the data path. Every reply is parsed with `returnBuffers` (binary keys stay intact); `call()` turns
 * Buffers into UTF-8 strings for the usual text replies, `callBuffers()` keeps them (SCAN of binary keys).
 * A timeout or a fatal protocol error destroys the connection and fails every pending command (a pipelined
 * connection cannot skip one reply). Untrusted text (INFO, ROLE) is parsed into typed objects here, once.
 */
import net from 'node:net';
import RedisParser from 'redis-parser';
import { defineErrors, RedslotError } from './errors.js';

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
export type RedisTextReply = string | number | null | Error | RedisTextReply[];

export interface RedisAdminOptions {
  /** host:port */
  addr: string;
  password?: string;
  /** ACL user (AUTH user password); default user when absent. */
  username?: string;
  connectTimeoutMs?: number;
  /** Per-command timeout (default 5000 ms). */
  commandTimeoutMs?: number;
}

interface Pending {
  command: string;
  resolve: (v: RedisReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Splits host:port (IPv6 in brackets allowed). Throws on anything else. */
export function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid address ${JSON.stringify(addr)}`);
  return { host: addr.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}

/** RESP array of bulk strings. */
export function encodeCommand(args: ReadonlyArray<string | Buffer | number>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function toText(r: RedisReply): RedisTextReply {
  if (Buffer.isBuffer(r)) return r.toString('utf8');
  if (Array.isArray(r)) return r.map(toText);
  return r;
}

export class RedisAdmin {
  readonly addr: string;
  private readonly opts: RedisAdminOptions;
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private readonly queue: Pending[] = [];
  private closed = false;

  constructor(opts: RedisAdminOptions) {
    this.opts = opts;
    this.addr = opts.addr;
    splitAddr(opts.addr);
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  /** Connects (and authenticates) if not connected yet; reconnects after a failure. */
  async connect(): Promise<void> {
    await this.ensureSocket();
  }

  private ensureSocket(): Promise<net.Socket> {
    if (this.closed) return Promise.reject(this.unreachable('client closed'));
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    this.connecting = this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private unreachable(reason: string, cause?: unknown): RedslotError {
    return new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_UNREACHABLE, { addr: this.addr, reason }, { cause });
  }

  private async open(): Promise<net.Socket> {
    const { host, port } = splitAddr(this.addr);
    const timeoutMs = this.opts.connectTimeoutMs ?? 2000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(this.unreachable(`connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(this.unreachable(err.message, err));
      });
    });
    socket.setNoDelay(true);
    const parser = new RedisParser({
      returnBuffers: true,
      returnReply: (reply: RedisReply) => this.settle(reply),
      returnError: (err: Error) => this.settle(err),
      returnFatalError: (err: Error) => this.failSocket(socket, this.unreachable(`protocol error: ${err.message}`, err)),
    });
    socket.on('data', (d: Buffer) => parser.execute(d));
    socket.on('error', (err) => this.failSocket(socket, this.unreachable(err.message, err)));
    socket.on('close', () => this.failSocket(socket, this.unreachable('connection closed')));
    this.socket = socket;
    if (this.opts.password !== undefined) {
      const args = this.opts.username ? ['AUTH', this.opts.username, this.opts.password] : ['AUTH', this.opts.password];
      const r = await this.send(args, socket);
      if (r instanceof Error) {
        socket.destroy();
        throw new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_REPLY, { addr: this.addr, command: 'AUTH', reply: r.message });
      }
    }
    return socket;
  }

  /** Resolves the head of the queue with a reply (error replies resolve as Error values). */
  private settle(reply: RedisReply): void {
    const p = this.queue.shift();
    if (!p) return;
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  /** Fails pending commands if `socket` is still the current one (a late event of an old socket is ignored). */
  private failSocket(socket: net.Socket, err: Error): void {
    if (this.socket === socket) this.fail(err);
    else if (!socket.destroyed) socket.destroy();
  }

  /** Fails every pending command and drops the socket. */
  private fail(err: Error): void {
    const s = this.socket;
    this.socket = undefined;
    if (s && !s.destroyed) s.destroy();
    for (const p of this.queue.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  private send(args: ReadonlyArray<string | Buffer | number>, socket: net.Socket): Promise<RedisReply> {
    const command = String(args[0] ?? '').toUpperCase();
    const timeoutMs = this.opts.commandTimeoutMs ?? 5000;
    return new Promise<RedisReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_TIMEOUT, { addr: this.addr, command, timeoutMs }));
      }, timeoutMs);
      this.queue.push({ command, resolve, reject, timer });
      socket.write(encodeCommand(args));
    });
  }

  /** Sends a command; error replies come back as Error values (not thrown). Bulk strings stay Buffers. */
  async callBuffers(...args: Array<string | Buffer | number>): Promise<RedisReply> {
    const socket = await this.ensureSocket();
    return this.send(args, socket);
  }

  /** Sends a command and returns the reply with Buffers decoded as UTF-8; throws on an error reply. */
  async call(...args: Array<string | Buffer | number>): Promise<RedisTextReply> {
    const r = await this.callBuffers(...args);
    if (r instanceof Error) {
      throw new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_REPLY, {
        addr: this.addr,
        command: String(args[0]).toUpperCase(),
        reply: r.message,
      });
    }
    return toText(r);
  }

  async ping(): Promise<void> {
    const r = await this.call('PING');
    if (r !== 'PONG') throw new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_REPLY, { addr: this.addr, command: 'PING', reply: String(r) });
  }

  async info(section?: string): Promise<RedisInfo> {
    const r = section ? await this.call('INFO', section) : await this.call('INFO');
    return parseInfo(typeof r === 'string' ? r : '');
  }

  async role(): Promise<RedisRole> {
    return parseRole(await this.call('ROLE'));
  }

  /** REPLICAOF host port, or REPLICAOF NO ONE when `master` is null. */
  async replicaOf(master: string | null): Promise<void> {
    if (master === null) {
      await this.call('REPLICAOF', 'NO', 'ONE');
    } else {
      const { host, port } = splitAddr(master);
      await this.call('REPLICAOF', host, port);
    }
  }

  /** Keys in the currently selected database. */
  async dbsize(): Promise<number> {
    const r = await this.call('DBSIZE');
    return typeof r === 'number' ? r : Number(r);
  }

  /** One SCAN step; keys are raw bytes. */
  async scan(cursor: string, count = 1000, db?: number): Promise<{ cursor: string; keys: Buffer[] }> {
    if (db !== undefined) await this.call('SELECT', db);
    const r = await this.callBuffers('SCAN', cursor, 'COUNT', count);
    if (r instanceof Error) throw new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_REPLY, { addr: this.addr, command: 'SCAN', reply: r.message });
    if (!Array.isArray(r) || r.length !== 2 || !Buffer.isBuffer(r[0]) || !Array.isArray(r[1])) {
      throw new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_REPLY, { addr: this.addr, command: 'SCAN', reply: 'unexpected reply shape' });
    }
    return { cursor: r[0].toString('latin1'), keys: r[1].filter((k): k is Buffer => Buffer.isBuffer(k)) };
  }

  /** Closes the connection; pending commands fail. Idempotent. */
  close(): void {
    this.closed = true;
    this.fail(this.unreachable('client closed'));
  }
}

/** Opens a client, runs `fn`, closes the client. */
export async function withRedisAdmin<T>(opts: RedisAdminOptions, fn: (c: RedisAdmin) => Promise<T>): Promise<T> {
  const c = new RedisAdmin(opts);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// INFO and ROLE, parsed once at the boundary.

export interface KeyspaceDb {
  keys: number;
  expires: number;
}

export interface RedisInfo {
  /** Every `field:value` line by section (lower-case section names). */
  sections: Record<string, Record<string, string>>;
  redisVersion?: string;
  role?: 'master' | 'slave';
  uptimeSeconds?: number;
  connectedClients?: number;
  usedMemory?: number;
  maxmemory?: number;
  opsPerSec?: number;
  totalCommandsProcessed?: number;
  connectedSlaves?: number;
  masterHost?: string;
  masterPort?: number;
  masterLinkStatus?: 'up' | 'down';
  masterReplOffset?: number;
  slaveReplOffset?: number;
  /** db index -> counts. */
  keyspace: Record<number, KeyspaceDb>;
  /** Sum of keys over every db. */
  keys: number;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function parseInfo(text: string): RedisInfo {
  const sections: Record<string, Record<string, string>> = {};
  let current: Record<string, string> = {};
  sections['default'] = current;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      current = {};
      sections[line.slice(1).trim().toLowerCase()] = current;
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    current[line.slice(0, i)] = line.slice(i + 1);
  }
  const all: Record<string, string> = {};
  for (const s of Object.values(sections)) Object.assign(all, s);
  const keyspace: Record<number, KeyspaceDb> = {};
  let keys = 0;
  for (const [name, value] of Object.entries(sections['keyspace'] ?? {})) {
    const m = /^db(\d+)$/.exec(name);
    if (!m) continue;
    const fields = Object.fromEntries(value.split(',').map((kv) => kv.split('=') as [string, string]));
    const db = { keys: num(fields['keys']) ?? 0, expires: num(fields['expires']) ?? 0 };
    keyspace[Number(m[1])] = db;
    keys += db.keys;
  }
  const role = all['role'];
  const link = all['master_link_status'];
  return {
    sections,
    redisVersion: all['redis_version'],
    role: role === 'master' || role === 'slave' ? role : undefined,
    uptimeSeconds: num(all['uptime_in_seconds']),
    connectedClients: num(all['connected_clients']),
    usedMemory: num(all['used_memory']),
    maxmemory: num(all['maxmemory']),
    opsPerSec: num(all['instantaneous_ops_per_sec']),
    totalCommandsProcessed: num(all['total_commands_processed']),
    connectedSlaves: num(all['connected_slaves']),
    masterHost: all['master_host'],
    masterPort: num(all['master_port']),
    masterLinkStatus: link === 'up' || link === 'down' ? link : undefined,
    masterReplOffset: num(all['master_repl_offset']),
    slaveReplOffset: num(all['slave_repl_offset']),
    keyspace,
    keys,
  };
}

export type RedisRole =
  | { role: 'master'; replOffset: number; replicas: Array<{ addr: string; offset: number }> }
  | { role: 'replica'; master: string; state: string; offset: number }
  | { role: 'sentinel' };

export function parseRole(reply: RedisTextReply): RedisRole {
  if (!Array.isArray(reply) || typeof reply[0] !== 'string') throw new Error(`unexpected ROLE reply ${JSON.stringify(reply)}`);
  const kind = reply[0];
  if (kind === 'master') {
    const replicas = Array.isArray(reply[2]) ? reply[2] : [];
    return {
      role: 'master',
      replOffset: Number(reply[1] ?? 0),
      replicas: replicas
        .filter((r): r is RedisTextReply[] => Array.isArray(r))
        .map((r) => ({ addr: `${String(r[0])}:${String(r[1])}`, offset: Number(r[2] ?? 0) })),
    };
  }
  if (kind === 'slave' || kind === 'replica') {
    return { role: 'replica', master: `${String(reply[1])}:${String(reply[2])}`, state: String(reply[3] ?? ''), offset: Number(reply[4] ?? -1) };
  }
  if (kind === 'sentinel') return { role: 'sentinel' };
  throw new Error(`unexpected ROLE reply ${JSON.stringify(reply)}`);
}
