/**
 * CLIENT, about the proxy's own clients (the connections apps opened to this proxy), never forwarded: the
 * backend connections are the proxy's, shared by many clients.
 *
 *   SETNAME / GETNAME / ID / SETINFO   what client libraries send on connect
 *   INFO / LIST [TYPE t] [ID id ...]   Redis's line format (id addr laddr fd name age idle flags db ... cmd
 *                                      user resp); sub/psub/ssub/multi/resp come from the features that own them
 *   KILL addr | KILL <filter> ...      ID, ADDR, LADDR, USER, TYPE, SKIPME: closes this proxy's clients only
 *   NO-EVICT on|off                    shown (flag e); guard.maxClientsMemory never evicts such a client
 *   REPLY ON|OFF|SKIP                  the session drops the replies (session.ts)
 *   UNBLOCK id [TIMEOUT|ERROR]         wakes a client of this proxy blocked in BLPOP & co. (on its backend)
 *   HELP
 * PAUSE/UNPAUSE, TRACKING and friends keep the table's refusal (this handler returns undefined).
 * "This proxy" is one process: with `workers: N` each worker lists and kills only its own clients.
 */
import { encodeArray, encodeBulk, encodeError, encodeInteger, encodeSimple, Replies } from '../../shared/resp/encoder.js';
import { allCommands } from '../commands/lookup.js';
import { errorReply, ProxyErrors, ReplyErrors } from '../errors.js';
import { validClientName } from './auth.js';
import type { LocalContext } from './context.js';

function is(arg: Buffer | undefined, lower: string): boolean {
  return arg !== undefined && arg.length === lower.length && arg.toString('latin1').toLowerCase() === lower;
}

function text(b: Buffer): string {
  return b.toString('latin1');
}

const BAD_NAME = Buffer.from('-ERR Client names cannot contain spaces, newlines or special characters.\r\n');
const NO_SUCH_CLIENT = errorReply(ProxyErrors.REDSLOT_ERR_NO_SUCH_CLIENT);
/** CLIENT REPLY OFF / SKIP: no reply at all. */
const NOTHING = Buffer.alloc(0);

const HELP = [
  'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are (about the clients of this redslot proxy):',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'KILL <ip:port>',
  '    Kill connection made from <ip:port>.',
  'KILL <option> <value> [<option> <value> [...]]',
  '    Kill connections. Options are: ID <client-id>, TYPE (normal|master|replica|pubsub), USER <username>,',
  '    ADDR <ip:port>, LADDR <ip:port>, SKIPME (YES|NO).',
  'LIST [options ...]',
  '    Return information about client connections. Options: TYPE (NORMAL|MASTER|REPLICA|PUBSUB), ID <client-id> [...].',
  'NO-EVICT (ON|OFF)',
  '    Accepted; the proxy never evicts clients.',
  'REPLY (ON|OFF|SKIP)',
  '    Control the replies sent to the current connection.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'SETINFO <LIB-NAME|LIB-VER> <value>',
  '    Set client library name or version.',
  'HELP',
  '    Print this help.',
];

function flagsOf(c: LocalContext): string {
  const extra = c.clientListExtras?.().flags ?? '';
  const f = `${extra}${c.client.noEvict ? 'e' : ''}`;
  return f === '' ? 'N' : f;
}

function typeOf(c: LocalContext): 'normal' | 'pubsub' {
  const x = c.clientListExtras?.();
  return x !== undefined && ((x.sub ?? 0) > 0 || (x.psub ?? 0) > 0 || (x.ssub ?? 0) > 0) ? 'pubsub' : 'normal';
}

/** One CLIENT LIST line (Redis 7 field order), without the trailing newline. */
export function clientLine(c: LocalContext, now = Date.now(), nowPerf = performance.now(), current?: string): string {
  const x = c.clientListExtras?.() ?? {};
  const cmd = current ?? (c.client.lastCmdId >= 0 ? allCommands()[c.client.lastCmdId]?.name ?? 'NULL' : 'NULL');
  const omem = c.outputBytes;
  return [
    `id=${c.id}`,
    `addr=${c.remoteAddress}`,
    `laddr=${c.localAddress}`,
    'fd=-1',
    `name=${c.client.name === null ? '' : text(c.client.name)}`,
    `age=${Math.max(0, Math.floor((now - c.client.createdAt) / 1000))}`,
    `idle=${Math.max(0, Math.floor((nowPerf - c.client.lastAt) / 1000))}`,
    `flags=${flagsOf(c)}`,
    `db=${c.db}`,
    `sub=${x.sub ?? 0}`,
    `psub=${x.psub ?? 0}`,
    `ssub=${x.ssub ?? 0}`,
    `multi=${x.multi ?? -1}`,
    'qbuf=0',
    'qbuf-free=0',
    'argv-mem=0',
    'multi-mem=0',
    'rbs=0',
    'rbp=0',
    'obl=0',
    'oll=0',
    `omem=${omem}`,
    `tot-mem=${omem}`,
    `events=${omem > 0 ? 'rw' : 'r'}`,
    `cmd=${cmd}`,
    `user=${c.client.user}`,
    'redir=-1',
    `resp=${x.resp ?? 2}`,
    `lib-name=${c.client.libName === null ? '' : text(c.client.libName)}`,
    `lib-ver=${c.client.libVer === null ? '' : text(c.client.libVer)}`,
  ].join(' ');
}

const TYPES = new Set(['normal', 'master', 'replica', 'slave', 'pubsub']);

function list(ctx: LocalContext, argv: Buffer[]): Buffer {
  let type: string | null = null;
  let ids: Set<number> | null = null;
  for (let i = 2; i < argv.length; i++) {
    if (is(argv[i], 'type') && i + 1 < argv.length) {
      type = text(argv[++i]!).toLowerCase();
      if (!TYPES.has(type)) return Buffer.from(`-ERR Unknown client type '${text(argv[i]!).replace(/[\r\n]/g, ' ')}'\r\n`);
    } else if (is(argv[i], 'id') && i + 1 < argv.length) {
      ids = new Set();
      for (i++; i < argv.length; i++) {
        const n = Number(text(argv[i]!));
        if (!/^[1-9][0-9]*$/.test(text(argv[i]!)) || !Number.isSafeInteger(n)) return Buffer.from('-ERR Invalid client ID\r\n');
        ids.add(n);
      }
    } else {
      return ReplyErrors.syntax;
    }
  }
  const now = Date.now();
  const nowPerf = performance.now();
  const lines: string[] = [];
  for (const c of ctx.facts.clients()) {
    if (type !== null && typeOf(c) !== type) continue;
    if (ids !== null && !ids.has(c.id)) continue;
    lines.push(clientLine(c, now, nowPerf, c === ctx ? 'client|list' : undefined) + '\n');
  }
  return encodeBulk(lines.join(''));
}

function kill(ctx: LocalContext, argv: Buffer[]): Buffer {
  if (argv.length === 3) {
    // Old form: CLIENT KILL addr:port -> OK or "No such client".
    const addr = text(argv[2]!);
    for (const c of ctx.facts.clients()) {
      if (c.remoteAddress === addr) {
        if (c === ctx) ctx.quit();
        else c.kill();
        return Replies.ok;
      }
    }
    return NO_SUCH_CLIENT;
  }
  if (argv.length % 2 !== 0) return ReplyErrors.syntax;
  let id: number | null = null;
  let addr: string | null = null;
  let laddr: string | null = null;
  let user: string | null = null;
  let type: string | null = null;
  let skipMe = true;
  for (let i = 2; i < argv.length; i += 2) {
    const v = text(argv[i + 1]!);
    if (is(argv[i], 'id')) {
      if (!/^-?[0-9]+$/.test(v) || Number(v) <= 0) return Buffer.from('-ERR client-id should be greater than 0\r\n');
      id = Number(v);
    } else if (is(argv[i], 'addr')) addr = v;
    else if (is(argv[i], 'laddr')) laddr = v;
    else if (is(argv[i], 'user')) user = v;
    else if (is(argv[i], 'type')) {
      type = v.toLowerCase();
      if (!TYPES.has(type)) return Buffer.from(`-ERR Unknown client type '${v.replace(/[\r\n]/g, ' ')}'\r\n`);
    } else if (is(argv[i], 'skipme')) {
      if (is(argv[i + 1], 'yes')) skipMe = true;
      else if (is(argv[i + 1], 'no')) skipMe = false;
      else return ReplyErrors.syntax;
    } else return ReplyErrors.syntax;
  }
  let killed = 0;
  let self = false;
  for (const c of [...ctx.facts.clients()]) {
    if (id !== null && c.id !== id) continue;
    if (addr !== null && c.remoteAddress !== addr) continue;
    if (laddr !== null && c.localAddress !== laddr) continue;
    if (user !== null && c.client.user !== user) continue;
    if (type !== null && typeOf(c) !== type) continue;
    if (c === ctx) {
      if (skipMe) continue;
      self = true; // closed once this reply is written, like Redis
    } else c.kill();
    killed++;
  }
  if (self) ctx.quit();
  return encodeInteger(killed);
}

export function client(ctx: LocalContext, argv: Buffer[]): Buffer | undefined {
  const sub = argv[1];
  if (is(sub, 'setname') && argv.length === 3) {
    const name = argv[2]!;
    if (!validClientName(name)) return BAD_NAME;
    ctx.client.name = name.length === 0 ? null : Buffer.from(name); // a copy: a view would keep a whole read slab alive
    return Replies.ok;
  }
  if (is(sub, 'getname') && argv.length === 2) return encodeBulk(ctx.client.name);
  if (is(sub, 'id') && argv.length === 2) return encodeInteger(ctx.id);
  if (is(sub, 'setinfo') && argv.length === 4) {
    const value = argv[3]!;
    if (!validClientName(value)) return Buffer.from('-ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.\r\n');
    if (is(argv[2], 'lib-name')) ctx.client.libName = Buffer.from(value);
    else if (is(argv[2], 'lib-ver')) ctx.client.libVer = Buffer.from(value);
    else return Buffer.from(`-ERR Unrecognized option '${argv[2]!.toString('latin1').replace(/[\r\n]/g, ' ')}'\r\n`);
    return Replies.ok;
  }
  if (is(sub, 'info') && argv.length === 2) return encodeBulk(clientLine(ctx, Date.now(), performance.now(), 'client|info') + '\n');
  if (is(sub, 'list')) return list(ctx, argv);
  if (is(sub, 'kill') && argv.length >= 3) return kill(ctx, argv);
  if (is(sub, 'no-evict') && argv.length === 3) {
    if (is(argv[2], 'on')) ctx.client.noEvict = true;
    else if (is(argv[2], 'off')) ctx.client.noEvict = false;
    else return ReplyErrors.syntax;
    return Replies.ok;
  }
  if (is(sub, 'unblock') && (argv.length === 3 || argv.length === 4)) return unblock(ctx, argv);
  if (is(sub, 'reply') && argv.length === 3) {
    if (is(argv[2], 'on')) {
      ctx.replies.off = false;
      ctx.replies.skip = 0;
      return Replies.ok;
    }
    if (is(argv[2], 'off')) {
      ctx.replies.off = true;
      return NOTHING;
    }
    if (is(argv[2], 'skip')) {
      if (!ctx.replies.off) ctx.replies.skip = 1;
      return NOTHING;
    }
    return ReplyErrors.syntax;
  }
  if (is(sub, 'help') && argv.length === 2) return encodeArray(HELP.map((l) => encodeSimple(l)));
  return undefined;
}

/** CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when that client of this proxy was blocked and is being woken. */
function unblock(ctx: LocalContext, argv: Buffer[]): Buffer {
  const idText = argv[2]!.toString('latin1');
  if (!/^-?\d+$/.test(idText)) return ReplyErrors.notInteger;
  let error = false;
  if (argv.length === 4) {
    if (is(argv[3]!, 'error')) error = true;
    else if (!is(argv[3]!, 'timeout')) return UNBLOCK_REASON;
  }
  const id = Number(idText);
  for (const c of ctx.facts.clients()) if (c.id === id) return c.unblock?.(error) === true ? Replies.one : Replies.zero;
  return Replies.zero;
}

const UNBLOCK_REASON = encodeError('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
