/**
 * The operators' web UI: static, dependency-free ES modules + CSS + one HTML shell, served under /ui/ by the
 * dashboard itself (`/` redirects there). The files hold no data and need no token; the page logs in with the
 * dashboard token (kept in sessionStorage for the tab) and calls the same /api/v1 routes as the CLI, with
 * `Authorization: Bearer`. Nothing is fetched from the internet (CSP: 'self' only).
 *
 * Where the files are: `static/` next to this module when running from source (tsx, tests); from dist/
 * (dist/dashboard/ui/plugin.js) the same folder if the build copied it there, else the source tree's
 * dashboard/ui/static (a checkout that ran `tsc` only). A missing folder is a 500 page saying so.
 *
 * Wiring (dashboard/app.ts): `registerUi(app);` in place of the placeholder `registerUiRoutes(app, ctx)`.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import type { App } from '../app-type.js';

export interface UiOptions {
  /** Folder holding index.html, app.css and js/ (default: found as described above). */
  staticDir?: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

/** Same-origin only: no CDN, no inline script, no framing. Inline style attributes are not used either. */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Candidate folders for the static files, most specific first. */
export function uiStaticCandidates(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const out = [path.join(here, 'static')];
  // From dist/dashboard/ui/ back to <repo>/dashboard/ui/static.
  const distRoot = path.resolve(here, '..', '..');
  if (path.basename(distRoot) === 'dist') out.push(path.join(path.dirname(distRoot), 'dashboard', 'ui', 'static'));
  return out;
}

export function resolveUiStaticDir(): string | undefined {
  return uiStaticCandidates().find((d) => existsSync(path.join(d, 'index.html')));
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', UI_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-cache');
}

/** Registers GET /, /ui, /ui/ and /ui/<file>. Public routes, hidden from the OpenAPI document. */
export function registerUi(app: App, opts: UiOptions = {}): void {
  // Resolved on first use (and again while missing), so a build step that copies the files later still works.
  let found: string | undefined;
  const rootDir = (): string | undefined => {
    if (found) return found;
    const dir = opts.staticDir ?? resolveUiStaticDir();
    if (dir && existsSync(path.join(dir, 'index.html'))) found = path.resolve(dir);
    return found;
  };
  const routeOpts = { config: { public: true }, schema: { hide: true } } as const;

  const sendFile = async (reply: FastifyReply, rel: string): Promise<FastifyReply> => {
    securityHeaders(reply);
    const root = rootDir();
    if (!root) {
      const looked = opts.staticDir ? [opts.staticDir] : uiStaticCandidates();
      return reply
        .code(500)
        .type('text/plain; charset=utf-8')
        .send(`redslot UI files not found: no index.html in ${looked.join(', ')}; copy dashboard/ui/static next to the built plugin`);
    }
    // Only plain relative names: no "..", no absolute paths, no hidden files, known extensions.
    const clean = path.posix.normalize(rel);
    const ext = path.extname(clean);
    const type = TYPES[ext];
    if (clean.startsWith('..') || clean.startsWith('/') || clean.split('/').some((p) => p.startsWith('.')) || !type) {
      return reply.code(404).type('application/json').send({ error: { code: 'REDSLOT_ERR_NOT_FOUND', message: `no UI file ${rel}` } });
    }
    const file = path.join(root, clean);
    if (!file.startsWith(root + path.sep)) {
      return reply.code(404).type('application/json').send({ error: { code: 'REDSLOT_ERR_NOT_FOUND', message: `no UI file ${rel}` } });
    }
    let body: Buffer;
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      body = await readFile(file);
    } catch {
      return reply.code(404).type('application/json').send({ error: { code: 'REDSLOT_ERR_NOT_FOUND', message: `no UI file ${rel}` } });
    }
    return reply.type(type).send(body);
  };

  app.get('/', routeOpts, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui', routeOpts, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui/', routeOpts, async (_req, reply) => sendFile(reply, 'index.html'));
  app.get('/ui/*', routeOpts, async (req, reply) => {
    const rel = (req.params as { '*': string })['*'];
    return sendFile(reply, rel);
  });
}
