/**
 * POST /api/v1/imports/codis  {codis: <Codis GET /topom/stats or GET /topom body>, confirm?, ifRevision?}
 *
 * Without `confirm`: the preview (nothing changes; any token). With `confirm: true`: the import (operator,
 * leader, audited; refused with 409 REDSLOT_ERR_IMPORT_REFUSED and the reasons while Codis migrates or
 * promotes, or redslot conflicts). The dashboard never dials the Codis dashboard itself (the CLI reads it
 * and posts the body): the SSRF guard stays "only addresses of this cluster, or the ones being imported".
 */
import { Type } from 'typebox';
import { RedslotError } from '../../shared/errors.js';
import type { App } from '../app.js';
import type { DashboardContext } from '../context.js';
import { DashboardErrors } from '../errors.js';
import { errorResponses, mutate } from '../routes/common.js';
import { CodisImportService } from './codis-import.js';
import { CodisModelError } from './codis-model.js';

const ImportBody = Type.Object(
  {
    codis: Type.Object({}, { additionalProperties: true, description: 'the JSON body of Codis GET /topom/stats (or GET /topom)' }),
    confirm: Type.Optional(Type.Boolean({ description: 'write it (without: answer the preview)' })),
    ifRevision: Type.Optional(Type.Integer({ minimum: 0, description: 'refuse (409) if the topology changed after this revision (use the preview revision)' })),
  },
  { additionalProperties: false },
);

const Range = Type.Object({ from: Type.Integer(), to: Type.Integer(), group: Type.Integer() });
const ImportResponse = Type.Object({
  applied: Type.Boolean(),
  revision: Type.Integer(),
  product: Type.Union([Type.String(), Type.Null()]),
  codisVersion: Type.Union([Type.String(), Type.Null()]),
  groups: Type.Array(
    Type.Object({
      id: Type.Integer(),
      slots: Type.Integer(),
      servers: Type.Array(Type.Object({ addr: Type.String(), role: Type.String(), redisVersion: Type.Optional(Type.String()) })),
    }),
  ),
  ranges: Type.Array(Range),
  offlineSlots: Type.Integer(),
  codisProxies: Type.Array(Type.String()),
  createGroups: Type.Array(Type.Integer()),
  assignSlots: Type.Integer(),
  assignRanges: Type.Array(Range),
  refusals: Type.Array(Type.String()),
  warnings: Type.Array(Type.String()),
  checked: Type.Optional(Type.Array(Type.Object({ addr: Type.String(), group: Type.Integer(), redisVersion: Type.Union([Type.String(), Type.Null()]), role: Type.Union([Type.String(), Type.Null()]) }))),
});

/** Codis models of big clusters carry INFO of every server: allow more than the API's default 1 MB. */
const IMPORT_BODY_LIMIT = 32 * 1024 * 1024;

function badModel(err: unknown): never {
  if (err instanceof CodisModelError) throw new RedslotError(DashboardErrors.REDSLOT_ERR_BAD_REQUEST, { reason: `not a Codis model: ${err.message}` });
  throw err;
}

export function registerImportRoutes(app: App, ctx: DashboardContext): void {
  const service = new CodisImportService(ctx.store, ctx.slots, ctx.dialer, ctx.log);
  app.post(
    '/api/v1/imports/codis',
    {
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        summary: 'Import a Codis cluster (groups, servers, slot table) without moving data: preview, or write it with confirm: true',
        tags: ['imports'],
        body: ImportBody,
        response: { 200: ImportResponse, ...errorResponses },
      },
    },
    async (req) => {
      const body = req.body;
      if (body.confirm !== true) {
        const p = await service.preview(body.codis).catch(badModel);
        return { ...p, applied: false };
      }
      // The audit keeps what was asked, not the whole Codis INFO dump.
      const codis = body.codis as Record<string, unknown>;
      const params = { confirm: true, ifRevision: body.ifRevision, slots: Array.isArray(codis['slots']) ? codis['slots'].length : undefined };
      return mutate(
        ctx,
        req,
        'import.codis',
        'codis cluster',
        params,
        () => service.apply(body.codis, body.ifRevision).catch(badModel),
        (r) => `created groups ${r.createGroups.join(',') || 'none'}; assigned ${r.assignSlots} slots; ${r.offlineSlots} offline (revision ${r.revision})`,
      );
    },
  );
}
