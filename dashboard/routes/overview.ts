/** Read-only views of the cluster: status at a glance, the full topology, and the stats overview/history. */
import { OFFLINE_GROUP } from '../../shared/model/types.js';
import type { App } from '../app-type.js';
import type { DashboardContext } from '../context.js';
import { OverviewQuery, OverviewResponse, StatusResponse, TopologyResponse } from '../schemas/index.js';
import { slotRanges } from '../topom/store.js';
import { groupViews, slotView, topologyRevision } from '../topom/views.js';
import { errorResponses } from './common.js';
import { membersView } from './health.js';

export function registerOverviewRoutes(app: App, ctx: DashboardContext): void {
  app.get(
    '/api/v1/status',
    { schema: { summary: 'The cluster at a glance: leader, groups, slot ranges, proxies', tags: ['cluster'], response: { 200: StatusResponse, ...errorResponses } } },
    async () => {
      const snap = await ctx.store.read();
      const topoRev = Math.max(topologyRevision(snap), ctx.store.lastCommitted);
      const proxies = await ctx.proxies.list(topoRev, false);
      const slots = snap.slots.map((s) => s.record);
      return {
        cluster: ctx.cluster,
        revision: snap.revision,
        leader: ctx.election.leader(),
        members: await membersView(ctx),
        groups: groupViews(snap),
        slotRanges: slotRanges(slots),
        offlineSlots: slots.filter((s) => s.group === OFFLINE_GROUP).length,
        migratingSlots: slots.filter((s) => s.action !== undefined).length,
        proxies: proxies.map((p) => ({ id: p.id, addr: p.addr, ackedRevision: p.ackedRevision, upToDate: p.upToDate, fenced: p.fenced })),
      };
    },
  );

  app.get(
    '/api/v1/topology',
    { schema: { summary: 'Groups and all 1024 slots at one revision', tags: ['cluster'], response: { 200: TopologyResponse, ...errorResponses } } },
    async () => {
      const snap = await ctx.store.read();
      return { revision: snap.revision, groups: groupViews(snap), slots: snap.slots.map((s) => slotView(s.record)) };
    },
  );

  app.get(
    '/api/v1/overview',
    {
      schema: {
        summary: 'Ops/s, keys and memory per group, server and proxy (polled every second), with a few minutes of history',
        tags: ['cluster'],
        querystring: OverviewQuery,
        response: { 200: OverviewResponse, ...errorResponses },
      },
    },
    async (req) => {
      const current = ctx.stats.current() ?? (await ctx.stats.pollOnce());
      return {
        intervalMs: ctx.stats.intervalMs,
        current,
        history: req.query.history === false ? [] : ctx.stats.history(req.query.since),
      };
    },
  );
}
