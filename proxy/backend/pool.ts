/**
 * Backend connections per (server, db): `connectionsPerServer` pipelined connections per database, dialled
 * lazily on first use. A session always uses the same connection of a (server, db) (chosen by its seed), so
 * one client's commands to one server keep their order.
 */
import type { Logger } from '../../shared/log.js';
import { parseHostPort } from '../../shared/config.js';
import { BackendConnection, type BackendOptions, type ConnectionOwner } from './connection.js';
import { DedicatedPool } from './dedicated.js';
import type { RedisVersion } from '../../shared/redis-version.js';

export interface PoolOptions extends BackendOptions {
  connectionsPerServer: number;
  databases: number;
  /** Dedicated connections (transactions, blocked commands, subscribers): per proxy, per server, idle reuse. */
  maxDedicated?: number;
  maxDedicatedPerServer?: number;
  dedicatedIdleMs?: number;
  /** A request answered BUSY at once (metrics: redslot_proxy_guard_total{event="busy"}). */
  onBusy?: () => void;
}

export class BackendServer implements ConnectionOwner {
  readonly host: string;
  readonly port: number;
  /** Last health reported by a connection (true until a dial fails). */
  healthy = true;
  /** Requests sent to this server (upstream_rq_total). */
  requests = 0;
  /** Redis version learned at the last handshake (server-version.ts); null until then. */
  version: RedisVersion | null = null;
  /** A replica fit to serve reads now: link to its master up, lag under replicaMaxLag (proxy/topology/replica-health.ts). */
  readable = false;
  private readonly dbs: Array<BackendConnection[] | undefined>;
  /** The same for RESP3 clients (connections that said HELLO 3). */
  private readonly dbs3: Array<BackendConnection[] | undefined>;
  private closed = false;

  constructor(
    readonly addr: string,
    readonly log: Logger,
    private readonly opts: PoolOptions,
  ) {
    const hp = parseHostPort(addr, 'backend address');
    this.host = hp.host;
    this.port = hp.port;
    this.dbs = new Array<BackendConnection[] | undefined>(opts.databases);
    this.dbs3 = new Array<BackendConnection[] | undefined>(opts.databases);
  }

  /** The connection for `db` (and RESP version `proto`) that a session with this seed uses. */
  conn(db: number, seed: number, proto: 2 | 3 = 2): BackendConnection {
    this.requests++;
    const dbs = proto === 2 ? this.dbs : this.dbs3;
    let list = dbs[db];
    if (list === undefined) {
      list = [];
      dbs[db] = list;
    }
    const i = this.opts.connectionsPerServer === 1 ? 0 : seed % this.opts.connectionsPerServer;
    let c = list[i];
    if (c === undefined) {
      c = new BackendConnection(this, db, this.opts, proto);
      list[i] = c;
      if (this.closed) void c.close(true);
    }
    return c;
  }

  onConnectionHealth(up: boolean): void {
    this.healthy = up;
  }

  countBusy(): void {
    this.opts.onBusy?.();
  }

  connections(): BackendConnection[] {
    const out: BackendConnection[] = [];
    for (const list of this.dbs) if (list) for (const c of list) if (c) out.push(c);
    for (const list of this.dbs3) if (list) for (const c of list) if (c) out.push(c);
    return out;
  }

  /** Requests pending on all its connections. */
  pending(): number {
    let n = 0;
    for (const c of this.connections()) n += c.pending;
    return n;
  }

  /** Fails what is pending on every connection (the server was declared down: see BackendConnection.abandon). */
  abandon(): void {
    for (const c of this.connections()) c.abandon();
  }

  close(force: boolean): Promise<void> {
    this.closed = true;
    return Promise.all(this.connections().map((c) => c.close(force))).then(() => undefined);
  }
}

export class BackendPool {
  private readonly servers = new Map<string, BackendServer>();
  private readonly watchdog: NodeJS.Timeout;
  /** Connections owned by one client session at a time (proxy/backend/dedicated.ts). */
  readonly dedicated: DedicatedPool;

  constructor(
    private readonly opts: PoolOptions,
    private readonly log: Logger,
  ) {
    this.dedicated = new DedicatedPool(
      { maxTotal: opts.maxDedicated ?? 1000, maxPerServer: opts.maxDedicatedPerServer ?? opts.maxDedicated ?? 1000, idleMs: opts.dedicatedIdleMs ?? 30_000 },
      opts,
      log,
    );
    // One timer for every connection's reply-timeout check (no per-request timers).
    const every = Math.max(100, Math.min(1000, Math.floor(opts.replyTimeoutMs / 4) || 1000));
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const s of this.servers.values()) for (const c of s.connections()) c.checkStall(now);
    }, every);
    this.watchdog.unref();
  }

  /** The server handle for addr (created on first use; no connection is dialled until used). */
  server(addr: string): BackendServer {
    let s = this.servers.get(addr);
    if (s === undefined) {
      s = new BackendServer(addr, this.log, this.opts);
      this.servers.set(addr, s);
    }
    return s;
  }

  /** The server handle for addr if it was ever used. */
  peek(addr: string): BackendServer | undefined {
    return this.servers.get(addr);
  }

  all(): BackendServer[] {
    return [...this.servers.values()];
  }

  /** Renames every shared connection (BackendConnection.rename): the proxy registered under a new id. */
  rename(name: string): void {
    for (const s of this.servers.values()) for (const c of s.connections()) c.rename(name);
  }

  /** Closes (gracefully) every server not in `keep`: called after a topology change has drained. */
  async retain(keep: ReadonlySet<string>): Promise<void> {
    const gone: BackendServer[] = [];
    for (const [addr, s] of this.servers) {
      if (!keep.has(addr)) {
        this.servers.delete(addr);
        gone.push(s);
      }
    }
    this.dedicated.retain(keep);
    await Promise.all(gone.map((s) => s.close(false)));
  }

  async close(force = false): Promise<void> {
    clearInterval(this.watchdog);
    this.dedicated.close();
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(all.map((s) => s.close(force)));
  }
}
