import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './free-port.js';
import { spawnProcess, type Spawned } from './processes.js';

export interface RedisServerHandle {
  port: number;
  host: string;
  addr: string;
  proc: Spawned;
  stop(): Promise<void>;
}

/** Starts a throwaway redis-server on a free loopback port (no persistence, own temp dir). */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServerHandle> {
  const port = await freePort();
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
