/**
 * After a MIGRATE failed with an I/O error or a timeout, MIGRATE may have restored keys on the target without
 * deleting them on the source. Which keys are still on the source, and what to do with those also on the target:
 * identical copies are our own half-done MIGRATE (the source copy is deleted); a differing pair is an invariant
 * violation, reported as BUSYKEY by the caller (the rule itself is shared/both-sides.ts).
 */
import { resolveBothSides, type BothSidesOutcome } from '../../shared/both-sides.js';
import type { RedisReply } from '../redis/admin.js';
import type { Arg } from '../redis/link.js';
import { asNumbers, replyError } from './mover-links.js';

/** One command on the source or the target, in the batch's database. */
export type DbCall = (args: Arg[]) => Promise<RedisReply>;

const EXISTS_LUA = "local r={} for i,k in ipairs(KEYS) do r[i]=redis.call('EXISTS',k) end return r";

/** For each key, whether it exists on the side `call` talks to (one EVAL). */
async function existsFlags(call: DbCall, where: string, keys: Buffer[]): Promise<boolean[]> {
  const r = await call(['EVAL', EXISTS_LUA, keys.length, ...keys]);
  const flags = asNumbers(r, keys.length);
  if (!flags) throw new Error(`EXISTS check on ${where}: ${replyError(r) ?? 'unexpected reply'}`);
  return flags.map((f) => f === 1);
}

/** The keys that exist on the side `call` talks to. */
export async function existing(call: DbCall, where: string, keys: Buffer[]): Promise<Buffer[]> {
  const flags = await existsFlags(call, where, keys);
  return keys.filter((_, i) => flags[i]);
}

export type ReconcileResult =
  /** Keys still to move, and the duplicates resolved (the source copy deleted, or already gone). */
  | { todo: Buffer[]; resolved: Array<{ key: Buffer; outcome: BothSidesOutcome }> }
  /** A key on both sides whose source copy differs from the target's (value or expiry): nothing deleted. */
  | { conflict: Buffer; outcome: BothSidesOutcome };

/**
 * Resolves `left` (keys still on the source after a failed MIGRATE) against the target with the shared rule
 * (shared/both-sides.ts: value AND expiry compared and the source copy deleted in one script on the source).
 * `migrateMs`, the failed MIGRATE's duration, bounds the expiry skew of our own half-done copy.
 */
export async function reconcileBothSides(source: DbCall, target: DbCall, targetAddr: string, left: Buffer[], migrateMs: number): Promise<ReconcileResult> {
  const onTarget = await existsFlags(target, targetAddr, left);
  const todo: Buffer[] = [];
  const resolved: Array<{ key: Buffer; outcome: BothSidesOutcome }> = [];
  for (let i = 0; i < left.length; i++) {
    const key = left[i]!;
    if (!onTarget[i]) {
      todo.push(key);
      continue;
    }
    const outcome = await resolveBothSides(key, target, source, migrateMs);
    if (outcome === 'deleted-source' || outcome === 'source-gone') resolved.push({ key, outcome });
    else if (outcome === 'target-gone') todo.push(key);
    else return { conflict: key, outcome };
  }
  return { todo, resolved };
}
