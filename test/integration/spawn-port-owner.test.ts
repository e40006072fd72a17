/**
 * `redslot up` (and the test harness) start redis-servers through shared/spawn/redis.ts. A stale
 * redis-server already on the requested port used to pass the "something listens" check while ours exited
 * with "Address already in use"; startRedis must now refuse, naming the port.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';

describe('startRedis checks that it owns its port', () => {
  const started: RedisServerHandle[] = [];
  afterAll(async () => {
    for (const s of started) await s.stop();
  });

  it('fails when a stale redis-server already owns the port, and leaves the stale one running', async () => {
    const stale = await startRedis();
    started.push(stale);
    await expect(startRedis([], { port: stale.port })).rejects.toThrow(new RegExp(`did not start on 127\\.0\\.0\\.1:${stale.port}`));
    expect(stale.proc.alive).toBe(true);
  });

  it('starts normally on a free port (the check passes for our own server)', async () => {
    const ok = await startRedis();
    started.push(ok);
    expect(ok.proc.alive).toBe(true);
  });
});
