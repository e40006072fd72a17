/** Failover status (GET /api/v1/failover) and the per-group switch (PUT /api/v1/groups/:gid/failover). */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { DashboardContext } from '../context.js';
import { RedslotError } from '../../shared/errors.js';
import { DashboardErrors } from '../errors.js';
import { errorResponses, mutate } from '../routes/common.js';
import { GroupParams } from '../schemas/index.js';

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

const ReplicaStatusSchema = Type.Object({
  addr: Type.String(),
  role: Type.String(),
  linkUp: Type.Boolean(),
  lagBytes: Nullable(Type.Number()),
  silentMs: Nullable(Type.Number()),
  stale: Type.Boolean(),
});

const LastFailoverSchema = Type.Object({
  at: Type.String(),
  from: Type.String(),
  to: Type.String(),
  result: Type.String(),
  durationMs: Type.Number(),
  detail: Type.String(),
});

export const FailoverGroupSchema = Type.Object({
  gid: Type.Integer(),
  enabled: Type.Boolean(),
  state: Type.String(),
  master: Type.Union([Type.String(), Type.Null()]),
  masterReachable: Type.Union([Type.Boolean(), Type.Null()]),
  masterFailingForMs: Type.Number(),
  liveProxies: Type.Integer(),
  downVotes: Type.Integer(),
  quorum: Type.Integer(),
  replicas: Type.Array(ReplicaStatusSchema),
  alert: Type.Optional(Type.String()),
  lastFailover: Type.Optional(LastFailoverSchema),
});

export const FailoverResponse = Type.Object({
  leader: Type.Boolean(),
  config: Type.Object({ enabled: Type.Boolean(), downAfterMs: Type.Number(), maxLagMs: Type.Number(), cooldownMs: Type.Number(), checkIntervalMs: Type.Number(), probeTimeoutMs: Type.Number() }),
  groups: Type.Array(FailoverGroupSchema),
});

const SetFailoverBody = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });
const SetFailoverResponse = Type.Object({ gid: Type.Integer(), enabled: Type.Boolean() });

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
