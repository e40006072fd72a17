/**
 * The proxy answers COMMAND itself, from the table, in the RESP2 shape Redis 7 uses: COMMAND, COUNT, LIST
 * [FILTERBY MODULE|ACLCAT|PATTERN], INFO [names], DOCS [names], GETKEYS, GETKEYSANDFLAGS, HELP.
 *
 * Every Redis 7 command is reported (clients read key positions from COMMAND; a refused command still exists
 * and answers with its reason). What redslot does with a command is marked in COMMAND DOCS: the summary of a
 * refused or conditionally supported command ends with `[redslot: ...]`. Redis lists commands in hash order;
 * redslot lists them by name.
 */
import { checkArity, commandKeysAndFlags, lookupCommand, resolveSubcommand } from './lookup.js';
import type { RawArgument, RawCommand, RawDocs, RawKeySpec } from './redis7-data.js';
import type { CommandSpec } from './spec.js';
import { COMMANDS } from './table.js';
import { globMatch } from '../util/glob.js';

/** COMMAND LIST FILTERBY PATTERN matches like Redis's stringmatch, case-insensitive (re-exported for its tests). */
export { globMatch };

/** Appends RESP2 frames; `flag` lists are simple strings as Redis sends them, other strings bulk. */
class Writer {
  private readonly parts: Buffer[] = [];
  private pending = '';

  private text(s: string): void {
    this.pending += s;
    if (this.pending.length > 8192) this.flush();
  }
  private flush(): void {
    if (this.pending.length > 0) this.parts.push(Buffer.from(this.pending, 'utf8'));
    this.pending = '';
  }
  array(n: number): this {
    this.text(`*${n}\r\n`);
    return this;
  }
  bulk(s: string | Buffer): this {
    if (typeof s === 'string') this.text(`$${Buffer.byteLength(s)}\r\n${s}\r\n`);
    else {
      this.text(`$${s.length}\r\n`);
      this.flush();
      this.parts.push(s);
      this.text('\r\n');
    }
    return this;
  }
  status(s: string): this {
    this.text(`+${s}\r\n`);
    return this;
  }
  int(n: number): this {
    this.text(`:${n}\r\n`);
    return this;
  }
  nil(): this {
    this.text('$-1\r\n');
    return this;
  }
  error(s: string): this {
    this.text(`-${s.replace(/[\r\n]+/g, ' ')}\r\n`);
    return this;
  }
  statuses(list: readonly string[]): this {
    this.array(list.length);
    for (const s of list) this.status(s);
    return this;
  }
  done(): Buffer {
    this.flush();
    return Buffer.concat(this.parts);
  }
}

// ---- COMMAND INFO entries (10 positional fields, as Redis 7.0) ----

function writeKeySpec(w: Writer, ks: RawKeySpec): void {
  const fields = Object.entries(ks);
  w.array(fields.length * 2);
  for (const [k, v] of fields) {
    w.bulk(k);
    if (k === 'flags') w.statuses(v as readonly string[]);
    else if (k === 'begin_search' || k === 'find_keys') {
      const part = v as { type: string; spec: Record<string, string | number> };
      w.array(4).bulk('type').bulk(part.type).bulk('spec');
      const spec = Object.entries(part.spec);
      w.array(spec.length * 2);
      for (const [sk, sv] of spec) {
        w.bulk(sk);
        if (typeof sv === 'number') w.int(sv);
        else w.bulk(sv);
      }
    } else w.bulk(String(v));
  }
}

function writeInfo(w: Writer, c: RawCommand): void {
  w.array(10).bulk(c.name).int(c.arity).statuses(c.flags).int(c.first_key).int(c.last_key).int(c.step);
  w.statuses(c.acl_categories);
  w.array(c.tips.length);
  for (const t of c.tips) w.bulk(t);
  w.array(c.key_specs.length);
  for (const ks of c.key_specs) writeKeySpec(w, ks);
  w.array(c.subcommands.length);
  for (const s of c.subcommands) writeInfo(w, s);
}

// ---- COMMAND DOCS maps ----

function writeArgument(w: Writer, a: RawArgument): void {
  const fields = Object.entries(a);
  w.array(fields.length * 2);
  for (const [k, v] of fields) {
    w.bulk(k);
    if (k === 'arguments') {
      const args = v as readonly RawArgument[];
      w.array(args.length);
      for (const sub of args) writeArgument(w, sub);
    } else if (k === 'flags') w.statuses(v as readonly string[]);
    else if (typeof v === 'number') w.int(v);
    else w.bulk(String(v));
  }
}

/** What redslot does with a command, appended to its DOCS summary (nothing when it is plainly supported). */
export function redslotMark(spec: CommandSpec): string | undefined {
  if (spec.route === 'refused') return `refused: ${spec.refusal ?? 'not supported'}`;
  if (spec.route === 'local') return spec.condition === undefined ? 'answered by the proxy' : `answered by the proxy; ${spec.condition}`;
  return spec.condition;
}

function writeDocs(w: Writer, spec: CommandSpec): void {
  const docs: RawDocs = spec.raw.docs;
  const fields = Object.entries(docs);
  const mark = redslotMark(spec.parent ?? spec);
  const hasSubs = spec.subcommands.length > 0;
  w.array((fields.length + (hasSubs ? 1 : 0)) * 2);
  for (const [k, v] of fields) {
    w.bulk(k);
    if (k === 'summary' && mark !== undefined) w.bulk(`${String(v)} [redslot: ${mark}]`);
    else if (k === 'doc_flags') w.statuses(v as readonly string[]);
    else if (k === 'history') {
      const history = v as ReadonlyArray<readonly [string, string]>;
      w.array(history.length);
      for (const [version, what] of history) w.array(2).bulk(version).bulk(what);
    } else if (k === 'arguments') {
      const args = v as readonly RawArgument[];
      w.array(args.length);
      for (const a of args) writeArgument(w, a);
    } else if (typeof v === 'number') w.int(v);
    else w.bulk(String(v));
  }
  if (hasSubs) {
    w.bulk('subcommands').array(spec.subcommands.length * 2);
    for (const s of spec.subcommands) {
      w.bulk(s.name);
      writeDocs(w, s);
    }
  }
}

/** A command or `container|sub` by name, case-insensitively, as Redis's lookupCommandBySds. */
function byFullName(name: Buffer): CommandSpec | undefined {
  const bar = name.indexOf(0x7c);
  if (bar < 0) return lookupCommand(name);
  const container = lookupCommand(name.subarray(0, bar));
  if (container === undefined || container.subcommands.length === 0) return undefined;
  const sub = resolveSubcommand(container, [name.subarray(0, bar), name.subarray(bar + 1)]);
  return sub === container ? undefined : sub;
}

function everyName(): CommandSpec[] {
  const out: CommandSpec[] = [];
  for (const c of COMMANDS) {
    out.push(c);
    for (const s of c.subcommands) out.push(s);
  }
  return out;
}

const HELP = [
  'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  '(no subcommand)',
  '    Return details about all Redis commands.',
  'COUNT',
  '    Return the total number of commands in this Redis server.',
  'LIST',
  '    Return a list of all commands in this Redis server.',
  'INFO [<command-name> ...]',
  '    Return details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'DOCS [<command-name> ...]',
  '    Return documentation details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'GETKEYS <full-command>',
  '    Return the keys from a full Redis command.',
  'GETKEYSANDFLAGS <full-command>',
  '    Return the keys and the access flags from a full Redis command.',
  'HELP',
  '    Prints this help.',
];

const COMMAND_SPEC = (() => {
  const c = lookupCommand(Buffer.from('command'));
  if (c === undefined) throw new Error('the command table has no COMMAND');
  return c;
})();

function eq(b: Buffer | undefined, word: string): boolean {
  return b !== undefined && b.length === word.length && b.toString('latin1').toLowerCase() === word;
}

function getKeys(w: Writer, argv: Buffer[], withFlags: boolean): void {
  const target = argv.slice(2);
  const container = target[0] === undefined ? undefined : lookupCommand(target[0]);
  // Redis resolves `container sub` first: an unknown subcommand is an unknown command here.
  const cmd = container === undefined ? undefined : target.length >= 2 ? resolveSubcommand(container, target) : container;
  if (container === undefined || cmd === undefined) return void w.error('ERR Invalid command specified');
  if (!cmd.hasKeys) return void w.error('ERR The command has no key arguments');
  if (!checkArity(cmd, target.length)) return void w.error('ERR Invalid number of arguments specified for command');
  const found = commandKeysAndFlags(container, target);
  if (typeof found === 'string' || found.keys.length === 0) {
    if (cmd.flags.includes('no_mandatory_keys') && typeof found !== 'string') return void w.array(0);
    return void w.error('ERR Invalid arguments specified for command');
  }
  w.array(found.keys.length);
  found.keys.forEach((pos, i) => {
    if (withFlags) w.array(2).bulk(target[pos]!).statuses(found.flags[i] ?? []);
    else w.bulk(target[pos]!);
  });
}

/** Full RESP2 reply bytes for a COMMAND request (argv[0] is COMMAND). */
export function answerCommandCommand(argv: Buffer[]): Buffer {
  const w = new Writer();
  const sub = argv[1];
  const argc = argv.length;
  if (sub !== undefined) {
    // Arity of COMMAND's subcommands from the table itself (COUNT 2, GETKEYS -4, ...), as Redis checks it.
    const subSpec = resolveSubcommand(COMMAND_SPEC, argv);
    if (subSpec !== undefined && !checkArity(subSpec, argc)) {
      return w.error(`ERR wrong number of arguments for '${subSpec.name}' command`).done();
    }
  }

  if (sub === undefined) {
    w.array(COMMANDS.length);
    for (const c of COMMANDS) writeInfo(w, c.raw);
  } else if (eq(sub, 'count')) {
    w.int(COMMANDS.length);
  } else if (eq(sub, 'info')) {
    if (argc === 2) {
      w.array(COMMANDS.length);
      for (const c of COMMANDS) writeInfo(w, c.raw);
    } else {
      w.array(argc - 2);
      for (let i = 2; i < argc; i++) {
        const c = byFullName(argv[i]!);
        if (c === undefined) w.nil();
        else writeInfo(w, c.raw);
      }
    }
  } else if (eq(sub, 'docs')) {
    const specs = argc === 2 ? COMMANDS : argv.slice(2).flatMap((n) => byFullName(n) ?? []);
    w.array(specs.length * 2);
    for (const c of specs) {
      w.bulk(c.name);
      writeDocs(w, c);
    }
  } else if (eq(sub, 'list')) {
    let names = everyName();
    if (argc === 5 && eq(argv[2], 'filterby')) {
      const value = argv[4]!;
      if (eq(argv[3], 'module')) names = [];
      else if (eq(argv[3], 'aclcat')) {
        const cat = `@${value.toString('latin1').toLowerCase()}`;
        names = names.filter((c) => c.raw.acl_categories.includes(cat));
      } else if (eq(argv[3], 'pattern')) {
        names = names.filter((c) => globMatch(value, Buffer.from(c.name, 'latin1')));
      } else return w.error('ERR syntax error').done();
    } else if (argc !== 2) return w.error('ERR syntax error').done();
    w.array(names.length);
    for (const c of names) w.bulk(c.name);
  } else if (eq(sub, 'getkeys') || eq(sub, 'getkeysandflags')) {
    const withFlags = eq(sub, 'getkeysandflags');
    getKeys(w, argv, withFlags);
  } else if (eq(sub, 'help')) {
    w.statuses(HELP);
  } else {
    const shown = sub.toString('latin1').slice(0, 128);
    w.error(`ERR unknown subcommand '${shown}'. Try COMMAND HELP.`);
  }
  return w.done();
}
