/**
 * Safe defaults of the proxy's admin port and secrets: /api/v1 answers loopback clients only while no
 * adminToken is set, and needs `Authorization: Bearer <adminToken>` once one is; probes and /metrics stay
 * open; secrets come from files (never required on argv) and are hidden in /api/v1/proxy; short admin tokens
 * are refused.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { build } from '../../proxy/admin/app.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { rawExchange, startCluster, type Cluster } from './proxy-cluster.js';

const cleanups = cleanupsAfterEach();

async function cluster(overrides: Record<string, unknown> = {}): Promise<Cluster> {
  const c = await startCluster({ groups: 1, overrides });
  cleanups.push(() => c.stop());
  return c;
}

function admin(c: Cluster) {
  const app = build({ proxy: c.proxy.runtime, addr: () => c.proxy.addr, adminAddr: () => c.proxy.adminAddr ?? '' });
  cleanups.push(() => app.close());
  return app;
}

describe('admin port access', () => {
  it('without adminToken: /api/v1 for loopback clients only; probes and /metrics for everyone', async () => {
    const c = await cluster();
    const app = admin(c);
    const remote = { remoteAddress: '10.9.8.7' };
    expect((await app.inject({ url: '/api/v1/proxy', ...remote })).statusCode).toBe(403);
    expect((await app.inject({ url: '/api/v1/proxy?x=1', ...remote })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/api/v1/proxy/gc', ...remote })).statusCode).toBe(403);
    expect((await app.inject({ url: '/api/v1/proxy', remoteAddress: '127.0.0.1' })).statusCode).toBe(200);
    for (const url of ['/healthz', '/readyz', '/metrics']) expect((await app.inject({ url, ...remote })).statusCode, url).toBe(200);
  });

  it('with adminToken (from a file): Bearer token required from anywhere, the token hidden in the config shown', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-secrets-'));
    writeFileSync(path.join(dir, 'token'), 'admin-token-0123456789\n');
    writeFileSync(path.join(dir, 'password'), 'client-password-42\n');
    const digest = 'a'.repeat(64);
    const c = await cluster({ adminTokenFile: path.join(dir, 'token'), auth: { passwordFile: path.join(dir, 'password') }, acl: { users: [`user ro on #${digest} ~x:* +@read`] } });
    const app = admin(c);
    expect((await app.inject({ url: '/api/v1/proxy', remoteAddress: '127.0.0.1' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/api/v1/proxy', headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode).toBe(401);
    const ok = await app.inject({ url: '/api/v1/proxy', remoteAddress: '10.9.8.7', headers: { authorization: 'Bearer admin-token-0123456789' } });
    expect(ok.statusCode).toBe(200);
    const body = ok.json<{ config: { adminToken: string; auth: { password: string } } }>();
    expect(body.config.adminToken).toBe('***');
    expect(body.config.auth.password).toBe('***');
    expect(ok.body).not.toContain('admin-token-0123456789');
    expect(ok.body).not.toContain('client-password-42');
    expect(ok.body).not.toContain(digest);
    expect(ok.body).toContain('user ro on #*** ~x:* +@read');
    // The password file's content (without its newline) is the client password.
    expect((await rawExchange(c.port, 'AUTH client-password-42\r\nPING\r\n', 400)).data.toString()).toBe('+OK\r\n+PONG\r\n');
  });

  it('refuses short admin tokens and a secret given twice', () => {
    expect(() => loadProxyConfig({ env: {}, overrides: { adminToken: 'short' } })).toThrow(/adminToken: at least 16 characters/);
    expect(() => loadProxyConfig({ env: {}, overrides: { auth: { password: 'a', passwordFile: '/x' } } })).toThrow(/either password or passwordFile/);
    expect(() => loadProxyConfig({ env: {}, overrides: { auth: { passwordFile: '/nonexistent/pw' } } })).toThrow(/auth\.passwordFile: cannot read/);
    // From the environment (REDSLOT_AUTH__PASSWORD_FILE), so nothing secret is ever on the command line.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-secrets-'));
    writeFileSync(path.join(dir, 'pw'), 'from-a-file');
    // (On loopback: an 11-character password is refused on a port beyond loopback, auth.minPasswordLength.)
    expect(loadProxyConfig({ env: { REDSLOT_AUTH__PASSWORD_FILE: path.join(dir, 'pw'), REDSLOT_LISTEN: '127.0.0.1:19000' } }).auth.password).toBe('from-a-file');
  });
});
