/**
 * A key found on both the source and the target of a migrating slot: the leftover of an interrupted MIGRATE
 * (RESTORE on the target done, DEL on the source not). The rule, shared by the mover and the proxy's
 * migrate-on-access: the source copy may be deleted only if it is still exactly what the target holds,
 * value AND expiry, checked and deleted in ONE script on the source. Anything else (a source-first write,
 * an EXPIRE or PERSIST that landed on the source after the RESTORE) means the source copy is the newer one:
 * nothing is deleted and the caller reports the pair (BUSYKEY).
 *
 * Why atomic: compare (DUMP) then DEL as two commands let a write acknowledged in between be deleted. Why
 * the TTL: DUMP carries no expiry, so an EXPIRE/PERSIST between the RESTORE and the clean-up compared equal.
 *
 * Expiries are compared as remaining ms read at two instants (target first, then the source inside the
 * script): both count down together since the RESTORE, so they differ by the time between the two reads plus
 * the interrupted MIGRATE's DUMP-to-RESTORE time. The tolerance is the measured time between the two reads
 * plus `migrateMs` (the duration of the failed MIGRATE call, which contains its transfer). A client EXPIRE
 * that moved the expiry by less than that is indistinguishable and is treated as equal.
 */

/** On the target: { DUMP, PTTL } of KEYS[1] read together (nil dump when absent). */
export const TARGET_COPY_LUA = "return {redis.call('DUMP', KEYS[1]), redis.call('PTTL', KEYS[1])}";

/**
 * On the source: delete KEYS[1] only if its DUMP equals ARGV[1] and its PTTL is within ARGV[3] ms of ARGV[2]
 * (both persistent counts as equal). 1 deleted, 0 already gone, -1 value differs, -2 expiry differs.
 */
export const SOURCE_COMPARE_DELETE_LUA = `
local d = redis.call('DUMP', KEYS[1])
if not d then return 0 end
if d ~= ARGV[1] then return -1 end
local p = redis.call('PTTL', KEYS[1])
local want = tonumber(ARGV[2])
if p < 0 or want < 0 then
  if p ~= want then return -2 end
elseif math.abs(p - want) > tonumber(ARGV[3]) then
  return -2
end
redis.call('DEL', KEYS[1])
return 1`;

export type BothSidesOutcome = 'deleted-source' | 'source-gone' | 'target-gone' | 'value-differs' | 'expiry-differs';

/** Runs one command on one side (the dashboard's RedisLink or the proxy's backend connections). */
export type Caller = (args: Array<string | number | Buffer>) => Promise<unknown>;

/** Slack added to the measured bound: clock granularity and the reads' own queueing. */
const TOLERANCE_SLACK_MS = 20;

/**
 * Applies the rule to one key. `target` and `source` run a command on the key's db of each side (the
 * caller selects the db). Throws when either side answers with an error or an unexpected reply.
 */
export async function resolveBothSides(key: Buffer, target: Caller, source: Caller, migrateMs = 0): Promise<BothSidesOutcome> {
  const t0 = performance.now();
  const copy = await target(['EVAL', TARGET_COPY_LUA, 1, key]);
  if (copy instanceof Error) throw copy;
  if (!Array.isArray(copy) || copy.length !== 2) throw new Error(`unexpected reply to the target copy check: ${String(copy)}`);
  const [dump, pttl] = copy as [unknown, unknown];
  if (dump === null || dump === undefined) return 'target-gone';
  if (!Buffer.isBuffer(dump) || typeof pttl !== 'number') throw new Error('unexpected reply to the target copy check');
  const tolerance = Math.ceil(performance.now() - t0 + migrateMs) + TOLERANCE_SLACK_MS;
  const r = await source(['EVAL', SOURCE_COMPARE_DELETE_LUA, 1, key, dump, pttl, tolerance]);
  if (r instanceof Error) throw r;
  switch (r) {
    case 1:
      return 'deleted-source';
    case 0:
      return 'source-gone';
    case -1:
      return 'value-differs';
    case -2:
      return 'expiry-differs';
    default:
      throw new Error(`unexpected reply to the source compare-and-delete: ${String(r)}`);
  }
}
