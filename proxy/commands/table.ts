/**
 * The command table: Redis 7's data (`redis7-commands.json`) joined with redslot's policy
 * (`classification.ts`) into one CommandSpec per command, ids dense in name order. Built once at module load.
 */
import { CATEGORIES, DEFAULT_REFUSAL, NOTES, categoryOf, refusalText } from './classification.js';
import { argcKeyFinderFor, keyFinderFor, specsHaveKeys, type ArgcKeyFinder, type KeyFinder } from './keys.js';
import { NameTable } from './name-table.js';
import { RAW_COMMANDS, type RawCommand } from './redis7-data.js';
import type { CommandSpec, RouteShape } from './spec.js';

/** The concrete spec: the public CommandSpec plus what lookup.ts needs on the hot path. */
export class Command implements CommandSpec {
  readonly name: string;
  readonly arity: number;
  readonly flags: readonly string[];
  write: boolean;
  readonly hasKeys: boolean;
  readonly subcommands: Command[] = [];
  /** Subcommands by name (the part after '|'), or null for plain commands. */
  subTable: NameTable<Command> | null = null;
  condition?: string;
  refusal?: string;
  bySubcommand = false;
  /** Key positions from the argument count alone (lookup.ts keysByArgc), or null: the arguments decide. */
  readonly keysByArgc: ArgcKeyFinder | null;

  constructor(
    readonly raw: RawCommand,
    readonly id: number,
    public route: RouteShape,
    readonly findKeys: KeyFinder,
    readonly parent?: Command,
  ) {
    this.name = raw.name;
    this.arity = raw.arity;
    this.flags = raw.flags;
    this.hasKeys = specsHaveKeys(raw);
    this.keysByArgc = raw.subcommands.length === 0 ? argcKeyFinderFor(raw) : null;
    // Redis flags scripts (EVAL, FCALL) neither write nor readonly: anything with keys that is not declared
    // readonly may write, and so does a container with a writing subcommand (XGROUP CREATE).
    this.write = raw.flags.includes('write') || raw.flags.includes('may_replicate') || (this.hasKeys && !raw.flags.includes('readonly'));
  }

}

/** Whether a single-slot command can ever name more than one key (decides "all keys in one slot"). */
function mayHaveSeveralKeys(raw: RawCommand): boolean {
  const real = raw.key_specs.filter((s) => !s.flags.includes('not_key'));
  if (real.length > 1) return true;
  const s = real[0];
  return s !== undefined && (s.find_keys.type !== 'range' || s.find_keys.spec.lastkey !== 0);
}

function conditionFor(raw: RawCommand, route: RouteShape): string | undefined {
  const note = NOTES[raw.name];
  if (route === 'single' || route === 'script') {
    const base = mayHaveSeveralKeys(raw) || raw.subcommands.some(mayHaveSeveralKeys) ? 'all keys in one slot' : undefined;
    if (base !== undefined && note !== undefined) return `${base}; ${note}`;
    return base ?? note;
  }
  return note;
}

function build(raw: RawCommand, id: number, parent?: Command): Command {
  // A subcommand may be classified on its own ('config|set'); otherwise it takes its container's category.
  const own = parent === undefined ? undefined : categoryOf(raw.name);
  const placed = own ?? categoryOf(parent?.raw.name ?? raw.name);
  let route: RouteShape = placed?.category.route ?? 'refused';
  let refusal: string | undefined;
  const finder = keyFinderFor(raw);
  if (route === 'refused') {
    const name = own !== undefined ? raw.name : parent?.raw.name ?? raw.name;
    refusal = refusalText(name, placed?.category.reason ?? DEFAULT_REFUSAL, placed?.category.permanent ?? false);
  } else if (finder === null) {
    // Deny by default: a routed command whose keys the specs cannot find would be misrouted.
    route = 'refused';
    refusal = refusalText(raw.name, 'its key positions cannot be found from the Redis key specs');
  }
  const cmd = new Command(raw, id, route, finder ?? (() => 'unroutable command'), parent);
  if (refusal !== undefined) cmd.refusal = refusal;
  const condition = conditionFor(raw, route);
  if (condition !== undefined && route !== 'refused') cmd.condition = condition;
  for (const sub of raw.subcommands) cmd.subcommands.push(build(sub, id, cmd));
  if (cmd.subcommands.some((s) => s.write)) cmd.write = true;
  cmd.bySubcommand = cmd.subcommands.length > 0 && (route !== 'refused' || cmd.subcommands.some((s) => s.route !== route));
  if (cmd.bySubcommand) {
    // Refused subcommands of a container routed per subcommand name themselves ('memory|stats').
    for (const s of cmd.subcommands) {
      if (s.route !== 'refused' || s.refusal === undefined || !s.refusal.startsWith(`command '${raw.name}' `)) continue;
      s.refusal = `command '${s.name}' ` + s.refusal.slice(`command '${raw.name}' `.length);
    }
  }
  if (cmd.subcommands.length > 0) {
    cmd.subTable = new NameTable(cmd.subcommands.map((s) => [s.name.slice(s.name.indexOf('|') + 1), s] as const));
  }
  return cmd;
}

/** Every Redis 7 command, index = id. */
export const COMMANDS: readonly Command[] = RAW_COMMANDS.commands.map((raw, id) => build(raw, id));

export const REDIS_VERSION = RAW_COMMANDS.redis_version;

export const BY_NAME: NameTable<Command> = new NameTable(COMMANDS.map((c) => [c.name, c] as const));

/** Categories as declared, for tests and the docs/commands.md generator. */
export { CATEGORIES };
