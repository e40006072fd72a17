/**
 * Errors raised by the coordinator implementations (memory, etcd) and the URL parser.
 * "Unreachable" is CommonErrors.REDSLOT_ERR_COORDINATOR_UNAVAILABLE (shared/errors.ts).
 */
import { defineErrors } from '../errors.js';

export const CoordinatorErrors = defineErrors({
  REDSLOT_ERR_COORDINATOR_URL_INVALID: {
    message: 'invalid coordinator URL {url}: {reason} (expected etcd://host:port[,host:port]/cluster-name or memory://cluster-name)',
    httpStatus: 400,
    description: 'The --coordinator URL is malformed (scheme, host:port list or cluster name).',
  },
  REDSLOT_ERR_COORDINATOR_CLOSED: {
    message: 'coordinator client {describe} is closed',
    description: 'A coordinator call was made after close().',
  },
  REDSLOT_ERR_LEASE_NOT_FOUND: {
    message: 'lease {lease} not found (expired or revoked)',
    description: 'A key was written under a lease that no longer exists; the caller must grant a new lease.',
  },
  REDSLOT_ERR_COORDINATOR_REQUEST_FAILED: {
    message: 'coordinator request {op} failed: {reason}',
    httpStatus: 502,
    description: 'The coordinator rejected a request for a reason other than being unreachable.',
  },
});
