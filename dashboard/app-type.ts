// The dashboard's Fastify instance type and its request/instance decorations, on their own so that route modules can
// name the app without importing dashboard/app.ts, which imports every route module (no import cycle).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { Principal } from './auth.js';
import type { DashboardContext } from './context.js';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyInstance {
    dashboard: DashboardContext;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Route needs no token at all (health, OpenAPI, UI shell). */
    public?: boolean;
  }
}
