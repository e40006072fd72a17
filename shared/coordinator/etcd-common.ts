/**
 * What the etcd coordinator's parts share (etcd.ts, etcd-lease.ts, etcd-watch.ts): the logger, the key-value
 * mapping and the mapping of etcd3/cockatiel errors to redslot errors.
 */
import { EtcdLeaseInvalidError, isRecoverableError, type IKeyValue } from 'etcd3';
import { isBrokenCircuitError } from 'cockatiel';
import { CommonErrors, RedslotError } from '../errors.js';
import { createLogger } from '../log.js';
import { CoordinatorErrors } from './errors.js';
import type { KeyValue } from './types.js';

export const log = createLogger({ component: 'coordinator.etcd' });

export function toKeyValue(kv: IKeyValue): KeyValue {
  const out: KeyValue = {
    key: kv.key.toString('utf8'),
    value: kv.value ? kv.value.toString('utf8') : '',
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
  };
  if (kv.lease && kv.lease !== '0') out.lease = String(kv.lease);
  return out;
}

/** Maps etcd3/cockatiel errors to redslot errors. */
export function mapError(op: string, err: unknown): RedslotError {
  if (err instanceof RedslotError) return err;
  const e = err as Error;
  if (err instanceof EtcdLeaseInvalidError) {
    return new RedslotError(CoordinatorErrors.REDSLOT_ERR_LEASE_NOT_FOUND, { lease: 'requested' }, { cause: err });
  }
  if ((e && typeof e === 'object' && isRecoverableError(e)) || isBrokenCircuitError(e) || /closed|unavailable|deadline|ECONNREFUSED/i.test(String(e?.message))) {
    return new RedslotError(CommonErrors.REDSLOT_ERR_COORDINATOR_UNAVAILABLE, { reason: `${op}: ${e?.message ?? String(err)}` }, { cause: err });
  }
  return new RedslotError(CoordinatorErrors.REDSLOT_ERR_COORDINATOR_REQUEST_FAILED, { op, reason: e?.message ?? String(err) }, { cause: err });
}
