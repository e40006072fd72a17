/**
 * The dashboard HTTP app: `build(opts)` returns a fastify instance (not listening) with the TypeBox type
 * provider, the REST API under /api/v1 (JSON schemas on every route, OpenAPI at /api/v1/openapi.json),
 * bearer-token auth, HTTPS when opts.tls names a certificate, JSON errors `{ error: { code, message } }`, /metrics and the web UI (dashboard/ui, static files under /ui/).
 * Tests call `app.inject()`; `startDashboard` (main.ts) listens and starts the election.
 */
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { RedslotError } from '../shared/errors.js';
import { fastifyHttpsOption, serveRotatingCertificates } from '../shared/tls/https.js';
import type { App } from './app-type.js';
import { createContext, type DashboardOptions } from './context.js';
import { DashboardErrors } from './errors.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerGroupRoutes } from './routes/groups.js';
import { registerFailoverRoutes } from './failover/routes.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerImportRoutes } from './imports/routes.js';
import { registerLoadRoutes } from './load/routes.js';
import { registerOverviewRoutes } from './routes/overview.js';
import { registerProxyRoutes } from './routes/proxies.js';
import { registerSlotRoutes } from './routes/slots.js';
import { registerUi } from './ui/plugin.js';
import { migrationPlugin } from './routes/migrations.js';
import { splitPlugin } from './routes/splits.js';

export type { App } from './app-type.js';

export type { DashboardOptions } from './context.js';

export const API_PREFIX = '/api/v1';

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

export async function build(opts: DashboardOptions): Promise<App> {
  const ctx = createContext(opts);
  const app: App = Fastify({
    logger: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    bodyLimit: 1024 * 1024,
    ...fastifyHttpsOption(opts.tls ?? null, 'tls'),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;
  serveRotatingCertificates(app as unknown as FastifyInstance, opts.tls ?? null, ctx.log, 'tls');
  app.decorate('dashboard', ctx);
  app.decorateRequest('principal', null);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'redslot dashboard API', version: '1', description: 'Topology control plane of a redslot cluster. Authenticate with Authorization: Bearer <token>.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  // Authentication: only the Authorization header counts; query strings are never read for tokens.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.routeOptions.config?.public) return;
    if (req.url === '/metrics' && ctx.openMetrics) return;
    const principal = ctx.auth.check(req.headers.authorization);
    if (principal) {
      req.principal = principal;
      return;
    }
    if (req.headers.authorization === undefined && ctx.openReads && (req.method === 'GET' || req.method === 'HEAD')) {
      req.principal = { name: 'anonymous', role: 'viewer' };
      return;
    }
    ctx.metrics.authFailures.inc({ kind: 'unauthorized' });
    ctx.log.warn('auth.refused', { method: req.method, route: req.routeOptions.url ?? 'unknown', remote: req.ip, tokenSent: req.headers.authorization !== undefined });
    return sendError(reply.header('www-authenticate', 'Bearer'), 401, DashboardErrors.REDSLOT_ERR_UNAUTHORIZED.code, DashboardErrors.REDSLOT_ERR_UNAUTHORIZED.message);
  });

  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    ctx.metrics.httpRequests.inc({ route, method: req.method, status: String(reply.statusCode) });
    ctx.metrics.httpDuration.observe({ route }, reply.elapsedTime / 1000);
    ctx.log.debug('http.request', { method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime), who: req.principal?.name });
  });

  app.setErrorHandler((err: FastifyError | RedslotError | Error, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof RedslotError) {
      return sendError(reply, err.spec.httpStatus ?? 500, err.code, err.message);
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return sendError(reply, 400, DashboardErrors.REDSLOT_ERR_BAD_REQUEST.code, `invalid request: ${fe.message}`);
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return sendError(reply, fe.statusCode, DashboardErrors.REDSLOT_ERR_BAD_REQUEST.code, `invalid request: ${fe.message}`);
    }
    ctx.log.error('http.internal_error', { method: req.method, route: req.routeOptions.url, err });
    return sendError(reply, 500, DashboardErrors.REDSLOT_ERR_INTERNAL.code, `internal error: ${err.message}`);
  });

  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) =>
    sendError(reply, 404, DashboardErrors.REDSLOT_ERR_NOT_FOUND.code, `route ${req.method} ${req.url.split('?')[0]} not found`),
  );

  registerHealthRoutes(app, ctx);
  registerOverviewRoutes(app, ctx);
  registerGroupRoutes(app, ctx);
  registerFailoverRoutes(app, ctx);
  registerSlotRoutes(app, ctx);
  registerProxyRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerImportRoutes(app, ctx);
  registerLoadRoutes(app, ctx);
  registerUi(app);
  if (opts.migration !== false) {
    const knobs = typeof opts.migration === 'object' ? opts.migration : {};
    await app.register(migrationPlugin, { redisPassword: opts.redisPassword, redisUsername: opts.redisUsername, redisTls: opts.redisTls, ...knobs });
  }
  if (opts.split !== false) {
    const knobs = typeof opts.split === 'object' ? opts.split : {};
    await app.register(splitPlugin, { redisPassword: opts.redisPassword, redisUsername: opts.redisUsername, redisTls: opts.redisTls, knobs });
  }

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.type(ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });

  app.addHook('onReady', async () => {
    await ctx.start();
  });
  app.addHook('onClose', async () => {
    await ctx.close();
  });
  return app;
}
