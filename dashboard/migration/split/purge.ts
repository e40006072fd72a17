/**
 * The purge after a switch: every key of the given slots is deleted from one master, in the background, with
 * SCAN (every database), the slot computed on the key's raw bytes, and UNLINK in paced batches, so the server
 * keeps serving clients between two calls. Idempotent: a new leader simply scans again.
 */
import { RedslotError } from '../../../shared/errors.js';
import { slotOf } from '../../../shared/slot.js';
import { RedisAdminErrors, type RedisAdmin } from '../../redis/admin.js';

export interface PurgeOptions {
  /** Keys asked per SCAN call and deleted per UNLINK at most. */
  batchKeys: number;
  /** Pause after each UNLINK (ms): the pace. */
  pauseMs: number;
  signal?: AbortSignal;
  onDeleted?: (n: number) => void;
}

/** Deletes from `c` every key whose slot has `drop[slot] === 1`; returns how many were deleted. */
export async function purgeSlots(c: RedisAdmin, drop: Uint8Array, o: PurgeOptions): Promise<number> {
  const info = await c.info('keyspace');
  let deleted = 0;
  const dbs = Object.keys(info.keyspace).map(Number).sort((a, b) => a - b);
  for (const db of dbs) {
    await c.call('SELECT', db);
    let cursor = '0';
    do {
      o.signal?.throwIfAborted();
      const step = await c.scan(cursor, o.batchKeys);
      cursor = step.cursor;
      const doomed = step.keys.filter((k) => drop[slotOf(k)] === 1);
      if (doomed.length === 0) continue;
      const r = await c.callBuffers('UNLINK', ...doomed);
      // An error reply (READONLY: the master became a replica in a promotion) stops the purge, to be retried
      // on the group's current master; counting it as 0 deleted would finish a purge that deleted nothing.
      if (typeof r !== 'number') throw new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_REPLY, { addr: c.addr, command: 'UNLINK', reply: r instanceof Error ? r.message : 'not an integer' });
      const n = r;
      deleted += n;
      o.onDeleted?.(n);
      if (o.pauseMs > 0) await new Promise((res) => setTimeout(res, o.pauseMs));
    } while (cursor !== '0');
  }
  if (dbs.length > 0) await c.call('SELECT', 0);
  return deleted;
}
