/**
 * Shared plumbing for mutating routes: role check (viewer tokens are read-only), leader check (standbys
 * refuse writes with 503 naming the leader: they do not forward, so a client always knows which dashboard
 * acted), and the audit record of every attempt, whatever its result.
 */
import type { FastifyRequest } from 'fastify';
import { RedslotError } from '../../shared/errors.js';
import type { DashboardContext } from '../context.js';
import { DashboardErrors } from '../errors.js';
import { ErrorBody } from '../schemas/index.js';

/** "who" in the audit log: token name and remote address. */
export function who(req: FastifyRequest): string {
  return `${req.principal?.name ?? 'unknown'}@${req.ip}`;
}

export function notLeaderError(ctx: DashboardContext): RedslotError {
  const leader = ctx.election.leader();
  return new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_LEADER, {
    self: `${ctx.id} at ${ctx.election.addr}`,
    leader: leader ? `${leader.addr} (${leader.id})` : '(none elected right now; retry in a few seconds)',
  });
}

/** Runs a mutating operation: checks role and leadership, records the audit entry, logs. */
export async function mutate<T>(
  ctx: DashboardContext,
  req: FastifyRequest,
  action: string,
  target: string | undefined,
  params: unknown,
  fn: () => Promise<T>,
  detailOf?: (r: T) => string | undefined,
): Promise<T> {
  const actor = who(req);
  const log = ctx.log.child({ action, target, who: actor });
  return ctx.audit.run(
    actor,
    action,
    target,
    params,
    async () => {
      if (req.principal?.role !== 'operator') {
        ctx.metrics.authFailures.inc({ kind: 'forbidden' });
        throw new RedslotError(DashboardErrors.REDSLOT_ERR_FORBIDDEN, { who: req.principal?.name ?? 'anonymous', action });
      }
      if (!ctx.election.isLeader()) throw notLeaderError(ctx);
      log.info('op.start', { params });
      try {
        const r = await fn();
        log.info('op.done', { detail: detailOf?.(r) });
        return r;
      } catch (err) {
        log.warn('op.stopped', { err });
        throw err;
      }
    },
    detailOf,
  );
}

/** Error responses every route may return (documented in OpenAPI). */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  500: ErrorBody,
  502: ErrorBody,
  503: ErrorBody,
  504: ErrorBody,
} as const;
