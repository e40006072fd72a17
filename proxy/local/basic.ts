/** PING, ECHO, QUIT, RESET, SELECT: connection commands the proxy answers like Redis 7. */
import { encodeBulk, Replies } from '../../shared/resp/encoder.js';
import { ReplyErrors } from '../errors.js';
import type { LocalContext } from './context.js';

export function ping(_ctx: LocalContext, argv: Buffer[]): Buffer {
  // Arity -1; more than one argument is wrong arity (checked here, as Redis's pingCommand does).
  if (argv.length > 2) return Buffer.from("-ERR wrong number of arguments for 'ping' command\r\n");
  return argv.length === 2 ? encodeBulk(argv[1]!) : Replies.pong;
}

export function echo(_ctx: LocalContext, argv: Buffer[]): Buffer {
  return encodeBulk(argv[1]!);
}

export function quit(ctx: LocalContext): Buffer {
  ctx.quit();
  return Replies.ok;
}

const RESET = Buffer.from('+RESET\r\n');

/** RESET: the connection as if new (transaction, subscriptions, WATCHes, db, protocol, name, auth). */
export function reset(ctx: LocalContext): Buffer {
  ctx.reset();
  return RESET;
}

/** Redis's string2ll for small non-negative/negative integers; null if not an integer. */
export function parseSmallInt(b: Buffer): number | null {
  const s = b.toString('latin1');
  if (!/^-?(0|[1-9][0-9]{0,15})$/.test(s) || s === '-0') return null;
  return Number(s);
}

export function select(ctx: LocalContext, argv: Buffer[]): Buffer {
  const n = parseSmallInt(argv[1]!);
  if (n === null) return ReplyErrors.notInteger;
  if (n < 0 || n >= ctx.facts.config.databases) return ReplyErrors.dbRange;
  ctx.db = n;
  return Replies.ok;
}

/** READONLY: this connection's read-only single-slot commands may be served by a replica (Redis Cluster's word). */
export function readonly(ctx: LocalContext): Buffer {
  ctx.readReplica = true;
  return Replies.ok;
}

/** READWRITE: back to the master for everything. */
export function readwrite(ctx: LocalContext): Buffer {
  ctx.readReplica = false;
  return Replies.ok;
}
