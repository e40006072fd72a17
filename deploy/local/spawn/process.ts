/**
 * Starting and stopping local server processes (redis-server, etcd) for `redslot up`, the benchmarks and
 * the tests. Always spawn the binary itself (never through a shell or npx) so the recorded PID is the
 * server, and stop by that PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A child process the test harness started and must stop. Always spawn the binary itself
 * (never through a shell or npx) so that `pid` is the server and killing it leaves no orphan.
 */
export class Spawned {
  readonly exited: Promise<number | null>;
  private output = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const keep = (d: Buffer): void => {
      // Keep the tail only: enough to explain a failure, bounded memory.
      this.output = (this.output + d.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid`);
    return this.child.pid;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return this.output;
  }

  /** SIGTERM, wait for exit; SIGKILL if it has not exited within graceMs. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.alive) this.child.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async kill9(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

export function spawnProcess(name: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Spawned {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  return new Spawned(name, child);
}

/** Stops every process in the list, in parallel; safe to call twice. */
export async function stopAll(procs: Iterable<Spawned | undefined>): Promise<void> {
  await Promise.all([...procs].map((p) => p?.stop()));
}

/** True while a process with this pid exists (signal 0 probes without touching it). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
