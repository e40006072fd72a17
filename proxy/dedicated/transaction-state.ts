/** One client's transaction: MULTI's queued commands, or WATCH's pinned connection (transaction.ts). */
import type { DedicatedConnection } from '../backend/dedicated.js';
import type { SlotRoute } from '../router/slot-table.js';

export class Transaction {
  /** MULTI seen, EXEC/DISCARD not yet. */
  multi = false;
  /** A queued command was refused: EXEC answers EXECABORT. */
  aborted = false;
  /** The slot every key must hash to; -1 until the first key. */
  slot = -1;
  /** Queued commands, encoded, in order. */
  parts: Buffer[] = [];
  bytes = 0;
  count = 0;
  /** Keys of the queued commands (for migrate-on-access at EXEC). */
  keys: Buffer[] = [];
  /** WATCH: the pinned connection, the route it was placed under, the db it selected. */
  watchConn: DedicatedConnection | null = null;
  watchRoute: SlotRoute | null = null;
  watchDb = 0;
  /** The slot's route changed (or the connection broke) since WATCH: EXEC answers null. */
  watchBroken = false;
  /** The pinned connection's db differs from the one it was dialled for (SELECT sent on it): close, never reuse. */
  dirty = false;
}
