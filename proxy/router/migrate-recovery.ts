/**
 * After a MIGRATE on the client path failed (issue 15, hole 7). A timeout or I/O error may leave a key on BOTH
 * sides: MIGRATE's RESTORE ran on the target, its reply never came back, so the source kept its copy. Left
 * alone, the pair stays until the mover meets it, and any source-first write meanwhile makes the copies
 * differ: the slot then stops for manual repair. So the proxy resolves it at once, while the client's
 * session is still held, with the same atomic rule as the mover (shared/both-sides.ts: value AND expiry
 * compared and the source copy deleted in one script on the source), on its own backend connections.
 *
 * Outcome per key: `deleted-source` or `source-gone` = the key is now only on the target; `target-gone` with
 * no copy on the source either = the key exists nowhere. When every key of the command is in one of those
 * states, the command runs on the target as if the MIGRATE had succeeded (the client never sees the
 * timeout). A key still only on the source (the RESTORE never ran) or a differing pair (a source-first write
 * came in between: the source copy is the newer, kept, and reported as the mover reports it) fails the
 * command with one error; nothing is deleted then.
 */
import { resolveBothSides, type BothSidesOutcome, type Caller } from '../../shared/both-sides.js';
import { encodeCommandInto } from '../../shared/resp/encoder.js';
import { arrayElements, bulkValue, errorText, isError, readInteger } from '../../shared/resp/reply-reader.js';
import type { BackendServer } from '../backend/pool.js';

export interface MigratedKey {
  source: BackendServer;
  target: BackendServer;
  key: Buffer;
}

export type RecoveryResult =
  /** Every key is now only on its target (or nowhere): the command may run on the target. */
  | { moved: true }
  /** `key` is not (only) on the target: still on the source, or a differing pair, or a side failed. */
  | { moved: false; key: Buffer; why: BothSidesOutcome | 'still-on-source' | 'error'; detail?: string };

/** A RESP2 reply decoded the way shared/both-sides.ts expects (bulk -> Buffer copy, integer, array, error). */
function decode(frame: Buffer): unknown {
  if (isError(frame)) return new Error(errorText(frame));
  const n = readInteger(frame);
  if (!Number.isNaN(n)) return n;
  const b = bulkValue(frame);
  if (b !== undefined) return b === null ? null : Buffer.from(b);
  const items = arrayElements(frame);
  if (items !== undefined) return items === null ? null : items.map(decode);
  return new Error(`unexpected reply ${frame.subarray(0, 32).toString('latin1')}`);
}

/** One command on the pooled connection a session with this seed uses to `server` in `db` (RESP2). */
function callerOn(server: BackendServer, db: number, seed: number): Caller {
  return (args) =>
    new Promise((resolve) => {
      const out: Buffer[] = [];
      const bytes = encodeCommandInto(
        args.map((a) => (typeof a === 'number' ? String(a) : a)),
        out,
      );
      server.conn(db, seed).sendParts({ onReply: (frame) => resolve(decode(frame)) }, out, bytes);
    });
}

/** Resolves every key of a failed MIGRATE step; never throws. `migrateMs` bounds the expiry skew (both-sides.ts). */
export async function recoverBothSides(keys: readonly MigratedKey[], db: number, seed: number, migrateMs: number): Promise<RecoveryResult> {
  for (const { source, target, key } of keys) {
    const onSource = callerOn(source, db, seed);
    try {
      const outcome = await resolveBothSides(key, callerOn(target, db, seed), onSource, migrateMs);
      if (outcome === 'deleted-source' || outcome === 'source-gone') continue;
      if (outcome !== 'target-gone') return { moved: false, key, why: outcome };
      const there = await onSource(['EXISTS', key]);
      if (there instanceof Error) throw there;
      if (there !== 0) return { moved: false, key, why: 'still-on-source' };
    } catch (err) {
      return { moved: false, key, why: 'error', detail: (err as Error).message };
    }
  }
  return { moved: true };
}
