import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CATEGORIES, DEFAULT_REFUSAL } from '../../proxy/commands/classification.js';
import {
  allCommands,
  checkArity,
  commandKeys,
  COMMAND_COUNT,
  lookupCommand,
  resolveSubcommand,
  type CommandSpec,
} from '../../proxy/commands/lookup.js';
import { COMMANDS_MD, renderCommandsMarkdown } from '../../docs/tools/commands-table.js';
import { RAW_COMMANDS } from '../../proxy/commands/redis7-data.js';
import { ROUTE_SHAPES } from '../../proxy/commands/spec.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const argv = (...args: string[]): Buffer[] => args.map(b);

function spec(name: string): CommandSpec {
  const s = lookupCommand(b(name));
  if (s === undefined) throw new Error(`no command ${name}`);
  return s;
}

/** Keys of a full command line, as the strings at those positions (what COMMAND GETKEYS prints). */
function keysOf(...args: string[]): string[] | string {
  const a = argv(...args);
  const found = commandKeys(spec(args[0]!), a);
  return typeof found === 'string' ? found : found.map((i) => a[i]!.toString('latin1'));
}

const alternating = (s: string): string => [...s].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('');

describe('lookupCommand', () => {
  it('finds every Redis 7 command in lower, upper and mixed case', () => {
    expect(RAW_COMMANDS.commands.length).toBeGreaterThan(200);
    for (const raw of RAW_COMMANDS.commands) {
      for (const form of [raw.name, raw.name.toUpperCase(), alternating(raw.name)]) {
        expect(lookupCommand(b(form))?.name, form).toBe(raw.name);
      }
    }
    expect(lookupCommand(b('GeT'))).toBe(lookupCommand(b('get')));
    expect(lookupCommand(b('GET'))).toBe(lookupCommand(b('get')));
  });

  it('returns undefined for unknown names, NUL bytes, empty and over-long names', () => {
    for (const name of ['nosuchcommand', 'ge', 'gett', 'get ', ' get', 'object|encoding', '', 'x'.repeat(10_000)]) {
      expect(lookupCommand(b(name)), JSON.stringify(name)).toBeUndefined();
    }
    for (const bytes of [[0x67, 0x65, 0x74, 0x00], [0x00, 0x67, 0x65, 0x74], [0x67, 0x00, 0x74], [0x67, 0x65, 0xd4]]) {
      expect(lookupCommand(Buffer.from(bytes))).toBeUndefined();
    }
  });

  it('does not treat non-ASCII bytes as letters (0xC7 is not "g")', () => {
    expect(lookupCommand(Buffer.from([0xc7, 0x45, 0x54]))).toBeUndefined();
  });

  it('resolves subcommands case-insensitively through argv[1]', () => {
    expect(resolveSubcommand(spec('object'), argv('OBJECT', 'EnCoDiNg', 'k'))?.name).toBe('object|encoding');
    expect(resolveSubcommand(spec('object'), argv('object', 'nope'))).toBeUndefined();
    expect(resolveSubcommand(spec('get'), argv('get', 'k'))?.name).toBe('get');
    for (const raw of RAW_COMMANDS.commands) {
      for (const sub of raw.subcommands) {
        const word = sub.name.slice(sub.name.indexOf('|') + 1);
        expect(resolveSubcommand(spec(raw.name), argv(raw.name, word.toUpperCase()))?.name).toBe(sub.name);
      }
    }
  });

  it('numbers commands densely 0..COMMAND_COUNT-1, one per command of the data file', () => {
    expect(COMMAND_COUNT).toBe(RAW_COMMANDS.commands.length);
    allCommands().forEach((c, i) => expect(c.id).toBe(i));
    expect(new Set(allCommands().map((c) => c.name)).size).toBe(COMMAND_COUNT);
  });
});

describe('checkArity', () => {
  it('fixed arity means exactly, negative arity means at least', () => {
    expect(spec('get').arity).toBe(2);
    expect(checkArity(spec('get'), 2)).toBe(true);
    expect(checkArity(spec('get'), 1)).toBe(false);
    expect(checkArity(spec('get'), 3)).toBe(false);
    expect(spec('mset').arity).toBe(-3);
    expect(checkArity(spec('mset'), 2)).toBe(false);
    expect(checkArity(spec('mset'), 3)).toBe(true);
    expect(checkArity(spec('mset'), 7)).toBe(true);
    expect(checkArity(spec('ping'), 1)).toBe(true);
    expect(checkArity(spec('ping'), 2)).toBe(true);
    expect(checkArity(spec('ping'), 3)).toBe(true); // PING's arity is -1; PING a b is PING's own error
  });
});

describe('commandKeys from the Redis 7 key specs', () => {
  it('single key: GET', () => {
    expect(commandKeys(spec('get'), argv('get', 'k'))).toEqual([1]);
  });

  it('every argument a key: MGET, DEL', () => {
    expect(keysOf('MGET', 'a', 'b', 'c')).toEqual(['a', 'b', 'c']);
    expect(keysOf('del', 'a')).toEqual(['a']);
    expect(keysOf('DEL', 'a', 'b')).toEqual(['a', 'b']);
  });

  it('step 2: MSET keys, not values', () => {
    expect(commandKeys(spec('mset'), argv('mset', 'a', '1', 'b', '2', 'c', '3'))).toEqual([1, 3, 5]);
  });

  it('numkeys: EVAL (numkeys 0 names no key; malformed numkeys is an error)', () => {
    expect(keysOf('EVAL', 'return 1', '2', 'k1', 'k2', 'arg')).toEqual(['k1', 'k2']);
    expect(keysOf('eval', 'return 1', '0')).toEqual([]);
    expect(keysOf('eval', 'return 1', '0', 'arg')).toEqual([]);
    expect(keysOf('evalsha', 'abc', '1', 'k')).toEqual(['k']);
    expect(keysOf('fcall', 'f', '1', 'k', 'a')).toEqual(['k']);
    expect(keysOf('eval', 'return 1', 'abc')).toBe('value is not an integer or out of range');
    expect(keysOf('eval', 'return 1', '1x')).toBe('value is not an integer or out of range');
    expect(keysOf('eval', 'return 1', '+1', 'k')).toBe('value is not an integer or out of range');
    expect(keysOf('eval', 'return 1', '01', 'k')).toBe('value is not an integer or out of range');
    expect(keysOf('eval', 'return 1', '-1')).toBe("Number of keys can't be negative");
    expect(keysOf('eval', 'return 1', '3', 'k1', 'k2')).toBe("Number of keys can't be greater than number of args");
    expect(keysOf('eval', 'return 1', '99999999999999999999', 'k')).toBe('value is not an integer or out of range');
    expect(keysOf('eval', 'return 1', '9999999999999999', 'k')).toBe("Number of keys can't be greater than number of args");
  });

  it('destination plus numkeys: ZUNIONSTORE, options after the keys are not keys', () => {
    expect(keysOf('zunionstore', 'dst', '2', 'a', 'b', 'WEIGHTS', '1', '2')).toEqual(['dst', 'a', 'b']);
    expect(keysOf('zinterstore', 'dst', '1', 'a')).toEqual(['dst', 'a']);
    expect(keysOf('zunionstore', 'dst', '3', 'a', 'b')).toBe("Number of keys can't be greater than number of args");
    expect(keysOf('zunionstore', 'dst', '0', 'a')).toBe('numkeys should be greater than 0');
    expect(keysOf('zunionstore', 'dst', 'x', 'a')).toBe('value is not an integer or out of range');
  });

  it('keyword STREAMS: XREAD and XREADGROUP take half the arguments after it', () => {
    expect(keysOf('XREAD', 'COUNT', '1', 'STREAMS', 'a', 'b', '0', '0')).toEqual(['a', 'b']);
    expect(keysOf('xread', 'streams', 's', '$')).toEqual(['s']);
    expect(keysOf('XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '5', 'STREAMS', 's1', 's2', '>', '>')).toEqual(['s1', 's2']);
    // A stream named like the keyword: the search starts after the command name and stops at the first match.
    expect(keysOf('xread', 'STREAMS', 'streams', '0')).toEqual(['streams']);
    expect(keysOf('xread', 'COUNT', '1', 'a', '0')).toBe('syntax error');
  });

  it('SORT ... STORE dst (Redis declares SORT key specs incomplete; ported getkeys rules)', () => {
    expect(keysOf('sort', 'src')).toEqual(['src']);
    expect(keysOf('SORT', 'src', 'BY', 'w_*', 'LIMIT', '0', '10', 'GET', '#', 'STORE', 'dst')).toEqual(['src', 'dst']);
    expect(keysOf('sort', 'src', 'store', 'd1', 'STORE', 'd2')).toEqual(['src', 'd2']);
    // "store" as the argument of BY/GET/LIMIT is not the STORE option.
    expect(keysOf('sort', 'src', 'by', 'store', 'get', 'store')).toEqual(['src']);
    expect(keysOf('sort_ro', 'src', 'BY', 'x')).toEqual(['src']);
  });

  it('numkeys at position 1: LMPOP, ZMPOP, and BLMPOP after its timeout', () => {
    expect(keysOf('lmpop', '2', 'a', 'b', 'LEFT', 'COUNT', '2')).toEqual(['a', 'b']);
    expect(keysOf('zmpop', '1', 'z', 'MIN')).toEqual(['z']);
    expect(keysOf('blmpop', '0.5', '2', 'a', 'b', 'RIGHT')).toEqual(['a', 'b']);
    expect(keysOf('bzmpop', '1', '1', 'z', 'MAX')).toEqual(['z']);
    expect(keysOf('lmpop', '0', 'a', 'LEFT')).toBe('numkeys should be greater than 0');
    expect(keysOf('lmpop', '5', 'a', 'LEFT')).toBe("Number of keys can't be greater than number of args");
    expect(keysOf('sintercard', '2', 'a', 'b', 'LIMIT', '1')).toEqual(['a', 'b']);
  });

  it('optional keyword keys: GEORADIUS STORE / STOREDIST', () => {
    expect(keysOf('georadius', 'k', '1', '2', '3', 'km')).toEqual(['k']);
    expect(keysOf('GEORADIUS', 'k', '1', '2', '3', 'km', 'COUNT', '5', 'STORE', 'dst')).toEqual(['k', 'dst']);
    expect(keysOf('georadius', 'k', '1', '2', '3', 'km', 'storedist', 'd2')).toEqual(['k', 'd2']);
    expect(keysOf('georadiusbymember', 'k', 'm', '3', 'km', 'STORE', 'dst')).toEqual(['k', 'dst']);
    // Redis's keyword search stops before the last argument: a trailing STORE names no key (the backend
    // then answers GEORADIUS's own syntax error).
    expect(keysOf('georadius', 'k', '1', '2', '3', 'km', 'STORE')).toEqual(['k']);
  });

  it('subcommand keys: OBJECT ENCODING key, XINFO STREAM key; HELP names none', () => {
    expect(keysOf('OBJECT', 'ENCODING', 'k')).toEqual(['k']);
    expect(keysOf('object', 'freq', 'k')).toEqual(['k']);
    expect(keysOf('object', 'help')).toEqual([]);
    expect(keysOf('xinfo', 'STREAM', 's', 'FULL')).toEqual(['s']);
    expect(keysOf('xgroup', 'create', 's', 'g', '$')).toEqual(['s']);
    expect(keysOf('object', 'nope', 'k')).toBe("unknown subcommand 'nope'. Try OBJECT HELP.");
    expect(keysOf('object', 'encoding')).toBe("wrong number of arguments for 'object|encoding' command");
  });

  it('MIGRATE: the key argument, or the keys after KEYS when the key argument is ""', () => {
    expect(keysOf('migrate', 'h', '1', 'k', '0', '100')).toEqual(['k']);
    expect(keysOf('MIGRATE', 'h', '1', '', '0', '100', 'COPY', 'REPLACE', 'KEYS', 'a', 'b')).toEqual(['a', 'b']);
    expect(keysOf('migrate', 'h', '1', '', '0', '100', 'AUTH', 'keys', 'KEYS', 'a')).toEqual(['a']);
    expect(keysOf('migrate', 'h', '1', '', '0', '100', 'AUTH2', 'u', 'keys', 'KEYS', 'a')).toEqual(['a']);
    expect(keysOf('migrate', 'h', '1', 'k', '0', '100', 'KEYS', 'a')).toBe('syntax error');
  });

  it('two fixed keys and key-less commands', () => {
    expect(keysOf('rename', 'a', 'b')).toEqual(['a', 'b']);
    expect(keysOf('lmove', 'a', 'b', 'LEFT', 'RIGHT')).toEqual(['a', 'b']);
    expect(keysOf('ping')).toEqual([]);
    expect(keysOf('time')).toEqual([]);
    // Pub/Sub channels are declared "not_key": never keys.
    expect(keysOf('spublish', 'ch', 'msg')).toEqual([]);
  });
});

describe('classification', () => {
  const all = allCommands();
  const names = new Set(RAW_COMMANDS.commands.map((c) => c.name));
  const subNames = new Set(RAW_COMMANDS.commands.flatMap((c) => c.subcommands.map((s) => s.name)));

  it('puts every command of the data file in exactly one category, naming only real commands', () => {
    const seen = new Map<string, string>();
    for (const [cat, { commands }] of Object.entries(CATEGORIES)) {
      for (const c of commands as readonly string[]) {
        // A subcommand ('config|set') may be classified apart from its container.
        expect(names.has(c) || subNames.has(c), `${cat} names unknown command ${c}`).toBe(true);
        expect(seen.get(c), `${c} is in ${seen.get(c)} and ${cat}`).toBeUndefined();
        seen.set(c, cat);
      }
    }
    expect([...names].filter((n) => !seen.has(n))).toEqual([]);
  });

  it('gives every command a route; refused ones a reason naming the command', () => {
    for (const c of all) {
      expect(ROUTE_SHAPES).toContain(c.route);
      if (c.route === 'refused') {
        expect(c.refusal, c.name).toMatch(new RegExp(`^command '${c.name}' is not supported by redslot`));
        expect(c.refusal).not.toContain(DEFAULT_REFUSAL);
      } else expect(c.refusal).toBeUndefined();
    }
  });

  it('routes by slot only commands whose keys the specs (or a ported getkeys) can find', () => {
    for (const c of all.filter((x) => x.route === 'single')) {
      const withKeys = c.hasKeys || c.subcommands.some((s) => s.hasKeys);
      expect(withKeys, c.name).toBe(true);
      // A routed container: every subcommand names a key, except HELP.
      for (const s of c.subcommands) expect(s.hasKeys || s.name.endsWith('|help'), s.name).toBe(true);
    }
  });

  it('refuses every blocking, pubsub, admin, transaction and no-key write command', () => {
    for (const c of all) {
      const why = `${c.name} (${c.flags.join(',')})`;
      if (c.flags.includes('admin')) expect(c.route, why).toBe('refused');
      if (c.flags.includes('blocking')) expect(c.route, why).toBe('blocking');
      if (c.flags.includes('pubsub')) expect(c.route, why).toBe('pubsub');
      if (c.raw.docs.group === 'transactions') expect(c.route, why).toBe('transaction');
      // READONLY / READWRITE switch replica reads for one connection (issue 16): answered by the proxy.
      if (c.raw.docs.group === 'cluster') expect(c.route, why).toBe(['readonly', 'readwrite'].includes(c.name) ? 'local' : 'refused');
      // Keyless commands are answered by the proxy, refused, or cluster-wide (every group / one group / SCAN).
      const keyless = ['local', 'refused', 'all', 'one', 'scan', 'transaction', 'pubsub'];
      if (!keyless.includes(c.route) && c.name !== 'wait') expect(c.hasKeys || c.subcommands.length > 0, why).toBe(true);
    }
    for (const n of ['monitor']) {
      expect(spec(n).route, n).toBe('refused');
    }
    expect(spec('reset').route).toBe('local');
    expect(spec('multi').refusal).toBeUndefined();
  });

  it('has the fan-out and local shapes the proxy implements', () => {
    expect(spec('mget').route).toBe('mget');
    expect(spec('mset').route).toBe('mset');
    expect(spec('msetnx').route).toBe('msetnx');
    for (const n of ['del', 'unlink', 'exists', 'touch']) expect(spec(n).route).toBe('sum');
    for (const n of ['ping', 'echo', 'quit', 'auth', 'select', 'hello', 'command', 'client']) expect(spec(n).route).toBe('local');
    expect(spec('get').route).toBe('single');
    expect(spec('eval').route).toBe('script');
  });

  it('marks writes from the Redis flags', () => {
    expect(spec('set').write).toBe(true);
    expect(spec('del').write).toBe(true);
    expect(spec('get').write).toBe(false);
    expect(spec('mget').write).toBe(false);
    // Scripts are flagged neither write nor readonly: they may write, unless declared _ro.
    expect(spec('eval').write).toBe(true);
    expect(spec('fcall').write).toBe(true);
    expect(spec('eval_ro').write).toBe(false);
    expect(spec('xgroup').write).toBe(true);
    expect(spec('xinfo').write).toBe(false);
    expect(spec('ping').write).toBe(false);
  });
});

describe('docs/commands.md', () => {
  it('is what the table renders now (run `npm run gen:commands` after changing the table)', () => {
    const committed = readFileSync(COMMANDS_MD, 'utf8');
    expect(committed).toBe(renderCommandsMarkdown());
  });

  it('docs/commands.md (the one copy; README.md links to it) has a row for every command', () => {
    const page = readFileSync(COMMANDS_MD, 'utf8');
    for (const c of allCommands()) expect(page, c.name).toMatch(new RegExp(`^\\| ${c.name.toUpperCase().replace(/[-|]/g, '\\$&')}[ (]`, 'm'));
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain('(docs/commands.md)');
    expect(readme).not.toContain('| DBSIZE |');
  });

  it('gives containers handled per subcommand one row per kind of handling', () => {
    const md = renderCommandsMarkdown();
    expect(md).toMatch(/^\| CONFIG GET \| supported with a condition \| one group \(slot 0\) \|/m);
    expect(md).toMatch(/^\| CONFIG \(RESETSTAT, REWRITE, SET\) \| supported with a condition \| every group \|/m);
    expect(md).toMatch(/^\| MEMORY USAGE \| supported \| one slot \|/m);
    expect(md).toMatch(/^\| CLIENT \(PAUSE, UNPAUSE\) \| refused \|/m);
  });

  it('has a row for every command', () => {
    const md = renderCommandsMarkdown();
    for (const c of allCommands()) expect(md, c.name).toMatch(new RegExp(`^\\| ${c.name.toUpperCase().replace(/[-|]/g, '\\$&')}[ (]`, 'm'));
  });
});

describe('commandKeys on arbitrary arguments', () => {
  it('never throws and only returns positions of real arguments, for every command and subcommand', () => {
    // Deterministic pseudo-random arguments, biased towards the words and numbers key specs look for.
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const words = ['0', '1', '2', '3', '-1', 'x', '', 'STREAMS', 'store', 'STOREDIST', 'KEYS', 'GET', 'BY', 'LIMIT', 'AUTH', 'AUTH2', '99'];
    const cases: Array<[CommandSpec, Buffer[]]> = [];
    for (const c of allCommands()) {
      for (let n = 0; n < 40; n++) {
        const a = [b(c.name)];
        if (c.subcommands.length > 0) {
          const sub = c.subcommands[rnd(c.subcommands.length)]!;
          a.push(b(sub.name.slice(sub.name.indexOf('|') + 1)));
        }
        const extra = rnd(12);
        for (let i = 0; i < extra; i++) a.push(b(words[rnd(words.length)]!));
        cases.push([c, a]);
      }
    }
    for (const [c, a] of cases) {
      if (!checkArity(c, a.length)) continue;
      const found = commandKeys(c, a);
      if (typeof found === 'string') continue;
      for (const i of found) {
        expect(Number.isInteger(i) && i >= 1 && i < a.length, `${c.name} ${a.join(' ')} -> ${found.join(',')}`).toBe(true);
      }
    }
  });
});

describe('cluster-wide commands and subcommand routing (issue 7)', () => {
  it('routes cluster-wide commands to every group, one group, or SCAN', () => {
    for (const n of ['dbsize', 'flushall', 'flushdb', 'keys', 'randomkey', 'info', 'script', 'function']) expect(spec(n).route, n).toBe('all');
    for (const n of ['time', 'config']) expect(spec(n).route, n).toBe('one');
    expect(spec('scan').route).toBe('scan');
    for (const n of ['eval', 'eval_ro', 'evalsha', 'evalsha_ro', 'fcall', 'fcall_ro']) expect(spec(n).route, n).toBe('script');
  });

  it('routes each subcommand of a mixed container by its own spec', () => {
    const sub = (cmd: string, name: string) => resolveSubcommand(spec(cmd), argv(cmd, name))!;
    expect(spec('config').bySubcommand).toBe(true);
    expect(sub('config', 'get').route).toBe('one');
    expect(sub('config', 'set').route).toBe('all');
    expect(sub('config', 'resetstat').route).toBe('all');
    expect(sub('memory', 'usage').route).toBe('single');
    expect(sub('memory', 'stats').route).toBe('refused');
    expect(sub('memory', 'stats').refusal).toMatch(/^command 'memory\|stats' is not supported by redslot yet: /);
    expect(sub('script', 'load').route).toBe('all');
    expect(sub('script', 'help').route).toBe('one');
    expect(sub('script', 'debug').route).toBe('refused');
    expect(sub('function', 'list').route).toBe('one');
    expect(sub('function', 'restore').route).toBe('all');
    expect(sub('client', 'pause').route).toBe('refused');
    expect(sub('client', 'list').route).toBe('local');
    expect(spec('object').bySubcommand).toBe(true);
    // A container refused as a whole keeps one refusal naming the container.
    expect(spec('cluster').bySubcommand).toBe(false);
    expect(sub('cluster', 'info').refusal).toMatch(/^command 'cluster' is not supported by redslot: /);
  });
});
