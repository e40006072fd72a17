import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports.js';
import { spawnProcess, type Spawned } from './process.js';

export interface RedisServerHandle {
  port: number;
  host: string;
  addr: string;
  proc: Spawned;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Fixed port; default: a free one. */
  port?: number;
}

/** Starts a throwaway redis-server on a loopback port (no persistence, own temp dir). */
export async function startRedis(extraArgs: string[] = [], opts: StartRedisOptions = {}): Promise<RedisServerHandle> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-redis-'));
  const proc = spawnProcess('redis-server', 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--protected-mode', 'no', ...extraArgs,
  ]);
  try {
    await waitForPort(port);
  } catch (err) {
    await proc.stop();
    throw new Error(`redis-server did not start: ${proc.log()}`, { cause: err });
  }
  return {
    port,
    host: '127.0.0.1',
    addr: `127.0.0.1:${port}`,
    proc,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
