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
 * - `local`: answered by the proxy itself (PING, ECHO, QUIT, AUTH, SELECT, HELLO, COMMAND, CLIENT).
 * - `refused`: never forwarded; the client gets `-ERR <refusal>`.
 * - `transaction` / `blocking` / `pubsub`: MULTI/EXEC/WATCH, blocking commands, Pub/Sub: run on dedicated
 *   backend connections (proxy/dedicated/).
 * - `all`: sent to every group's master, replies merged per command (DBSIZE sum, FLUSHALL all OK, SCRIPT
 *   EXISTS and, KEYS concatenated, INFO with the proxy's sections; proxy/router/requests/broadcast.ts).
 * - `one`: sent to one master, the one serving slot 0 (CONFIG GET, TIME, FUNCTION LIST).
 * - `scan`: SCAN over every group with a cursor naming the group (proxy/router/requests/scan.ts).
 * - `script`: EVAL/EVALSHA/FCALL: like `single`, plus the proxy's script cache (proxy/scripts/).
 * Containers (CLIENT, CONFIG, MEMORY, SCRIPT, ...) may route each subcommand differently: see
 * CommandSpec.bySubcommand.
 */
export type RouteShape = 'single' | 'mget' | 'mset' | 'msetnx' | 'sum' | 'local' | 'refused' | 'all' | 'one' | 'scan' | 'script' | 'transaction' | 'blocking' | 'pubsub';

export const ROUTE_SHAPES: readonly RouteShape[] = ['single', 'mget', 'mset', 'msetnx', 'sum', 'local', 'refused', 'all', 'one', 'scan', 'script', 'transaction', 'blocking', 'pubsub'];

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
  /**
   * For containers: the session resolves argv[1] and routes (or refuses) by the subcommand's own spec, because
   * the container is routed (OBJECT, XINFO) or its subcommands are not all routed alike (CONFIG GET one
   * master, CONFIG SET every master; MEMORY USAGE by key, MEMORY STATS refused). False for plain commands
   * and for containers refused as a whole (CLUSTER).
   */
  readonly bySubcommand: boolean;
  /** True when some key spec can name a key (spec not marked `not_key`), i.e. COMMAND GETKEYS would look for keys. */
  readonly hasKeys: boolean;
  /** For routable commands: the condition a user must meet, e.g. 'all keys in one slot' (docs/commands.md). */
  readonly condition?: string;
  /** The Redis data this spec was built from (for COMMAND INFO/DOCS replies). */
  readonly raw: RawCommand;
}
