/**
 * HTTPS on the dashboard (API and UI) and on the proxy's admin port, with certificates made by openssl in the
 * test: clients trusting the CA get answers, plain HTTP and clients trusting another CA are refused, client
 * certificates are required when asked, rotated certificates are served without a restart; the CLI talks to
 * an HTTPS dashboard with --cacert / REDSLOT_CACERT and explains a refusal without a stack trace; the
 * dashboard reads the proxies' HTTPS admin ports with proxyAdminTls.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAdminCommand } from '../../dashboard/cli/index.js';
import { DashboardClient, ApiUnreachableError } from '../../dashboard/cli/api-client.js';
import { loadDashboardConfig } from '../../dashboard/config.js';
import { dashboardOptionsFromConfig, startDashboard, type RunningDashboard } from '../../dashboard/main.js';
import { Dialer } from '../../dashboard/topom/dialer.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { startProxy } from '../../proxy/main.js';
import { createLogger } from '../../shared/log.js';
import { issueCert, type CertFiles, type LocalCa } from '../../shared/tls/certs.js';
import { httpRequest } from '../../shared/tls/http-request.js';
import { nodeArgsFor } from '../support/compiled.js';
import { uniqueCluster, waitFor } from '../unit/dashboard-harness.js';
import { useTestCa } from '../support/test-ca.js';

const run = promisify(execFile);
const TOKEN = 'https-test-token-123456';

let dir: string;
let ca: LocalCa;
let otherCa: LocalCa;
let server: CertFiles;
let client: CertFiles;
const cleanups: Array<() => Promise<void> | void> = [];

useTestCa('redslot-https-', 'server', (made) => ({ dir, ca, otherCa, server, client } = made));

afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function dashboard(tlsBlock: Record<string, unknown>): Promise<RunningDashboard> {
  // Through the dashboard's own config loader (the tls knobs as an operator writes them).
  const o = dashboardOptionsFromConfig(loadDashboardConfig({ coordinator: `memory://${uniqueCluster('https')}`, listen: '127.0.0.1:0', token: TOKEN, tls: tlsBlock }, {}));
  const d = await startDashboard({ ...o, options: { ...o.options, stats: false } });
  cleanups.push(() => d.close());
  await waitFor(() => d.app.dashboard.election.isLeader(), 5000, 'leader');
  return d;
}

/** The SHA-256 fingerprint of the certificate a TLS server presents. */
function peerFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', ca: readFileSync(ca.cert) }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

const portOf = (url: string) => Number(new URL(url).port);

describe('dashboard over HTTPS', () => {
  it('serves the API and UI to a client trusting its CA; plain HTTP and another CA are refused', async () => {
    const d = await dashboard({ cert: server.cert, key: server.key });
    expect(d.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const trusted = new DashboardClient({ baseUrl: d.url, token: TOKEN, tls: { ca: readFileSync(ca.cert) } });
    expect((await trusted.health()).role).toBe('leader');
    expect((await trusted.status()).cluster).toBe(d.app.dashboard.cluster);
    const ui = await httpRequest(`${d.url}/ui/`, { timeoutMs: 5000, tls: { ca: readFileSync(ca.cert) } });
    expect(ui.status).toBe(200);
    expect(ui.body).toContain('<html');

    // Plain HTTP on the HTTPS port: no HTTP answer comes back.
    const plain = await httpRequest(d.url.replace('https:', 'http:') + '/api/v1/health', { timeoutMs: 5000 }).then(
      (r) => `HTTP ${r.status}`,
      (err: Error & { code?: string }) => `refused: ${err.code ?? err.message}`,
    );
    expect(plain).toMatch(/^refused|^HTTP 400/);

    const wrongCa = new DashboardClient({ baseUrl: d.url, token: TOKEN, tls: { ca: readFileSync(otherCa.cert) } });
    const err = await wrongCa.health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiUnreachableError);
    expect((err as Error).message).toMatch(/not signed by a trusted CA .*--cacert/);
    // Node's default CAs do not include ours either.
    await expect(new DashboardClient({ baseUrl: d.url, token: TOKEN }).health()).rejects.toThrow(/not signed by a trusted CA/);
  });

  it('requires a client certificate signed by tls.ca when clientAuth is yes', async () => {
    const d = await dashboard({ cert: server.cert, key: server.key, ca: ca.cert, clientAuth: 'yes' });
    const anonymous = new DashboardClient({ baseUrl: d.url, token: TOKEN, tls: { ca: readFileSync(ca.cert) } });
    await expect(anonymous.health()).rejects.toBeInstanceOf(ApiUnreachableError);
    const foreign = issueCert(otherCa, 'foreign-client', { client: true });
    const wrongCert = new DashboardClient({ baseUrl: d.url, token: TOKEN, tls: { ca: readFileSync(ca.cert), cert: readFileSync(foreign.cert), key: readFileSync(foreign.key) } });
    await expect(wrongCert.health()).rejects.toBeInstanceOf(ApiUnreachableError);
    const withCert = new DashboardClient({ baseUrl: d.url, token: TOKEN, tls: { ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key) } });
    expect((await withCert.health()).ok).toBe(true);
  });

  it('serves a rotated certificate without a restart', async () => {
    const live = { cert: path.join(dir, 'live.crt'), key: path.join(dir, 'live.key') };
    copyFileSync(server.cert, live.cert);
    copyFileSync(server.key, live.key);
    const d = await dashboard({ ...live, reloadInterval: '100ms' });
    const before = await peerFingerprint(portOf(d.url));
    const next = issueCert(ca, 'server-next');
    copyFileSync(next.cert, live.cert);
    copyFileSync(next.key, live.key);
    let after = before;
    await waitFor(async () => (after = await peerFingerprint(portOf(d.url))) !== before, 5000, 'rotated certificate served');
    expect(after).not.toBe(before);
    const c = new DashboardClient({ baseUrl: d.url, token: TOKEN, tls: { ca: readFileSync(ca.cert) } });
    expect((await c.health()).ok).toBe(true);
  });
});

describe('the CLI against an HTTPS dashboard', () => {
  let d: RunningDashboard;
  beforeAll(async () => {
    d = await dashboard({ cert: server.cert, key: server.key });
  });

  async function cli(env: Record<string, string>, ...argv: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runAdminCommand(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: { REDSLOT_TOKEN: TOKEN, ...env } });
    return { code, stdout, stderr };
  }

  it('trusts the CA given with --cacert or REDSLOT_CACERT', async () => {
    const flag = await cli({}, 'leader', '--dashboard', d.url, '--cacert', ca.cert);
    expect(flag).toMatchObject({ code: 0, stderr: '' });
    expect(flag.stdout).toContain(d.id);
    const env = await cli({ REDSLOT_DASHBOARD: d.url, REDSLOT_CACERT: ca.cert }, 'leader', '--json');
    expect(env.code).toBe(0);
    expect(JSON.parse(env.stdout)).toBeTruthy();
  });

  it('without the CA: refused with a clear error (exit 3); an unreadable --cacert is a usage error', async () => {
    const r = await cli({}, 'status', '--dashboard', d.url);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/unreachable: \w+: its certificate is not signed by a trusted CA \(pass its CA with --cacert FILE or REDSLOT_CACERT\)/);
    const wrong = await cli({}, 'status', '--dashboard', d.url, '--cacert', otherCa.cert);
    expect(wrong.code).toBe(3);
    const missing = await cli({}, 'status', '--dashboard', d.url, '--cacert', path.join(dir, 'nope.crt'));
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('--cacert: cannot read') });
  });

  it('--tls-servername checks the name the certificate carries when the dashboard is dialled by IP (a leader pod)', async () => {
    const named = issueCert(ca, 'named-dashboard', { sans: ['DNS:redslot-dashboard'] });
    const byName = await dashboard({ cert: named.cert, key: named.key });
    const ip = await cli({}, 'leader', '--dashboard', byName.url, '--cacert', ca.cert);
    expect(ip.code).toBe(3);
    expect(ip.stderr).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    const withName = await cli({ REDSLOT_TLS_SERVERNAME: 'redslot-dashboard' }, 'leader', '--dashboard', byName.url, '--cacert', ca.cert);
    expect(withName).toMatchObject({ code: 0, stderr: '' });
    expect((await cli({}, 'leader', '--dashboard', byName.url, '--cacert', ca.cert, '--tls-servername', 'redslot-dashboard')).code).toBe(0);
  });

  it('the redslot binary prints one line and no stack trace when the CA is not trusted', async () => {
    const res = await run(process.execPath, [...nodeArgsFor('deploy/bin/redslot.ts'), 'status', '--dashboard', d.url], {
      env: { ...process.env, REDSLOT_TOKEN: TOKEN, REDSLOT_CACERT: '' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('not signed by a trusted CA');
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    const ok = await run(process.execPath, [...nodeArgsFor('deploy/bin/redslot.ts'), 'leader', '--dashboard', d.url, '--cacert', ca.cert], {
      env: { ...process.env, REDSLOT_TOKEN: TOKEN },
    });
    expect(ok.stdout).toContain(d.id);
  });
});

describe('proxy admin port over HTTPS', () => {
  it('serves /healthz and /api/v1 over HTTPS (read by the dashboard with proxyAdminTls); plain HTTP and another CA are refused', async () => {
    const config = loadProxyConfig({
      env: {},
      overrides: {
        listen: '127.0.0.1:0',
        admin: '127.0.0.1:0',
        topology: { groups: [], slots: [] },
        adminTls: { cert: server.cert, key: server.key },
      },
    });
    const p = await startProxy({ config, defaultMetrics: false });
    cleanups.push(() => p.close({ deadlineMs: 500 }));
    const admin = p.adminAddr!;
    const ok = await httpRequest(`https://${admin}/healthz`, { timeoutMs: 5000, tls: { ca: readFileSync(ca.cert) } });
    expect(ok).toMatchObject({ status: 200, ok: true });
    const metrics = await httpRequest(`https://${admin}/metrics`, { timeoutMs: 5000, tls: { ca: readFileSync(ca.cert) } });
    expect(metrics.body).toContain('redslot_proxy_');

    const plain = await httpRequest(`http://${admin}/healthz`, { timeoutMs: 5000 }).then(
      (r) => `HTTP ${r.status}`,
      (err: Error & { code?: string }) => `refused: ${err.code ?? err.message}`,
    );
    expect(plain).toMatch(/^refused|^HTTP 400/);
    await expect(httpRequest(`https://${admin}/healthz`, { timeoutMs: 5000, tls: { ca: readFileSync(otherCa.cert) } })).rejects.toThrow(/self.signed|unable to verify|certificate/i);

    const log = createLogger({ component: 'test' });
    const dialer = new Dialer({ dialTimeoutMs: 2000, proxyAdminTls: { ca: ca.cert, cert: '', key: '', servername: '' } }, log);
    const stats = (await dialer.fetchProxyJson(admin, '/api/v1/proxy', new Set([admin]))) as { adminAddr: string };
    expect(stats.adminAddr).toBe(admin);
    const untrusting = new Dialer({ dialTimeoutMs: 2000, proxyAdminTls: { ca: otherCa.cert, cert: '', key: '', servername: '' } }, log);
    await expect(untrusting.fetchProxyJson(admin, '/api/v1/proxy', new Set([admin]))).rejects.toThrow(/not signed by a trusted CA/);
  });
});
