/** Failover status (GET /api/v1/failover) and the per-group switch (PUT /api/v1/groups/:gid/failover). */
import type { App } from '../app.js';
import type { DashboardContext } from '../context.js';
import { RedslotError } from '../../shared/errors.js';
import { DashboardErrors } from '../errors.js';
import { errorResponses, mutate } from '../routes/common.js';
import { GroupParams } from '../schemas/index.js';
import type { FailoverGroupState } from './types.js';
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
        summary: 'Enable or disable automatic failover for one group, or make it follow a Sentinel service',
        tags: ['groups'],
        params: GroupParams,
        body: SetFailoverBody,
        response: { 200: SetFailoverResponse, ...errorResponses },
      },
    },
    async (req) => {
      const gid = req.params.gid;
      const { enabled, sentinel } = req.body;
      const action = sentinel !== undefined ? 'group.failover.sentinel.set' : enabled ? 'group.failover.enable' : 'group.failover.disable';
      return mutate(ctx, req, action, `group ${gid}`, req.body, async () => {
        const snap = await ctx.store.read();
        if (!snap.groups.has(gid)) throw new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_FOUND, { what: `group ${gid}` });
        const s = await ctx.failoverStates.update(gid, (cur) => {
          const next: FailoverGroupState = { ...cur, gid };
          if (enabled !== undefined) next.enabled = enabled;
          if (sentinel === null) delete next.sentinel;
          else if (sentinel !== undefined) next.sentinel = { name: sentinel.name, addrs: [...sentinel.addrs] };
          return next;
        });
        return { gid, enabled: s.enabled ?? ctx.failover.defaultEnabled, sentinel: s.sentinel ?? null };
      });
    },
  );
}
