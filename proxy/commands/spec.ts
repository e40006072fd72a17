/**
 * What the proxy knows about one command: Redis 7's own description (name, arity, flags, key specs) plus
 * redslot's routing decision. Built once at startup by `table.ts` from `redis7-commands.json` (raw Redis data)
 * and `classification.ts` (redslot policy).
 */
import type { RawCommand } from './redis7-data.js';

/**
 * How the proxy routes a command:
 * - `single`: every key must hash to one slot (else CROSSSLOT); keys come from `commandKeys`.
 * - `mget` / `mset` / `msetnx`: multi-key fan-out with those reply shapes (MSETNX: one slot only).
 * - `sum`: fan-out by group, integer replies summed (DEL, UNLINK, EXISTS, TOUCH).
 * - `local`: answered by the proxy itself (PING, ECHO, QUIT, AUTH, SELECT, HELLO, COMMAND, INFO).
 * - `refused`: never forwarded; the client gets `-ERR <refusal>`.
 * - `transaction` / `blocking` / `pubsub`: MULTI/EXEC/WATCH, blocking commands, Pub/Sub: run on dedicated
 *   backend connections (proxy/dedicated/).
 */
export type RouteShape = 'single' | 'mget' | 'mset' | 'msetnx' | 'sum' | 'local' | 'refused' | 'transaction' | 'blocking' | 'pubsub';

export const ROUTE_SHAPES: readonly RouteShape[] = ['single', 'mget', 'mset', 'msetnx', 'sum', 'local', 'refused', 'transaction', 'blocking', 'pubsub'];

export interface CommandSpec {
  /** Lower-case Redis name, e.g. 'get', 'client'; subcommands are 'container|sub', e.g. 'object|encoding'. */
  readonly name: string;
  /** Dense index 0..N-1 over top-level commands (per-command metric arrays). A subcommand shares its container's id. */
  readonly id: number;
  /** Redis arity: positive = exactly, negative = at least -arity (argv[0] included). */
  readonly arity: number;
  /** Redis flags as `COMMAND INFO` reports them ('write', 'readonly', 'blocking', 'movablekeys', ...). */
  readonly flags: readonly string[];
  readonly route: RouteShape;
  /** For 'refused': the reason shown to the client, naming the command. */
  readonly refusal?: string;
  /**
   * May modify data, so it must go to a master: Redis flag 'write' or 'may_replicate', or keys without the
   * 'readonly' flag (EVAL/EVALSHA/FCALL), or a container with a writing subcommand (XGROUP).
   */
  readonly write: boolean;

  // ---- additions beyond the pinned interface ----
  /** Subcommands (CLIENT, OBJECT, XINFO, ...), sorted by name; empty for plain commands. */
  readonly subcommands: readonly CommandSpec[];
  /** The container of a subcommand. */
  readonly parent?: CommandSpec;
  /** True when some key spec can name a key (spec not marked `not_key`), i.e. COMMAND GETKEYS would look for keys. */
  readonly hasKeys: boolean;
  /** For routable commands: the condition a user must meet, e.g. 'all keys in one slot' (README table). */
  readonly condition?: string;
  /** The Redis data this spec was built from (for COMMAND INFO/DOCS replies). */
  readonly raw: RawCommand;
}
