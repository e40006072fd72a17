/**
 * The dashboard's error catalogue. Every API error body is `{ error: { code, message } }` with a code from
 * here, shared/errors.ts (REDSLOT_ERR_CAS_CONFLICT, ...) or dashboard/redis/admin.ts (redis unreachable/timeout).
 */
import { defineErrors } from '../shared/errors.js';

export const DashboardErrors = defineErrors({
  REDSLOT_ERR_UNAUTHORIZED: {
    message: 'missing or invalid bearer token: send "Authorization: Bearer <token>"',
    httpStatus: 401,
    description: 'A dashboard API call came without a valid Authorization: Bearer token.',
  },
  REDSLOT_ERR_FORBIDDEN: {
    message: 'token {who} is read-only and cannot {action}',
    httpStatus: 403,
    description: 'A read-only (viewer) token was used for a mutating call.',
  },
  REDSLOT_ERR_NOT_LEADER: {
    message: 'this dashboard ({self}) is a standby and refuses writes; send it to the leader at {leader}',
    httpStatus: 503,
    description: 'A mutating call reached a standby dashboard; the message names the leader to use instead.',
  },
  REDSLOT_ERR_BAD_REQUEST: {
    message: 'invalid request: {reason}',
    httpStatus: 400,
    description: 'The request body, query or path failed schema validation.',
  },
  REDSLOT_ERR_NOT_FOUND: {
    message: '{what} not found',
    httpStatus: 404,
    description: 'The group, server or route named in the request does not exist.',
  },
  REDSLOT_ERR_GROUP_EXISTS: {
    message: 'group {gid} already exists',
    httpStatus: 409,
    description: 'Creating a group whose id is taken.',
  },
  REDSLOT_ERR_GROUP_NOT_EMPTY: {
    message: 'group {gid} cannot be removed: {reason}',
    httpStatus: 409,
    description: 'Removing a group that still owns slots (or is the target of a slot action).',
  },
  REDSLOT_ERR_GROUP_BUSY: {
    message: 'group {gid} is busy: {reason}',
    httpStatus: 409,
    description: 'The group is promoting or involved in a migration; the operation must wait.',
  },
  REDSLOT_ERR_SERVER_EXISTS: {
    message: 'server {addr} is already registered in group {gid}',
    httpStatus: 409,
    description: 'Adding an address that the model already lists.',
  },
  REDSLOT_ERR_SERVER_ROLE: {
    message: 'server {addr} has the wrong role: {reason}',
    httpStatus: 409,
    description: 'ROLE of the server does not fit where it is being added (first server must be a master, others replicas).',
  },
  REDSLOT_ERR_SERVER_IN_USE: {
    message: 'server {addr} cannot be removed from group {gid}: {reason}',
    httpStatus: 409,
    description: 'Removing a master that still serves slots or has replicas in the group.',
  },
  REDSLOT_ERR_SLOTS_REFUSED: {
    message: 'slot assignment refused: {reason}',
    httpStatus: 409,
    description: 'Assigning slots that would need data movement (the source group holds keys) or to an unusable group.',
  },
  REDSLOT_ERR_ADDRESS_NOT_ALLOWED: {
    message: 'refusing to connect to {addr}: not a server or proxy registered in the cluster',
    httpStatus: 403,
    description: 'SSRF guard: the dashboard only dials addresses in the model (or the one being added in that call).',
  },
  REDSLOT_ERR_BARRIER_TIMEOUT: {
    message: 'barrier for revision {revision} timed out after {timeoutMs} ms; proxies not acknowledged: {laggards}',
    httpStatus: 504,
    description: 'Not every live proxy acknowledged a topology revision in time; the message names the laggards.',
  },
  REDSLOT_ERR_PROMOTION_FAILED: {
    message: 'promotion of {addr} in group {gid} failed at step {step}: {reason}',
    httpStatus: 500,
    description: 'A master promotion stopped part-way; the leader resumes or the operator retries.',
  },
  REDSLOT_ERR_IMPORT_REFUSED: {
    message: 'import refused: {reason}',
    httpStatus: 409,
    description: 'A Codis import that cannot run now: Codis has slots migrating or a group promoting, a master does not answer as one, or redslot already holds a conflicting group or slot.',
  },
  REDSLOT_ERR_INTERNAL: {
    message: 'internal error: {reason}',
    httpStatus: 500,
    description: 'An unexpected dashboard failure (see the dashboard log).',
  },
});
