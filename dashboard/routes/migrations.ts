/**
 * Migration API, as one fastify plugin for the dashboard app (register it in build(), before ready):
 *
 *   GET  /api/v1/migrations                 status: paused, throttle, slot states, rate, ETA, movers, errors, jobs
 *   GET  /api/v1/migrations/:job            one job with per-slot progress
 *   POST /api/v1/migrations/preview         plan only: {mode: rebalance|range|some, ...} -> {revision, plan}
 *   POST /api/v1/migrations                 start: range/some at once; rebalance only with confirm: true
 *                                           (without it the answer is the preview, started: false)
 *   POST /api/v1/migrations/pause | resume  every migration (persisted; a new leader inherits it)
 *   PUT  /api/v1/migrations/throttle        {keysPerSec?, bytesPerSec?, parallelSlots?}, applied while running
 *   POST /api/v1/migrations/abort           every in-flight slot goes back to its source
 *   POST /api/v1/migrations/:job/abort      the in-flight slots of one job go back
 *
 * The plugin also creates the MigrationEngine from the dashboard context (`app.dashboard`), hooks its
 * resume()/stop() to leadership, registers its metrics in the dashboard registry, and decorates
 * `app.migration`. Mutations go through routes/common.ts `mutate` (operator role, leader only, audited).
 */
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import type { App } from '../app-type.js';
import type { DashboardContext } from '../context.js';
import { errorResponses, mutate } from './common.js';
import { holdingBarrier } from '../topom/barrier.js';
import { knownServers } from '../topom/dialer.js';
import { killStaleProxyConnections } from '../topom/stale-connections.js';
import { createMigrationMetrics, type MigrationMetrics } from '../metrics/migration.js';
import type { MoverKnobs } from '../migration/mover.js';
import { MigrationEngine, type MoveRequest } from '../migration/engine.js';
import { masterOf } from '../../shared/model/topology.js';
import type { SlotMove } from '../migration/planner.js';
import { assertMigratable } from '../migration/version-check.js';
import type { TlsClientConfig } from '../../shared/tls/config.js';

declare module 'fastify' {
  interface FastifyInstance {
    migration: MigrationEngine;
  }
}

export interface MigrationPluginOptions {
  redisPassword?: string;
  redisUsername?: string;
  redisTls?: TlsClientConfig | null;
  knobs?: Partial<MoverKnobs>;
  pollMs?: number;
  retryMs?: number;
}

/** Builds the engine on the dashboard's services (also usable without fastify: benchmarks, tools). */
export function createMigrationEngine(ctx: DashboardContext, opts: MigrationPluginOptions = {}, metrics?: MigrationMetrics): MigrationEngine {
  return new MigrationEngine({
    coord: ctx.coord,
    paths: ctx.paths,
    store: ctx.store,
    // Requests for slots in `prepared` are held by the proxies until the next step lands.
    barrier: holdingBarrier(ctx.coord, ctx.paths, { timeoutMs: ctx.barrierTimeoutMs, log: ctx.log, metrics: ctx.metrics }),
    killStaleProxyConnections: (masters, known) =>
      killStaleProxyConnections({ coord: ctx.coord, paths: ctx.paths, log: ctx.log, withServer: (addr, fn) => ctx.dialer.withServer(addr, known, fn) }, masters),
    isLeader: () => ctx.election.isLeader(),
    log: ctx.log,
    metrics,
    redisPassword: opts.redisPassword,
    redisUsername: opts.redisUsername,
    redisTls: opts.redisTls,
    knobs: opts.knobs,
    pollMs: opts.pollMs,
    retryMs: opts.retryMs,
    assertAllowed: (addr, known) => ctx.dialer.assertAllowed(addr, known),
    maxmemoryOf: async (addr, known) => (await ctx.dialer.withServer(addr, known, (c) => c.info('memory'))).maxmemory ?? 0,
    slotLoad: () => ctx.load.slotRates(),
  });
}

/** Hooks an engine to the dashboard's leadership: resume on election, stop on loss. */
export function attachToLeadership(ctx: DashboardContext, engine: MigrationEngine): void {
  ctx.election.onBecameLeader('migration.resume', (signal) => engine.resume(signal));
  ctx.election.onLostLeadership('migration.stop', () => void engine.stop());
}

// --- schemas ------------------------------------------------------------------------------------------------

const GroupId = Type.Integer({ minimum: 1, maximum: 9999 });
const SlotId = Type.Integer({ minimum: 0, maximum: 1023 });
const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);
const Common = {
  confirm: Type.Optional(Type.Boolean({ description: 'rebalance only: start it (without: answer the preview)' })),
  ifRevision: Type.Optional(Type.Integer({ minimum: 0, description: 'refuse (409) if a slot of the plan changed after this revision (use the preview revision)' })),
  planId: Type.Optional(Type.String({ maxLength: 100 })),
};

export const MoveBody = Type.Union([
  Type.Object(
    {
      mode: Type.Literal('rebalance'),
      groups: Type.Optional(
        Type.Array(Type.Object({ id: GroupId, weight: Type.Optional(Type.Number({ minimum: 0, maximum: 1e15 })) }, { additionalProperties: false }), {
          minItems: 1,
          maxItems: 9999,
          description: 'groups to spread slots over with their weights (0 = drain); default every group with a master, weights from the model',
        }),
      ),
      weights: Type.Optional(Type.Union([Type.Literal('model'), Type.Literal('maxmemory')], { description: 'maxmemory: weights follow each master\'s maxmemory' })),
      by: Type.Optional(Type.Union([Type.Literal('slots'), Type.Literal('load')], { description: 'load: balance the observed ops/s per group (GET /api/v1/load) instead of slot counts' })),
      ...Common,
    },
    { additionalProperties: false },
  ),
  Type.Object({ mode: Type.Literal('range'), from: SlotId, to: SlotId, group: GroupId, ...Common }, { additionalProperties: false }),
  Type.Object(
    { mode: Type.Literal('some'), count: Type.Integer({ minimum: 1, maximum: 1024 }), from: GroupId, to: GroupId, ...Common },
    { additionalProperties: false },
  ),
]);

const CountMap = Type.Record(Type.String(), Type.Integer());
const RateMap = Type.Record(Type.String(), Type.Number());
export const PlanSchema = Type.Object({
  moves: Type.Array(Type.Object({ slot: Type.Integer(), from: Type.Integer(), to: Type.Integer() })),
  before: CountMap,
  after: CountMap,
  targets: CountMap,
  ranges: Type.Array(Type.Object({ from: Type.Integer(), to: Type.Integer(), first: Type.Integer(), last: Type.Integer() })),
  inFlight: Type.Integer(),
  load: Type.Optional(
    Type.Object({
      before: RateMap,
      after: RateMap,
      target: RateMap,
      unsplittable: Type.Array(Type.Integer(), { description: 'slots hotter than any group\'s gap: moving them would only move the hot spot' }),
    }, { description: 'rebalance by load: ops/s per group' }),
  ),
});

/** Keys and bytes moved, their rates over the last seconds and the estimate of what is left (jobs and status). */
const MoveRates = {
  keysMoved: Type.Number(),
  bytesMoved: Type.Number(),
  keysPerSec: Type.Number(),
  bytesPerSec: Type.Number(),
  keysRemaining: Nullable(Type.Number()),
  etaSeconds: Nullable(Type.Number()),
};
const ErrorView = Type.Object({ slot: Type.Integer(), code: Type.String(), message: Type.String(), at: Type.String() });
const JobSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  state: Type.String({ description: 'running | aborting | done | aborted' }),
  description: Type.String(),
  createdAt: Type.String(),
  createdBy: Type.String(),
  finishedAt: Type.Optional(Type.String()),
  paused: Type.Boolean(),
  progress: Type.Object({
    slotsTotal: Type.Integer(),
    slotsDone: Type.Integer(),
    slotsInFlight: Type.Integer(),
    fraction: Type.Number(),
    ...MoveRates,
  }),
  slots: Type.Array(
    Type.Object({
      slot: Type.Integer(),
      from: Type.Integer(),
      to: Type.Integer(),
      state: Type.String(),
      keysMoved: Type.Number(),
      bytesMoved: Type.Number(),
      keysFound: Type.Number(),
      error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    }),
  ),
  errors: Type.Array(ErrorView),
});
const StateCounts = Type.Object({ pending: Type.Integer(), preparing: Type.Integer(), prepared: Type.Integer(), migrating: Type.Integer(), finished: Type.Integer() });
export const StatusSchema = Type.Object({
  leader: Type.Boolean(),
  revision: Type.Integer(),
  paused: Type.Boolean(),
  throttle: Type.Object({ keysPerSec: Type.Number(), bytesPerSec: Type.Number() }),
  parallelSlots: Type.Integer(),
  slots: StateCounts,
  ...MoveRates,
  movers: Type.Array(
    Type.Object({
      source: Type.String(),
      slots: Type.Integer(),
      pass: Type.Integer(),
      keysMoved: Type.Number(),
      keysPerSec: Type.Number(),
      keysRemaining: Nullable(Type.Number()),
      etaSeconds: Nullable(Type.Number()),
    }),
  ),
  errors: Type.Array(ErrorView),
  schedulerError: Type.Optional(Type.Object({ code: Type.String(), message: Type.String(), at: Type.String() })),
  bigKeys: Type.Array(
    Type.Object({
      slot: Type.Integer(),
      db: Type.Integer(),
      key: Type.String(),
      bytes: Type.Number(),
      type: Type.Optional(Type.String()),
      action: Type.String(),
      blockedMs: Type.Optional(Type.Number()),
    }),
  ),
  jobs: Type.Array(JobSchema),
});
const SettingsSchema = Type.Object({ paused: Type.Boolean(), keysPerSec: Type.Number(), bytesPerSec: Type.Number(), parallelSlots: Type.Integer() });
const ThrottleBody = Type.Object(
  {
    keysPerSec: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12, description: '0 = unlimited' })),
    bytesPerSec: Type.Optional(Type.Number({ minimum: 0, maximum: 1e15, description: '0 = unlimited' })),
    parallelSlots: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
  },
  { additionalProperties: false },
);
const AbortResponse = Type.Object({
  revision: Type.Integer(),
  cancelled: Type.Array(Type.Integer()),
  reversed: Type.Array(Type.Integer()),
  refused: Type.Array(Type.Object({ slot: Type.Integer(), reason: Type.String() })),
});
const JobParams = Type.Object({ job: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }) });
const StartResponse = Type.Object({ started: Type.Boolean(), revision: Type.Integer(), plan: PlanSchema, job: Type.Optional(JobSchema) });
const EmptyBody = Type.Optional(Type.Object({}, { additionalProperties: true }));

function requestOf(b: { mode: string } & Record<string, unknown>): MoveRequest {
  if (b.mode === 'range') return { mode: 'range', from: b['from'] as number, to: b['to'] as number, group: b['group'] as number };
  if (b.mode === 'some') return { mode: 'some', count: b['count'] as number, from: b['from'] as number, to: b['to'] as number };
  const groups = b['groups'] as Array<{ id: number; weight?: number }> | undefined;
  const weights = b['weights'] as 'model' | 'maxmemory' | undefined;
  const by = b['by'] as 'slots' | 'load' | undefined;
  return { mode: 'rebalance', ...(groups ? { groups } : {}), ...(weights ? { weights } : {}), ...(by ? { by } : {}) };
}

function target(r: MoveRequest): string {
  if (r.mode === 'range') return `slots ${r.from}-${r.to} -> group ${r.group}`;
  if (r.mode === 'some') return `${r.count} slots group ${r.from} -> group ${r.to}`;
  return r.groups ? `groups ${r.groups.map((g) => g.id).join(',')}` : 'every group';
}

/** Masters too old to migrate (e.g. codis-server 3.2 after a Codis import) are refused before a job starts. */
async function checkMigratable(ctx: DashboardContext, moves: readonly SlotMove[], aclUser: boolean): Promise<void> {
  const snap = await ctx.store.read();
  const known = knownServers(snap);
  await assertMigratable(moves, {
    masterOf: (gid) => masterOf(snap.groups.get(gid)?.record),
    versionOf: async (addr) => (await ctx.dialer.withServer(addr, known, (c) => c.info('server'))).redisVersion,
    aclUser,
  });
}

/** The routes; `engine` is the one the plugin created (exported for apps that build their own engine). */
export function registerMigrationRoutes(app: App, ctx: DashboardContext, engine: MigrationEngine, redisUsername = ''): void {
  const tags = ['migrations'];
  app.get(
    '/api/v1/migrations',
    {
      schema: {
        summary: 'Migration status: pause, throttle, slot states, keys/bytes moved, rate, ETA, errors, big keys, jobs',
        tags,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })) }, { additionalProperties: false }),
        response: { 200: StatusSchema, ...errorResponses },
      },
    },
    async (req) => engine.status((req.query as { limit?: number }).limit ?? 20),
  );

  app.get(
    '/api/v1/migrations/:job',
    { schema: { summary: 'One migration job with per-slot progress', tags, params: JobParams, response: { 200: JobSchema, ...errorResponses } } },
    async (req) => engine.job((req.params as { job: string }).job),
  );

  app.post(
    '/api/v1/migrations/preview',
    {
      schema: {
        summary: 'Plan a rebalance ({mode:"rebalance", groups?:[{id,weight}], weights?}), a range move ({mode:"range",from,to,group}) or N slots A->B ({mode:"some",count,from,to}); nothing changes',
        tags,
        body: MoveBody,
        response: { 200: Type.Object({ revision: Type.Integer(), plan: PlanSchema }), ...errorResponses },
      },
    },
    async (req) => engine.preview(requestOf(req.body as { mode: string } & Record<string, unknown>)),
  );

  app.post(
    '/api/v1/migrations',
    {
      schema: {
        summary: 'Start a migration job (range and some start at once; rebalance needs confirm: true, else the preview is returned)',
        tags,
        body: MoveBody,
        response: { 200: StartResponse, ...errorResponses },
      },
    },
    async (req) => {
      const body = req.body as { mode: string; confirm?: boolean; ifRevision?: number } & Record<string, unknown>;
      const r = requestOf(body);
      if (r.mode === 'rebalance' && body.confirm !== true) {
        const p = await engine.preview(r);
        return { started: false, revision: p.revision, plan: p.plan };
      }
      return mutate(
        ctx,
        req,
        `migration.${r.mode}`,
        target(r),
        body,
        async () => {
          await checkMigratable(ctx, (await engine.preview(r)).plan.moves, redisUsername !== '');
          const res = await engine.start(r, `${req.principal?.name ?? 'unknown'}@${req.ip}`, body.ifRevision);
          return { started: true, revision: res.revision, plan: res.plan, job: res.job };
        },
        (res) => `job ${res.job?.id}: ${res.plan.moves.length} slot(s) queued in ${res.plan.ranges.length} range(s)`,
      );
    },
  );

  for (const [op, paused] of [['pause', true], ['resume', false]] as const) {
    app.post(
      `/api/v1/migrations/${op}`,
      { schema: { summary: `${op === 'pause' ? 'Pause' : 'Resume'} every migration (persisted)`, tags, body: EmptyBody, response: { 200: SettingsSchema, ...errorResponses } } },
      async (req) =>
        mutate(ctx, req, `migration.${op}`, 'all migrations', {}, () => engine.setPaused(paused, `${req.principal?.name ?? 'unknown'}@${req.ip}`), (s) =>
          s.paused ? 'paused' : 'resumed',
        ),
    );
  }

  const throttle = async (req: FastifyRequest) => {
    const b = req.body as { keysPerSec?: number; bytesPerSec?: number; parallelSlots?: number };
    return mutate(ctx, req, 'migration.throttle', 'all migrations', b, () => engine.setThrottle(b, `${req.principal?.name ?? 'unknown'}@${req.ip}`), (s) =>
      `keys/s ${s.keysPerSec || 'unlimited'}, bytes/s ${s.bytesPerSec || 'unlimited'}, parallel ${s.parallelSlots}`,
    );
  };
  const throttleSchema = { summary: 'Change throttle (keys/s, bytes/s; 0 = unlimited) and parallel slots, applied while running', tags, body: ThrottleBody, response: { 200: SettingsSchema, ...errorResponses } };
  app.put('/api/v1/migrations/throttle', { schema: throttleSchema }, throttle);
  app.post('/api/v1/migrations/throttle', { schema: { ...throttleSchema, hide: true } }, throttle);

  app.post(
    '/api/v1/migrations/abort',
    { schema: { summary: 'Abort every in-flight slot action: slots go back to their source, moved keys are moved back', tags, body: EmptyBody, response: { 200: AbortResponse, ...errorResponses } } },
    async (req) =>
      mutate(ctx, req, 'migration.abort', 'all migrations', {}, () => engine.abort(undefined, `${req.principal?.name ?? 'unknown'}@${req.ip}`), (r) =>
        `cancelled ${r.cancelled.length}, reversed ${r.reversed.length}, refused ${r.refused.length}`,
      ),
  );

  app.post(
    '/api/v1/migrations/:job/abort',
    { schema: { summary: 'Abort one job: its in-flight slots go back to their source', tags, params: JobParams, body: EmptyBody, response: { 200: AbortResponse, ...errorResponses } } },
    async (req) => {
      const job = (req.params as { job: string }).job;
      return mutate(ctx, req, 'migration.abort', `job ${job}`, { job }, () => engine.abort(job, `${req.principal?.name ?? 'unknown'}@${req.ip}`), (r) =>
        `cancelled ${r.cancelled.length}, reversed ${r.reversed.length}, refused ${r.refused.length}`,
      );
    },
  );
}

async function plugin(app: App, opts: MigrationPluginOptions): Promise<void> {
  const ctx = app.dashboard;
  const metrics = createMigrationMetrics(ctx.metrics.registry);
  const engine = createMigrationEngine(ctx, opts, metrics);
  app.decorate('migration', engine);
  attachToLeadership(ctx, engine);
  app.addHook('onClose', async () => {
    await engine.stop();
  });
  registerMigrationRoutes(app, ctx, engine, opts.redisUsername ?? '');
}

/** `await app.register(migrationPlugin, { redisPassword, redisUsername })` in dashboard/app.ts build(). */
export const migrationPlugin = fp(plugin as unknown as Parameters<typeof fp>[0], { name: 'redslot-migration', fastify: '5.x' }) as unknown as (
  app: App,
  opts: MigrationPluginOptions,
) => Promise<void>;

/** Server addresses of the model (re-exported for tools that dial masters the way the engine does). */
export { knownServers };
