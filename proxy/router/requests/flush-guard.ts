/**
 * FLUSHALL / FLUSHDB while slots move (issue 15 hole 8). A flush is sent to every group's master, one after
 * the other in effect; if a key moves from a group not yet flushed to one already flushed, it survives the
 * flush the client was told succeeded. So:
 *
 * - Refused while any slot of this proxy's table has a migration action (any state: a job is running, keys
 *   move now or soon) or is held (a promotion: route locked), with an error that says why and what to do.
 * - Otherwise the flush holds EVERY slot's current route (one in-flight use each) until all masters
 *   answered. Keys of a slot move only once the slot's route is `migrating`; the dashboard sets that only
 *   after every live proxy acknowledged the `prepared` step, and acknowledging a route change waits for all
 *   in-flight uses of the replaced route (SlotTable.apply drains them). So no key can start moving before
 *   every master finished this flush: the flush and the migration are ordered, never interleaved. A proxy
 *   that cannot acknowledge is fenced by its lease (and then sends nothing, the flush included).
 */
import type { SlotRoute, SlotTable } from '../slot-table.js';

/** The command names this guard applies to (CommandSpec.name). */
export const FLUSH_COMMANDS: ReadonlySet<string> = new Set(['flushall', 'flushdb']);

/**
 * Number of slots in a migration (an action in any state, queued ones included: a job is running) or whose
 * route is held (a promotion); 0: a flush may run.
 */
export function movingSlots(table: SlotTable): number {
  let held = 0;
  for (const r of table.routes) if (r.migrateFrom !== null || r.locked) held++;
  return Math.max(held, table.slotsWithAction);
}

/** Takes one in-flight use of every slot's current route; the returned function gives them back (once). */
export function holdAllRoutes(table: SlotTable): () => void {
  const held: SlotRoute[] = table.routes.slice();
  for (const r of held) r.inflight++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    for (const r of held) r.done();
  };
}
