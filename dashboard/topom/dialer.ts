/**
 * Every outbound connection the dashboard makes goes through here, and here is the SSRF guard: a
 * redis-server is dialled only if the model lists it (or it is the one address being added in that very
 * call), a proxy admin API only at an address a live proxy registered itself. Nothing else is ever dialled,
 * whatever a request says.
 */
import { RedslotError } from '../../shared/errors.js';
import { clientOptions, type TlsClientConfig } from '../../shared/tls/config.js';
import { describeRequestError, httpRequest } from '../../shared/tls/http-request.js';
import type { Logger } from '../../shared/log.js';
import { RedisAdmin, type RedisAdminOptions } from '../redis/admin.js';
import { DashboardErrors } from '../errors.js';
import type { TopologySnapshot } from './store.js';

export interface DialerOptions {
  dialTimeoutMs: number;
  redisPassword?: string;
  redisUsername?: string;
  /** TLS toward the redis-servers (the proxies' backend.tls settings); null = plain TCP. */
  redisTls?: TlsClientConfig | null;
  /** Set when the proxies serve their admin port over HTTPS (adminTls): https:// with this CA / client cert. */
  proxyAdminTls?: TlsClientConfig | null;
}

/** Every redis-server address in the model. */
export function knownServers(snap: TopologySnapshot): Set<string> {
  const out = new Set<string>();
  for (const g of snap.groups.values()) for (const s of g.record.servers) out.add(s.addr);
  return out;
}

export class Dialer {
  private readonly pool = new Map<string, RedisAdmin>();

  constructor(
    private readonly opts: DialerOptions,
    private readonly log: Logger,
  ) {}

  private clientOptions(addr: string): RedisAdminOptions {
    return {
      addr,
      password: this.opts.redisPassword,
      username: this.opts.redisUsername,
      connectTimeoutMs: this.opts.dialTimeoutMs,
      // Read at each dial: a rotated client certificate is picked up by the next connection.
      tls: this.opts.redisTls ? clientOptions(this.opts.redisTls, 'redisTls') : null,
      commandTimeoutMs: Math.max(this.opts.dialTimeoutMs, 1000),
    };
  }

  /** Throws ADDRESS_NOT_ALLOWED unless `addr` is in `known` or equals `adding`. */
  assertAllowed(addr: string, known: ReadonlySet<string>, adding?: string): void {
    if (known.has(addr) || addr === adding) return;
    this.log.warn('dialer.refused', { addr });
    throw new RedslotError(DashboardErrors.REDSLOT_ERR_ADDRESS_NOT_ALLOWED, { addr });
  }

  /** One-shot connection to a server the cluster knows (or the one being added), closed after `fn`. */
  async withServer<T>(addr: string, known: ReadonlySet<string>, fn: (c: RedisAdmin) => Promise<T>, adding?: string): Promise<T> {
    this.assertAllowed(addr, known, adding);
    const c = new RedisAdmin(this.clientOptions(addr));
    try {
      await c.connect();
      return await fn(c);
    } finally {
      c.close();
    }
  }

  /** Like withServer, with its own (short) connect and command timeout: health probes of the failover monitor. */
  async probe<T>(addr: string, known: ReadonlySet<string>, timeoutMs: number, fn: (c: RedisAdmin) => Promise<T>): Promise<T> {
    this.assertAllowed(addr, known);
    const c = new RedisAdmin({ ...this.clientOptions(addr), connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs });
    try {
      await c.connect();
      return await fn(c);
    } finally {
      c.close();
    }
  }

  /** Long-lived connection for polling (stats). Callers pass only model addresses. */
  pooled(addr: string, known: ReadonlySet<string>): RedisAdmin {
    this.assertAllowed(addr, known);
    let c = this.pool.get(addr);
    if (!c) {
      c = new RedisAdmin(this.clientOptions(addr));
      this.pool.set(addr, c);
    }
    return c;
  }

  /** Closes pooled connections to addresses no longer in the model. */
  prune(keep: ReadonlySet<string>): void {
    for (const [addr, c] of this.pool) {
      if (!keep.has(addr)) {
        c.close();
        this.pool.delete(addr);
      }
    }
  }

  /** GET http(s)://<adminAddr><path> of a registered proxy; JSON body. */
  async fetchProxyJson(adminAddr: string, path: string, knownAdminAddrs: ReadonlySet<string>): Promise<unknown> {
    this.assertAllowed(adminAddr, knownAdminAddrs);
    const secure = this.opts.proxyAdminTls ? clientOptions(this.opts.proxyAdminTls, 'proxyAdminTls') : null;
    const url = `${secure === null ? 'http' : 'https'}://${adminAddr}${path}`;
    const res = await httpRequest(url, { timeoutMs: Math.max(this.opts.dialTimeoutMs, 500), tls: secure }).catch((err: unknown) => {
      throw new Error(`proxy admin ${url}: ${describeRequestError(err, 'set proxyAdminTls.ca')}`, { cause: err });
    });
    if (!res.ok) throw new Error(`HTTP ${res.status} from proxy admin ${adminAddr}${path}`);
    return JSON.parse(res.body) as unknown;
  }

  close(): void {
    for (const c of this.pool.values()) c.close();
    this.pool.clear();
  }
}
