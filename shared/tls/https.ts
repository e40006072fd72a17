/**
 * HTTPS for the fastify apps (the dashboard's API and UI, the proxy's admin port): the options that make
 * fastify serve TLS from a listener block, and the certificate rotation wired to the app's lifetime (the same
 * polling as the proxy's client listener, shared/tls/reload.ts). Failed handshakes (plain HTTP on the TLS
 * port, an untrusted client certificate) are logged, one line each.
 */
import type tls from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';
import { serverOptions, type TlsListenerConfig } from './config.js';
import { watchServerCertificates } from './reload.js';

/** `{ https: ... }` to spread into fastify's options, or nothing when `c` is null (plain HTTP). */
export function fastifyHttpsOption(c: TlsListenerConfig | null, name: string): { https?: tls.TlsOptions } {
  return c === null ? {} : { https: serverOptions(c, name) };
}

/** Watches the certificate files of an app built with fastifyHttpsOption(c) until the app closes. */
export function serveRotatingCertificates(app: FastifyInstance, c: TlsListenerConfig | null, log: Logger, what: string): void {
  if (c === null) return;
  const server = app.server as unknown as tls.Server;
  server.on('tlsClientError', (err, socket) => {
    log.info('http.tls_handshake_failed', { what, client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`, reason: err.message });
  });
  const stop = watchServerCertificates(server, c, c.reloadIntervalMs, log, what);
  app.addHook('onClose', async () => stop());
}
