/**
 * The proxy's hot-path view of the command table: find a command by its raw name bytes, check arity, find
 * the key arguments. Nothing here allocates on success except the returned key-position array.
 */
import { Command, BY_NAME, COMMANDS } from './table.js';
import type { CommandSpec } from './spec.js';

export type { CommandSpec, RouteShape } from './spec.js';

/** Number of top-level commands; ids are 0..COMMAND_COUNT-1 (size per-command metric arrays with it). */
export const COMMAND_COUNT: number = COMMANDS.length;

/** Every command, index = id (for metric labels: `allCommands()[id].name`). */
export function allCommands(): readonly CommandSpec[] {
  return COMMANDS;
}

/** Case-insensitive lookup by the raw name bytes (argv[0]); undefined for unknown names. No allocation. */
export function lookupCommand(name: Buffer): CommandSpec | undefined {
  return BY_NAME.get(name);
}

/** lookupCommand of the name at buf[start, end) (no view made). */
export function lookupCommandAt(buf: Buffer, start: number, end: number): CommandSpec | undefined {
  return BY_NAME.getAt(buf, start, end);
}

/**
 * commandKeys from the argument count alone, for commands whose keys lie at fixed positions (GET, SET, MSET,
 * DEL...); null when the arguments decide (then call commandKeys). Call after checkArity.
 */
export function keysByArgc(spec: CommandSpec, argc: number): number[] | string | null {
  const f = (spec as Command).keysByArgc;
  return f === null ? null : f(argc);
}

/** Redis's arity rule: positive = exactly that many arguments (name included), negative = at least -arity. */
export function checkArity(spec: CommandSpec, argc: number): boolean {
  const a = spec.arity;
  return a >= 0 ? argc === a : argc >= -a;
}

/**
 * The subcommand argv[1] names for a container (OBJECT, XINFO, CLIENT, ...), `spec` itself for a plain
 * command, or undefined when the container has no such subcommand.
 */
export function resolveSubcommand(spec: CommandSpec, argv: readonly Buffer[]): CommandSpec | undefined {
  const cmd = spec as Command;
  if (cmd.subTable === null) return spec;
  const sub = argv[1];
  return sub === undefined ? undefined : cmd.subTable.get(sub);
}

/**
 * Indices into argv (argv[0] = command name) of the key arguments, in Redis's key-spec order, found from the
 * Redis 7 key specs (subcommands resolved through argv[1]). An empty array means the command names no key
 * (PING, OBJECT HELP, EVAL with numkeys 0). Call after checkArity.
 *
 * A string is an error message WITHOUT the `ERR ` prefix (reply it as `-ERR <message>`) for arguments a
 * proxy cannot route: numkeys not an integer / negative / 0 where keys are mandatory / larger than the
 * arguments, a missing STREAMS-style keyword, an unknown subcommand, a subcommand's wrong arity.
 */
export function commandKeys(spec: CommandSpec, argv: Buffer[]): number[] | string {
  let cmd = spec as Command;
  if (cmd.subTable !== null) {
    const subName = argv[1];
    if (subName === undefined) return `wrong number of arguments for '${cmd.name}' command`;
    const sub = cmd.subTable.get(subName);
    if (sub === undefined) {
      const shown = subName.toString('latin1').replace(/[\r\n]/g, ' ').slice(0, 128);
      return `unknown subcommand '${shown}'. Try ${cmd.name.toUpperCase()} HELP.`;
    }
    if (!checkArity(sub, argv.length)) return `wrong number of arguments for '${sub.name}' command`;
    cmd = sub;
  }
  return cmd.findKeys(argv);
}

/** Like commandKeys, also reporting each key's key-spec flags (COMMAND GETKEYSANDFLAGS). Not for the hot path. */
export function commandKeysAndFlags(spec: CommandSpec, argv: Buffer[]): { keys: number[]; flags: Array<readonly string[]> } | string {
  const resolved = resolveSubcommand(spec, argv);
  if (resolved === undefined || resolved !== spec) {
    const check = commandKeys(spec, argv);
    if (typeof check === 'string') return check;
  }
  const flags: Array<readonly string[]> = [];
  const keys = (resolved as Command).findKeys(argv, flags);
  return typeof keys === 'string' ? keys : { keys, flags };
}
