/**
 * `redslot up --tls`: a local CA and a proxy certificate (localhost, 127.0.0.1, ::1) made with openssl in
 * a directory of their own, and the proxy config block that serves TLS on the proxy port with them.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { issueCert, makeCa } from '../../shared/tls/certs.js';

export interface LocalTls {
  dir: string;
  /** The CA clients must trust (redis-cli --cacert, ioredis tls.ca). */
  caFile: string;
  /** `tls:` overrides for the proxy config. */
  proxyTls: { cert: string; key: string };
}

export function makeLocalTls(cluster: string): LocalTls {
  const dir = mkdtempSync(path.join(os.tmpdir(), `redslot-${cluster}-tls-`));
  const ca = makeCa(dir, 'ca', 30);
  const proxy = issueCert(ca, 'proxy');
  return { dir, caFile: ca.cert, proxyTls: { cert: proxy.cert, key: proxy.key } };
}

/** How to connect, for the banner. */
export function tlsConnectHint(t: LocalTls, port: string): string {
  return `redis-cli --tls --cacert ${t.caFile} -p ${port}`;
}
