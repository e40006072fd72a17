/** Health (public), leadership and the OpenAPI document (public). */
import { Type } from 'typebox';
import type { App } from '../app-type.js';
import type { DashboardContext } from '../context.js';
import { HealthResponse, LeaderResponse } from '../schemas/index.js';
import { errorResponses } from './common.js';

export async function membersView(ctx: DashboardContext) {
  const leader = ctx.election.leader();
  const members = await ctx.election.members();
  return members
    .map((m) => ({ id: m.id, addr: m.addr, since: m.since, leader: leader?.id === m.id }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

export function registerHealthRoutes(app: App, ctx: DashboardContext): void {
  app.get(
    '/api/v1/health',
    { config: { public: true }, schema: { summary: 'Liveness and role of this dashboard (no token needed)', tags: ['meta'], security: [], response: { 200: HealthResponse } } },
    async () => ({ ok: true, id: ctx.id, role: ctx.election.isLeader() ? ('leader' as const) : ('standby' as const), leader: ctx.election.leader() }),
  );

  app.get(
    '/api/v1/leader',
    { schema: { summary: 'This dashboard, the leader and every registered dashboard', tags: ['meta'], response: { 200: LeaderResponse, ...errorResponses } } },
    async () => ({
      self: { id: ctx.id, addr: ctx.election.addr, leader: ctx.election.isLeader() },
      leader: ctx.election.leader(),
      members: await membersView(ctx),
    }),
  );

  app.get(
    '/api/v1/openapi.json',
    { config: { public: true }, schema: { summary: 'This API as an OpenAPI 3 document', tags: ['meta'], security: [], response: { 200: Type.Unknown() } } },
    async () => app.swagger(),
  );
}
