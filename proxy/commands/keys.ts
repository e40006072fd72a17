/**
 * Finding the key arguments of a command from Redis 7's key specs (begin_search: index | keyword,
 * find_keys: range | keynum), following Redis's own `getKeysUsingKeySpecs` (db.c). Where Redis declares a key
 * spec incomplete or unknown and resorts to a hand-written getkeys function (SORT, SORT_RO, MIGRATE), the same
 * rules are ported in FALLBACKS; `table.ts` refuses any other command whose keys the specs cannot find.
 *
 * Unlike COMMAND GETKEYS (which answers "Invalid arguments" or no keys), a proxy must not guess: malformed
 * key arguments return an error message (without the `ERR ` prefix) that mirrors Redis's wording.
 */
import type { RawCommand, RawKeySpec } from './redis7-data.js';

/** Positions (indices into argv, argv[0] = name) of the keys, or an error message. */
export type KeyFinder = (argv: readonly Buffer[], flagsOut?: Array<readonly string[]>) => number[] | string;

export const KEY_ERRORS = {
  notInteger: 'value is not an integer or out of range',
  negative: "Number of keys can't be negative",
  zero: 'numkeys should be greater than 0',
  tooMany: "Number of keys can't be greater than number of args",
  syntax: 'syntax error',
} as const;

/** ASCII lower-case of every byte value (other bytes map to themselves). */
export const LOWER = new Uint8Array(256);
for (let i = 0; i < 256; i++) LOWER[i] = i >= 0x41 && i <= 0x5a ? i + 0x20 : i;

/** Case-insensitive equality of raw bytes against a lower-case ASCII word; no allocation. */
export function equalsLower(arg: Buffer, lower: Buffer): boolean {
  const n = lower.length;
  if (arg.length !== n) return false;
  for (let i = 0; i < n; i++) if (LOWER[arg[i]!] !== lower[i]) return false;
  return true;
}

/**
 * Redis's string2ll on raw bytes: optional '-', no '+', no leading zeros, no spaces. Returns null when it is
 * not such an integer. Values beyond 2^53 are returned as +/-Infinity (only ever compared with argc).
 */
export function parseInteger(b: Buffer): number | null {
  const n = b.length;
  if (n === 0 || n > 20) return null;
  let i = 0;
  let neg = false;
  if (b[0] === 0x2d) {
    if (n === 1) return null;
    neg = true;
    i = 1;
  }
  if (b[i] === 0x30) return n === i + 1 && !neg ? 0 : null;
  let v = 0;
  for (; i < n; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9) return null;
    v = v * 10 + d;
  }
  if (v > Number.MAX_SAFE_INTEGER) {
    // Beyond 2^63 Redis rejects; in between it is a valid but huge number.
    if (v > 9.223372036854776e18) return null;
    return neg ? -Infinity : Infinity;
  }
  return neg ? -v : v;
}

interface CompiledSpec {
  readonly flags: readonly string[];
  readonly keyword: Buffer | null; // begin_search keyword (lower-case), or null for index
  readonly index: number;
  readonly startfrom: number;
  readonly keynum: boolean; // find_keys: keynum (else range)
  readonly lastkey: number;
  readonly keystep: number;
  readonly limit: number;
  readonly keynumidx: number;
  readonly firstkey: number;
}

/** Whether Redis can find this spec's keys from the spec alone. */
function specIsComplete(s: RawKeySpec): boolean {
  return (
    (s.begin_search.type === 'index' || s.begin_search.type === 'keyword') &&
    (s.find_keys.type === 'range' || s.find_keys.type === 'keynum') &&
    !s.flags.includes('incomplete')
  );
}

function compile(s: RawKeySpec): CompiledSpec {
  const bs = s.begin_search.spec;
  const fk = s.find_keys.spec;
  return {
    flags: s.flags,
    keyword: s.begin_search.type === 'keyword' ? Buffer.from((bs.keyword ?? '').toLowerCase(), 'latin1') : null,
    index: bs.index ?? 0,
    startfrom: bs.startfrom ?? 0,
    keynum: s.find_keys.type === 'keynum',
    lastkey: fk.lastkey ?? 0,
    keystep: Math.max(1, fk.keystep ?? 1),
    limit: fk.limit ?? 0,
    keynumidx: fk.keynumidx ?? 0,
    firstkey: fk.firstkey ?? 0,
  };
}

/** The walk of `getKeysUsingKeySpecs`, stricter where a proxy must not route a malformed command. */
function walkSpecs(specs: readonly CompiledSpec[], mandatory: boolean): KeyFinder {
  return (argv, flagsOut) => {
    const argc = argv.length;
    const out: number[] = [];
    for (const s of specs) {
      let first = 0;
      if (s.keyword === null) {
        first = s.index;
      } else {
        const start = s.startfrom > 0 ? s.startfrom : argc + s.startfrom;
        const end = s.startfrom > 0 ? argc - 1 : 1;
        for (let i = start; i !== end; i = start <= end ? i + 1 : i - 1) {
          if (i >= argc || i < 1) break;
          if (equalsLower(argv[i]!, s.keyword)) {
            first = i + 1;
            break;
          }
        }
        if (first === 0) continue; // keyword absent: this spec names no key (e.g. GEORADIUS without STORE)
      }
      let last: number;
      if (!s.keynum) last = rangeLast(s, first, argc);
      else {
        const at = first + s.keynumidx;
        if (at >= argc) return KEY_ERRORS.syntax;
        const n = parseInteger(argv[at]!);
        if (n === null) return KEY_ERRORS.notInteger;
        if (n < 0) return KEY_ERRORS.negative;
        first += s.firstkey;
        if (n === 0) {
          if (mandatory) return KEY_ERRORS.zero;
          continue; // EVAL script 0: no keys
        }
        last = first + n - 1;
        if (last >= argc) return KEY_ERRORS.tooMany;
      }
      if (last >= argc || last < first || first >= argc) return KEY_ERRORS.syntax;
      for (let i = first; i <= last; i += s.keystep) {
        out.push(i);
        flagsOut?.push(s.flags);
      }
    }
    if (out.length === 0 && mandatory) return KEY_ERRORS.syntax;
    return out;
  };
}

/** The last key position of a range spec whose keys start at `first`. */
function rangeLast(s: CompiledSpec, first: number, argc: number): number {
  if (s.lastkey >= 0) return first + s.lastkey;
  if (s.limit === 0) return argc + s.lastkey;
  return first + (Math.floor((argc - first) / s.limit) + s.lastkey);
}

/** Key positions from the argument count alone (KeyFinder's result for any argv of that length; shared: never changed). */
export type ArgcKeyFinder = (argc: number) => number[] | string;

/**
 * A finder that needs only the argument count, for commands whose keys lie at fixed positions or ranges (GET,
 * SET, MSET, DEL...: no keyword, no numkeys): the hot path finds their keys without argument Buffers. Null
 * when the arguments themselves decide (keywords, numkeys, the getkeys ports).
 */
export function argcKeyFinderFor(raw: RawCommand): ArgcKeyFinder | null {
  const real = raw.key_specs.filter((s) => !s.flags.includes('not_key'));
  if (real.length === 0) return null;
  // SET's port differs from its spec only in the flags it reports (the key is argv[1]).
  // One fixed position: the same array every time (callers only read key positions).
  const at1 = [1];
  if (raw.name === 'set') return (argc) => (argc > 1 ? at1 : KEY_ERRORS.syntax);
  if (FALLBACKS[raw.name] !== undefined || !real.every(specIsComplete)) return null;
  const compiled = real.map(compile);
  if (!compiled.every((c) => c.keyword === null && !c.keynum)) return null;
  const mandatory = !raw.flags.includes('no_mandatory_keys');
  if (compiled.length === 1 && compiled[0]!.lastkey === 0) {
    const pos = compiled[0]!.index;
    const at = [pos];
    return (argc) => (pos >= argc ? KEY_ERRORS.syntax : at);
  }
  const find = (argc: number): number[] | string => {
    const out: number[] = [];
    for (const s of compiled) {
      const first = s.index;
      const last = rangeLast(s, first, argc);
      if (last >= argc || last < first || first >= argc) return KEY_ERRORS.syntax;
      for (let i = first; i <= last; i += s.keystep) out.push(i);
    }
    if (out.length === 0 && mandatory) return KEY_ERRORS.syntax;
    return out;
  };
  // Found once per argument count (MSET of 10 pairs: the same 10 positions every time), up to MEMO_ARGC.
  const memo: Array<number[] | string | undefined> = [];
  return (argc) => (argc > MEMO_ARGC ? find(argc) : (memo[argc] ??= find(argc)));
}

/** Argument counts whose key positions argcKeyFinderFor keeps (an array of at most this many numbers each). */
const MEMO_ARGC = 64;

const RO_ACCESS = ['RO', 'access'] as const;
const OW_UPDATE = ['OW', 'update'] as const;
const RW_ACCESS_DELETE = ['RW', 'access', 'delete'] as const;
const w = (s: string): Buffer => Buffer.from(s, 'latin1');
const LIMIT = w('limit');
const GET = w('get');
const BY = w('by');
const STORE = w('store');
const KEYS = w('keys');
const AUTH = w('auth');
const AUTH2 = w('auth2');

const RW_ACCESS_UPDATE = ['RW', 'access', 'update'] as const;
const SET = w('set');
const INCRBY = w('incrby');
const OVERFLOW = w('overflow');

/**
 * Ports of Redis's getkeys functions: for the commands whose key specs are incomplete or unknown (SORT,
 * SORT_RO, MIGRATE), and for those whose spec says `variable_flags` (SET, BITFIELD: the key is always
 * argv[1], only its access flags depend on the arguments, which matters to GETKEYSANDFLAGS alone).
 */
export const FALLBACKS: Readonly<Record<string, KeyFinder>> = {
  // setGetKeys: read-write when a GET argument follows the value, else overwrite.
  set: (argv, flagsOut) => {
    if (flagsOut !== undefined) {
      let get = false;
      for (let i = 3; i < argv.length && !get; i++) get = equalsLower(argv[i]!, GET);
      flagsOut.push(get ? RW_ACCESS_UPDATE : OW_UPDATE);
    }
    return [1];
  },
  // bitfieldGetKeys: read-only while every operation is a well-formed GET (or OVERFLOW).
  bitfield: (argv, flagsOut) => {
    if (flagsOut !== undefined) {
      let readonly = true;
      for (let i = 2; i < argv.length; i++) {
        const a = argv[i]!;
        const remaining = argv.length - i - 1;
        if (equalsLower(a, GET) && remaining >= 2) i += 2;
        else if ((equalsLower(a, SET) || equalsLower(a, INCRBY)) && remaining >= 3) {
          readonly = false;
          break;
        } else if (equalsLower(a, OVERFLOW) && remaining >= 1) i += 1;
        else {
          readonly = false;
          break;
        }
      }
      flagsOut.push(readonly ? RO_ACCESS : RW_ACCESS_UPDATE);
    }
    return [1];
  },
  // sortROGetKeys: the sorted key only (BY/GET patterns name keys only at run time).
  sort_ro: (_argv, flagsOut) => {
    flagsOut?.push(RO_ACCESS);
    return [1];
  },
  // sortGetKeys: the sorted key, plus the key after the last STORE (skipping LIMIT's 2 and GET's/BY's 1 argument).
  sort: (argv, flagsOut) => {
    const argc = argv.length;
    let store = -1;
    for (let i = 2; i < argc; i++) {
      const a = argv[i]!;
      if (equalsLower(a, LIMIT)) i += 2;
      else if (equalsLower(a, GET) || equalsLower(a, BY)) i += 1;
      else if (equalsLower(a, STORE) && i + 1 < argc) store = i + 1;
    }
    flagsOut?.push(RO_ACCESS);
    if (store < 0) return [1];
    flagsOut?.push(OW_UPDATE);
    return [1, store];
  },
  // migrateGetKeys: host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS k...].
  migrate: (argv, flagsOut) => {
    const argc = argv.length;
    let first = 3;
    let num = 1;
    if (argc > 6) {
      for (let i = 6; i < argc; i++) {
        const a = argv[i]!;
        if (equalsLower(a, KEYS)) {
          if (argv[3]!.length > 0) return KEY_ERRORS.syntax; // a key AND KEYS: Redis answers a syntax error
          first = i + 1;
          num = argc - first;
          break;
        }
        if (equalsLower(a, AUTH)) i += 1;
        else if (equalsLower(a, AUTH2)) i += 2;
        // COPY, REPLACE and anything else take no argument.
      }
    }
    const out: number[] = [];
    for (let i = 0; i < num; i++) {
      out.push(first + i);
      flagsOut?.push(RW_ACCESS_DELETE);
    }
    return out;
  },
};

const NO_KEYS: KeyFinder = () => [];

/**
 * The key finder of one command, or null when Redis's specs cannot find its keys and no port of Redis's
 * getkeys function exists (the table then refuses the command).
 */
export function keyFinderFor(raw: RawCommand): KeyFinder | null {
  const real = raw.key_specs.filter((s) => !s.flags.includes('not_key'));
  if (real.length === 0) return NO_KEYS;
  const fallback = FALLBACKS[raw.name];
  if (fallback !== undefined) return fallback;
  if (!real.every(specIsComplete)) return null;
  const mandatory = !raw.flags.includes('no_mandatory_keys');
  const compiled = real.map(compile);
  // Fast path: one fixed position (GET, SET, HSET, ... - most commands): no walk, no branches.
  if (compiled.length === 1) {
    const c = compiled[0]!;
    if (c.keyword === null && !c.keynum && c.lastkey === 0) {
      const pos = c.index;
      return (argv, flagsOut) => {
        if (pos >= argv.length) return KEY_ERRORS.syntax;
        flagsOut?.push(c.flags);
        return [pos];
      };
    }
  }
  return walkSpecs(compiled, mandatory);
}

/** Whether some key spec can name a key (as Redis's doesCommandHaveKeys, without module callbacks). */
export function specsHaveKeys(raw: RawCommand): boolean {
  return raw.key_specs.some((s) => !s.flags.includes('not_key'));
}
