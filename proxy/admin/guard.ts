/**
 * Who may use the proxy's admin port. Probes (/healthz, /readyz) and /metrics (no secrets; Prometheus) are
 * open; everything else (/api/v1/...) needs `Authorization: Bearer <adminToken>` (constant-time compare), or,
 * while no adminToken is configured, a loopback client. A token is never read from a URL.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { isLoopback } from '../../shared/loopback.js';

const OPEN = new Set(['/healthz', '/readyz', '/metrics']);

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function guardAdmin(app: FastifyInstance, token: string): void {
  const want = token === '' ? null : digest(token);
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (OPEN.has(path)) return;
    if (want === null) {
      if (isLoopback(req.socket.remoteAddress)) return;
      return reply.code(403).send({ error: 'the admin API answers loopback clients only while no adminToken is configured' });
    }
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (m !== null && timingSafeEqual(digest(m[1]!), want)) return;
    return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'Authorization: Bearer <adminToken> required' });
  });
}
