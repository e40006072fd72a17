/**
 * Split API (replication-based group split, dashboard/migration/split/), one fastify plugin:
 *
 *   GET  /api/v1/splits                  every split record (running ones with live progress)
 *   GET  /api/v1/splits/:source          the split whose source is that group
 *   POST /api/v1/splits                  {source, target, from?, to?}: the preview (guard rails checked);
 *                                        with confirm: true it starts
 *   POST /api/v1/splits/:source/abort    before the switch: release the hold, detach and flush the new group
 *
 * The plugin creates the SplitService from the dashboard context, hooks it to leadership (resume / stop) and
 * registers its metrics. Mutations go through routes/common.ts `mutate` (operator role, leader only, audited).
 */
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import type { App } from '../app-type.js';
import type { DashboardContext } from '../context.js';
import type { TlsClientConfig } from '../../shared/tls/config.js';
import { createSplitMetrics } from '../metrics/split.js';
import type { SplitKnobs } from '../migration/split/context.js';
import { SplitService } from '../migration/split/service.js';
import { holdingBarrier } from '../topom/barrier.js';
import { errorResponses, mutate, who } from './common.js';

declare module 'fastify' {
  interface FastifyInstance {
    splits: SplitService;
  }
}

export interface SplitPluginOptions {
  redisPassword?: string;
  redisUsername?: string;
  redisTls?: TlsClientConfig | null;
  knobs?: Partial<SplitKnobs>;
}

const GroupId = Type.Integer({ minimum: 1, maximum: 9999 });
const SlotId = Type.Integer({ minimum: 0, maximum: 1023 });
const Ranges = Type.Array(Type.Array(Type.Integer(), { minItems: 2, maxItems: 2 }), { description: 'inclusive [from, to] slot ranges' });

const SplitBody = Type.Object(
  {
    source: GroupId,
    target: GroupId,
    from: Type.Optional(SlotId),
    to: Type.Optional(SlotId),
    confirm: Type.Optional(Type.Boolean({ description: 'start it (without: answer the preview)' })),
    ifRevision: Type.Optional(Type.Integer({ minimum: 0, description: 'refuse (409) if either group changed after this revision (use the preview revision)' })),
  },
  { additionalProperties: false },
);

export const SplitPlanSchema = Type.Object({
  source: Type.Integer(),
  target: Type.Integer(),
  sourceMaster: Type.String(),
  targetMaster: Type.String(),
  slots: Ranges,
  slotCount: Type.Integer(),
  keeps: Type.Integer({ description: 'slots the source keeps' }),
  sourceUsedMemory: Type.Number(),
  sourceKeys: Type.Number(),
  targetMaxmemory: Type.Number(),
  targetReplicas: Type.Array(Type.String(), { description: "the new group's replicas: chained to its master during the sync, attached after the purge" }),
  replBacklogBytes: Type.Number(),
  warnings: Type.Array(Type.String()),
});

export const SplitSchema = Type.Object({
  id: Type.String(),
  source: Type.Integer(),
  target: Type.Integer(),
  sourceMaster: Type.String(),
  targetMaster: Type.String(),
  slots: Ranges,
  step: Type.String({ description: 'syncing | locked | promoting | switching | purging | attaching | done | aborting | aborted | failed' }),
  createdAt: Type.String(),
  createdBy: Type.String(),
  updatedAt: Type.String(),
  switchOffset: Type.Optional(Type.Number()),
  holdMs: Type.Optional(Type.Number({ description: 'how long the moving slots were held at the proxies' })),
  holdPartsMs: Type.Optional(
    Type.Object(
      { lockTxn: Type.Number(), barrier: Type.Number(), catchUp: Type.Number(), promote: Type.Number() },
      { description: 'where the hold went (ms): the lock txn, the proxies acknowledging it, the new master catching up, its promotion' },
    ),
  ),
  switchedAt: Type.Optional(Type.String()),
  purge: Type.Optional(Type.Object({ sourceDeleted: Type.Number(), targetDeleted: Type.Number() })),
  replicas: Type.Optional(
    Type.Array(Type.Object({ addr: Type.String(), attached: Type.Boolean(), detail: Type.Optional(Type.String()) }), {
      description: "the new group's replicas when the split ended: following the new master and caught up, or not (see warnings)",
    }),
  ),
  finishedAt: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  warnings: Type.Optional(Type.Array(Type.String())),
  running: Type.Boolean(),
  progress: Type.Optional(
    Type.Object({
      syncReadBytes: Type.Number(),
      syncTotalBytes: Type.Number(),
      lagBytes: Type.Number(),
      purgedSource: Type.Number(),
      purgedTarget: Type.Number(),
      purgeSourceKeys: Type.Number(),
      purgeTargetKeys: Type.Number(),
      replicas: Type.Array(
        Type.Object({
          addr: Type.String(),
          role: Type.String(),
          master: Type.Optional(Type.String()),
          linkUp: Type.Boolean(),
          syncing: Type.Boolean(),
          lagBytes: Type.Number({ description: "its master's offset minus its own (-1 while not following with the link up)" }),
          error: Type.Optional(Type.String()),
        }),
      ),
      lastError: Type.Optional(Type.Object({ message: Type.String(), at: Type.String(), step: Type.String() })),
    }),
  ),
});

const SourceParams = Type.Object({ source: Type.Integer({ minimum: 1, maximum: 9999 }) });
const EmptyBody = Type.Optional(Type.Object({}, { additionalProperties: true }));

/** Builds the service on the dashboard's services. */
export function createSplitService(ctx: DashboardContext, opts: SplitPluginOptions, metrics?: ReturnType<typeof createSplitMetrics>): SplitService {
  return new SplitService({
    coord: ctx.coord,
    paths: ctx.paths,
    store: ctx.store,
    // The moving slots are held while the switch waits for it.
    barrier: holdingBarrier(ctx.coord, ctx.paths, { timeoutMs: ctx.barrierTimeoutMs, log: ctx.log, metrics: ctx.metrics }),
    isLeader: () => ctx.election.isLeader(),
    log: ctx.log,
    metrics,
    redisPassword: opts.redisPassword,
    redisUsername: opts.redisUsername,
    redisTls: opts.redisTls,
    assertAllowed: (addr, known) => ctx.dialer.assertAllowed(addr, known),
    knobs: opts.knobs,
  });
}

export function registerSplitRoutes(app: App, ctx: DashboardContext, service: SplitService): void {
  const tags = ['splits'];
  app.get(
    '/api/v1/splits',
    { schema: { summary: 'Every replication-based split (running ones with sync, lag and purge progress)', tags, response: { 200: Type.Object({ splits: Type.Array(SplitSchema) }), ...errorResponses } } },
    async () => ({ splits: await service.list() }),
  );
  app.get(
    '/api/v1/splits/:source',
    { schema: { summary: 'The split whose source is this group', tags, params: SourceParams, response: { 200: SplitSchema, ...errorResponses } } },
    async (req) => service.get((req.params as { source: number }).source),
  );
  app.post(
    '/api/v1/splits',
    {
      schema: {
        summary: 'Split a group by replication: preview (guard rails checked), or start it with confirm: true',
        tags,
        body: SplitBody,
        response: { 200: Type.Object({ started: Type.Boolean(), revision: Type.Optional(Type.Integer()), plan: SplitPlanSchema, split: Type.Optional(SplitSchema) }), ...errorResponses },
      },
    },
    async (req) => {
      const b = req.body as { source: number; target: number; from?: number; to?: number; confirm?: boolean; ifRevision?: number };
      const sr = { source: b.source, target: b.target, ...(b.from !== undefined || b.to !== undefined ? { slots: { from: b.from ?? 0, to: b.to ?? 1023 } } : {}) };
      if (b.confirm !== true) {
        const p = await service.preview(sr);
        return { started: false, revision: p.revision, plan: p.plan };
      }
      return mutate(
        ctx,
        req,
        'split.start',
        `group ${b.source} -> group ${b.target}`,
        b,
        async () => {
          const res = await service.start(sr, who(req), b.ifRevision);
          return { started: true, plan: res.plan, split: res.split };
        },
        (r) => `split ${r.split.id}: ${r.plan.slotCount} slot(s) to group ${b.target}`,
      );
    },
  );
  app.post(
    '/api/v1/splits/:source/abort',
    { schema: { summary: 'Abort a split before its switch: the hold is released, the new group detached and flushed', tags, params: SourceParams, body: EmptyBody, response: { 200: SplitSchema, ...errorResponses } } },
    async (req) => {
      const source = (req.params as { source: number }).source;
      return mutate(ctx, req, 'split.abort', `group ${source}`, { source }, () => service.abort(source, who(req)), (r) => `split ${r.id} aborting from ${r.step}`);
    },
  );
}

async function plugin(app: App, opts: SplitPluginOptions): Promise<void> {
  const ctx = app.dashboard;
  const holder: { service?: SplitService } = {};
  const metrics = createSplitMetrics(ctx.metrics.registry, () => holder.service?.sample() ?? { lagBytes: 0, syncBytes: 0 });
  const s = createSplitService(ctx, opts, metrics);
  holder.service = s;
  app.decorate('splits', s);
  ctx.election.onBecameLeader('split.resume', (signal) => s.resume(signal));
  ctx.election.onLostLeadership('split.stop', () => void s.stop());
  app.addHook('onClose', async () => {
    await s.stop();
  });
  registerSplitRoutes(app, ctx, s);
}

/** `await app.register(splitPlugin, { redisPassword, redisUsername })` in dashboard/app.ts build(). */
export const splitPlugin = fp(plugin as unknown as Parameters<typeof fp>[0], { name: 'redslot-split', fastify: '5.x' }) as unknown as (app: App, opts: SplitPluginOptions) => Promise<void>;
