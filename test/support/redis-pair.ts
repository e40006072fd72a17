// A source and a target redis-server for the mover's tests: started once per file (handed to `assign`), flushed
// after every test, stopped after the file. Call at the top level of a test file.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { RedisAdmin, type RedisReply } from '../../dashboard/redis/admin.js';
import { startRedis, type RedisServerHandle } from './redis-server.js';

export interface RedisPair {
  src: RedisServerHandle;
  dst: RedisServerHandle;
  /** Admin connections to the source and the target. */
  a: RedisAdmin;
  b: RedisAdmin;
}

export function useRedisPair(assign: (pair: RedisPair) => void): void {
  let pair: RedisPair | undefined;
  beforeAll(async () => {
    const [src, dst] = await Promise.all([startRedis(), startRedis()]);
    pair = { src, dst, a: new RedisAdmin({ addr: src.addr, commandTimeoutMs: 30_000 }), b: new RedisAdmin({ addr: dst.addr, commandTimeoutMs: 30_000 }) };
    assign(pair);
  });
  afterAll(async () => {
    pair?.a.close();
    pair?.b.close();
    await Promise.all([pair?.src.stop(), pair?.dst.stop()]);
  });
  afterEach(async () => {
    await Promise.all([pair!.a.call('FLUSHALL'), pair!.b.call('FLUSHALL')]);
  });
}

/** The reply, or throws when it is an error reply. */
export async function ok(p: Promise<RedisReply>): Promise<RedisReply> {
  const r = await p;
  if (r instanceof Error) throw r;
  return r;
}
