/**
 * The proxy's admin HTTP app: `build(opts)` returns a fastify instance without listening (tests use inject).
 *
 *   GET  /metrics          Prometheus text (proxy/metrics.ts)
 *   GET  /healthz          200 while the process runs
 *   GET  /readyz           200 only when a topology is applied and the proxy is not fenced, else 503 + reason
 *   GET  /api/v1/proxy     config without secrets, topology revision, fence state, stats, memory
 *   GET  /api/v1/proxy/load  requests and bytes per slot (cumulative) and the sampled hot keys (shared/load-report.ts)
 *   POST /api/v1/proxy/gc  runs a full GC when node was started with --expose-gc (memory tests), else 404; free
 *                          reusable slabs are dropped first (a burst leaves up to 32 MB pooled for a second or two)
 * /api/v1 needs the adminToken, or a loopback client when none is set (./guard.ts). HTTPS with adminTls.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { redactConfig, type ProxyConfig } from '../config.js';
import type { ProxyCore } from '../core.js';
import type { ProxyLoadReport } from '../../shared/load-report.js';
import { guardAdmin } from './guard.js';
import { createLogger } from '../../shared/log.js';
import { fastifyHttpsOption, serveRotatingCertificates } from '../../shared/tls/https.js';
import { emptyPools } from '../util/lent-slabs.js';

/**
 * What the admin app reads: a single-process ProxyCore, or the primary's view of its workers
 * (proxy/workers/primary.ts, figures summed over the workers).
 */
export interface AdminProxy {
  readonly version: string;
  readonly startedAt: number;
  readonly config: ProxyConfig;
  readonly table: { readonly loaded: boolean };
  readonly metrics: { readonly registry: { readonly contentType: string }; text(): Promise<string> };
  ready(): boolean;
  appliedRevision(): number;
  fenced(): string | null;
  drainingRequests(): number;
  connectedClients(): number;
  totalConnections(): number;
  rejectedConnections(): number;
  requestsActive(): number;
  heldSessions(): number;
  totalCommands(): number;
  backends(): ReturnType<ProxyCore['backends']>;
  loadReport(): ProxyLoadReport | Promise<ProxyLoadReport>;
}

export interface AdminOptions {
  proxy: AdminProxy;
  /** RESP and admin addresses as bound. */
  addr: () => string;
  adminAddr: () => string;
  /** Extra state to show (e.g. the coordinator follower's lease/watch state). */
  extra?: () => Record<string, unknown> | null;
}

export function build(opts: AdminOptions): FastifyInstance {
  const p = opts.proxy;
  // HTTPS when adminTls names a certificate; a plain HTTP request to it then fails the handshake.
  const app = Fastify({ logger: false, ...fastifyHttpsOption(p.config.adminTls, 'adminTls') }) as unknown as FastifyInstance;
  serveRotatingCertificates(app, p.config.adminTls, createLogger({ component: 'proxy.admin' }), 'adminTls');
  guardAdmin(app, p.config.adminToken);

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', p.metrics.registry.contentType);
    return p.metrics.text();
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    if (p.ready()) return { status: 'ready', revision: p.appliedRevision() };
    const reason = p.fenced() !== null ? `fenced: ${p.fenced()}` : 'no topology applied yet';
    return reply.code(503).send({ status: 'not ready', reason });
  });

  app.get('/api/v1/proxy', async () => {
    const mem = process.memoryUsage();
    return {
      version: p.version,
      pid: process.pid,
      addr: opts.addr(),
      adminAddr: opts.adminAddr(),
      startedAt: new Date(p.startedAt).toISOString(),
      config: redactConfig(p.config),
      topology: { revision: p.appliedRevision(), loaded: p.table.loaded, drainingRequests: p.drainingRequests() },
      fenced: p.fenced(),
      ready: p.ready(),
      stats: {
        clients: p.connectedClients(),
        totalConnections: p.totalConnections(),
        rejectedConnections: p.rejectedConnections(),
        requestsActive: p.requestsActive(),
        heldSessions: p.heldSessions(),
        commands: p.totalCommands(),
      },
      backends: p.backends(),
      memory: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers },
      ...(opts.extra?.() ?? {}),
    };
  });

  app.get('/api/v1/proxy/load', async () => p.loadReport());

  app.post('/api/v1/proxy/gc', async (_req, reply) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (typeof gc !== 'function') return reply.code(404).send({ error: 'start node with --expose-gc to enable this' });
    emptyPools();
    gc();
    const mem = process.memoryUsage();
    return { heapUsed: mem.heapUsed, rss: mem.rss, external: mem.external, arrayBuffers: mem.arrayBuffers };
  });

  return app;
}
