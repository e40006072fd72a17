import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisAdmin } from '../../../dashboard/redis/admin.js';
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
    // A TLS port cannot be asked INFO in plain RESP: there, "ours is still running" is the check.
    await assertOwnsPort(proc, port, { plain: !extraArgs.includes('--tls-port') });
  } catch (err) {
    await proc.stop();
    throw new Error(`redis-server did not start on 127.0.0.1:${port}: ${(err as Error).message}\n${proc.log()}`, { cause: err });
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

/**
 * Something answering on the port is not proof that OUR redis-server started: a stale one left on the same
 * port answers while ours exits with "Address already in use". So the server on the port must report our
 * child's pid (INFO server process_id), and the child must still be running.
 */
export async function assertOwnsPort(proc: Spawned, port: number, opts: { plain?: boolean } = {}): Promise<void> {
  if (opts.plain === false) {
    await new Promise((r) => setTimeout(r, 200));
    if (!proc.alive) throw new Error(`port ${port} answers but our redis-server exited (another process owns the port?)`);
    return;
  }
  const admin = new RedisAdmin({ addr: `127.0.0.1:${port}`, connectTimeoutMs: 2000, commandTimeoutMs: 2000 });
  let pid: string | undefined;
  try {
    await admin.connect();
    pid = (await admin.info('server')).sections['server']?.['process_id'];
  } catch (err) {
    // A password-protected server (extra args) refuses INFO before AUTH: fall back to "ours is still running".
    if (/NOAUTH/.test((err as Error).message)) {
      await new Promise((r) => setTimeout(r, 200));
      if (proc.alive) return;
    }
    if (!proc.alive) throw new Error(`port ${port} answers but our redis-server exited (another process owns the port?)`, { cause: err });
    throw err;
  } finally {
    admin.close();
  }
  if (!proc.alive || pid !== String(proc.pid)) {
    throw new Error(`port ${port} is owned by another process (pid ${pid ?? 'unknown'}), not the redis-server just started (pid ${proc.pid}${proc.alive ? '' : ', exited'})`);
  }
}
