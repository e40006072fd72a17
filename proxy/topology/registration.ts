/**
 * A proxy's registration proxies/<id>, bound to its lease (issue 15, holes 1 and 3).
 */
import { RedslotError } from '../../shared/errors.js';
import type { Coordinator, Lease } from '../../shared/coordinator/types.js';
import { FollowerErrors } from './errors.js';

/**
 * Create-if-absent under our lease: a second process with the same id gets REDSLOT_ERR_PROXY_ID_TAKEN
 * instead of silently sharing one registration and one ack. Our own earlier registration (a retried
 * resync on the same lease) is rewritten in place.
 */
export async function registerUnderLease(coord: Coordinator, key: string, value: string, lease: Lease, id: string): Promise<void> {
  const created = await coord.txn([{ key, target: 'create', op: '==', value: 0 }], [{ type: 'put', key, value, lease: lease.id }]);
  if (created.succeeded) return;
  const cur = await coord.get(key);
  if (cur === undefined) return registerUnderLease(coord, key, value, lease, id); // deleted meanwhile: try again
  if (cur.lease !== undefined && BigInt(cur.lease) === BigInt(lease.id)) {
    const same = await coord.txn([{ key, target: 'mod', op: '==', value: cur.modRevision }], [{ type: 'put', key, value, lease: lease.id }]);
    if (same.succeeded) return;
    return registerUnderLease(coord, key, value, lease, id);
  }
  throw new RedslotError(FollowerErrors.REDSLOT_ERR_PROXY_ID_TAKEN, { id, lease: cur.lease ?? 'none', coordinator: coord.describe });
}
