/** The audit log of mutating calls. */
import type { App } from '../app-type.js';
import type { DashboardContext } from '../context.js';
import { AuditQuery, AuditResponse } from '../schemas/index.js';
import { errorResponses } from './common.js';

export function registerAuditRoutes(app: App, ctx: DashboardContext): void {
  app.get(
    '/api/v1/audit',
    {
      schema: {
        summary: 'Audit entries, newest first (who, what, params, when, result, detail)',
        tags: ['audit'],
        querystring: AuditQuery,
        response: { 200: AuditResponse, ...errorResponses },
      },
    },
    async (req) => ({ entries: await ctx.audit.list(req.query.limit ?? 100, req.query.before) }),
  );
}
