/**
 * The dashboard's typed control-plane calls to redis-servers (INFO, ROLE, PING, REPLICAOF, DBSIZE, SCAN) over
 * the shared transport (dashboard/redis/link.ts: one pipelined connection, per-command deadlines, binary-safe
 * replies). `call()` turns Buffers into UTF-8 strings for the usual text replies, `callBuffers()` keeps them
 * (SCAN of binary keys). Untrusted text (INFO, ROLE) is parsed into typed objects here, once.
 */
import type tls from 'node:tls';
import { RedslotError } from '../../shared/errors.js';
import { RedisAdminErrors, RedisLink, splitAddr, type RedisReply } from './link.js';

export { RedisAdminErrors, splitAddr, type RedisReply } from './link.js';

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
  /** TLS toward the server; null/absent = plain TCP. */
  tls?: tls.ConnectionOptions | null;
}

function toText(r: RedisReply): RedisTextReply {
  if (Buffer.isBuffer(r)) return r.toString('utf8');
  if (Array.isArray(r)) return r.map(toText);
  return r;
}

export class RedisAdmin {
  readonly addr: string;
  private readonly link: RedisLink;

  constructor(opts: RedisAdminOptions) {
    this.addr = opts.addr;
    this.link = new RedisLink(opts);
  }

  get connected(): boolean {
    return this.link.connected;
  }

  /** Connects (and authenticates) if not connected yet; reconnects after a failure. */
  async connect(): Promise<void> {
    await this.link.connect();
  }

  /** Sends a command; error replies come back as Error values (not thrown). Bulk strings stay Buffers. */
  callBuffers(...args: Array<string | Buffer | number>): Promise<RedisReply> {
    return this.link.call(args);
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
    this.link.close();
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
