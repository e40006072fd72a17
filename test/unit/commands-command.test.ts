import Parser from 'redis-parser';
import { describe, expect, it } from 'vitest';
import { answerCommandCommand, globMatch } from '../../proxy/commands/command-command.js';
import { allCommands, COMMAND_COUNT } from '../../proxy/commands/lookup.js';

type Reply = string | number | null | { error: string } | Reply[];
const err = (message: string): { error: string } => ({ error: message });

/** Parses one complete RESP2 reply; fails if the bytes hold anything but exactly one reply. */
function parse(bytes: Buffer): Reply {
  const out: Reply[] = [];
  const parser = new Parser({
    returnReply: (r: Reply) => out.push(r),
    returnError: (e: Error) => out.push({ error: e.message }),
    returnFatalError: (e: Error) => {
      throw e;
    },
  });
  parser.execute(bytes);
  expect(out.length, 'exactly one reply').toBe(1);
  return out[0]!;
}

const ask = (...args: string[]): Reply => parse(answerCommandCommand(args.map((a) => Buffer.from(a, 'latin1'))));

/** A RESP2 flattened map as an object. */
function asMap(r: Reply): Record<string, Reply> {
  expect(Array.isArray(r)).toBe(true);
  const a = r as Reply[];
  const o: Record<string, Reply> = {};
  for (let i = 0; i < a.length; i += 2) o[a[i] as string] = a[i + 1]!;
  return o;
}

describe('answerCommandCommand', () => {
  it('COUNT is the number of top-level commands', () => {
    expect(ask('COMMAND', 'COUNT')).toBe(COMMAND_COUNT);
    expect(ask('command', 'count', 'x')).toEqual(err("ERR wrong number of arguments for 'command|count' command"));
  });

  it('COMMAND lists every command with the 10-field Redis 7 shape', () => {
    const all = ask('COMMAND') as Reply[];
    expect(all.length).toBe(COMMAND_COUNT);
    for (const entry of all) {
      const e = entry as Reply[];
      expect(e.length).toBe(10);
      expect(typeof e[0]).toBe('string');
      expect(typeof e[1]).toBe('number');
      for (const i of [2, 6, 7, 8, 9]) expect(Array.isArray(e[i])).toBe(true);
      for (const i of [3, 4, 5]) expect(typeof e[i]).toBe('number');
    }
  });

  it('INFO answers named commands (any case, container|sub too) and nil for unknown ones', () => {
    const [get, none, sub] = ask('COMMAND', 'INFO', 'GET', 'nosuch', 'Object|Encoding') as Reply[][];
    expect(get![0]).toBe('get');
    expect(get![1]).toBe(2);
    expect(get![2]).toEqual(['readonly', 'fast']);
    expect(get!.slice(3, 6)).toEqual([1, 1, 1]);
    const spec = asMap((get![8] as Reply[])[0]!);
    expect(asMap(spec['begin_search']!)['type']).toBe('index');
    expect(asMap(asMap(spec['begin_search']!)['spec']!)['index']).toBe(1);
    expect(none).toBeNull();
    expect(sub![0]).toBe('object|encoding');
    expect(sub![1]).toBe(3);
  });

  it('INFO of a container carries its subcommands', () => {
    const [obj] = ask('COMMAND', 'INFO', 'object') as Reply[][];
    const subs = (obj![9] as Reply[][]).map((s) => s[0]);
    expect(subs).toContain('object|encoding');
    expect(subs).toContain('object|help');
  });

  it('DOCS is a map of name -> docs, with subcommands, and marks what redslot refuses', () => {
    const docs = asMap(ask('COMMAND', 'DOCS', 'get', 'monitor', 'object', 'nosuch'));
    expect(Object.keys(docs)).toEqual(['get', 'monitor', 'object']);
    const get = asMap(docs['get']!);
    expect(get['summary']).toBe('Get the value of a key');
    expect(get['group']).toBe('string');
    expect(asMap((get['arguments'] as Reply[])[0]!)['name']).toBe('key');
    expect(asMap(docs['monitor']!)['summary']).toMatch(/\[redslot: refused: command 'monitor' is not supported by redslot yet: .*\]$/);
    const subs = asMap(asMap(docs['object']!)['subcommands']!);
    expect(Object.keys(subs)).toContain('object|encoding');
    expect(ask('COMMAND', 'DOCS') as Reply[]).toHaveLength(COMMAND_COUNT * 2);
  });

  it('LIST names commands and subcommands, filtered by ACL category or pattern', () => {
    const subs = allCommands().reduce((n, c) => n + c.subcommands.length, 0);
    expect(ask('COMMAND', 'LIST')).toHaveLength(COMMAND_COUNT + subs);
    expect((ask('COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'hyperloglog') as string[]).sort()).toEqual(
      ['pfadd', 'pfcount', 'pfdebug', 'pfmerge', 'pfselftest'],
    );
    expect((ask('command', 'list', 'filterby', 'pattern', 'OBJECT*') as string[]).sort()).toEqual(
      ['object', 'object|encoding', 'object|freq', 'object|help', 'object|idletime', 'object|refcount'],
    );
    expect(ask('COMMAND', 'LIST', 'FILTERBY', 'MODULE', 'x')).toEqual([]);
    expect(ask('COMMAND', 'LIST', 'FILTERBY', 'nope', 'x')).toEqual(err('ERR syntax error'));
  });

  it('GETKEYS and GETKEYSANDFLAGS use the key finder, with Redis\'s errors', () => {
    expect(ask('COMMAND', 'GETKEYS', 'MSET', 'a', '1', 'b', '2')).toEqual(['a', 'b']);
    expect(ask('COMMAND', 'GETKEYS', 'zunionstore', 'd', '2', 'a', 'b')).toEqual(['d', 'a', 'b']);
    expect(ask('COMMAND', 'GETKEYS', 'eval', 'return 1', '0')).toEqual([]);
    expect(ask('COMMAND', 'GETKEYSANDFLAGS', 'sort', 'a', 'STORE', 'b')).toEqual([['a', ['RO', 'access']], ['b', ['OW', 'update']]]);
    expect(ask('COMMAND', 'GETKEYS', 'nosuch', 'a')).toEqual(err('ERR Invalid command specified'));
    expect(ask('COMMAND', 'GETKEYS', 'object', 'nosuch', 'k')).toEqual(err('ERR Invalid command specified'));
    expect(ask('COMMAND', 'GETKEYS', 'ping', 'hello')).toEqual(err('ERR The command has no key arguments'));
    expect(ask('COMMAND', 'GETKEYS', 'object', 'help')).toEqual(err('ERR The command has no key arguments'));
    expect(ask('COMMAND', 'GETKEYS', 'get', 'a', 'b')).toEqual(err('ERR Invalid number of arguments specified for command'));
    expect(ask('COMMAND', 'GETKEYS', 'zunion', '5', 'a')).toEqual(err('ERR Invalid arguments specified for command'));
    expect(ask('COMMAND', 'GETKEYS')).toEqual(err("ERR wrong number of arguments for 'command|getkeys' command"));
    // COMMAND GETKEYS needs the command AND at least one argument (its arity is -4).
    expect(ask('COMMAND', 'GETKEYS', 'ping')).toEqual(err("ERR wrong number of arguments for 'command|getkeys' command"));
  });

  it('HELP and unknown subcommands', () => {
    expect((ask('COMMAND', 'HELP') as string[])[0]).toMatch(/^COMMAND <subcommand>/);
    expect(ask('COMMAND', 'foo')).toEqual(err("ERR unknown subcommand 'foo'. Try COMMAND HELP."));
  });
});

describe('globMatch (Redis stringmatch, case-insensitive)', () => {
  const m = (p: string, s: string): boolean => globMatch(Buffer.from(p), Buffer.from(s));
  it('matches *, ?, sets, ranges, negation and escapes', () => {
    expect(m('*', '')).toBe(true);
    expect(m('x*', 'xadd')).toBe(true);
    expect(m('x*', 'zadd')).toBe(false);
    expect(m('?et', 'GET')).toBe(true);
    expect(m('[gs]et', 'set')).toBe(true);
    expect(m('[^gs]et', 'set')).toBe(false);
    expect(m('[a-h]et', 'get')).toBe(true);
    expect(m('object\\|*', 'object|help')).toBe(true);
    expect(m('get', 'getx')).toBe(false);
  });
});
