/**
 * Error catalogue of the replication-based split (dashboard/migration/split/). Codes are global and stable;
 * each one is listed in docs/errors.md's generated table.
 */
import { defineErrors } from '../../../shared/errors.js';

export const SplitErrors = defineErrors({
  REDSLOT_ERR_SPLIT_REFUSED: {
    message: 'split of group {source} into group {target} refused: {reason}',
    httpStatus: 409,
    description:
      'A split cannot start: the new group is not empty or has no master, lacks memory for the source dataset, one of the groups is in another split, a migration or a promotion, or the slots named are not the source\'s.',
  },
  REDSLOT_ERR_SPLIT_INVALID: {
    message: 'split request invalid: {reason}',
    httpStatus: 400,
    description: 'The split request names an unknown group, the same group twice, or a bad slot range.',
  },
  REDSLOT_ERR_SPLIT_NOT_FOUND: {
    message: 'no split of group {source}',
    httpStatus: 404,
    description: 'No split record exists for that source group.',
  },
  REDSLOT_ERR_SPLIT_ABORT_REFUSED: {
    message: 'split of group {source} cannot be aborted at step {step}: {reason}',
    httpStatus: 409,
    description: 'Abort is possible only before the switch (syncing, locked, promoting); after it, move slots back with a migration.',
  },
  REDSLOT_ERR_SPLIT_GROUP_PROMOTING: {
    message: 'split of group {source}: group {gid} is promoting {newMaster}; the split waits until that ends',
    httpStatus: 409,
    description:
      'A group of the split is changing its master (failover or promotion). The split writes neither group meanwhile (retried); once the promotion ended, a split still before its switch aborts (its master changed), a later one goes on with the new master. An operator\'s abort is refused until then: try again.',
  },
  REDSLOT_ERR_SPLIT_FAILED: {
    message: 'split of group {source} into group {target} stopped at step {step}: {reason}',
    httpStatus: 500,
    description:
      'A split step failed in a way that is not retried (the new master is not the promoted replica of the source, a master changed). The record says where it stopped.',
  },
});
