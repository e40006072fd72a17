/**
 * Before a migration starts: every master it moves slots between must run a Redis that can migrate
 * (shared/redis-version.ts: MIGRATE ... KEYS from 3.0.6, MEMORY USAGE from 4.0, AUTH2 from 6.0 when an ACL
 * user is configured). A Codis cluster imported with its codis-server 3.2 backends keeps serving, but its
 * slots cannot move until those servers are replaced by Redis >= 4 (>= 6 with ACL users); say so up front
 * instead of failing slot by slot.
 */
import { RedslotError } from '../../shared/errors.js';
import { parseRedisVersion, refusalsFor } from '../../shared/redis-version.js';
import { MigrationErrors } from './errors.js';
import type { SlotMove } from './planner.js';

export interface VersionCheckDeps {
  /** The master of a group, if it has one. */
  masterOf(gid: number): string | undefined;
  /** `redis_version` of a server (INFO server). */
  versionOf(addr: string): Promise<string | undefined>;
  /** An ACL user is configured for the dashboard's connections (MIGRATE ... AUTH2). */
  aclUser: boolean;
}

/** Throws REDSLOT_ERR_MIGRATION_PLAN_INVALID naming every master too old for the moves. */
export async function assertMigratable(moves: readonly SlotMove[], deps: VersionCheckDeps): Promise<void> {
  const gids = new Set<number>();
  for (const m of moves) {
    if (m.from !== 0) gids.add(m.from);
    gids.add(m.to);
  }
  const problems: string[] = [];
  for (const gid of [...gids].sort((a, b) => a - b)) {
    const addr = deps.masterOf(gid);
    if (addr === undefined) continue; // the planner refuses groups without a master itself
    const text = await deps.versionOf(addr);
    const v = text === undefined ? null : parseRedisVersion(text);
    if (v === null) continue;
    const why = refusalsFor(v, { migration: true, aclUser: deps.aclUser });
    if (why.length > 0) problems.push(`group ${gid} master ${addr}: ${why.join('; ')}`);
  }
  if (problems.length > 0) throw new RedslotError(MigrationErrors.REDSLOT_ERR_MIGRATION_PLAN_INVALID, { reason: `cannot migrate: ${problems.join('; ')}` });
}
