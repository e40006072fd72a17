/**
 * One HTTP(S) request with Node's http/https, for the clients that must trust a given CA (the CLI talking to
 * an HTTPS dashboard, the dashboard reading proxies' HTTPS admin ports): the global fetch cannot take a CA
 * without the undici package. No redirects are followed, the server certificate is always verified, the body
 * is capped, and a TLS failure is explained in words (untrustedCertificateHint).
 */
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** For https:// URLs: CA, client certificate, servername (shared/tls/config.ts clientOptions). */
  tls?: tls.ConnectionOptions | null;
  /** Largest response body read (default 64 MiB); a larger one fails the request. */
  maxBodyBytes?: number;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  ok: boolean;
  body: string;
}

export function httpRequest(url: string, o: HttpRequestOptions): Promise<HttpResponse> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const max = o.maxBodyBytes ?? 64 * 1024 * 1024;
  const options: https.RequestOptions = {
    method: o.method ?? 'GET',
    headers: o.headers,
    signal: AbortSignal.timeout(o.timeoutMs),
    agent: false,
    ...(secure ? { ...o.tls, rejectUnauthorized: true } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(u, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) req.destroy(new Error(`response from ${u.host} larger than ${max} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve({ status, statusText: res.statusMessage ?? '', ok: status >= 200 && status < 300, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', (err: Error & { code?: string }) => {
      reject(err.name === 'AbortError' ? Object.assign(new Error(`timed out after ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' }) : err);
    });
    req.end(o.body);
  });
}

/** OpenSSL verification codes that mean "the server's certificate is not signed by a CA we trust". */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

/** A short reason for a failed request: the error code, with what it means for certificate failures. */
export function describeRequestError(err: unknown, trustHint: string): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  if (code !== undefined && UNTRUSTED.has(code)) return `${code}: its certificate is not signed by a trusted CA (${trustHint})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${code}: ${e.message ?? 'the certificate does not name this host'}`;
  if (code === 'CERT_HAS_EXPIRED') return `${code}: its certificate has expired`;
  return code ?? e.cause?.message ?? e.message ?? String(err);
}
