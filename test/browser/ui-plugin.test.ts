/**
 * registerUi without a browser: which files are served, with which headers, and what is refused.
 * A plain fastify instance (the plugin needs nothing from the dashboard).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../dashboard/app.js';
import { registerUi, resolveUiStaticDir, uiStaticCandidates } from '../../dashboard/ui/plugin.js';

describe('registerUi', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify({ logger: false });
    registerUi(app as unknown as App);
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it('finds the static folder next to the plugin when running from source', () => {
    expect(resolveUiStaticDir()).toBe(uiStaticCandidates()[0]);
    expect(resolveUiStaticDir()).toMatch(/dashboard[\\/]ui[\\/]static$/);
  });

  it('redirects / and /ui to /ui/ and serves the shell with a same-origin CSP', async () => {
    for (const url of ['/', '/ui']) {
      const r = await app.inject({ url });
      expect(r.statusCode).toBe(302);
      expect(r.headers.location).toBe('/ui/');
    }
    const r = await app.inject({ url: '/ui/' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.body).toContain('name="redslot-ui"');
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['referrer-policy']).toBe('no-referrer');
  });

  it('serves every module the shell imports with a JavaScript type, and nothing from another origin', async () => {
    const shell = (await app.inject({ url: '/ui/' })).body;
    const refs = [...shell.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    for (const ref of refs) expect(ref.startsWith('/') || ref.startsWith('#') || ref.startsWith('data:')).toBe(true);
    // Walk the module graph from main.js: every static import resolves and is served as JS.
    const seen = new Set<string>();
    const queue = ['/ui/js/main.js'];
    while (queue.length) {
      const url = queue.shift()!;
      if (seen.has(url)) continue;
      seen.add(url);
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(r.body).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
      for (const m of r.body.matchAll(/from '(\.{1,2}\/[^']+)'/g)) queue.push(new URL(m[1]!, `http://x${url}`).pathname);
    }
    expect(seen.size).toBeGreaterThanOrEqual(10);
    const css = await app.inject({ url: '/ui/app.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.body).not.toMatch(/@import|url\(\s*['"]?https?:/);
  });

  it('refuses paths outside the folder, hidden files and unknown types', async () => {
    // package.json is a served type (.json): only the path check keeps the repository's one out.
    const urls = ['/ui/%2e%2e/%2e%2e/%2e%2e/package.json', '/ui/js/%2e%2e/%2e%2e/%2e%2e/%2e%2e/package.json', '/ui/..%2f..%2f..%2fpackage.json', '/ui/%2fetc%2fpasswd.json'];
    urls.push('/ui/../plugin.ts', '/ui/.hidden.js', '/ui/nope.js', '/ui/js/', '/ui/index.ts');
    for (const url of urls) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(404);
      expect(r.body).not.toContain('"name": "redslot"');
      expect(r.body).not.toContain('registerUi');
    }
  });

  it('says where it looked when the folder is missing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-ui-'));
    const b = Fastify({ logger: false });
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>x</title>');
    registerUi(b as unknown as App, { staticDir: dir });
    try {
      expect((await b.inject({ url: '/ui/' })).body).toContain('<title>x</title>');
      expect((await b.inject({ url: '/ui/js/main.js' })).statusCode).toBe(404);
      const empty = mkdtempSync(path.join(os.tmpdir(), 'redslot-ui-'));
      const c = Fastify({ logger: false });
      registerUi(c as unknown as App, { staticDir: empty });
      const r = await c.inject({ url: '/ui/' });
      expect(r.statusCode).toBe(500);
      expect(r.body).toContain(`no index.html in ${empty}`);
      await c.close();
      rmSync(empty, { recursive: true, force: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await b.close();
    }
  });
});
