/** Groups, their servers, and master promotion. */
import type { App } from '../app-type.js';
import type { DashboardContext } from '../context.js';
import {
  AddServerBody,
  CreateGroupBody,
  GroupMutationResponse,
  GroupParams,
  GroupsResponse,
  IfRevisionQuery,
  PromoteBody,
  PromoteResponse,
  ServerParams,
} from '../schemas/index.js';
import { RedslotError } from '../../shared/errors.js';
import { DashboardErrors } from '../errors.js';
import { groupView, groupViews } from '../topom/views.js';
import { errorResponses, mutate } from './common.js';

export function registerGroupRoutes(app: App, ctx: DashboardContext): void {
  app.get(
    '/api/v1/groups',
    { schema: { summary: 'Every group with its servers and slot count', tags: ['groups'], response: { 200: GroupsResponse, ...errorResponses } } },
    async () => {
      const snap = await ctx.store.read();
      return { revision: snap.revision, groups: groupViews(snap) };
    },
  );

  app.get(
    '/api/v1/groups/:gid',
    { schema: { summary: 'One group', tags: ['groups'], params: GroupParams, response: { 200: GroupMutationResponse, ...errorResponses } } },
    async (req) => {
      const snap = await ctx.store.read();
      const g = snap.groups.get(req.params.gid);
      if (!g) throw new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_FOUND, { what: `group ${req.params.gid}` });
      return { revision: snap.revision, group: groupView(snap, g) };
    },
  );

  app.post(
    '/api/v1/groups',
    { schema: { summary: 'Create an empty group', tags: ['groups'], body: CreateGroupBody, response: { 201: GroupMutationResponse, ...errorResponses } } },
    async (req, reply) => {
      const { id, weight, ifRevision } = req.body;
      const r = await mutate(ctx, req, 'group.create', `group ${id}`, req.body, () => ctx.groups.createGroup(id, weight, ifRevision));
      return reply.code(201).send(r);
    },
  );

  app.delete(
    '/api/v1/groups/:gid',
    {
      schema: {
        summary: 'Remove a group (only when it owns no slots)',
        tags: ['groups'],
        params: GroupParams,
        querystring: IfRevisionQuery,
        response: { 200: GroupMutationResponse, ...errorResponses },
      },
    },
    async (req) => {
      const gid = req.params.gid;
      return mutate(ctx, req, 'group.remove', `group ${gid}`, { gid, ...req.query }, () => ctx.groups.removeGroup(gid, req.query.ifRevision), (r) => r.detail);
    },
  );

  app.post(
    '/api/v1/groups/:gid/servers',
    {
      schema: {
        summary: 'Add a server: the first is the master, later ones replicas (checked with PING and ROLE; an empty master is made a replica with REPLICAOF)',
        tags: ['groups'],
        params: GroupParams,
        body: AddServerBody,
        response: { 201: GroupMutationResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const gid = req.params.gid;
      const r = await mutate(ctx, req, 'server.add', `group ${gid} server ${req.body.addr}`, { gid, ...req.body }, () => ctx.groups.addServer(gid, req.body.addr, req.body), (x) => x.detail);
      return reply.code(201).send(r);
    },
  );

  app.delete(
    '/api/v1/groups/:gid/servers/:addr',
    {
      schema: {
        summary: 'Remove a server from the model (a master only when it is the last server and the group owns no slots)',
        tags: ['groups'],
        params: ServerParams,
        querystring: IfRevisionQuery,
        response: { 200: GroupMutationResponse, ...errorResponses },
      },
    },
    async (req) => {
      const { gid, addr } = req.params;
      return mutate(ctx, req, 'server.remove', `group ${gid} server ${addr}`, { gid, addr, ...req.query }, () => ctx.groups.removeServer(gid, addr, req.query.ifRevision), (r) => r.detail);
    },
  );

  app.post(
    '/api/v1/groups/:gid/promote',
    {
      schema: {
        summary: 'Promote a replica to master behind the barrier (proxies hold the group, switch, re-point replicas)',
        tags: ['groups'],
        params: GroupParams,
        body: PromoteBody,
        response: { 200: PromoteResponse, ...errorResponses },
      },
    },
    async (req) => {
      const gid = req.params.gid;
      return mutate(
        ctx,
        req,
        'group.promote',
        `group ${gid} server ${req.body.addr}`,
        { gid, ...req.body },
        () => ctx.promotion.promote(gid, req.body.addr, req.body, ctx.election.termSignal()),
        (r) => [...r.steps, ...r.warnings.map((w) => `warning: ${w}`)].join('; '),
      );
    },
  );
}
