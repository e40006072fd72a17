/**
 * Error catalogue of slot migration (planner, mover, state machine, scheduler, routes). Codes are global and
 * stable; each one is listed in docs/errors.md's generated table.
 */
import { defineErrors } from '../../shared/errors.js';

export const MigrationErrors = defineErrors({
  REDSLOT_ERR_MIGRATION_PLAN_INVALID: {
    message: 'migration plan refused: {reason}',
    httpStatus: 400,
    description: 'A rebalance / move-range / move-N request cannot be planned (unknown group, bad range, too few slots).',
  },
  REDSLOT_ERR_MIGRATION_SLOT_BUSY: {
    message: 'slots already have a migration in flight: {slots}',
    httpStatus: 409,
    description: 'A move names slots that already carry a slot action; wait for it to finish or abort it first.',
  },
  REDSLOT_ERR_MIGRATION_BUSYKEY: {
    message: 'invariant violated: key {key} of slot {slot} (db {db}) already exists on target {target}; slot {slot} stopped',
    httpStatus: 500,
    description: 'MIGRATE answered BUSYKEY: the key exists on both groups. The slot is stopped and nothing is overwritten.',
  },
  REDSLOT_ERR_MIGRATION_BIGKEY_REFUSED: {
    message: 'key {key} of slot {slot} (db {db}) is {bytes} bytes, over the big-key limit {limit}; slot {slot} stopped',
    httpStatus: 409,
    description: 'refuseBigKeys is on and a key over bigKeyBytes was found; move it by hand or raise the limit.',
  },
  REDSLOT_ERR_MIGRATION_BIGKEY_FAILED: {
    message:
      'big key {key} of slot {slot} (db {db}, {bytes} bytes) could not be moved after blocking the source {ms} ms: {reply}; the target must accept it (proto-max-bulk-len, client-query-buffer-limit above the key size); not retried until the operator resumes',
    httpStatus: 502,
    description: 'MIGRATE of a big key failed (often the target refusing a payload over proto-max-bulk-len); the slot waits for the operator.',
  },
  REDSLOT_ERR_MIGRATION_MIGRATE_FAILED: {
    message: 'MIGRATE of {count} key(s) of slot {slot} from {source} to {target} (db {db}) failed: {reply}',
    httpStatus: 502,
    description: 'A MIGRATE call failed for a reason other than NOKEY/BUSYKEY (timeout, IOERR, auth); the slot is retried.',
  },
  REDSLOT_ERR_MIGRATION_NOT_DRAINED: {
    message: 'slot {slot}: {keys} key(s) still on source {source} after {passes} pass(es)',
    httpStatus: 500,
    description: 'The verification SCAN kept finding keys of a slot on its source; the slot is not finished.',
  },
  REDSLOT_ERR_MIGRATION_JOB_NOT_FOUND: {
    message: 'migration job {job} not found',
    httpStatus: 404,
    description: 'The job id in the request does not exist (finished jobs are kept until pruned).',
  },
  REDSLOT_ERR_MIGRATION_ABORT_REFUSED: {
    message: 'cannot abort slot {slot}: {reason}',
    httpStatus: 409,
    description: 'The slot action cannot be reversed (already an abort, or its source group lost its master).',
  },
  REDSLOT_ERR_MIGRATION_NO_MASTER: {
    message: 'group {gid} has no master; slot {slot} cannot move',
    httpStatus: 409,
    description: 'A slot action names a group without a master server.',
  },
  REDSLOT_ERR_MIGRATION_NOT_LEADER: {
    message: 'migration control needs the dashboard leader; this dashboard is a standby',
    httpStatus: 503,
    description: 'A migration command reached a dashboard that does not run the scheduler.',
  },
  REDSLOT_ERR_MIGRATION_ACK_TIMEOUT: {
    message: 'revision {revision} not acknowledged within {timeoutMs} ms by proxies: {laggards}',
    httpStatus: 504,
    description: 'Barrier wait in the migration scheduler timed out; it retries, the laggards are named.',
  },
});
