/**
 *   GET /api/v1/load                  ops/s and bytes/s per group and per slot (slots with load only), summed
 *                                     over every live proxy's counters; ?refresh=true polls the proxies first
 *   GET /api/v1/hotkeys?limit=N       the hottest keys across proxies (sampled top-K per proxy, summed by key)
 */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { DashboardContext } from '../context.js';
import { errorResponses } from '../routes/common.js';

const Rate = { opsPerSec: Type.Number(), bytesPerSec: Type.Number() };
export const LoadResponse = Type.Object({
  at: Type.Number(),
  intervalMs: Type.Integer(),
  ...Rate,
  groups: Type.Array(Type.Object({ id: Type.Integer(), slots: Type.Integer(), ...Rate })),
  slots: Type.Array(Type.Object({ id: Type.Integer(), group: Type.Integer(), ...Rate })),
  proxies: Type.Array(Type.Object({ id: Type.String(), ok: Type.Boolean(), counting: Type.Boolean(), error: Type.Optional(Type.String()) })),
});

export const HotKeysResponse = Type.Object({
  at: Type.Number(),
  keys: Type.Array(
    Type.Object({
      key: Type.String({ description: 'printable: bytes outside 0x20..0x7e as \\xNN' }),
      keyBase64: Type.String(),
      length: Type.Integer(),
      truncated: Type.Boolean(),
      slot: Type.Integer(),
      group: Type.Integer(),
      opsPerSec: Type.Number(),
      errorPerSec: Type.Number(),
      proxies: Type.Integer(),
    }),
  ),
});

export function registerLoadRoutes(app: App, ctx: DashboardContext): void {
  app.get(
    '/api/v1/load',
    {
      schema: {
        summary: 'Observed load: ops/s and bytes/s per group and per slot, summed over the proxies (polled every second)',
        tags: ['load'],
        querystring: Type.Object({ refresh: Type.Optional(Type.Boolean()) }),
        response: { 200: LoadResponse, ...errorResponses },
      },
    },
    async (req) => (req.query.refresh === true ? ctx.load.pollOnce() : ctx.load.current()),
  );

  app.get(
    '/api/v1/hotkeys',
    {
      schema: {
        summary: 'The hottest keys across proxies (each proxy samples requests into a bounded top-K)',
        tags: ['load'],
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 20 })) }),
        response: { 200: HotKeysResponse, ...errorResponses },
      },
    },
    async (req) => ctx.load.hotKeys(req.query.limit ?? 20),
  );
}
