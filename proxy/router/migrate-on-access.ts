/**
 * Migrate-on-access (issue 5): while a slot is `migrating`, no client write may create a key on the source
 * (the mover's SCAN relies on it: keys of the slot only ever leave the source). Two ways to run a command of
 * such a slot:
 *
 * - Source first (SourceFirstStep, the common case: RESP2 clients, single-slot commands that Lua can run
 *   without changing their reply): one EVAL on the source runs the command THERE when every key of it still
 *   exists there, atomically (nothing can MIGRATE the keys between the check and the command). It answers
 *   {1, reply} (the reply is forwarded byte for byte, the envelope stripped), {0} when none of the keys is on
 *   the source (they moved or never existed: the command goes straight to the target; a key absent from the
 *   source stays absent, since nothing creates keys there), or {2} when only some are (or an INCR-like
 *   result could exceed 2^53, which a Lua number cannot carry): then the MIGRATE path below. A command run on
 *   the source only touches keys that exist there, so it creates none. No MIGRATE, so the source is not
 *   blocked while it talks to the target, and a key not moved yet costs one round trip instead of two.
 *   The target copy of a key is never read or written while the source still has it (every path looks at
 *   the source first), so a copy left on both sides by an interrupted MIGRATE stays harmless until the
 *   mover resolves it.
 * - MIGRATE first (MigrateStep: multi-slot fan-outs, transactions, blocking commands, scripts, RESP3
 *   clients, commands Lua would change the reply of): the command's keys are first moved from the source
 *   master to the target with `MIGRATE host port "" db timeout [AUTH pw | AUTH2 user pw] KEYS k1..kn`
 *   (sent on the session's connection to the source; +NOKEY = nothing there, fine), and only then is the
 *   command sent to the target.
 *
 * Big keys (issue 15 hole 7): before a MIGRATE, one EVAL on the source measures the keys (MEMORY USAGE). A key
 * over migrate.bigKeyBytes is not moved on the client path (a MIGRATE blocks the source for the whole DUMP and
 * transfer, and a timeout leaves the key on both sides): the command is refused with
 * REDSLOT_ERR_MIGRATE_BIG_KEY and the background mover moves the key alone with its long timeout. A copy left
 * on both sides by a timed-out MIGRATE is resolved at once, before the session resumes, with the mover's atomic
 * rule of shared/both-sides.ts (migrate-recovery.ts); when every key ends on the target the command runs there.
 *
 * Either way the session holds its later requests meanwhile, so one client's commands run in the order it
 * sent them. If the EVAL or a MIGRATE fails, the command is not run and the client gets one error: running
 * it on the target while the key may still be on the source would lose or fork data.
 * No REPLACE: BUSYKEY means the key exists on both sides, an invariant violation someone must look at.
 */
import { createHash } from 'node:crypto';
import type { BackendRequest } from '../backend/connection.js';
import type { BackendServer } from '../backend/pool.js';
import type { CommandSpec } from '../commands/lookup.js';
import { migrateCommand } from '../../shared/migrate-command.js';
import { encodeCommandInto, encodeError } from '../../shared/resp/encoder.js';
import { errorText, isError, startsWith } from '../../shared/resp/reply-reader.js';
import { errorReply, ProxyErrors } from '../errors.js';
import type { RouterSession, Startable } from './requests/base.js';
import type { SingleRequest } from './requests/single.js';
import { displayKey } from '../../shared/display-key.js';
import type { SlotRoute } from './slot-table.js';
import { recoverBothSides, type MigratedKey } from './migrate-recovery.js';

export interface MigrateOptions {
  timeoutMs: number;
  /** Backend credentials, passed to MIGRATE so the source can log in to the target. */
  user: string;
  password: string;
  /** Source-first EVAL for eligible commands (default true); false = always MIGRATE first. */
  sourceFirst?: boolean;
  /** Outcome counters (metrics), indexed by MigrateOutcome. */
  outcomes?: Float64Array;
  /** Keys larger than this (MEMORY USAGE) are not MIGRATEd on the client path (default: no limit). */
  bigKeyBytes?: number;
}

/** What happened to a command of a migrating slot (metrics index). */
export const MigrateOutcome = {
  /** Ran on the source by the source-first EVAL. */
  Source: 0,
  /** Source-first EVAL found none of its keys there: sent to the target. */
  Target: 1,
  /** MIGRATE first, then the target (not eligible for source-first, or keys split between the sides). */
  Migrate: 2,
  /** The EVAL or a MIGRATE failed: the client got an error. */
  Failed: 3,
} as const;
export const MIGRATE_OUTCOMES = ['source', 'target', 'migrate', 'failed'] as const;

function countOutcome(opts: MigrateOptions, outcome: number): void {
  if (opts.outcomes !== undefined) opts.outcomes[outcome]!++;
}

const CLUSTERDOWN = Buffer.from('-CLUSTERDOWN ');

/**
 * The client's error when moving (or checking) a migrating slot's keys failed on the source. This proxy's own
 * refusal (its fence: the MIGRATE or EVAL was dropped before it was written, so neither it nor the command ran)
 * reaches the client as it is, the one transient error every other command gets while fenced, not wrapped in
 * an ERR that would read as a failed migration.
 */
export function migrateOnAccessError(slot: number, source: Pick<BackendServer, 'addr'>, target: Pick<BackendServer, 'addr'>, reply: Buffer): Buffer {
  if (startsWith(reply, CLUSTERDOWN)) return reply;
  return errorReply(ProxyErrors.REDSLOT_ERR_MIGRATE_ON_ACCESS, { slot, source: source.addr, target: target.addr, reason: errorText(reply) });
}

interface Batch {
  source: BackendServer;
  target: BackendServer;
  slot: number;
  keys: Buffer[];
}

const EVAL = Buffer.from('EVAL');

/** KEYS: the keys; ARGV[1]: the limit. Returns {i, bytes} of the first key over it, {0, 0} when none is. */
const MEASURE_LUA = Buffer.from(
  "for i,k in ipairs(KEYS) do local b = redis.call('MEMORY','USAGE',k) if b and b > tonumber(ARGV[1]) then return {i, b} end end return {0, 0}",
);
const BIG_NONE = Buffer.from('*2\r\n:0\r\n:0\r\n');

/** KEYS: the keys; ARGV[1]: the limit (keys appended one by one: a spread throws past ~125,000 keys). */
function measureCommand(keys: readonly Buffer[], limit: number): Array<Buffer | string> {
  const args: Array<Buffer | string> = [EVAL, MEASURE_LUA, String(keys.length)];
  for (const k of keys) args.push(k);
  args.push(String(limit));
  return args;
}

function encoded(args: ReadonlyArray<Buffer | string>): { out: Buffer[]; bytes: number } {
  const out: Buffer[] = [];
  return { out, bytes: encodeCommandInto(args, out) };
}

export class MigrateStep implements BackendRequest {
  private readonly batches: Batch[] = [];
  private left = 0;
  private error: Buffer | null = null;
  /** True while the size check runs (its replies come first), false once the MIGRATEs are sent. */
  private measuring = false;
  /** performance.now() when the last commands (the MIGRATEs) were sent: bounds a half-done copy's expiry skew. */
  private sentAt = 0;

  constructor(
    private readonly session: RouterSession,
    private readonly then: Startable,
    private readonly opts: MigrateOptions,
  ) {}

  get empty(): boolean {
    return this.batches.length === 0;
  }

  /** Adds a key of a migrating slot (route.migrateFrom set). */
  add(route: SlotRoute, key: Buffer): void {
    const source = route.migrateFrom!;
    const target = route.server!;
    let b = this.batches.find((x) => x.source === source && x.target === target);
    if (b === undefined) {
      b = { source, target, slot: route.slot, keys: [] };
      this.batches.push(b);
    }
    b.keys.push(key);
  }

  start(): void {
    // Everything that can throw (encoding) happens before the hold: a failure here leaves nothing held.
    const limit = this.opts.bigKeyBytes;
    this.measuring = limit !== undefined && limit > 0;
    const payloads = this.measuring ? this.batches.map((b) => encoded(measureCommand(b.keys, limit!))) : this.migratePayloads();
    this.session.hold();
    countOutcome(this.opts, MigrateOutcome.Migrate);
    this.send(payloads);
  }

  private migratePayloads(): Array<{ out: Buffer[]; bytes: number }> {
    const { db } = this.session;
    const { user, password, timeoutMs } = this.opts;
    return this.batches.map((b) => encoded(migrateCommand({ host: b.target.host, port: b.target.port, user, password }, db, timeoutMs, b.keys)));
  }

  private send(payloads: Array<{ out: Buffer[]; bytes: number }>): void {
    const { db, id } = this.session;
    this.left = this.batches.length;
    this.sentAt = performance.now();
    for (let i = 0; i < this.batches.length; i++) this.batches[i]!.source.conn(db, id).sendParts(this, payloads[i]!.out, payloads[i]!.bytes);
  }

  /** After the size check: the MIGRATEs (the session is held; a failure to encode them releases it). */
  private migrate(): void {
    let payloads: Array<{ out: Buffer[]; bytes: number }>;
    try {
      payloads = this.migratePayloads();
    } catch (err) {
      const b = this.batches[0]!;
      countOutcome(this.opts, MigrateOutcome.Failed);
      this.then.fail(migrateOnAccessError(b.slot, b.source, b.target, encodeError(`ERR ${(err as Error).message}`)));
      this.session.resume();
      return;
    }
    this.send(payloads);
  }

  /** A size check's reply: the batch whose reply this is follows from the order (one per batch, in order). */
  private onMeasured(reply: Buffer): void {
    const b = this.batches[this.batches.length - this.left]!;
    if (this.error === null && !reply.equals(BIG_NONE)) {
      if (isError(reply)) this.error = migrateOnAccessError(b.slot, b.source, b.target, reply);
      else {
        const m = /^\*2\r\n:(\d+)\r\n:(\d+)\r\n$/.exec(reply.toString('latin1'));
        const key = m ? b.keys[Number(m[1]) - 1] : undefined;
        this.error = errorReply(ProxyErrors.REDSLOT_ERR_MIGRATE_BIG_KEY, {
          key: key === undefined ? '?' : displayKey(key),
          bytes: m ? m[2]! : '?',
          limit: this.opts.bigKeyBytes ?? 0,
          slot: b.slot,
        });
      }
    }
    if (--this.left > 0) return;
    this.measuring = false;
    if (this.error !== null) {
      countOutcome(this.opts, MigrateOutcome.Failed);
      this.then.fail(this.error);
      this.session.resume();
      return;
    }
    this.migrate();
  }

  onReply(reply: Buffer): void {
    if (this.measuring) return this.onMeasured(reply);
    if (this.error === null && isError(reply)) {
      const b = this.batches[0]!;
      this.error = migrateOnAccessError(b.slot, b.source, b.target, reply);
    }
    if (--this.left > 0) return;
    if (this.error !== null) return this.recover(this.error);
    this.then.start();
    this.session.resume();
  }

  /**
   * A MIGRATE failed: a timeout may have left keys on both sides (migrate-recovery.ts). Every key of the step
   * is resolved (the session stays held); the command runs on the target only if all of them are there.
   */
  private recover(error: Buffer): void {
    const keys: MigratedKey[] = [];
    for (const b of this.batches) for (const key of b.keys) keys.push({ source: b.source, target: b.target, key });
    void recoverBothSides(keys, this.session.db, this.session.id, performance.now() - this.sentAt).then((r) => {
      if (r.moved) this.then.start();
      else {
        countOutcome(this.opts, MigrateOutcome.Failed);
        if (r.why === 'still-on-source') this.then.fail(error);
        else {
          const what = r.why === 'error' ? `checking ${displayKey(r.key)} on both sides failed: ${r.detail ?? ''}` : `${displayKey(r.key)} is on both sides (${r.why}); the source copy is kept`;
          this.then.fail(encodeError(`${errorText(error)}; ${what}`));
        }
      }
      this.session.resume();
    });
  }
}

/**
 * The source-first script. KEYS: the command's keys; ARGV: guard mode, then the command's argv.
 * Guard '' = none; 'g' = INCR/DECR/INCRBY/DECRBY, 'h' = HINCRBY: the stored value and the increment must
 * both be at most 15 characters, so the result stays below 2^53 (Lua numbers are doubles: a larger integer
 * reply would come back rounded); otherwise {2} and the command takes the MIGRATE path.
 */
export const SOURCE_FIRST_LUA = [
  'local n = #KEYS',
  'local here = 0',
  "for i = 1, n do here = here + redis.call('EXISTS', KEYS[i]) end",
  'if here == 0 then return {0} end',
  'if here < n then return {2} end',
  'local m = ARGV[1]',
  "if m ~= '' then",
  '  local v, inc',
  "  if m == 'g' then v = redis.pcall('GET', KEYS[1]); inc = ARGV[4] else v = redis.pcall('HGET', KEYS[1], ARGV[4]); inc = ARGV[5] end",
  "  if (type(v) == 'string' and #v > 15) or (type(inc) == 'string' and #inc > 15) then return {2} end",
  'end',
  'return {1, redis.pcall(unpack(ARGV, 2))}',
].join('\n');

const EVALSHA = Buffer.from('EVALSHA');
const LUA = Buffer.from(SOURCE_FIRST_LUA);
/** Sent as EVALSHA (40 bytes instead of the body); a NOSCRIPT reply resends it once as EVAL, which loads it. */
const LUA_SHA = Buffer.from(createHash('sha1').update(LUA).digest('hex'));
const NOSCRIPT = Buffer.from('-NOSCRIPT');
const SMALL_INTS = Array.from({ length: 16 }, (_, i) => Buffer.from(String(i)));
const GUARD_NONE = Buffer.alloc(0);
const GUARD_GET = Buffer.from('g');
const GUARD_HGET = Buffer.from('h');
/** `*2\r\n:1\r\n`: the command ran on the source; its reply follows. */
const RAN = Buffer.from('*2\r\n:1\r\n');
const NONE_HERE = Buffer.from('*1\r\n:0\r\n');

/** Lua's unpack() stops at ~8000 values; long commands take the MIGRATE path. */
export const SOURCE_FIRST_MAX_ARGS = 1024;

/**
 * Commands whose reply Lua would change, or that a script may not run (they take the MIGRATE path):
 * integers that can exceed 2^53 (TTLs and expire times, BITFIELD), RESP2 null arrays (Lua turns *-1 into
 * $-1: stream reads, XPENDING, GEOPOS), SORT (its BY/GET patterns read other keys, which must be read
 * where the MIGRATE path would read them).
 */
const NOT_SOURCE_FIRST = new Set(['ttl', 'pttl', 'expiretime', 'pexpiretime', 'bitfield', 'bitfield_ro', 'geopos', 'sort', 'sort_ro']);
const GUARDED: ReadonlyMap<string, Buffer> = new Map([
  ['incr', GUARD_GET],
  ['decr', GUARD_GET],
  ['incrby', GUARD_GET],
  ['decrby', GUARD_GET],
  ['hincrby', GUARD_HGET],
]);

const guards = new Map<CommandSpec, Buffer | null>();

/** The guard argument of a command that may run source-first, or null when it must take the MIGRATE path. */
export function sourceFirstGuard(spec: CommandSpec): Buffer | null {
  let g = guards.get(spec);
  if (g !== undefined) return g;
  const name = spec.name;
  const ok =
    (spec.route === 'single' || spec.route === 'msetnx') &&
    !spec.flags.includes('noscript') &&
    !spec.flags.includes('blocking') &&
    !spec.flags.includes('admin') &&
    !name.startsWith('x') &&
    !NOT_SOURCE_FIRST.has(name);
  g = ok ? (GUARDED.get(name) ?? GUARD_NONE) : null;
  guards.set(spec, g);
  return g;
}

/**
 * Source first: one EVALSHA (EVAL after NOSCRIPT) on the source runs the command there if every key is there (see the file header);
 * else the target directly (no key there) or the MIGRATE path (some keys there, or the guard refused).
 */
export class SourceFirstStep implements BackendRequest {
  private resent = false;

  constructor(
    private readonly session: RouterSession,
    private readonly req: SingleRequest,
    private readonly route: SlotRoute,
    private readonly argv: Buffer[],
    private readonly keys: number[],
    private readonly guard: Buffer,
    private readonly opts: MigrateOptions,
  ) {}

  start(): void {
    this.session.hold();
    this.send(EVALSHA, LUA_SHA);
  }

  private send(cmd: Buffer, script: Buffer): void {
    const { argv, keys } = this;
    const n = keys.length;
    const args: Buffer[] = new Array<Buffer>(4 + n + argv.length);
    args[0] = cmd;
    args[1] = script;
    args[2] = SMALL_INTS[n] ?? Buffer.from(String(n));
    for (let i = 0; i < n; i++) args[3 + i] = argv[keys[i]!]!;
    args[3 + n] = this.guard;
    for (let i = 0; i < argv.length; i++) args[4 + n + i] = argv[i]!;
    const out: Buffer[] = [];
    const bytes = encodeCommandInto(args, out);
    this.route.migrateFrom!.conn(this.session.db, this.session.id).sendParts(this, out, bytes);
  }

  onReply(reply: Buffer): void {
    if (!this.resent && startsWith(reply, NOSCRIPT)) {
      // The source never saw the script (restarted, SCRIPT FLUSH): EVAL loads it; the session stays held.
      this.resent = true;
      this.send(EVAL, LUA);
      return;
    }
    if (startsWith(reply, RAN)) {
      countOutcome(this.opts, MigrateOutcome.Source);
      this.req.onReply(reply.subarray(RAN.length));
    } else if (reply.equals(NONE_HERE)) {
      countOutcome(this.opts, MigrateOutcome.Target);
      this.req.start();
    } else if (isError(reply)) {
      countOutcome(this.opts, MigrateOutcome.Failed);
      this.req.fail(migrateOnAccessError(this.route.slot, this.route.migrateFrom!, this.route.server!, reply));
    } else {
      // {2}: keys on both sides, or the guard refused: move them all, then run on the target.
      const step = new MigrateStep(this.session, this.req, this.opts);
      for (let i = 0; i < this.keys.length; i++) step.add(this.route, this.argv[this.keys[i]!]!);
      step.start();
    }
    this.session.resume();
  }
}
