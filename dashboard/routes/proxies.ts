/** Proxies: live state and stats; forced removal of a dead proxy's registration. */
import type { App } from '../app-type.js';
import type { DashboardContext } from '../context.js';
import { ProxiesResponse, ProxyParams, RemoveProxyResponse } from '../schemas/index.js';
import { topologyRevision } from '../topom/views.js';
import { errorResponses, mutate } from './common.js';

export function registerProxyRoutes(app: App, ctx: DashboardContext): void {
  app.get(
    '/api/v1/proxies',
    {
      schema: {
        summary: 'Live proxies (from their leases) with acknowledged revision, fence state and admin stats',
        tags: ['proxies'],
        response: { 200: ProxiesResponse, ...errorResponses },
      },
    },
    async () => {
      const snap = await ctx.store.read();
      const rev = Math.max(topologyRevision(snap), ctx.store.lastCommitted);
      return { revision: snap.revision, proxies: await ctx.proxies.list(rev, true) };
    },
  );

  app.delete(
    '/api/v1/proxies/:id',
    {
      schema: {
        summary: "Delete a dead proxy's registration and ack so barriers stop waiting for it (a live proxy fences itself)",
        tags: ['proxies'],
        params: ProxyParams,
        response: { 200: RemoveProxyResponse, ...errorResponses },
      },
    },
    async (req) => {
      const id = req.params.id;
      const revision = await mutate(ctx, req, 'proxy.remove', `proxy ${id}`, { id }, () => ctx.proxies.remove(id, () => ctx.election.fence()));
      return { revision, removed: true };
    },
  );
}
