/**
 * The per-key commands a source mover sends besides SCAN: measuring a bucket (MEMORY USAGE of every key in one
 * EVAL, so a bucket costs one round trip), a big key's TYPE for its report, and the MIGRATE call itself (one builder,
 * shared with the proxy's migrate-on-access: shared/migrate-command.ts).
 */
import { migrateCommand } from '../../shared/migrate-command.js';
import { splitAddr } from '../redis/admin.js';
import type { Arg, RedisLink } from '../redis/link.js';
import { asNumbers, type MoverLinks, replyError } from './mover-links.js';
import type { RedisEndpoint } from './mover-types.js';

const MEASURE_LUA = "local r={} for i,k in ipairs(KEYS) do r[i]=redis.call('MEMORY','USAGE',k) or -1 end return r";

/** Bytes per key (MEMORY USAGE; -1 for a key gone since SCAN, e.g. moved by a proxy on access). */
export async function measureKeys(links: MoverLinks, conn: RedisLink, db: number, keys: Buffer[]): Promise<number[]> {
  const r = await links.dbCall(conn, db, ['EVAL', MEASURE_LUA, keys.length, ...keys]);
  const sizes = asNumbers(r, keys.length);
  if (!sizes) throw new Error(`measuring ${keys.length} keys on ${links.source.addr}: ${replyError(r) ?? 'unexpected reply'}`);
  return sizes;
}

/** The key's type for a big-key report; undefined when it cannot be read (the report does without). */
export async function keyType(links: MoverLinks, conn: RedisLink, db: number, key: Buffer): Promise<string | undefined> {
  const t = await links.dbCall(conn, db, ['TYPE', key]).catch(() => undefined);
  if (Buffer.isBuffer(t)) return t.toString();
  return typeof t === 'string' ? t : undefined;
}

export function migrateArgs(target: RedisEndpoint, db: number, timeoutMs: number, keys: Buffer[]): Arg[] {
  const { host, port } = splitAddr(target.addr);
  return migrateCommand({ host, port, password: target.password, user: target.username }, db, timeoutMs, keys);
}
