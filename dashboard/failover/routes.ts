/** Failover status (GET /api/v1/failover) and the per-group switch (PUT /api/v1/groups/:gid/failover). */
import type { App } from '../app.js';
import type { DashboardContext } from '../context.js';
import { RedslotError } from '../../shared/errors.js';
import { DashboardErrors } from '../errors.js';
import { errorResponses, mutate } from '../routes/common.js';
import { GroupParams } from '../schemas/index.js';
import { FailoverResponse, SetFailoverBody, SetFailoverResponse } from './schemas.js';

export function registerFailoverRoutes(app: App, ctx: DashboardContext): void {
  app.get(
    '/api/v1/failover',
    { schema: { summary: 'Automatic failover: per group state, replica lag, stale servers, last failover', tags: ['groups'], response: { 200: FailoverResponse, ...errorResponses } } },
    async () => ctx.failover.view(),
  );

  app.put(
    '/api/v1/groups/:gid/failover',
    {
      schema: {
        summary: 'Enable or disable automatic failover for one group',
        tags: ['groups'],
        params: GroupParams,
        body: SetFailoverBody,
        response: { 200: SetFailoverResponse, ...errorResponses },
      },
    },
    async (req) => {
      const gid = req.params.gid;
      const { enabled } = req.body;
      return mutate(ctx, req, enabled ? 'group.failover.enable' : 'group.failover.disable', `group ${gid}`, { enabled }, async () => {
        const snap = await ctx.store.read();
        if (!snap.groups.has(gid)) throw new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_FOUND, { what: `group ${gid}` });
        const s = await ctx.failoverStates.update(gid, (cur) => ({ ...cur, gid, enabled }));
        return { gid, enabled: s.enabled ?? enabled };
      });
    },
  );
}
