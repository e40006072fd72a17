/**
 * `redslot up --tls`: a local CA and a server certificate (localhost, 127.0.0.1, ::1) made with openssl in
 * a directory of their own, the blocks that serve TLS with them (the proxy port, the proxy admin port, the
 * dashboard), and the lines that say how to connect (redis-cli, the CLI, curl, a browser).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { issueCert, makeCa } from '../../shared/tls/certs.js';
import type { TlsClientConfig, TlsListenerConfig } from '../../shared/tls/config.js';

export interface LocalTls {
  dir: string;
  /** The CA clients must trust (redis-cli --cacert, ioredis tls.ca, the CLI's --cacert, the browser). */
  caFile: string;
  /** `tls:` overrides for the proxy config. */
  proxyTls: { cert: string; key: string };
  /** HTTPS for the dashboard and the proxy admin port (`adminTls`). */
  https: TlsListenerConfig;
  /** How the dashboard trusts the proxies' HTTPS admin ports. */
  trustCa: TlsClientConfig;
}

export function makeLocalTls(cluster: string): LocalTls {
  const dir = mkdtempSync(path.join(os.tmpdir(), `redslot-${cluster}-tls-`));
  const ca = makeCa(dir, 'ca', 30);
  const proxy = issueCert(ca, 'proxy');
  const web = issueCert(ca, 'https');
  return {
    dir,
    caFile: ca.cert,
    proxyTls: { cert: proxy.cert, key: proxy.key },
    https: { cert: web.cert, key: web.key, ca: '', clientAuth: 'no', reloadIntervalMs: 2000 },
    trustCa: { ca: ca.cert, cert: '', key: '', servername: '' },
  };
}

/** How to connect, for the banner. */
export function tlsConnectHint(t: LocalTls, port: string): string {
  return `redis-cli --tls --cacert ${t.caFile} -p ${port}`;
}

/** The banner's lines for the CLI and a browser talking to the HTTPS dashboard. */
export function httpsConnectHints(t: LocalTls, dashboardUrl: string, token: string): string[] {
  return [
    `         REDSLOT_TOKEN=${token} node dist/deploy/bin/redslot.js status --dashboard ${dashboardUrl} --cacert ${t.caFile}`,
    `  browser: trust ${t.caFile} as a certificate authority (browser or system settings), then open ${dashboardUrl}/ui/`,
    `  curl:    curl --cacert ${t.caFile} ${dashboardUrl}/api/v1/health`,
  ];
}
