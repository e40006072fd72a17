/**
 * Placeholder for the web UI (issue 6 owns dashboard/ui/** and replaces this). The shell page needs no token:
 * it holds no data; the UI logs in with the token and calls the API.
 */
import type { App } from '../app.js';
import type { DashboardContext } from '../context.js';

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>redslot dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>redslot dashboard</h1>
<p>The web UI is not built yet. Use the <code>redslot</code> CLI or the API
(<a href="/api/v1/openapi.json">OpenAPI document</a>) with <code>Authorization: Bearer &lt;token&gt;</code>.</p>
</main></body></html>`;

export function registerUiRoutes(app: App, _ctx: DashboardContext): void {
  app.get('/', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui/', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
}
